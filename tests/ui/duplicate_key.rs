use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", category = "pattern")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
