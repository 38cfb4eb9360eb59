//! The attribute's arguments: each key parsed by its own function into a typed value that keeps
//! its span; every mistake reported at once; the result says what is present, so that expansion
//! needs no checks of its own.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token, token};

use crate::errors::Errors;
use crate::template;

/// Every key the attribute takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    Category,
    Action,
    ActedUpon,
    User,
    System,
    Description,
    ErrorDescription,
    Success,
    Error,
    EmitOn,
    Coalesce,
    Nested,
    Metadata,
    Panic,
    Doc,
    Emitter,
    Crate,
}

impl Key {
    /// In the order the error messages list them.
    const ALL: [Key; 17] = [
        Key::Category,
        Key::Action,
        Key::ActedUpon,
        Key::User,
        Key::System,
        Key::Description,
        Key::ErrorDescription,
        Key::Success,
        Key::Error,
        Key::EmitOn,
        Key::Coalesce,
        Key::Nested,
        Key::Metadata,
        Key::Panic,
        Key::Doc,
        Key::Emitter,
        Key::Crate,
    ];

    const fn name(self) -> &'static str {
        match self {
            Key::Category => "category",
            Key::Action => "action",
            Key::ActedUpon => "acted_upon",
            Key::User => "user",
            Key::System => "system",
            Key::Description => "description",
            Key::ErrorDescription => "error_description",
            Key::Success => "success",
            Key::Error => "error",
            Key::EmitOn => "emit_on",
            Key::Coalesce => "coalesce",
            Key::Nested => "nested",
            Key::Metadata => "metadata",
            Key::Panic => "panic",
            Key::Doc => "doc",
            Key::Emitter => "emitter",
            Key::Crate => "crate",
        }
    }

    fn named(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    fn list() -> String {
        Key::ALL.map(Key::name).join(", ")
    }
}

/// A description: fixed text, or a `format!` template rendered per call from the parameters.
pub(crate) enum Description {
    Fixed(LitStr),
    Rendered(LitStr),
}

/// The three ids an event can carry, each an expression over the parameters.
#[derive(Default)]
pub(crate) struct Ids {
    pub acted_upon: Option<Expr>,
    pub user: Option<Expr>,
    pub system: Option<Expr>,
}

/// The checked arguments.
pub(crate) struct Args {
    pub category: LitStr,
    pub action: LitStr,
    pub ids: Ids,
    pub description: Option<Description>,
    pub error_description: Option<Description>,
    /// The `Severity` variant for `Ok`.
    pub success: Option<Ident>,
    /// The `Severity` variant for `Err`.
    pub error: Option<Ident>,
    /// The `EmitOn` variant.
    pub emit_on: Option<Ident>,
    /// `coalesce`: the window, in seconds and nanoseconds.
    pub coalesce: Option<(u64, u32)>,
    /// The `Nested` variant.
    pub nested: Option<Ident>,
    /// `metadata(...)`: each key with its value.
    pub metadata: Vec<(LitStr, Expr)>,
    /// The `Severity` variant of a panic's event.
    pub panic: Option<Ident>,
    pub doc: Option<LitStr>,
    pub emitter: Option<Expr>,
    pub krate: Option<Path>,
}

/// What follows a key: `key = value`, or `key(item, ...)` for keys that take a list.
enum Value {
    Expr(Expr),
    List(TokenStream),
}

struct Argument {
    key: Ident,
    value: Value,
}

impl Parse for Argument {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        let value = if input.peek(token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            Value::List(content.parse()?)
        } else {
            let _: Token![=] = input.parse().map_err(|_| {
                syn::Error::new(
                    key.span(),
                    format!("expected `{key} = ...`: every argument is a `key = value` pair"),
                )
            })?;
            Value::Expr(input.parse()?)
        };
        Ok(Argument { key, value })
    }
}

