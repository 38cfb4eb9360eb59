use tidings::emits_event;

trait Connections {
    #[emits_event(category = "connection", action = "ping")]
    fn ping(&self) -> std::io::Result<()>;
}

fn main() {}
