use tidings::emits_event;

#[emits_event(category = "cluster", action = "health_check", coalesce = "ten minutes")]
fn check() -> std::io::Result<()> {
    Ok(())
}

#[emits_event(category = "cluster", action = "health_check", coalesce = "0s")]
fn check_zero() -> std::io::Result<()> {
    Ok(())
}

#[emits_event(category = "cluster", action = "health_check", coalesce = 600)]
fn check_number() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = check();
    let _ = check_zero();
    let _ = check_number();
}
