use tidings::emits_event;

#[emits_event(categroy = "connection", action = "ping")]
fn typo() -> std::io::Result<()> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", severity = "error")]
fn unknown() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = (typo(), unknown());
}
