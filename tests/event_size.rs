//! The size of one event (issue #28): a built event over the limit is refused, naming the field;
//! an event `#[emits_event]` makes is never refused (the call must not fail): its largest texts
//! are cut to fit, and the event says what was cut.

use tidings::testing::capture;
use tidings::{BuildProblem, Event, MAX_EVENT_BYTES, TRUNCATED_KEY, current, emits_event};

#[test]
fn a_built_event_over_the_limit_is_refused_naming_its_field_and_size() {
    let huge = "x".repeat(MAX_EVENT_BYTES + 1);
    let error = Event::builder()
        .category("connection")
        .action("ping")
        .description(huge.clone())
        .build()
        .unwrap_err();
    assert_eq!(
        error.problems(),
        [BuildProblem::TooLarge {
            field: "description",
            size: MAX_EVENT_BYTES + 1,
            limit: MAX_EVENT_BYTES,
        }]
    );
    let text = error.to_string();
    assert!(text.contains("65537") && text.contains("65536"), "{text}");
    // In the metadata, with a limit of the builder's own.
    let error = Event::builder()
        .category("connection")
        .action("ping")
        .meta("Kubeconfig", "y".repeat(300))
        .max_bytes(200)
        .build()
        .unwrap_err();
    assert!(matches!(
        error.problems(),
        [BuildProblem::TooLarge {
            field: "metadata",
            limit: 200,
            ..
        }]
    ));
    // At the limit: built.
    let at_limit = "z".repeat(MAX_EVENT_BYTES);
    assert!(
        Event::builder()
            .category("connection")
            .action("ping")
            .description(at_limit)
            .build()
            .is_ok()
    );
}

#[derive(Debug)]
struct Huge(String);

impl std::fmt::Display for Huge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Huge {}

#[emits_event(
    category = "design",
    action = "import",
    description = "Imported {name}"
)]
fn import(name: &str, attachment: &str, fail: bool) -> Result<usize, Huge> {
    current::meta("Attachment", attachment);
    current::meta("Source", "upload");
    if fail {
        return Err(Huge(format!("cannot parse: {attachment}")));
    }
    Ok(name.len())
}

fn weight(event: &Event) -> usize {
    fn of(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::String(text) => text.len(),
            serde_json::Value::Array(items) => items.iter().map(of).sum::<usize>() + 8,
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| k.len() + of(v)).sum::<usize>() + 8
            }
            _ => 8,
        }
    }
    event.description().len()
        + event
            .metadata()
            .iter()
            .map(|(key, value)| key.len() + of(value))
            .sum::<usize>()
}

#[test]
fn an_annotated_call_is_never_refused_its_event_is_cut_to_fit_and_says_so() {
    let name = "n".repeat(200_000);
    let attachment = "a".repeat(300_000);
    let (results, events) = capture(|| {
        (
            import(&name, &attachment, false),
            import(&name, &attachment, true),
            import("small", "tiny", false),
        )
    });
    // The calls' results are their own.
    assert_eq!(results.0.unwrap(), 200_000);
    assert!(results.1.unwrap_err().0.len() > 300_000);
    assert_eq!(results.2.unwrap(), 5);
    assert_eq!(events.len(), 3);
    for event in &events[..2] {
        assert!(weight(event) <= MAX_EVENT_BYTES, "{} bytes", weight(event));
        let truncated = &event.metadata()[TRUNCATED_KEY];
        assert_eq!(truncated["limit"], MAX_EVENT_BYTES);
        let cut: Vec<&str> = truncated["cut"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(cut.contains(&"Attachment"), "{cut:?}");
        // What was small is kept whole.
        assert_eq!(event.metadata()["Source"], "upload");
    }
    let ok = &events[0];
    assert!(ok.metadata()["Attachment"].as_str().unwrap().ends_with('…'));
    assert!(ok.description().starts_with("Imported nnn") && ok.description().ends_with('…'));
    let failed = &events[1];
    let report = failed.error_report().unwrap();
    assert!(report.message.starts_with("cannot parse: aaa"));
    assert!(
        report.message.len() < 300_000,
        "the error's message is cut too"
    );
    // An event within the limit is untouched.
    assert!(events[2].metadata().get(TRUNCATED_KEY).is_none());
    assert_eq!(events[2].metadata()["Attachment"], "tiny");
}

#[emits_event(category = "design", action = "import")]
fn many_values(count: usize) -> Result<(), std::io::Error> {
    current::meta(
        "Rows",
        (0..count)
            .map(|n| format!("row {n:>90}"))
            .collect::<Vec<_>>(),
    );
    current::meta("Numbers", (0..count).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn an_event_of_many_small_values_is_cut_to_fit_too() {
    let ((), events) = capture(|| many_values(20_000).unwrap());
    let event = &events[0];
    assert!(weight(event) <= MAX_EVENT_BYTES, "{} bytes", weight(event));
    let cut = &event.metadata()[TRUNCATED_KEY]["cut"];
    assert!(!cut.as_array().unwrap().is_empty(), "{cut}");
}
