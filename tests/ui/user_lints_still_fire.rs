// The user's own warnings still fire on annotated functions: an unused function and an unused
// parameter.
#![deny(dead_code, unused_variables)]

use tidings::emits_event;

#[emits_event(category = "connection", action = "ping")]
fn never_called(unused: u32) -> std::io::Result<()> {
    Ok(())
}

fn main() {}
