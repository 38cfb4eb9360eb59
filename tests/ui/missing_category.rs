use tidings::emits_event;

#[emits_event(action = "ping")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
