//! The catalog (feature `catalog`): every `#[emits_event]` function of the binary, known before
//! any of them has run.
//!
//! Each annotated function registers itself at link time (a [`linkme`] distributed slice: no
//! code runs at startup, nothing at run time), also in crates the binary only links, and once
//! whatever the number of a generic function's instantiations. A function behind a `#[cfg]`
//! that is off is not compiled, so it is not listed.
//!
//! ```
//! use tidings_runtime::catalog;
//!
//! for entry in catalog::entries() {
//!     let (file, line) = (entry.file, entry.line);
//!     println!("{}/{} in {}, {file}:{line}", entry.category(), entry.action(), entry.module_path);
//! }
//! let table = catalog::markdown();
//! assert!(table.starts_with("| category | action |"));
//! ```

use std::fmt::Write as _;

use crate::call::{EmitOn, Nested, Site};
use crate::name::{Action, Category};
use crate::severity::Severity;

/// The slice every annotated function adds its entry to. Not a public API.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static __SITES: [Entry];

/// One annotated function: what it emits and where it is.
#[derive(Debug)]
pub struct Entry {
    site: &'static Site,
    /// The function's name.
    pub function: &'static str,
    /// The module it is in (`module_path!()`).
    pub module_path: &'static str,
    /// The source file (`file!()`).
    pub file: &'static str,
    /// The line of the function's name.
    pub line: u32,
}

impl Entry {
    /// Made by the code `#[emits_event]` generates. Not a public API.
    #[doc(hidden)]
    pub const fn __new(
        site: &'static Site,
        function: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) -> Entry {
        Entry {
            site,
            function,
            module_path,
            file,
            line,
        }
    }

    /// The category of its events.
    pub fn category(&self) -> &Category {
        &self.site.category
    }

    /// The action of its events.
    pub fn action(&self) -> &Action {
        &self.site.action
    }

    /// The severity of its event on `Ok` (`success` unless the attribute says otherwise).
    pub fn success(&self) -> Severity {
        self.site.success
    }

    /// The severity of its event on `Err` (`error` unless the attribute says otherwise; an
    /// error value may choose its own).
    pub fn error(&self) -> Severity {
        self.site.error
    }

    /// Which outcomes emit (`emit_on`).
    pub fn emit_on(&self) -> EmitOn {
        self.site.emit_on
    }

    /// What a store does when its events repeat: [`Repeat::Coalesce`](crate::Repeat) with the
    /// attribute's `coalesce` window, [`Repeat::OnChange`](crate::Repeat) with
    /// `emit_on = "change"`, else [`Repeat::Keep`](crate::Repeat).
    pub fn repeat(&self) -> crate::Repeat {
        self.site.repeat()
    }

    /// Whether a call inside another annotated call emits (`nested`).
    pub fn nested(&self) -> Nested {
        self.site.nested
    }

    /// The severity of the event of a panicking body, if it emits one (`panic`).
    pub fn panic(&self) -> Option<Severity> {
        self.site.panic
    }

    /// The keys of its `metadata(...)`.
    pub fn metadata_keys(&self) -> &'static [&'static str] {
        self.site.metadata_keys
    }

    /// The description on `Ok`: the attribute's template (with `{placeholders}` as written) or
    /// the default.
    pub fn description_template(&self) -> &'static str {
        self.site.template
    }

    /// The description on `Err`, as [`description_template`](Self::description_template).
    pub fn error_description_template(&self) -> &'static str {
        self.site.error_template
    }

    /// The documentation link of its events (the `doc` metadata entry), if any.
    pub fn doc(&self) -> Option<&'static str> {
        self.site.doc
    }
}

/// Every annotated function linked into the binary, sorted by category, action, module and
/// line.
pub fn entries() -> Vec<&'static Entry> {
    let mut entries: Vec<&'static Entry> = __SITES.iter().collect();
    entries.sort_by(|a, b| {
        (
            a.category().as_str(),
            a.action().as_str(),
            a.module_path,
            a.line,
        )
            .cmp(&(
                b.category().as_str(),
                b.action().as_str(),
                b.module_path,
                b.line,
            ))
    });
    entries
}

/// The distinct categories and the distinct actions of the catalog, each sorted.
pub fn types() -> (Vec<Category>, Vec<Action>) {
    let mut categories: Vec<Category> = __SITES.iter().map(|e| e.category().clone()).collect();
    let mut actions: Vec<Action> = __SITES.iter().map(|e| e.action().clone()).collect();
    categories.sort();
    categories.dedup();
    actions.sort();
    actions.dedup();
    (categories, actions)
}

/// The catalog as a Markdown table, for a project's documentation: one row per function.
pub fn markdown() -> String {
    let mut table = String::from(
        "| category | action | on `Ok` | description | on `Err` | description on `Err` | repeats | metadata | doc | function |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    for entry in entries() {
        let outcome = |emits: bool, severity: Severity| {
            if emits {
                severity.to_string()
            } else {
                "(nothing)".to_owned()
            }
        };
        let _ = writeln!(
            table,
            "| `{}` | `{}` | {} | {} | {}{} | {} | {} | {} | {} | `{}::{}` ({}:{}){} |",
            entry.category(),
            entry.action(),
            outcome(entry.emit_on() != EmitOn::Err, entry.success()),
            cell(entry.description_template()),
            outcome(entry.emit_on() != EmitOn::Ok, entry.error()),
            entry
                .panic()
                .map(|level| format!("; panic: {level}"))
                .unwrap_or_default(),
            cell(entry.error_description_template()),
            repeats(entry.repeat()),
            cell(&entry.metadata_keys().join(", ")),
            entry.doc().map(cell).unwrap_or_default(),
            entry.module_path,
            entry.function,
            entry.file,
            entry.line,
            if entry.nested() == Nested::Skip {
                "; only when called on its own (`nested = \"skip\"`)"
            } else {
                ""
            },
        );
    }
    table
}

/// The repeats cell: `coalesce = "10m"`, `emit_on = "change"`, or empty (each stored).
fn repeats(repeat: crate::Repeat) -> String {
    match repeat {
        crate::Repeat::Coalesce(window) => {
            format!("folded within `coalesce = \"{}\"`", window_text(window))
        }
        crate::Repeat::OnChange => "state changes only (`emit_on = \"change\"`)".to_owned(),
        crate::Repeat::Keep => String::new(),
    }
}

/// A window as the attribute writes it: `10m`, `1h`, `90s`, `500ms`.
fn window_text(window: std::time::Duration) -> String {
    let secs = window.as_secs();
    match (secs, window.subsec_nanos()) {
        (0, _) | (_, 1..) => format!("{}ms", window.as_millis()),
        (s, 0) if s % 86_400 == 0 => format!("{}d", s / 86_400),
        (s, 0) if s % 3_600 == 0 => format!("{}h", s / 3_600),
        (s, 0) if s % 60 == 0 => format!("{}m", s / 60),
        (s, _) => format!("{s}s"),
    }
}

/// Registers an annotated function's site in the catalog: a static in the function's body,
/// once however many times a generic function is instantiated. Expands to nothing without the
/// `catalog` feature. Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __tidings_register_site {
    ($site:ident, $function:literal, $line:expr) => {
        #[$crate::__private::linkme::distributed_slice($crate::__private::SITES)]
        #[linkme(crate = $crate::__private::linkme)]
        static __TIDINGS_CATALOG_ENTRY: $crate::catalog::Entry = $crate::catalog::Entry::__new(
            &$site,
            $function,
            ::core::module_path!(),
            ::core::file!(),
            $line,
        );
    };
}
