//! Event JSON from anywhere (a client, an old database row): deserializing never panics, and an
//! event that deserializes serializes to JSON that deserializes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_runtime::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let json = serde_json::to_string(&event).expect("an event serializes");
    let again: Event =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
    assert_eq!(again, event, "{json}");
});
