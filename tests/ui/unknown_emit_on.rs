use tidings::emits_event;

#[emits_event(category = "health", action = "check", emit_on = "sometimes")]
fn check() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = check();
}
