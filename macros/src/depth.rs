//! A guard against input nested deeper than the parser can recurse. `syn` parses nested groups
//! and runs of prefix operators recursively, and a proc macro runs on the compiler's stack: about
//! 600 nested parentheses in an argument crashed the compiler (found by the `attribute_args` fuzz
//! target). What the macro parses (the arguments and the signature, never the body) is refused
//! beyond [`MAX_DEPTH`] levels, with an error at the token where the limit is passed.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// How deep groups and runs of punctuation may nest in what the macro parses: far beyond any
/// real signature or argument, far below what overflows the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// How many tokens the attribute's arguments may have, counted inside groups too. Every level of
/// `syn`'s recursion takes at least one token, so this bounds it whatever the construct
/// (`return return ...`, `move || move || ...`, generics in a turbofish); real arguments have a
/// few dozen.
pub(crate) const MAX_ARGUMENT_TOKENS: usize = 384;

/// Checks the attribute's arguments: their depth, and their size.
pub(crate) fn check_arguments(tokens: &TokenStream) -> Result<(), syn::Error> {
    check(tokens)?;
    let mut count = 0;
    let mut open = vec![tokens.clone().into_iter()];
    while let Some(level) = open.last_mut() {
        let Some(token) = level.next() else {
            open.pop();
            continue;
        };
        count += 1;
        if count > MAX_ARGUMENT_TOKENS {
            return Err(syn::Error::new(
                token.span(),
                format!(
                    "#[emits_event] takes at most {MAX_ARGUMENT_TOKENS} tokens of arguments; \
                     compute long values in the body, or bind them to a variable"
                ),
            ));
        }
        if let TokenTree::Group(group) = token {
            open.push(group.stream().into_iter());
        }
    }
    Ok(())
}

/// Checks `tokens` without recursion (the check itself must not overflow).
pub(crate) fn check(tokens: &TokenStream) -> Result<(), syn::Error> {
    let mut open = vec![tokens.clone().into_iter()];
    // Consecutive punctuation: prefix operators (`!`, `-`, `&`, `*`) recurse too.
    let mut run = 0;
    // Unclosed `<` of generics (`Vec<Vec<..>>`), which are not groups but nest as deep.
    let mut angles: usize = 0;
    let mut previous = ' ';
    while let Some(level) = open.last_mut() {
        let (span, depth) = match level.next() {
            None => {
                open.pop();
                continue;
            }
            Some(TokenTree::Group(group)) => {
                run = 0;
                previous = ' ';
                let span = group.span_open();
                open.push(group.stream().into_iter());
                (span, open.len() - 1 + angles)
            }
            Some(TokenTree::Punct(punct)) => {
                run += 1;
                match punct.as_char() {
                    '<' => angles += 1,
                    '>' if previous != '-' && previous != '=' => angles = angles.saturating_sub(1),
                    _ => {}
                }
                previous = punct.as_char();
                (punct.span(), open.len() - 1 + run + angles)
            }
            Some(_) => {
                run = 0;
                previous = ' ';
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

    use super::{MAX_ARGUMENT_TOKENS, MAX_DEPTH, check, check_arguments, check_head};

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
    fn generics_count_and_arrows_do_not() {
        let deep = format!(
            "x: {}u8{}",
            "Vec<".repeat(MAX_DEPTH + 1),
            ">".repeat(MAX_DEPTH + 1)
        );
        assert!(check(&TokenStream::from_str(&deep).unwrap()).is_err());
        let flat = "a: HashMap<K, Vec<V>>, f: impl Fn(u8) -> u8, g: Box<dyn Fn() -> Vec<u8>>";
        let many = [flat; 200].join(", ");
        assert!(check(&TokenStream::from_str(&many).unwrap()).is_ok());
    }

    #[test]
    fn arguments_are_bounded_in_size() {
        let keywords = format!("user = {}id", "return ".repeat(MAX_ARGUMENT_TOKENS));
        assert!(check(&TokenStream::from_str(&keywords).unwrap()).is_ok());
        assert!(check_arguments(&TokenStream::from_str(&keywords).unwrap()).is_err());
        let real = "category = \"connection\", action = \"ping\", acted_upon = connection_id, \
                    user = user.id, description = \"Pinged {name}\", emitter = self.events";
        assert!(check_arguments(&TokenStream::from_str(real).unwrap()).is_ok());
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
