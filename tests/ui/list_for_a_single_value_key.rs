use tidings::emits_event;

#[emits_event(category("connection"), action = "ping")]
fn ping(id: u32) -> std::io::Result<u32> {
    Ok(id)
}

fn main() {
    let _ = ping(1);
}
