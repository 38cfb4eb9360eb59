use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", success = "error")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", success = "info")]
fn ping2() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = (ping(), ping2());
}
