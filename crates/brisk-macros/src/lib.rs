//! # brisk-macros: `#[brisk::func]`
//!
//! The attribute behind `#[brisk::func]` (use it through the `brisk` facade, which re-exports
//! it and provides the paths its expansion names). On a `fn` item it keeps the function as it
//! is and registers it by name, so that tasks calling it can run in another process of the same
//! program: `delayed`, `Client::submit`/`map`, and every collection that takes a function
//! (bag stages, dataframe `map_partitions`, array `map_blocks`, …).
//!
//! Unlike `brisk::register!`, the function may take arguments by reference (`&T`, `&str`,
//! `&[T]`): the registered form reads an owned value (`T`, `String`, `Vec<T>`) from the task's
//! arguments and lends it. That is how parameters bound with `.with(param)` reach a function
//! that is called once per record: `fn contains(word: &str, line: &String) -> bool`, bound with
//! `contains.with("python".to_string())`, borrows its parameter instead of cloning it per
//! record. A last parameter `&[&T]` takes all the remaining task arguments, each borrowed as
//! a `T` (no copy): `fn combine(blocks: &[&ArrayD<f64>]) -> ArrayD<f64>` gets one block per
//! array of an array `blockwise`. The expansion also asks the facade for the function's typed companions (the bag
//! stages monomorphized for its argument and result types, see `brisk_core::func::hooks`).
//!
//! Options: `#[brisk::func(name = "my.name")]` chooses the registered name (default: the
//! module path and the function's name); `#[brisk::func(crate = "path")]` names the facade
//! when it is re-exported under another path.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Error, FnArg, ItemFn, LitStr, Meta, Pat, ReturnType, Token, Type, TypeReference,
    parse_macro_input,
};

/// Register a `fn` so that it can run in another process, with parameters by reference
/// allowed. See the crate documentation.
#[proc_macro_attribute]
pub fn func(attr: TokenStream, item: TokenStream) -> TokenStream {
    let opts = parse_macro_input!(attr as Options);
    let f = parse_macro_input!(item as ItemFn);
    match expand(&opts, &f) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Options {
    name: Option<LitStr>,
    krate: Option<syn::Path>,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut opts = Options {
            name: None,
            krate: None,
        };
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
        for m in metas {
            let Meta::NameValue(nv) = &m else {
                return Err(Error::new_spanned(
                    m,
                    "expected `name = \"...\"` or `crate = \"...\"`",
                ));
            };
            let value = match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => s.clone(),
                other => return Err(Error::new_spanned(other, "expected a string literal")),
            };
            if nv.path.is_ident("name") {
                opts.name = Some(value);
            } else if nv.path.is_ident("crate") {
                opts.krate = Some(value.parse()?);
            } else {
                return Err(Error::new_spanned(
                    &nv.path,
                    "unknown option: expected `name` or `crate`",
                ));
            }
        }
        Ok(opts)
    }
}

/// How one argument is read from a task's values and passed to the function.
struct ArgPlan {
    /// The owned type read from the value.
    owned: Type,
    /// Passed by reference (`&owned`).
    by_ref: bool,
    /// A last parameter `&[&T]`: every remaining argument, each borrowed as a `T` (`owned` is
    /// `T`).
    rest: bool,
}

/// `T` when `ty` is `&[&T]`.
fn slice_of_refs(ty: &Type) -> Option<&Type> {
    let Type::Reference(TypeReference {
        elem,
        mutability: None,
        ..
    }) = ty
    else {
        return None;
    };
    let Type::Slice(s) = &**elem else {
        return None;
    };
    match &*s.elem {
        Type::Reference(TypeReference {
            elem,
            mutability: None,
            ..
        }) => Some(elem),
        _ => None,
    }
}

