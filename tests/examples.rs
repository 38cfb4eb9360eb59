//! The examples run and print what their documentation says (`cargo test` builds them first).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn run_example(name: &str) -> Vec<Value> {
    let mut path: PathBuf = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.push("examples");
    path.push(name);
    let output = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(output.status.success(), "{name} failed: {output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
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
