use tidings::emits_event;

#[emits_event(
    category = "Connection",
    actoin = "ping",
    doc = "ftp://example.com",
    success = "great",
    description = "Pinged {missing}",
    category = "again"
)]
fn ping(id: u32) -> std::io::Result<u32> {
    Ok(id)
}

fn main() {
    let _ = ping(1);
}
