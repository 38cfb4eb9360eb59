//! The events API's query string, as a client sends it: parsing never panics, and what it
//! refuses names the parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Err((field, message)) = tidings_runtime::web::__parse_query(raw) {
        assert!(!field.is_empty() && !message.is_empty(), "{raw:?}");
    }
});
