use tidings::{Uuid, emits_event};

struct AuthUser {
    id: Uuid,
}

#[emits_event(category = "connection", action = "ping", user = user)]
fn ping(user: &AuthUser) -> std::io::Result<()> {
    let _ = user.id;
    Ok(())
}

fn main() {
    let _ = ping(&AuthUser { id: Uuid::nil() });
}
