//! Writes the wrapper: a few lines around the untouched body; the work is in the runtime's
//! `__private::Call`.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, GenericArgument, Ident, LitStr, PathArguments, Type, TypeParamBound};

use crate::args::{self, Args, Description};
use crate::errors::Errors;
use crate::function::{self, AsyncTraitBody, Function, Wrappable};

/// The attribute's entry point: the wrapped function, or on any mistake the original function
/// followed by every error, so that its callers and rust-analyzer keep working.
pub(crate) fn emits_event(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Err(error) = crate::depth::check_head(&item) {
        let error = error.to_compile_error();
        return quote!(#item #error);
    }
    let Some(function) = Function::parse(item.clone()) else {
        let error = syn::Error::new(
            Span::call_site(),
            "#[emits_event] goes on a function: a `fn`, an `async fn` or a method with a body",
        )
        .to_compile_error();
        return quote!(#item #error);
    };
    let mut errors = Errors::default();
    let args = args::parse(args, &function.parameter_names(), &mut errors);
    let wrappable = function.check(&mut errors);
    match (errors.into_result(), args, wrappable) {
        (Ok(()), Some(args), Some(wrappable)) => wrap(&wrappable, &args),
        (result, _, _) => {
            let error = result.err().map(|e| e.to_compile_error());
            quote!(#item #error)
        }
    }
}

/// Names and tokens shared by both kinds of wrapper.
struct Parts {
    /// The call in progress: `__tidings`.
    call: Ident,
    /// The body's outcome: `__tidings_result`.
    result: Ident,
    /// The `static` site, the call's start and what is evaluated before the body.
    prologue: TokenStream,
    /// Hands the outcome to the call, at the return type's location.
    finish: TokenStream,
    /// The same in an async function: awaits room in a full queue instead of blocking the
    /// executor's thread.
    finish_async: TokenStream,
    /// `return __tidings_result;`
    tail: TokenStream,
    /// `panic = "..."`: the body runs under `catch_unwind`.
    catching: bool,
}

impl Parts {
    /// The method that runs a sync body.
    fn run(&self) -> Ident {
        let name = if self.catching { "run_catching" } else { "run" };
        Ident::new(name, Span::call_site())
    }

    /// The method that runs an async body.
    fn run_async(&self) -> Ident {
        let name = if self.catching {
            "run_async_catching"
        } else {
            "run_async"
        };
        Ident::new(name, Span::call_site())
    }
}

fn wrap(function: &Wrappable<'_>, args: &Args) -> TokenStream {
    let Wrappable {
        head,
        sig,
        body,
        output,
    } = function;
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::tidings), ToTokens::to_token_stream);
    let private = quote!(#krate::__private);
    let call = Ident::new("__tidings", Span::mixed_site());
    let site = Ident::new("__TIDINGS_SITE", Span::mixed_site());

    let (inner_attrs, body_tokens) = function::split_inner_attributes(&body.stream());
    let async_trait = if sig.asyncness.is_none() {
        function::async_trait_body(&body_tokens)
    } else {
        None
    };
    // The type whose `Result`-ness is checked: the future's output for `#[async_trait]`.
    let outcome_ty = match &async_trait {
        Some(_) => future_output(output).unwrap_or(output),
        None => output,
    };
    // The result's name carries the return type's location, so a function that does not
    // return a `Result` gets its error there.
    let located = Span::mixed_site().located_at(outcome_ty.span());
    let result = Ident::new("__tidings_result", Span::mixed_site());
    let result_at_type = Ident::new("__tidings_result", located);
    // The path to the check, at the return type too: its error is reported once, there.
    let private_at = respan(&private, located);

    let site_static = site_static(&private, &site, args);
    let start = match &args.emitter {
        Some(emitter) => {
            // Read at the expression's span: a value that is no emitter is an error there.
            let at = respan(&private, emitter.span());
            let value = borrowed(emitter, emitter.span());
            let emitter = quote_spanned!(emitter.span()=> #at::AsEmitter::as_emitter(#value));
            quote!(#private::Call::start_with(&#site, #emitter))
        }
        None => quote!(#private::Call::start(&#site)),
    };
    let setup = setup(&krate, &private, &call, args);
    // The catalog's entry (nothing without the `catalog` feature): the line is the function
    // name's.
    let name = sig.ident.to_string();
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let register = quote!(#private::register_site!(#site, #name, #line););
    let parts = Parts {
        prologue: quote! {
            #site_static
            #register
            let mut #call = #start;
            #setup
        },
        finish: quote_spanned! {located=>
            #call.finish(#private_at::IsResult::as_result(&#result_at_type), |error| #private::error_report!(*error));
        },
        finish_async: quote_spanned! {located=>
            #call.finish_async(#private_at::IsResult::as_result(&#result_at_type), |error| #private::error_report!(*error)).await;
        },
        // An explicit `return`: users who deny `clippy::implicit_return` would otherwise see it
        // fire on generated code.
        tail: quote! {
            #[allow(unknown_lints, clippy::needless_return)]
            return #result;
        },
        call,
        result,
        catching: args.panic.is_some(),
    };
    let wrapped = match async_trait {
        Some(async_trait) => wrap_async_trait(&parts, async_trait),
        None => wrap_body(
            &private,
            &parts,
            sig.asyncness.is_some(),
            output,
            body,
            body_tokens,
        ),
    };
    let mut braces = Group::new(Delimiter::Brace, quote!(#inner_attrs #wrapped));
    braces.set_span(body.span());
    quote!(#head #braces)
}

/// A plain or `async fn`: its statements run, exactly as written, inside a closure or an async
/// block that the call runs.
fn wrap_body(
    private: &TokenStream,
    parts: &Parts,
    is_async: bool,
    output: &Type,
    body: &Group,
    statements: TokenStream,
) -> TokenStream {
    let Parts {
        call,
        result,
        prologue,
        finish,
        finish_async,
        tail,
        ..
    } = parts;
    let finish = if is_async { finish_async } else { finish };
    // The declared return type, for the type checker: the closure's (or async block's) `return`s
    // and tail then have it as their expected type, so `?`, `.into()` and `.collect()` in the
    // body infer, and values coerce, exactly as they would without the attribute. It is named
    // outside the body's block, so items that the body declares (`use std::fmt::Result;`) do
    // not change what it names.
    let mut erased = output.clone();
    EraseImplTrait.visit_type_mut(&mut erased);
    // The body's statements are the closure's (or async block's) block itself, not a block of
    // their own: a one-line `{ Ok(x) }` re-wrapped would raise `unused_braces` on the user's
    // code. The block carries the body's span, so lints that look at closures in the user's
    // code (`clippy::implicit_return`) still see the body's tail.
    let mut typed = TokenStream::new();
    let run = if is_async {
        // An async block's output is inferred from its own `return`s and tail, never from an
        // expected type: a `return` of the declared type that never runs, first in the block (as
        // `tracing`'s `#[instrument]` does), fixes it before the body is checked, so the body's
        // `return`s, `?` and tail coerce (`Ok(Box::new(e))` to `Box<dyn Error>`) as without the
        // attribute. The type is named outside the block, in the marker; the `return` follows
        // the body's leading items (`use ...;`), so that clippy's `items_after_statements` does
        // not fire on them.
        let output = Ident::new("__tidings_output", Span::mixed_site());
        typed = quote!(let #output = #private::Output::<#erased>::new(););
        let typed_return = quote! {
            #[allow(unknown_lints, unreachable_code, clippy::needless_return)]
            if false {
                return #output.never();
            }
        };
        let (items, statements) = function::split_leading_items(&statements);
        let mut block = Group::new(Delimiter::Brace, quote!(#items #typed_return #statements));
        block.set_span(body.span());
        let body = quote_spanned!(body.span()=> async move #block);
        let run_async = parts.run_async();
        quote!(#call.#run_async(#body).await)
    } else {
        let mut block = Group::new(Delimiter::Brace, statements);
        block.set_span(body.span());
        let body = quote_spanned!(body.span()=> move || -> #erased #block);
        let run = parts.run();
        quote!(#call.#run(#body))
    };
    quote! {
        #prologue
        #typed
        let #result = #run;
        #finish
        #tail
    }
}

/// An `async fn` that `#[async_trait]` has already rewritten: its statements before the tail run
/// first, then the call runs the `async move` block, inside `#[async_trait]`'s own
/// `Box::pin(async move { .. })` tokens, so diagnostics about them stay where they were.
fn wrap_async_trait(parts: &Parts, body: AsyncTraitBody) -> TokenStream {
    let Parts {
        call,
        result,
        prologue,
        finish_async,
        tail,
        ..
    } = parts;
    let AsyncTraitBody {
        before,
        pin,
        call: parentheses,
        kw_async,
        kw_move,
        inner,
    } = body;
    let run_async = parts.run_async();
    let mut block = Group::new(
        Delimiter::Brace,
        quote! {
            let #result = #call.#run_async(async move #inner).await;
            #finish_async
            #tail
        },
    );
    block.set_span(inner.span());
    let mut arguments = Group::new(Delimiter::Parenthesis, quote!(#kw_async #kw_move #block));
    arguments.set_span(parentheses.span());
    quote! {
        #before
        #prologue
        #pin #arguments
    }
}

fn site_static(private: &TokenStream, site: &Ident, args: &Args) -> TokenStream {
    let Args {
        category, action, ..
    } = args;
    let words = |lit: &LitStr| lit.value().replace('_', " ");
    let fixed = |description: Option<&Description>, default: String| match description {
        Some(Description::Fixed(lit)) => lit.clone(),
        Some(Description::Rendered(_)) | None => LitStr::new(&default, Span::call_site()),
    };
    let description = fixed(
        args.description.as_ref(),
        format!("{} {} succeeded", words(category), words(action)),
    );
    let error_description = fixed(
        args.error_description.as_ref(),
        format!("{} {} failed", words(category), words(action)),
    );
    let success = args
        .success
        .clone()
        .unwrap_or_else(|| Ident::new("Success", Span::call_site()));
    let error = args
        .error
        .clone()
        .unwrap_or_else(|| Ident::new("Error", Span::call_site()));
    let emit_on = args
        .emit_on
        .clone()
        .unwrap_or_else(|| Ident::new("Both", Span::call_site()));
    let coalesce = match args.coalesce {
        Some((secs, nanos)) => {
            quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let nested = args
        .nested
        .clone()
        .unwrap_or_else(|| Ident::new("Join", Span::call_site()));
    let metadata_keys = args.metadata.iter().map(|(key, _)| key);
    let panic = match &args.panic {
        Some(level) => quote!(::core::option::Option::Some(#private::Severity::#level)),
        None => quote!(::core::option::Option::None),
    };
    let doc = match &args.doc {
        Some(doc) => quote!(::core::option::Option::Some(#doc)),
        None => quote!(::core::option::Option::None),
    };
    let template = |description: Option<&Description>, fixed: &LitStr| match description {
        Some(Description::Rendered(lit)) => lit.clone(),
        Some(Description::Fixed(_)) | None => fixed.clone(),
    };
    let description_template = template(args.description.as_ref(), &description);
    let error_template = template(args.error_description.as_ref(), &error_description);
    quote! {
        static #site: #private::Site = #private::Site {
            category: #private::Category::new_const(#category),
            action: #private::Action::new_const(#action),
            success: #private::Severity::#success,
            error: #private::Severity::#error,
            emit_on: #private::EmitOn::#emit_on,
            coalesce: #coalesce,
            nested: #private::Nested::#nested,
            panic: #panic,
            metadata_keys: &[#(#metadata_keys),*],
            description: #description,
            error_description: #error_description,
            doc: #doc,
            template: #description_template,
            error_template: #error_template,
        };
    }
}

/// `tokens` with every token at `span` (a path whose resolution errors belong there).
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// `&expr`, with parentheses only where the expression needs them; the `&` (and parentheses)
/// at `span`, the expression's own tokens where they are.
fn borrowed(expr: &Expr, span: Span) -> TokenStream {
    match expr {
        Expr::Path(_) | Expr::Field(_) | Expr::MethodCall(_) | Expr::Call(_) | Expr::Lit(_) => {
            quote_spanned!(span=> &#expr)
        }
        _ => quote_spanned!(span=> &(#expr)),
    }
}

/// What is evaluated before the body, only when an event will be emitted.
fn setup(krate: &TokenStream, private: &TokenStream, call: &Ident, args: &Args) -> TokenStream {
    let mut steps = Vec::new();
    let ids = &args.ids;
    for (method, expr) in [
        ("acted_upon", &ids.acted_upon),
        ("user", &ids.user),
        ("system", &ids.system),
    ] {
        if let Some(expr) = expr {
            let method = Ident::new(method, Span::call_site());
            // Read at the expression's span: a value that is no id is an error there.
            let value = borrowed(expr, expr.span());
            let at = respan(private, expr.span());
            let id = quote_spanned!(expr.span()=> #at::IdSource::event_id(#value));
            steps.push(quote!(#call.#method(#id);));
        }
    }
    for (method, description) in [
        ("description", &args.description),
        ("error_description", &args.error_description),
    ] {
        if let Some(Description::Rendered(lit)) = description {
            let method = Ident::new(method, Span::call_site());
            steps.push(quote!(#call.#method(::std::format!(#lit));));
        }
    }
    // Each value borrowed at its own span: one that does not serialize is an error there.
    for (key, value) in &args.metadata {
        let value = quote_spanned!(value.span()=>
            #private::metadata_value(#krate::serde_json::to_value(&(#value)))
        );
        steps.push(quote!(#call.meta(#key, #value);));
    }
    if steps.is_empty() {
        return TokenStream::new();
    }
    quote! {
        if #call.is_active() {
            #(#steps)*
        }
    }
}

/// `impl Trait` cannot be written in a `let` or a turbofish (E0562): replaces each one with `_`.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: syn::Token![_](impl_trait.span()),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// `T` in `Pin<Box<dyn Future<Output = T> + Send>>`: what an `#[async_trait]` method returns.
fn future_output(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(t) => path_output(&t.path),
        Type::TraitObject(t) => t.bounds.iter().find_map(|bound| match bound {
            TypeParamBound::Trait(bound) => path_output(&bound.path),
            _ => None,
        }),
        Type::Paren(t) => future_output(&t.elem),
        Type::Group(t) => future_output(&t.elem),
        _ => None,
    }
}

fn path_output(path: &syn::Path) -> Option<&Type> {
    path.segments.iter().find_map(|segment| {
        let PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(a) if a.ident == "Output" => Some(&a.ty),
            GenericArgument::Type(t) => future_output(t),
            _ => None,
        })
    })
}
