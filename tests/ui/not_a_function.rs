use tidings::emits_event;

#[emits_event(category = "connection", action = "ping")]
struct Connection {
    id: u32,
}

fn main() {
    let c = Connection { id: 1 };
    let _ = c.id;
}
