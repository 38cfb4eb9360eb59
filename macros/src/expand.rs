//! Writes the wrapper: a few lines around the untouched body; the work is in the runtime's
//! `__private::Call`.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Expr, FnArg, GenericArgument, Ident, LitStr, Pat, PathArguments, ReturnType, Signature, Type,
    TypeParamBound,
};

use crate::args::{self, Args, Errors};
use crate::function::{self, Function};

/// The attribute's entry point: the wrapped function, or on any mistake the original function
/// followed by every error, so that its callers and rust-analyzer keep working.
pub(crate) fn emits_event(args: TokenStream, item: TokenStream) -> TokenStream {
    let Some(function) = Function::parse(item.clone()) else {
        let error = syn::Error::new(
            Span::call_site(),
            "#[emits_event] goes on a function: a `fn`, an `async fn` or a method with a body",
        )
        .to_compile_error();
        return quote!(#item #error);
    };
    let mut errors = Errors::default();
    let args = args::parse(args, &parameter_names(&function.sig), &mut errors);
    check_function(&function, &mut errors);
    match errors.into_result() {
        Ok(()) => wrap(&function, &args),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    }
}

fn check_function(function: &Function, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.at(
            constness,
            "#[emits_event] cannot wrap a `const fn`: its event is built and delivered at run time",
        );
    }
    if function.body.is_none() {
        errors.at(
            &sig.ident,
            "#[emits_event] needs a function body: put it on the method in the `impl` block, \
             not on its declaration in the trait",
        );
    }
    if let Some(attr) = function
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
    if matches!(sig.output, ReturnType::Default) {
        errors.at(
            &sig.ident,
            format!(
                "#[emits_event] needs a function that returns a `Result`, but `{}` returns `()`",
                sig.ident
            ),
        );
    }
}

/// The names of the parameters bound by the signature's patterns (not `self`).
fn parameter_names(sig: &Signature) -> Vec<String> {
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
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            collect(&typed.pat, &mut names);
        }
    }
    names
}

