use tidings::Action;

const PING: Action = Action::new_const("Ping");

fn main() {
    let _ = PING;
}
