//! The light examples run and print what their documentation says (each test builds the example
//! it runs).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The example's output, as JSON lines.
fn run_example(name: &str) -> Vec<Value> {
    run_example_text(name)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The example's output.
fn run_example_text(name: &str) -> String {
    // Built here, with this test's profile, so that the test runs alone too
    // (`cargo test -p tidings-examples --test examples` builds no example by itself).
    let path = escargot::CargoBuild::new()
        .package("tidings-examples")
        .example(name)
        .current_release()
        .run()
        .unwrap_or_else(|e| panic!("cannot build the {name} example: {e}"))
        .path()
        .to_owned();
    let mut child = Command::new(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // Bounded: a hung example is killed and fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{name} failed: {status}");
    reader.join().unwrap()
}

#[test]
fn catalog_example_prints_a_row_per_handler_of_the_handlers_crate() {
    let table = run_example_text("catalog");
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("| category | action | on `Ok` |"),
        "{table}"
    );
    assert_eq!(rows.len(), 2 + 12, "{table}");
    assert!(
        table.contains("`tidings_example_handlers::designs::deploy`"),
        "{table}"
    );
}

#[test]
fn builder_example_prints_a_success_and_an_error_event() {
    let events = run_example("builder");
    assert_eq!(events.len(), 2);
    let (ok, err) = (&events[0], &events[1]);
    assert_eq!(ok["category"], "connection");
    assert_eq!(ok["action"], "ping");
    assert_eq!(ok["severity"], "success");
    assert_eq!(ok["metadata"]["Context Name"], "minikube");
    assert!(ok["metadata"]["Server Address"].is_string());
    assert_eq!(err["severity"], "error");
    assert_eq!(err["metadata"]["err"]["causes"][0], "connection refused");
    assert!(err["metadata"]["err"]["suggestedRemediations"].is_array());
    assert_eq!(ok["userId"], err["userId"]);
}

#[test]
fn quickstart_prints_success_and_error_events_of_both_handlers() {
    let events = run_example("quickstart");
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("create", "success"),
        ("create", "success"),
        ("create", "error"),
        ("ping", "success"),
        ("ping", "error"),
    ];
    assert_eq!(
        summary,
        want.map(|(a, s)| (a.to_owned(), s.to_owned())).to_vec()
    );
    let ok = &events[3];
    assert_eq!(ok["metadata"]["Context Name"], "minikube");
    assert_eq!(
        ok["metadata"]["Server Address"],
        "https://192.168.49.2:8443"
    );
    assert_eq!(ok["actedUpon"], events[0]["actedUpon"]);
    let err = &events[4]["metadata"]["err"];
    assert_eq!(err["causes"][0], "connection refused");
    assert_eq!(err["code"], "tidings-example-1001");
    assert!(err["message"].as_str().unwrap().contains("did not answer"));
    assert!(events.iter().all(|e| e["userId"] == events[0]["userId"]));
}
