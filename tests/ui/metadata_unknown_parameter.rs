use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", metadata(attempts))]
fn ping(attempt: u32) -> std::io::Result<()> {
    let _ = attempt;
    Ok(())
}

fn main() {
    let _ = ping(1);
}
