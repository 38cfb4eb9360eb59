use tidings::emits_event;

struct Connection {
    name: String,
}

#[emits_event(category = "connection", action = "ping", metadata("Connection" = connection, "Name" = connection.name))]
fn ping(connection: &Connection) -> std::io::Result<()> {
    let _ = connection;
    Ok(())
}

fn main() {
    let _ = ping(&Connection { name: "minikube".into() });
}
