use tidings::emits_event;

const CATEGORY: &str = "connection";

#[emits_event(category = CATEGORY, action = "ping")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
