use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", doc = "docs.example.com/connections")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
