use tidings::emits_event;

struct State {
    events: String,
}

#[emits_event(category = "connection", action = "ping", emitter = state.events)]
fn ping(state: &State) -> std::io::Result<()> {
    let _ = &state.events;
    Ok(())
}

fn main() {
    let _ = ping(&State { events: String::new() });
}
