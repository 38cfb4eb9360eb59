use tidings::emits_event;

#[emits_event(category = "connection")]
fn ping() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = ping();
}
