use tidings::emits_event;

#[emits_event(category = "connection", action = "ping")]
const fn ping() -> Result<u8, ()> {
    Ok(1)
}

fn main() {
    let _ = ping();
}
