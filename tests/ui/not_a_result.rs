use tidings::emits_event;

#[emits_event(category = "connection", action = "ping")]
fn count() -> u32 {
    1
}

#[emits_event(category = "connection", action = "ping")]
async fn maybe() -> Option<u32> {
    None
}

#[emits_event(category = "connection", action = "ping")]
fn nothing() {}

fn main() {
    let _ = (count(), maybe());
    nothing();
}
