use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", description = "Pinged {conection_id}")]
fn ping(connection_id: u32) -> std::io::Result<u32> {
    Ok(connection_id)
}

#[emits_event(category = "connection", action = "ping", error_description = "Failed {0}")]
fn positional(connection_id: u32) -> std::io::Result<u32> {
    Ok(connection_id)
}

fn main() {
    let _ = (ping(1), positional(2));
}
