// A mistake in the attribute is the only error: the function is still there for its callers.
use tidings::emits_event;

#[emits_event(category = "Connection", action = "ping")]
fn ping(id: u32) -> std::io::Result<u32> {
    Ok(id)
}

fn caller() -> std::io::Result<u32> {
    let n = ping(1)?;
    Ok(n + 1)
}

fn main() {
    let _ = caller();
}
