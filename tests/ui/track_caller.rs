use tidings::emits_event;

#[track_caller]
#[emits_event(category = "connection", action = "ping")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