/// The arguments as they are read: each key at most once.
#[derive(Default)]
struct Partial {
    seen: Vec<Key>,
    /// Keys suggested for a misspelled one: not reported again as missing.
    suggested: Vec<Key>,
    category: Option<LitStr>,
    action: Option<LitStr>,
    ids: Ids,
    description: Option<Description>,
    error_description: Option<Description>,
    success: Option<Ident>,
    error: Option<Ident>,
    emit_on: Option<Ident>,
    coalesce: Option<(LitStr, (u64, u32))>,
    nested: Option<Ident>,
    metadata: Vec<(LitStr, Expr)>,
    panic: Option<Ident>,
    doc: Option<LitStr>,
    emitter: Option<Expr>,
    krate: Option<Path>,
}

/// Parses and checks the arguments against the function's parameter names. Mistakes go to
/// `errors`, each at its own span; `None` when a required key is missing or unreadable.
pub(crate) fn parse(tokens: TokenStream, params: &[String], errors: &mut Errors) -> Option<Args> {
    if let Err(error) = crate::depth::check_arguments(&tokens) {
        errors.push(error);
        return None;
    }
    let arguments = match Punctuated::<Argument, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(arguments) => arguments,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let mut partial = Partial::default();
    for argument in arguments {
        read(argument, params, &mut partial, errors);
    }
    let mut required = |value: Option<LitStr>, key: Key, example: &str| {
        if value.is_none() && !partial.seen.contains(&key) && !partial.suggested.contains(&key) {
            let name = key.name();
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[emits_event] needs `{name} = \"...\"`, a snake_case string literal such as \
                     `{name} = \"{example}\"`"
                ),
            ));
        }
        value
    };
    let category = required(partial.category, Key::Category, "connection");
    let action = required(partial.action, Key::Action, "ping");
    // Only changes are stored: no two events in a row of the same outcome, so nothing repeats
    // to fold.
    if let (Some((window, _)), Some(on)) = (&partial.coalesce, &partial.emit_on)
        && on == "Change"
    {
        errors.at(
            window,
            "`coalesce` cannot go with `emit_on = \"change\"`: a change-only event is stored \
             only when its outcome differs from the last one, so it never repeats and there is \
             nothing to fold; keep one of the two",
        );
    }
    Some(Args {
        category: category?,
        action: action?,
        ids: partial.ids,
        description: partial.description,
        error_description: partial.error_description,
        success: partial.success,
        error: partial.error,
        emit_on: partial.emit_on,
        coalesce: partial.coalesce.map(|(_, window)| window),
        nested: partial.nested,
        metadata: partial.metadata,
        panic: partial.panic,
        doc: partial.doc,
        emitter: partial.emitter,
        krate: partial.krate,
    })
}

