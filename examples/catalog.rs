//! Prints the catalog of every `#[emits_event]` function linked into this program: the handlers
//! of `examples/handlers`, a crate of their own, of which it calls one. Known at link time,
//! before any of them has run; the table is what a project publishes in its documentation.
//!
//! ```sh
//! cargo run --example catalog
//! ```

fn main() {
    // One call links the crate; every annotated function in it is listed.
    let _ = tidings_example_handlers::ping("minikube");
    print!("{}", tidings::catalog::markdown());
}
