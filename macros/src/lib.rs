//! The `#[emits_event]` attribute of `tidings` lives here; it is being written (see the
//! project's issue tracker). Use it through the `tidings` crate.