/// Reads one `key = value` into `partial`: the one place where keys are told apart.
fn read(argument: Argument, params: &[String], partial: &mut Partial, errors: &mut Errors) {
    let Argument { key: ident, value } = argument;
    let name = ident.unraw().to_string();
    let Some(key) = Key::named(&name) else {
        let near = nearest(&name);
        let hint = near.map_or_else(String::new, |near| {
            format!("; did you mean `{}`?", near.name())
        });
        partial.suggested.extend(near);
        errors.at(
            &ident,
            format!(
                "unknown key `{name}` in #[emits_event]{hint} (the keys are: {})",
                Key::list()
            ),
        );
        return;
    };
    if partial.seen.contains(&key) {
        errors.at(&ident, format!("duplicate key `{name}` in #[emits_event]"));
        return;
    }
    partial.seen.push(key);
    if key == Key::Metadata {
        match value {
            Value::List(list) => partial.metadata = metadata(list, params, errors),
            Value::Expr(expr) => errors.at(
                expr,
                "`metadata` takes a list: `metadata(\"Context Name\" = context.name, attempt)`",
            ),
        }
        return;
    }
    let value = match value {
        Value::Expr(expr) => expr,
        Value::List(list) => {
            errors.at(
                quote::quote!(#ident #list),
                format!("`{name}` takes one value: `{name} = ...`, not a list"),
            );
            return;
        }
    };
    match key {
        Key::Category => partial.category = snake_case_name(key, &value, errors),
        Key::Action => partial.action = snake_case_name(key, &value, errors),
        Key::ActedUpon => partial.ids.acted_upon = Some(value),
        Key::User => partial.ids.user = Some(value),
        Key::System => partial.ids.system = Some(value),
        Key::Description => partial.description = description(key, &value, params, errors),
        Key::ErrorDescription => {
            partial.error_description = description(key, &value, params, errors);
        }
        Key::Success => partial.success = level(key, &value, errors),
        Key::Error => partial.error = level(key, &value, errors),
        Key::Panic => partial.panic = level(key, &value, errors),
        Key::EmitOn => partial.emit_on = emit_on(&value, errors),
        Key::Coalesce => partial.coalesce = coalesce(&value, errors),
        Key::Nested => partial.nested = nested(&value, errors),
        Key::Metadata => {}
        Key::Doc => partial.doc = doc(&value, errors),
        Key::Emitter => partial.emitter = Some(value),
        Key::Crate => partial.krate = krate(value, errors),
    }
}

/// `category` and `action`: a snake_case string literal.
fn snake_case_name(key: Key, value: &Expr, errors: &mut Errors) -> Option<LitStr> {
    let example = if key == Key::Category {
        "\"connection\""
    } else {
        "\"ping\""
    };
    let lit = string_literal(key, value, example, errors)?;
    let text = lit.value();
    match tidings_rules::check(&text) {
        Ok(()) => Some(lit),
        Err(reason) => {
            let hint = tidings_rules::suggest(&text)
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            errors.at(
                &lit,
                format!(
                    "invalid {} {text:?}: {reason}; expected {}{hint}",
                    key.name(),
                    tidings_rules::RULE
                ),
            );
            None
        }
    }
}

/// `description` and `error_description`: a literal whose `{placeholders}` name parameters.
fn description(
    key: Key,
    value: &Expr,
    params: &[String],
    errors: &mut Errors,
) -> Option<Description> {
    let lit = string_literal(key, value, "\"Pinged connection {connection_id}\"", errors)?;
    let names = template::placeholders(&lit.value())
        .map_err(|problem| errors.at(&lit, problem))
        .ok()?;
    let mut known = true;
    for name in names.iter().filter(|n| !params.contains(n)) {
        known = false;
        let params = parameter_list(params);
        errors.at(
            &lit,
            format!(
                "placeholder `{{{name}}}` names no parameter of this function (its parameters: \
                 {params})"
            ),
        );
    }
    // `{{` and `}}` need `format!` too, to become single braces.
    let rendered = !names.is_empty() || lit.value().contains(['{', '}']);
    known.then_some(if rendered {
        Description::Rendered(lit)
    } else {
        Description::Fixed(lit)
    })
}

/// The function's parameters, for an error message: `a, b`, or `none`.
fn parameter_list(params: &[String]) -> String {
    if params.is_empty() {
        "none".to_owned()
    } else {
        params.join(", ")
    }
}

/// `success`, `error` and `panic`: a severity, as the name of its `Severity` variant. `success`
/// cannot be `error` (that is for `Err`); `error` and `panic` cannot be `success`.
fn level(key: Key, value: &Expr, errors: &mut Errors) -> Option<Ident> {
    let (example, excluded, why) = match key {
        Key::Success => (
            "\"informational\"",
            "error",
            "`error` is for `Err`, which carries the error",
        ),
        _ => ("\"critical\"", "success", "a failure is not a success"),
    };
    let lit = string_literal(key, value, example, errors)?;
    let level = lit.value();
    if level != excluded && tidings_rules::SEVERITIES.contains(&level.as_str()) {
        let mut variant = level;
        variant[..1].make_ascii_uppercase();
        return Some(Ident::new(&variant, lit.span()));
    }
    let valid: Vec<&str> = tidings_rules::SEVERITIES
        .iter()
        .copied()
        .filter(|s| *s != excluded)
        .collect();
    let what = if level == excluded {
        format!("`{} = {level:?}` is not allowed ({why})", key.name())
    } else {
        format!("unknown {} severity {level:?}", key.name())
    };
    errors.at(
        &lit,
        format!("{what}; expected one of: {}", valid.join(", ")),
    );
    None
}

/// `emit_on`: `"ok"`, `"err"`, `"both"` or `"change"`, as the name of its `EmitOn` variant.
fn emit_on(value: &Expr, errors: &mut Errors) -> Option<Ident> {
    let lit = string_literal(Key::EmitOn, value, "\"err\"", errors)?;
    let variant = match lit.value().as_str() {
        "ok" => "Ok",
        "err" => "Err",
        "both" => "Both",
        "change" => "Change",
        other => {
            errors.at(
                &lit,
                format!(
                    "unknown `emit_on` value {other:?}; expected \"ok\" (only `Ok` emits), \
                     \"err\" (only `Err` emits), \"both\" (the default) or \"change\" (either, \
                     only when the outcome differs from the last event's)"
                ),
            );
            return None;
        }
    };
    Some(Ident::new(variant, lit.span()))
}

/// `coalesce`: a window such as `"10m"`, `"30s"` or `"1h 30m"` (humantime's format), more than
/// zero and at most a year, as seconds and nanoseconds.
fn coalesce(value: &Expr, errors: &mut Errors) -> Option<(LitStr, (u64, u32))> {
    let lit = string_literal(Key::Coalesce, value, "\"10m\"", errors)?;
    let text = lit.value();
    const YEAR: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
    let problem = match humantime::parse_duration(&text) {
        Ok(window) if window.is_zero() => "a window of zero folds nothing".to_owned(),
        Ok(window) if window > YEAR => "a window longer than a year (365d)".to_owned(),
        Ok(window) => return Some((lit, (window.as_secs(), window.subsec_nanos()))),
        Err(e) => e.to_string(),
    };
    errors.at(
        &lit,
        format!(
            "`coalesce = {text:?}` is not a window ({problem}); write a duration such as \
             \"10m\", \"30s\", \"1h 30m\" or \"2d\", more than zero and at most a year"
        ),
    );
    None
}

/// `nested`: `"join"` or `"skip"`, as the name of its `Nested` variant.
fn nested(value: &Expr, errors: &mut Errors) -> Option<Ident> {
    let lit = string_literal(Key::Nested, value, "\"skip\"", errors)?;
    let variant = match lit.value().as_str() {
        "join" => "Join",
        "skip" => "Skip",
        other => {
            errors.at(
                &lit,
                format!(
                    "unknown `nested` value {other:?}; expected \"skip\" (inside another \
                     annotated call, emit nothing) or \"join\" (emit, sharing the outer call's \
                     operationId: the default)"
                ),
            );
            return None;
        }
    };
    Some(Ident::new(variant, lit.span()))
}

/// One entry of `metadata(...)`: `"Key" = expression`, or a parameter's own name.
enum MetaEntry {
    Keyed(LitStr, Expr),
    Param(Ident),
}

impl Parse for MetaEntry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let key: LitStr = input.parse()?;
            let _: Token![=] = input.parse().map_err(|_| {
                syn::Error::new(
                    key.span(),
                    format!("expected `{:?} = value` in `metadata(...)`", key.value()),
                )
            })?;
            return Ok(MetaEntry::Keyed(key, input.parse()?));
        }
        let ident = Ident::parse_any(input)?;
        if input.peek(Token![=]) {
            return Err(syn::Error::new(
                ident.span(),
                format!(
                    "a metadata key is a string literal or a parameter's own name: write \
                     `\"{ident}\" = ...`"
                ),
            ));
        }
        Ok(MetaEntry::Param(ident))
    }
}

