use tidings::{emits_event, Uuid};

// What the macro parses is refused beyond 128 levels of nesting, at the level that passes it,
// rather than overflow the compiler's stack (about 600 levels did).
#[emits_event(category = "connection", action = "ping", user = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((id)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))]
fn ping(id: Uuid) -> Result<(), std::io::Error> {
    let _ = id;
    Ok(())
}

fn main() {}
