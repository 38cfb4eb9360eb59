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
    Doc,
    Emitter,
    Crate,
}

impl Key {
    /// In the order the error messages list them.
    const ALL: [Key; 11] = [
        Key::Category,
        Key::Action,
        Key::ActedUpon,
        Key::User,
        Key::System,
        Key::Description,
        Key::ErrorDescription,
        Key::Success,
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
    Some(Args {
        category: category?,
        action: action?,
        ids: partial.ids,
        description: partial.description,
        error_description: partial.error_description,
        success: partial.success,
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
        Key::Success => partial.success = success(&value, errors),
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
        let params = if params.is_empty() {
            "none".to_owned()
        } else {
            params.join(", ")
        };
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

/// `success`: a severity other than `error`, as the name of its `Severity` variant.
fn success(value: &Expr, errors: &mut Errors) -> Option<Ident> {
    let lit = string_literal(Key::Success, value, "\"informational\"", errors)?;
    let level = lit.value();
    if level != "error" && tidings_rules::SEVERITIES.contains(&level.as_str()) {
        let mut variant = level;
        variant[..1].make_ascii_uppercase();
        return Some(Ident::new(&variant, lit.span()));
    }
    let valid: Vec<&str> = tidings_rules::SEVERITIES
        .iter()
        .copied()
        .filter(|s| *s != "error")
        .collect();
    errors.at(
        &lit,
        format!(
            "unknown success severity {level:?}; expected one of: {} (`error` is for `Err`, which \
             carries the error)",
            valid.join(", ")
        ),
    );
    None
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