/// The keys the runtime writes itself: an entry of `metadata(...)` cannot take them.
use tidings_rules::RESERVED_KEYS;

/// `metadata(...)`: keys that are not reserved and not repeated; a bare name must be a
/// parameter.
fn metadata(list: TokenStream, params: &[String], errors: &mut Errors) -> Vec<(LitStr, Expr)> {
    let entries = match Punctuated::<MetaEntry, Token![,]>::parse_terminated.parse2(list) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(error);
            return Vec::new();
        }
    };
    let mut checked: Vec<(LitStr, Expr)> = Vec::new();
    for entry in entries {
        let (key, value) = match entry {
            MetaEntry::Keyed(key, value) => (key, value),
            MetaEntry::Param(ident) => {
                let name = ident.unraw().to_string();
                if !params.contains(&name) {
                    let params = parameter_list(params);
                    errors.at(
                        &ident,
                        format!(
                            "`{name}` in `metadata(...)` names no parameter of this function (its \
                             parameters: {params}); other values take a key: `\"{name}\" = ...`"
                        ),
                    );
                    continue;
                }
                let key = LitStr::new(&name, ident.span());
                let value = Expr::Path(syn::ExprPath {
                    attrs: Vec::new(),
                    qself: None,
                    path: ident.into(),
                });
                (key, value)
            }
        };
        let text = key.value();
        if RESERVED_KEYS.contains(&text.as_str()) {
            errors.at(
                &key,
                format!(
                    "metadata key {text:?} is reserved: tidings writes it itself (the reserved \
                     keys are: {})",
                    RESERVED_KEYS.join(", ")
                ),
            );
            continue;
        }
        if checked.iter().any(|(k, _)| k.value() == text) {
            errors.at(&key, format!("duplicate metadata key {text:?}"));
            continue;
        }
        checked.push((key, value));
    }
    checked
}

