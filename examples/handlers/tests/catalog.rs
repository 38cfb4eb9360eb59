//! The catalog of a binary that links the handlers crate and calls one of its functions: every
//! annotated function of the crate is listed once, in every shape, and none that `#[cfg]` left
//! out.

use tidings::{Severity, catalog};

#[test]
fn the_catalog_lists_each_annotated_function_once() {
    // The only use of the crate: the others are listed all the same.
    tidings_example_handlers::ping("minikube").unwrap();
    let listed: Vec<(String, &str, &str)> = catalog::entries()
        .iter()
        .map(|e| {
            (
                format!("{}/{}", e.category(), e.action()),
                e.function,
                e.module_path,
            )
        })
        .collect();
    let expected = [
        ("cluster/handshake", "handshake", "tidings_example_handlers"),
        (
            "cluster/health_check",
            "health_check",
            "tidings_example_handlers",
        ),
        ("cluster/probe", "probe", "tidings_example_handlers"),
        ("connection/delete", "delete", "tidings_example_handlers"),
        ("connection/ping", "ping", "tidings_example_handlers"),
        (
            "connection/register",
            "register",
            "tidings_example_handlers",
        ),
        ("connection/retry", "retry", "tidings_example_handlers"),
        (
            "design/deploy",
            "deploy",
            "tidings_example_handlers::designs",
        ),
        ("environment/refresh", "refresh", "tidings_example_handlers"),
        ("environment/sync", "sync", "tidings_example_handlers"),
        ("model/import", "import", "tidings_example_handlers"),
        (
            "workspace/create",
            "create_workspace",
            "tidings_example_handlers",
        ),
    ];
    let expected: Vec<(String, &str, &str)> = expected
        .iter()
        .map(|&(kind, function, module)| (kind.to_owned(), function, module))
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn a_generic_function_is_one_entry_however_many_times_it_is_instantiated() {
    tidings_example_handlers::import(1_u8).unwrap();
    tidings_example_handlers::import("a").unwrap();
    tidings_example_handlers::import(vec![1.0_f64]).unwrap();
    let imports = catalog::entries()
        .iter()
        .filter(|e| e.function == "import")
        .count();
    assert_eq!(imports, 1);
}

#[test]
fn an_entry_holds_what_the_attribute_says_and_where_the_function_is() {
    let entries = catalog::entries();
    let ping = entries.iter().find(|e| e.function == "ping").unwrap();
    assert_eq!(ping.success(), Severity::Success);
    assert_eq!(ping.description_template(), "Pinged {name}");
    assert_eq!(ping.error_description_template(), "connection ping failed");
    assert_eq!(
        ping.doc(),
        Some("https://docs.meshery.io/reference/error-codes")
    );
    assert!(ping.file.ends_with("src/lib.rs"), "{}", ping.file);
    let source = include_str!("../src/lib.rs");
    let line = source.lines().nth(ping.line as usize - 1).unwrap();
    assert!(
        line.contains("pub fn ping("),
        "line {} is {line:?}",
        ping.line
    );
    let deploy = entries.iter().find(|e| e.function == "deploy").unwrap();
    assert_eq!(deploy.success(), Severity::Informational);
    let health = entries
        .iter()
        .find(|e| e.function == "health_check")
        .unwrap();
    assert_eq!(health.emit_on(), tidings::EmitOn::Err);
    assert_eq!(health.error(), Severity::Critical);
    assert_eq!(health.panic(), Some(Severity::Alert));
    assert_eq!(health.metadata_keys(), ["Cluster", "attempt"]);
    assert_eq!(ping.emit_on(), tidings::EmitOn::Both);
    assert_eq!(ping.error(), Severity::Error);
    assert_eq!(ping.panic(), None);
    assert_eq!(ping.nested(), tidings::Nested::Join);
    assert_eq!(ping.repeat(), tidings::Repeat::Keep);
    let retry = entries.iter().find(|e| e.function == "retry").unwrap();
    assert_eq!(
        retry.repeat(),
        tidings::Repeat::Coalesce(std::time::Duration::from_secs(600))
    );
    let probe = entries.iter().find(|e| e.function == "probe").unwrap();
    assert_eq!(probe.emit_on(), tidings::EmitOn::Change);
    assert_eq!(probe.repeat(), tidings::Repeat::OnChange);
    let handshake = entries.iter().find(|e| e.function == "handshake").unwrap();
    assert_eq!(handshake.nested(), tidings::Nested::Skip);
    let delete = entries.iter().find(|e| e.function == "delete").unwrap();
    assert_eq!(
        delete.error_description_template(),
        "Could not delete {name}"
    );
}

#[test]
fn the_markdown_table_has_a_row_per_function() {
    let table = catalog::markdown();
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 12, "{table}");
    assert!(
        rows.iter()
            .any(|row| row.starts_with("| `connection` | `retry` |")
                && row.contains("| folded within `coalesce = \"10m\"` |")),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|row| row.starts_with("| `cluster` | `probe` |")
                && row.contains("| state changes only (`emit_on = \"change\"`) |")),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|row| row.starts_with("| `cluster` | `handshake` |")
                && row.ends_with("; only when called on its own (`nested = \"skip\"`) |")),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|row| row
                .starts_with("| `connection` | `ping` | success | Pinged {name} | error |")),
        "{table}"
    );
    assert!(
        rows.iter().any(|row| row.starts_with(
            "| `cluster` | `health_check` | (nothing) | cluster health check succeeded | \
             critical; panic: alert | cluster health check failed |  | Cluster, attempt |"
        )),
        "{table}"
    );
    let (categories, actions) = catalog::types();
    assert_eq!(
        categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        [
            "cluster",
            "connection",
            "design",
            "environment",
            "model",
            "workspace"
        ]
    );
    assert!(actions.iter().any(|a| a == "deploy"));
}
