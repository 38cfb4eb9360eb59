use tidings::emits_event;

#[emits_event(category = "connection", action = "ping")]
fn ping() -> std::io::Result<u32> {
    let count: u32 = "not a number";
    Ok(count)
}

#[emits_event(category = "connection", action = "ping")]
async fn ping_async() -> std::io::Result<u32> {
    let count: u32 = "not a number";
    Ok(count)
}

fn main() {
    let _ = ping();
    let _ = ping_async();
}
