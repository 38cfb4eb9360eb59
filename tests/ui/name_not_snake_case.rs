use tidings::emits_event;

#[derive(Debug)]
struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("e")
    }
}
impl std::error::Error for E {}

#[emits_event(category = "Connection", action = "ping")]
fn camel() -> Result<(), E> {
    Ok(())
}

#[emits_event(category = "connection", action = "signup-request")]
fn kebab() -> Result<(), E> {
    Ok(())
}

#[emits_event(category = "signup request", action = "ping")]
fn spaced() -> Result<(), E> {
    Ok(())
}

#[emits_event(category = "connection", action = "x__y")]
fn double_underscore() -> Result<(), E> {
    Ok(())
}

#[emits_event(category = "1abc", action = "_x")]
fn bad_start() -> Result<(), E> {
    Ok(())
}

fn main() {
    let _ = (camel(), kebab(), spaced(), double_underscore(), bad_start());
}
