//! The attribute's arguments: parsed with their spans, checked, every mistake reported at once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

use crate::template;

/// Every key the attribute takes, in one place.
mod kw {
    pub const CATEGORY: &str = "category";
    pub const ACTION: &str = "action";
    pub const ACTED_UPON: &str = "acted_upon";
    pub const USER: &str = "user";
    pub const SYSTEM: &str = "system";
    pub const DESCRIPTION: &str = "description";
    pub const ERROR_DESCRIPTION: &str = "error_description";
    pub const SUCCESS: &str = "success";
    pub const DOC: &str = "doc";
    pub const EMITTER: &str = "emitter";
    pub const CRATE: &str = "crate";

    pub const ALL: [&str; 11] = [
        CATEGORY,
        ACTION,
        ACTED_UPON,
        USER,
        SYSTEM,
        DESCRIPTION,
        ERROR_DESCRIPTION,
        SUCCESS,
        DOC,
        EMITTER,
        CRATE,
    ];
}

/// Collects errors so that all of them are reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A description literal and whether it has placeholders to render per call.
pub(crate) struct Template {
    pub lit: LitStr,
    pub rendered: bool,
}

/// The checked arguments.
#[derive(Default)]
pub(crate) struct Args {
    pub category: Option<LitStr>,
    pub action: Option<LitStr>,
    pub acted_upon: Option<Expr>,
    pub user: Option<Expr>,
    pub system: Option<Expr>,
    pub description: Option<Template>,
    pub error_description: Option<Template>,
    /// The `Severity` variant for `Ok`.
    pub success: Option<Ident>,
    pub doc: Option<LitStr>,
    pub emitter: Option<Expr>,
    pub krate: Option<Path>,
}

struct Pair {
    key: Ident,
    value: Expr,
}

impl Parse for Pair {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        let _: Token![=] = input.parse().map_err(|_| {
            syn::Error::new(
                key.span(),
                format!("expected `{key} = ...`: every argument is a `key = value` pair"),
            )
        })?;
        let value = input.parse()?;
        Ok(Pair { key, value })
    }
}