/// `doc`: an http(s) link.
fn doc(value: &Expr, errors: &mut Errors) -> Option<LitStr> {
    let lit = string_literal(
        Key::Doc,
        value,
        "\"https://docs.example.com/connections\"",
        errors,
    )?;
    match tidings_rules::check_doc_url(&lit.value()) {
        Ok(()) => Some(lit),
        Err(reason) => {
            errors.at(
                &lit,
                format!("invalid doc link {:?}: {reason}", lit.value()),
            );
            None
        }
    }
}

/// `crate`: the path tidings is reachable at.
fn krate(value: Expr, errors: &mut Errors) -> Option<Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Some(path.path),
        other => {
            errors.at(
                other,
                "`crate` must be the path tidings is reachable at, such as \
                 `crate = ::my_reexport::tidings`",
            );
            None
        }
    }
}

fn string_literal(key: Key, value: &Expr, example: &str, errors: &mut Errors) -> Option<LitStr> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        return Some(lit.clone());
    }
    let key = key.name();
    errors.at(
        value,
        format!("`{key}` must be a string literal, such as `{key} = {example}`"),
    );
    None
}

/// The key closest to a misspelled one, if any is close.
fn nearest(name: &str) -> Option<Key> {
    Key::ALL
        .into_iter()
        .map(|key| (edit_distance(name, key.name()), key))
        .filter(|(d, key)| *d <= 2.max(key.name().len() / 4))
        .min_by_key(|(d, key)| (*d, key.name()))
        .map(|(_, key)| key)
}

/// Edit distance counting a swap of two neighbours as one edit (`categroy` is 1 from `category`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::{Key, edit_distance, nearest};

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(edit_distance("categroy", "category"), 1);
        assert_eq!(nearest("categroy"), Some(Key::Category));
        assert_eq!(nearest("acted_on"), Some(Key::ActedUpon));
        assert_eq!(nearest("descripton"), Some(Key::Description));
        assert_eq!(nearest("severity"), None);
    }

    #[test]
    fn every_key_is_found_by_its_name() {
        for key in Key::ALL {
            assert_eq!(Key::named(key.name()), Some(key));
        }
        assert_eq!(Key::named("crate"), Some(Key::Crate));
        assert_eq!(Key::named("severity"), None);
    }
}