fn arg_plan(ty: &Type) -> syn::Result<ArgPlan> {
    if let Some(elem) = slice_of_refs(ty) {
        return Ok(ArgPlan {
            owned: elem.clone(),
            by_ref: true,
            rest: true,
        });
    }
    match ty {
        Type::Reference(TypeReference {
            mutability: Some(m),
            ..
        }) => Err(Error::new_spanned(
            m,
            "a `#[brisk::func]` function cannot take `&mut` arguments: task values are shared",
        )),
        Type::Reference(TypeReference { elem, .. }) => {
            let owned: Type = match &**elem {
                Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
                    syn::parse_quote!(::std::string::String)
                }
                Type::Slice(s) => {
                    let e = &s.elem;
                    syn::parse_quote!(::std::vec::Vec<#e>)
                }
                other => other.clone(),
            };
            Ok(ArgPlan {
                owned,
                by_ref: true,
                rest: false,
            })
        }
        Type::ImplTrait(_) => Err(Error::new_spanned(
            ty,
            "a `#[brisk::func]` function cannot take `impl Trait` arguments: name a type",
        )),
        other => Ok(ArgPlan {
            owned: other.clone(),
            by_ref: false,
            rest: false,
        }),
    }
}

fn expand(opts: &Options, f: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &sig.generics,
            "a `#[brisk::func]` function cannot be generic: a worker finds it by name, so its \
             types must be fixed (write one function per type)",
        ));
    }
    if sig.asyncness.is_some() {
        return Err(Error::new_spanned(
            sig.asyncness,
            "a `#[brisk::func]` function cannot be async",
        ));
    }
    let ident = &sig.ident;
    let mut plans = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(Error::new_spanned(
                    r,
                    "`#[brisk::func]` goes on a free function, not a method",
                ));
            }
            FnArg::Typed(pt) => {
                if let Pat::Ident(pi) = &*pt.pat
                    && pi.by_ref.is_some()
                {
                    return Err(Error::new_spanned(pi, "use a plain argument name"));
                }
                plans.push(arg_plan(&pt.ty)?);
            }
        }
    }
    let krate: syn::Path = opts
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::brisk));
    let label = ident.to_string();
    let name = match &opts.name {
        Some(n) => quote!(#n),
        None => quote!(concat!(module_path!(), "::", #label)),
    };
    if let Some(pos) = plans.iter().position(|p| p.rest)
        && pos + 1 != plans.len()
    {
        return Err(Error::new_spanned(
            &sig.inputs,
            "a `&[&T]` parameter takes all the remaining task arguments, so it must be the last",
        ));
    }
    let n = plans.len();
    let rest = plans.last().is_some_and(|p| p.rest);
    let vars: Vec<_> = (0..n).map(|i| format_ident!("__a{}", i)).collect();
    let reads = plans.iter().zip(&vars).enumerate().map(|(i, (p, v))| {
        let owned = &p.owned;
        if p.rest {
            quote! {
                let #v: ::std::vec::Vec<&#owned> = #krate::__private::read_rest::<#owned>(args, #i, #label)?;
            }
        } else {
            quote! {
                let #v: #owned = (&&#krate::__private::Slot::<#owned>::new()).read(args, #i, #label)?;
            }
        }
    });
    // With a `&[&T]` parameter, any number of arguments from the fixed ones on.
    let fixed = if rest { n - 1 } else { n };
    let arity_ok = if rest {
        quote!(args.len() >= #fixed)
    } else {
        quote!(args.len() == #n)
    };
    let passes = plans
        .iter()
        .zip(&vars)
        .map(|(p, v)| if p.by_ref { quote!(&#v) } else { quote!(#v) });
    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let arg_types: Vec<&Type> = plans.iter().map(|p| &p.owned).collect();
    let hook_args = arg_types
        .iter()
        .zip(&plans)
        .map(|(t, p)| match (p.rest, p.by_ref) {
            (true, _) => quote!(&[&#t]),
            (false, true) => quote!(&#t),
            (false, false) => quote!(#t),
        });
    Ok(quote! {
        #f

        #krate::__private::inventory::submit! {
            #krate::__private::FunctionEntry {
                name: #name,
                type_id: || #krate::__private::type_id_of_val(&#ident),
                make: || #krate::__private::Func::named_raw(#name, #label, |args: &[#krate::Value]| {
                    if !(#arity_ok) {
                        return ::std::result::Result::Err(
                            #krate::__private::arity_failure(#label, #fixed, args.len()),
                        );
                    }
                    #[allow(unused_imports)]
                    use #krate::__private::{ReadExact as _, ReadFromValue as _, WriteAny as _, WriteOutput as _, WriteResult as _};
                    #(#reads)*
                    (&&&#krate::__private::Slot::<#ret>::new()).write(#ident(#(#passes),*))
                }),
            }
        }
        #krate::__func_hooks!(#ident, #name, (#(#hook_args),*) -> #ret);
    })
}