/// Parses and checks the arguments against the function's parameter names. Mistakes go to
/// `errors`, each at its own span; the returned `Args` holds what was valid.
pub(crate) fn parse(tokens: TokenStream, params: &[String], errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let pairs = match Punctuated::<Pair, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(pairs) => pairs,
        Err(error) => {
            errors.push(error);
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut suggested: Vec<&str> = Vec::new();
    for Pair { key, value } in pairs {
        let name = key.unraw().to_string();
        if !kw::ALL.contains(&name.as_str()) {
            let near = nearest(&name);
            let hint = match near {
                Some(near) => format!("; did you mean `{near}`?"),
                None => String::new(),
            };
            // A misspelled key is reported once: not also as the key that is missing.
            if let Some(near) = near {
                suggested.push(near);
            }
            errors.at(
                &key,
                format!(
                    "unknown key `{name}` in #[emits_event]{hint} (the keys are: {})",
                    kw::ALL.join(", ")
                ),
            );
            continue;
        }
        if seen.contains(&name) {
            errors.at(&key, format!("duplicate key `{name}` in #[emits_event]"));
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            kw::CATEGORY | kw::ACTION => {
                if let Some(lit) = string_literal(&name, &value, "\"connection\"", errors) {
                    if let Err(reason) = tidings_rules::check(&lit.value()) {
                        let hint = tidings_rules::suggest(&lit.value())
                            .map(|s| format!("; did you mean \"{s}\"?"))
                            .unwrap_or_default();
                        errors.at(
                            &lit,
                            format!(
                                "invalid {name} {:?}: {reason}; expected {}{hint}",
                                lit.value(),
                                tidings_rules::RULE
                            ),
                        );
                    } else if name == kw::CATEGORY {
                        args.category = Some(lit);
                    } else {
                        args.action = Some(lit);
                    }
                }
            }
            kw::DESCRIPTION | kw::ERROR_DESCRIPTION => {
                if let Some(lit) = string_literal(
                    &name,
                    &value,
                    "\"Pinged connection {connection_id}\"",
                    errors,
                ) {
                    match template::placeholders(&lit.value()) {
                        Err(problem) => errors.at(&lit, problem),
                        Ok(names) => {
                            let unknown: Vec<&String> =
                                names.iter().filter(|n| !params.contains(n)).collect();
                            for name in &unknown {
                                errors.at(
                                    &lit,
                                    format!(
                                        "placeholder `{{{name}}}` names no parameter of this \
                                         function (its parameters: {})",
                                        if params.is_empty() {
                                            "none".to_owned()
                                        } else {
                                            params.join(", ")
                                        }
                                    ),
                                );
                            }
                            if unknown.is_empty() {
                                // `{{` and `}}` need `format!` too, to become single braces.
                                let rendered =
                                    !names.is_empty() || lit.value().contains(['{', '}']);
                                let template = Template { rendered, lit };
                                if name == kw::DESCRIPTION {
                                    args.description = Some(template);
                                } else {
                                    args.error_description = Some(template);
                                }
                            }
                        }
                    }
                }
            }
            kw::SUCCESS => {
                if let Some(lit) = string_literal(&name, &value, "\"informational\"", errors) {
                    let level = lit.value();
                    if level != "error" && tidings_rules::SEVERITIES.contains(&level.as_str()) {
                        let mut variant = level.clone();
                        variant[..1].make_ascii_uppercase();
                        args.success = Some(Ident::new(&variant, lit.span()));
                    } else {
                        let valid: Vec<&str> = tidings_rules::SEVERITIES
                            .iter()
                            .copied()
                            .filter(|s| *s != "error")
                            .collect();
                        errors.at(
                            &lit,
                            format!(
                                "unknown success severity {level:?}; expected one of: {} \
                                 (`error` is for `Err`, which carries the error)",
                                valid.join(", ")
                            ),
                        );
                    }
                }
            }
            kw::DOC => {
                if let Some(lit) = string_literal(
                    &name,
                    &value,
                    "\"https://docs.example.com/connections\"",
                    errors,
                ) {
                    match tidings_rules::check_doc_url(&lit.value()) {
                        Ok(()) => args.doc = Some(lit),
                        Err(reason) => {
                            errors.at(
                                &lit,
                                format!("invalid doc link {:?}: {reason}", lit.value()),
                            );
                        }
                    }
                }
            }
            kw::CRATE => match value {
                Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                    args.krate = Some(path.path);
                }
                other => errors.at(
                    other,
                    "`crate` must be the path tidings is reachable at, such as \
                     `crate = ::my_reexport::tidings`",
                ),
            },
            kw::ACTED_UPON => args.acted_upon = Some(value),
            kw::USER => args.user = Some(value),
            kw::SYSTEM => args.system = Some(value),
            kw::EMITTER => args.emitter = Some(value),
            _ => unreachable!("every key of kw::ALL is handled"),
        }
    }
    for required in [kw::CATEGORY, kw::ACTION] {
        if !seen.iter().any(|s| s == required) && !suggested.contains(&required) {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[emits_event] needs `{required} = \"...\"`, a snake_case string literal \
                     such as `{required} = \"{}\"`",
                    if required == kw::CATEGORY {
                        "connection"
                    } else {
                        "ping"
                    }
                ),
            ));
        }
    }
    args
}

fn string_literal(key: &str, value: &Expr, example: &str, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        other => {
            errors.at(
                other,
                format!("`{key}` must be a string literal, such as `{key} = {example}`"),
            );
            None
        }
    }
}

/// The key closest to a misspelled one, if any is close.
fn nearest(name: &str) -> Option<&'static str> {
    kw::ALL
        .iter()
        .map(|key| (edit_distance(name, key), *key))
        .filter(|(d, key)| *d <= 2.max(key.len() / 4))
        .min()
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
    use super::{edit_distance, nearest};

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(edit_distance("categroy", "category"), 1);
        assert_eq!(nearest("categroy"), Some("category"));
        assert_eq!(nearest("acted_on"), Some("acted_upon"));
        assert_eq!(nearest("descripton"), Some("description"));
        assert_eq!(nearest("severity"), None);
    }
}
