//! The README's "What it expands to" section is the real expansion of its first example.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

const README: &str = include_str!("../../README.md");

/// The text of the first fenced block after `marker` that opens with `fence`.
fn block_after(marker: &str, fence: &str) -> String {
    let start = README.find(marker).expect("marker in README") + marker.len();
    let open = start + README[start..].find(fence).expect("fence") + fence.len();
    let close = open + README[open..].find("\n```").expect("closing fence");
    README[open..close].trim_start_matches('\n').to_owned()
}

/// The README's first example's `impl` block, expanded and formatted as `cargo expand` would.
fn expanded_first_example() -> String {
    let example = block_after("# tidings", "```rust\n");
    let start = example.find("impl Handler {").expect("an impl block");
    let end = start + example[start..].find("\n}\n").expect("its end") + 2;
    let mut item: syn::ItemImpl = syn::parse_str(&example[start..end]).expect("a valid impl");
    let mut methods = TokenStream::new();
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let position = method
            .attrs
            .iter()
            .position(|a| a.path().is_ident("emits_event"))
            .expect("an annotated method");
        let attr = method.attrs.remove(position);
        let args = attr.meta.require_list().expect("arguments").tokens.clone();
        methods.extend(crate::expand::emits_event(args, method.to_token_stream()));
    }
    let self_ty = &item.self_ty;
    let file: syn::File = syn::parse2(quote!(impl #self_ty { #methods })).expect("valid output");
    prettyplease::unparse(&file)
}

#[test]
fn readme_shows_the_real_expansion_of_its_first_example() {
    let shown = block_after("## What it expands to", "```rust,ignore\n");
    let real = expanded_first_example();
    assert!(
        shown.trim_end() == real.trim_end(),
        "README.md's \"What it expands to\" block is out of date; it should read:\n\n{real}"
    );
}
