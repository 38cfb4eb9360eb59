//! The annotated item: its signature is parsed, its body is kept as tokens, so a body that `syn`
//! cannot parse (new syntax, code being typed) does not take the function down.

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Attribute, Signature, Visibility};

/// A function, split into what is re-emitted verbatim and what is wrapped.
pub(crate) struct Function {
    /// Outer attributes, visibility and signature, exactly as written.
    pub head: TokenStream,
    pub attrs: Vec<Attribute>,
    pub sig: Signature,
    /// The body's braces; `None` for a declaration without a body (`fn f();`).
    pub body: Option<Group>,
}

struct Head {
    attrs: Vec<Attribute>,
    sig: Signature,
}

impl Parse for Head {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let _: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the signature"));
        }
        Ok(Head { attrs, sig })
    }
}

impl Function {
    /// Splits `item`; `None` when it is not a function.
    pub fn parse(item: TokenStream) -> Option<Function> {
        let mut tokens: Vec<TokenTree> = item.into_iter().collect();
        let body = match tokens.last() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                let Some(TokenTree::Group(g)) = tokens.pop() else {
                    unreachable!()
                };
                Some(g)
            }
            Some(TokenTree::Punct(p)) if p.as_char() == ';' => {
                tokens.pop();
                None
            }
            _ => return None,
        };
        let head: TokenStream = tokens.into_iter().collect();
        let Head { attrs, sig } = Head::parse.parse2(head.clone()).ok()?;
        Some(Function {
            head,
            attrs,
            sig,
            body,
        })
    }
}

/// Splits a body's tokens into its inner attributes (`#![...]`) and the rest.
pub(crate) fn split_inner_attributes(body: &TokenStream) -> (TokenStream, TokenStream) {
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let mut i = 0;
    while let (
        Some(TokenTree::Punct(hash)),
        Some(TokenTree::Punct(bang)),
        Some(TokenTree::Group(g)),
    ) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
    {
        if hash.as_char() != '#' || bang.as_char() != '!' || g.delimiter() != Delimiter::Bracket {
            break;
        }
        i += 3;
    }
    (
        tokens[..i].iter().cloned().collect(),
        tokens[i..].iter().cloned().collect(),
    )
}

/// The parts of a body that `#[async_trait]` rewrote into `... Box::pin(async move { .. })`:
/// the statements before it, and the inner `async move` block.
pub(crate) struct AsyncTraitBody {
    pub before: TokenStream,
    pub inner: Group,
}

/// Recognizes the body `#[async_trait]` makes of an `async fn` in a trait impl.
pub(crate) fn async_trait_body(body: &TokenStream) -> Option<AsyncTraitBody> {
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let n = tokens.len();
    if n < 4 {
        return None;
    }
    let is_punct = |t: &TokenTree, c: char, spacing: Option<Spacing>| matches!(t, TokenTree::Punct(p) if p.as_char() == c && spacing.is_none_or(|s| p.spacing() == s));
    let TokenTree::Group(args) = &tokens[n - 1] else {
        return None;
    };
    let pin_call = args.delimiter() == Delimiter::Parenthesis
        && matches!(&tokens[n - 2], TokenTree::Ident(i) if i == "pin")
        && is_punct(&tokens[n - 3], ':', None)
        && is_punct(&tokens[n - 4], ':', Some(Spacing::Joint));
    if !pin_call {
        return None;
    }
    let inner: Vec<TokenTree> = args.stream().into_iter().collect();
    let [
        TokenTree::Ident(kw_async),
        TokenTree::Ident(kw_move),
        TokenTree::Group(block),
    ] = inner.as_slice()
    else {
        return None;
    };
    if kw_async != "async" || kw_move != "move" || block.delimiter() != Delimiter::Brace {
        return None;
    }
    // Walk back over the path to `pin` (`Box::pin`, `::std::boxed::Box::pin`...).
    let mut start = n - 4;
    while start >= 1 {
        match &tokens[start - 1] {
            TokenTree::Ident(_) => start -= 1,
            t if is_punct(t, ':', None) => start -= 1,
            _ => break,
        }
    }
    Some(AsyncTraitBody {
        before: tokens[..start].iter().cloned().collect(),
        inner: block.clone(),
    })
}
