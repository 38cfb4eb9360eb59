use tidings::emits_event;

#[emits_event(category = "cluster", action = "connect", error = "success")]
fn connect() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = connect();
}
