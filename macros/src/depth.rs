//! A guard against input nested deeper than the parser can recurse. `syn` parses nested groups
//! and runs of prefix operators recursively, and a proc macro runs on the compiler's stack: about
//! 600 nested parentheses in an argument crashed the compiler (found by the `attribute_args` fuzz
//! target). What the macro parses (the arguments and the signature, never the body) is refused
//! beyond [`MAX_DEPTH`] levels, with an error at the token where the limit is passed.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// How deep groups and runs of punctuation may nest in what the macro parses: far beyond any
/// real signature or argument, far below what overflows the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// Checks `tokens` without recursion (the check itself must not overflow).
pub(crate) fn check(tokens: &TokenStream) -> Result<(), syn::Error> {
    let mut open = vec![tokens.clone().into_iter()];
    // Consecutive punctuation: prefix operators (`!`, `-`, `&`, `*`) recurse too.
    let mut run = 0;
    while let Some(level) = open.last_mut() {
        let (span, depth) = match level.next() {
            None => {
                open.pop();
                continue;
            }
            Some(TokenTree::Group(group)) => {
                run = 0;
                let span = group.span_open();
                open.push(group.stream().into_iter());
                (span, open.len() - 1)
            }
            Some(TokenTree::Punct(punct)) => {
                run += 1;
                (punct.span(), open.len() - 1 + run)
            }
            Some(_) => {
                run = 0;
                continue;
            }
        };
        if depth > MAX_DEPTH {
            return Err(syn::Error::new(
                span,
                format!(
                    "#[emits_event] cannot read this: it is nested more than {MAX_DEPTH} levels \
                     deep; bind the value to a variable, or move it into the body"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the item up to its body: the body is re-emitted as tokens, never parsed.
pub(crate) fn check_head(item: &TokenStream) -> Result<(), syn::Error> {
    let mut tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    if matches!(tokens.last(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace) {
        tokens.pop();
    }
    check(&tokens.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::{MAX_DEPTH, check, check_head};

    fn nested(open: &str, close: &str, n: usize) -> TokenStream {
        TokenStream::from_str(&format!("user = {}id{}", open.repeat(n), close.repeat(n))).unwrap()
    }

    #[test]
    fn refuses_beyond_the_limit_and_only_there() {
        assert!(check(&nested("(", ")", MAX_DEPTH)).is_ok());
        assert!(check(&nested("(", ")", MAX_DEPTH + 1)).is_err());
        assert!(check(&nested("[", "]", 100_000)).is_err());
        assert!(check(&nested("!", "", MAX_DEPTH - 1)).is_ok());
        assert!(check(&nested("!", "", 100_000)).is_err());
        assert!(check(&TokenStream::from_str("a::b::<C>(|x| x.y()?) => &&d").unwrap()).is_ok());
    }

    #[test]
    fn the_body_is_not_checked() {
        let body = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
        let item = TokenStream::from_str(&format!("fn f() -> u32 {{ {body} }}")).unwrap();
        assert!(check_head(&item).is_ok());
        let deep_type = format!("fn f(x: {}u32{}) {{}}", "(".repeat(1000), ")".repeat(1000));
        assert!(check_head(&TokenStream::from_str(&deep_type).unwrap()).is_err());
    }
}
