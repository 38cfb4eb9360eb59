//! The annotated item: its signature is parsed, its body is kept as tokens, so a body that `syn`
//! cannot parse (new syntax, code being typed) does not take the function down.

use proc_macro2::{Delimiter, Group, Ident, Spacing, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Attribute, FnArg, Pat, ReturnType, Signature, Type, Visibility};

use crate::errors::Errors;

/// A function, split into what is re-emitted verbatim and what is wrapped.
pub(crate) struct Function {
    /// Outer attributes, visibility and signature, exactly as written.
    pub head: TokenStream,
    pub attrs: Vec<Attribute>,
    pub sig: Signature,
    /// The body's braces; `None` for a declaration without a body (`fn f();`).
    pub body: Option<Group>,
}

/// A function that `#[emits_event]` can wrap: it has a body and returns something.
pub(crate) struct Wrappable<'a> {
    pub head: &'a TokenStream,
    pub sig: &'a Signature,
    pub body: &'a Group,
    /// The declared return type.
    pub output: &'a Type,
}

struct Head {
    attrs: Vec<Attribute>,
    sig: Signature,
}

impl Parse for Head {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
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
        let body = match tokens.pop()? {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g),
            TokenTree::Punct(p) if p.as_char() == ';' => None,
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

    /// Checks that the function can be wrapped; every reason it cannot goes to `errors`.
    pub fn check(&self, errors: &mut Errors) -> Option<Wrappable<'_>> {
        let sig = &self.sig;
        if let Some(constness) = &sig.constness {
            errors.at(
                constness,
                "#[emits_event] cannot wrap a `const fn`: its event is built and delivered at run \
                 time",
            );
        }
        if self.body.is_none() {
            errors.at(
                &sig.ident,
                "#[emits_event] needs a function body: put it on the method in the `impl` block, \
                 not on its declaration in the trait",
            );
        }
        if let Some(attr) = self
            .attrs
            .iter()
            .find(|a| a.path().is_ident("track_caller"))
        {
            errors.at(
                attr,
                "#[emits_event] cannot be combined with #[track_caller]: the body runs inside a \
                 closure, so `Location::caller()` would name tidings' wrapper instead of your caller",
            );
        }
        let output = match &sig.output {
            ReturnType::Type(_, output) => Some(&**output),
            ReturnType::Default => {
                errors.at(
                    &sig.ident,
                    format!(
                        "#[emits_event] needs a function that returns a `Result`, but `{}` returns \
                         `()`",
                        sig.ident
                    ),
                );
                None
            }
        };
        Some(Wrappable {
            head: &self.head,
            sig,
            body: self.body.as_ref()?,
            output: output?,
        })
    }

    /// The names of the parameters bound by the signature's patterns (not `self`).
    pub fn parameter_names(&self) -> Vec<String> {
        fn collect(pat: &Pat, names: &mut Vec<String>) {
            match pat {
                Pat::Ident(p) => names.push(p.ident.to_string()),
                Pat::Reference(p) => collect(&p.pat, names),
                Pat::Type(p) => collect(&p.pat, names),
                Pat::Tuple(p) => p.elems.iter().for_each(|p| collect(p, names)),
                Pat::TupleStruct(p) => p.elems.iter().for_each(|p| collect(p, names)),
                Pat::Struct(p) => p.fields.iter().for_each(|f| collect(&f.pat, names)),
                Pat::Slice(p) => p.elems.iter().for_each(|p| collect(p, names)),
                Pat::Paren(p) => collect(&p.pat, names),
                _ => {}
            }
        }
        let mut names = Vec::new();
        for input in &self.sig.inputs {
            if let FnArg::Typed(typed) = input {
                collect(&typed.pat, &mut names);
            }
        }
        names
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

/// A body's leading items (`use`, `fn`, `struct`...) and the rest, each token as written.
///
/// Generated statements go after the leading items: clippy's `items_after_statements` would
/// otherwise fire on the user's first `use`. A body that does not parse is all rest.
pub(crate) fn split_leading_items(body: &TokenStream) -> (TokenStream, TokenStream) {
    let Ok(statements) = syn::Block::parse_within.parse2(body.clone()) else {
        return (TokenStream::new(), body.clone());
    };
    // Each item is as many token trees in the original as in its own tokens: split there.
    let count: usize = statements
        .iter()
        .take_while(|statement| matches!(statement, syn::Stmt::Item(_)))
        .map(|item| quote::ToTokens::to_token_stream(item).into_iter().count())
        .sum();
    let mut tokens = body.clone().into_iter();
    let items: TokenStream = tokens.by_ref().take(count).collect();
    (items, tokens.collect())
}

/// The body `#[async_trait]` makes of an `async fn` in a trait impl,
/// `<before> Box::pin(async move { <inner> })`, in its parts, each with its own spans.
pub(crate) struct AsyncTraitBody {
    /// The statements before the tail.
    pub before: TokenStream,
    /// The path to `pin` (`Box::pin`, `::std::boxed::Box::pin`...).
    pub pin: TokenStream,
    /// The parentheses of the call.
    pub call: Group,
    pub kw_async: Ident,
    pub kw_move: Ident,
    /// The `async move` block: the user's body as `#[async_trait]` rewrote it.
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
    let TokenTree::Group(call) = &tokens[n - 1] else {
        return None;
    };
    let pin_call = call.delimiter() == Delimiter::Parenthesis
        && matches!(&tokens[n - 2], TokenTree::Ident(i) if i == "pin")
        && is_punct(&tokens[n - 3], ':', None)
        && is_punct(&tokens[n - 4], ':', Some(Spacing::Joint));
    if !pin_call {
        return None;
    }
    let inner: Vec<TokenTree> = call.stream().into_iter().collect();
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
    // Walk back over the path to `pin`.
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
        pin: tokens[start..n - 1].iter().cloned().collect(),
        call: call.clone(),
        kw_async: kw_async.clone(),
        kw_move: kw_move.clone(),
        inner: block.clone(),
    })
}