/// `impl Trait` cannot be written in a `let` or a turbofish (E0562): the declared return type
/// with every `impl Trait` replaced by `_`.
fn erase_impl_trait(ty: &mut Type) {
    match ty {
        Type::ImplTrait(_) => {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: syn::Token![_](ty.span()),
            });
        }
        Type::Array(t) => erase_impl_trait(&mut t.elem),
        Type::Group(t) => erase_impl_trait(&mut t.elem),
        Type::Paren(t) => erase_impl_trait(&mut t.elem),
        Type::Ptr(t) => erase_impl_trait(&mut t.elem),
        Type::Reference(t) => erase_impl_trait(&mut t.elem),
        Type::Slice(t) => erase_impl_trait(&mut t.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(erase_impl_trait),
        Type::Path(t) => {
            if let Some(qself) = &mut t.qself {
                erase_impl_trait(&mut qself.ty);
            }
            for segment in &mut t.path.segments {
                if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        match arg {
                            GenericArgument::Type(t) => erase_impl_trait(t),
                            GenericArgument::AssocType(a) => erase_impl_trait(&mut a.ty),
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
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

fn wrap(function: &Function, args: &Args) -> TokenStream {
    let Function {
        head, sig, body, ..
    } = function;
    let body = body.as_ref().expect("checked: the function has a body");
    let ReturnType::Type(_, declared) = &sig.output else {
        unreachable!("checked: the function returns something")
    };

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
        Some(_) => future_output(declared).unwrap_or(declared),
        None => declared,
    };
    // The result's name carries the return type's location, so a function that does not
    // return a `Result` gets its error there.
    let located = Span::mixed_site().located_at(outcome_ty.span());
    let result = Ident::new("__tidings_result", Span::mixed_site());
    let result_at_type = Ident::new("__tidings_result", located);

    let site_static = site_static(&private, &site, args);
    let start = match &args.emitter {
        Some(emitter) => {
            let emitter = borrowed(emitter);
            quote!(#private::Call::start_with(&#site, #emitter))
        }
        None => quote!(#private::Call::start(&#site)),
    };
    let setup = setup(&call, args);
    let finish = quote_spanned! {located=>
        #call.finish(&#result_at_type, |error| #private::error_report!(*error));
    };

    // An explicit `return`: users who deny `clippy::implicit_return` would otherwise see it fire
    // on generated code.
    let tail = quote! {
        #[allow(unknown_lints, clippy::needless_return)]
        return #result;
    };
    let wrapped = if let Some(async_trait) = async_trait {
        let before = &async_trait.before;
        let inner = &async_trait.inner;
        quote! {
            #inner_attrs
            #site_static
            #before
            let mut #call = #start;
            #setup
            ::std::boxed::Box::pin(async move {
                let #result = #call.run_async(async move #inner).await;
                #finish
                #tail
            })
        }
    } else {
        let mut user_block = Group::new(Delimiter::Brace, body_tokens);
        user_block.set_span(body.span());
        let mut erased = (**declared).clone();
        erase_impl_trait(&mut erased);
        let ret = Ident::new("__tidings_ret", Span::mixed_site());
        let early_return = quote! {
            if let ::core::option::Option::Some(#ret) = ::core::option::Option::None::<#erased> {
                return #ret;
            }
        };
        let run = if sig.asyncness.is_some() {
            quote!(#call.run_async(async move { #early_return #user_block }).await)
        } else {
            quote!(#call.run(move || { #early_return #user_block }))
        };
        quote! {
            #inner_attrs
            #site_static
            let mut #call = #start;
            #setup
            let #result = #run;
            #finish
            #tail
        }
    };
    let mut braces = Group::new(Delimiter::Brace, wrapped);
    braces.set_span(body.span());
    quote!(#head #braces)
}

fn site_static(private: &TokenStream, site: &Ident, args: &Args) -> TokenStream {
    let category = args
        .category
        .as_ref()
        .expect("checked: category is present");
    let action = args.action.as_ref().expect("checked: action is present");
    let words = |lit: &LitStr| lit.value().replace('_', " ");
    let fixed = |template: Option<&args::Template>, default: String| match template {
        Some(t) if !t.rendered => t.lit.clone(),
        _ => LitStr::new(&default, Span::call_site()),
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
    let doc = match &args.doc {
        Some(doc) => quote!(::core::option::Option::Some(#doc)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        static #site: #private::Site = #private::Site {
            category: #private::Category::new_const(#category),
            action: #private::Action::new_const(#action),
            success: #private::Severity::#success,
            description: #description,
            error_description: #error_description,
            doc: #doc,
        };
    }
}

/// `&expr`, with parentheses only where the expression needs them.
fn borrowed(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Path(_) | Expr::Field(_) | Expr::MethodCall(_) | Expr::Call(_) | Expr::Lit(_) => {
            quote!(&#expr)
        }
        _ => quote!(&(#expr)),
    }
}

/// What is evaluated before the body, only when an event will be emitted.
fn setup(call: &Ident, args: &Args) -> TokenStream {
    let mut steps = Vec::new();
    for (method, expr) in [
        ("acted_upon", &args.acted_upon),
        ("user", &args.user),
        ("system", &args.system),
    ] {
        if let Some(expr) = expr {
            let method = Ident::new(method, Span::call_site());
            let expr = borrowed(expr);
            steps.push(quote!(#call.#method(#expr);));
        }
    }
    for (method, template) in [
        ("description", &args.description),
        ("error_description", &args.error_description),
    ] {
        if let Some(template) = template.as_ref().filter(|t| t.rendered) {
            let method = Ident::new(method, Span::call_site());
            let lit = &template.lit;
            steps.push(quote!(#call.#method(::std::format!(#lit));));
        }
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
