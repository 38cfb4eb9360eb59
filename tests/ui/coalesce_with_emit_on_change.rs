use tidings::emits_event;

#[emits_event(category = "cluster", action = "health_check", emit_on = "change", coalesce = "10m")]
fn check() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = check();
}
