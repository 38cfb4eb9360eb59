use tidings::emits_event;

#[emits_event(category = "connection", action = "ping", metadata("Context" = name, "err" = attempt))]
fn ping(name: &str, attempt: u32) -> std::io::Result<()> {
    let _ = (name, attempt);
    Ok(())
}

fn main() {
    let _ = ping("minikube", 1);
}
