use tidings::emits_event;

#[emits_event(category = "cluster", action = "handshake", nested = "quietly")]
fn handshake() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = handshake();
}
