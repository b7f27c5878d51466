//! The `#[goro::main]` and `#[goro::test]` attribute macros. Use them
//! through the `goro` crate (its default `macros` feature re-exports them),
//! not from this crate directly.
//!
//! Both turn an `async fn` into a plain `fn` that builds a goro
//! `Runtime` — with `worker_threads = N` workers if given, else the
//! default (`GORO_WORKER_THREADS`, then the number of CPUs) — and runs the
//! body on it with `block_on`. The body becomes an inner `async fn` with
//! the same signature, so `?` and `return` keep the declared return type.
//! Misuse (a non-`async` function, parameters, generics, unknown or bad
//! arguments) is a compile error pointing at the offending tokens.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token};

/// Runs `async fn main` on a goro runtime.
///
/// ```ignore
/// #[goro::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
///     println!("listening on {}", listener.local_addr()?);
///     Ok(())
/// }
/// ```
///
/// `#[goro::main(worker_threads = 4)]` sets the number of worker threads.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on its own goro runtime (and marks it
/// `#[test]`).
///
/// ```ignore
/// #[goro::test]
/// async fn spawns() {
///     assert_eq!(goro::spawn(async { 1 }).await.unwrap(), 1);
/// }
///
/// #[goro::test(worker_threads = 2)]
/// async fn with_two_workers() -> std::io::Result<()> {
///     goro::time::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into()).into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[goro::main]",
            Kind::Test => "#[goro::test]",
        }
    }
}

/// The parsed attribute arguments.
#[derive(Default)]
struct Config {
    worker_threads: Option<(usize, Span)>,
}

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("{} can only be applied to an `async fn`", kind.attr());
            let err = syn::Error::new(e.span(), msg).to_compile_error();
            return quote! { #err #item };
        }
    };
    let result = parse_config(kind, args).and_then(|config| {
        check_signature(kind, &func)?;
        Ok(generate(kind, &config, &func))
    });
    match result {
        Ok(tokens) => tokens,
        // Emit the function too (as a plain, never-run `fn` with the same
        // name), so the error above is the only one reported.
        Err(e) => {
            let err = e.to_compile_error();
            let name = &func.sig.ident;
            let vis = &func.vis;
            quote! {
                #err
                #[allow(dead_code)]
                #vis fn #name() {}
            }
        }
    }
}

fn parse_config(kind: Kind, args: TokenStream2) -> syn::Result<Config> {
    let mut config = Config::default();
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{} takes `name = value` arguments, e.g. `{}(worker_threads = 4)]`",
                    kind.attr(),
                    kind.attr().trim_end_matches(']'),
                ),
            )
        })?;
    for pair in pairs {
        let name = pair
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match name.as_str() {
            "worker_threads" => {
                if config.worker_threads.is_some() {
                    return Err(syn::Error::new(
                        pair.path.span(),
                        "`worker_threads` is given more than once",
                    ));
                }
                config.worker_threads = Some((worker_threads(&pair.value)?, pair.value.span()));
            }
            _ => {
                return Err(syn::Error::new(
                    pair.path.span(),
                    format!(
                        "unknown argument `{}` to {}; the only argument is `worker_threads = N`",
                        path_text(&pair.path),
                        kind.attr()
                    ),
                ));
            }
        }
    }
    Ok(config)
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn worker_threads(value: &Expr) -> syn::Result<usize> {
    let bad = || {
        syn::Error::new(
            value.span(),
            "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`",
        )
    };
    let Expr::Lit(ExprLit {
        lit: Lit::Int(n), ..
    }) = value
    else {
        return Err(bad());
    };
    match n.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            value.span(),
            "`worker_threads` must be at least 1",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(bad()),
    }
}

fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!(
                "the `async` keyword is missing from the function declaration: {} runs an `async fn`",
                kind.attr()
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        let what = match kind {
            Kind::Main if sig.ident == "main" => "`fn main` cannot take parameters".to_string(),
            Kind::Main => format!("{} functions cannot take parameters", kind.attr()),
            Kind::Test => "test functions cannot take parameters".to_string(),
        };
        return Err(syn::Error::new(sig.inputs.span(), what));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{} functions cannot be generic", kind.attr()),
        ));
    }
    if kind == Kind::Test
        && let Some(attr) = func.attrs.iter().find(|a| a.path().is_ident("test"))
    {
        return Err(syn::Error::new(
            attr.span(),
            "remove this `#[test]`: #[goro::test] already marks the function as a test",
        ));
    }
    Ok(())
}

fn generate(kind: Kind, config: &Config, func: &ItemFn) -> TokenStream2 {
    let attrs = &func.attrs;
    let vis = &func.vis;
    let name = &func.sig.ident;
    let output = &func.sig.output;
    let body = &func.block;
    let span = func.sig.fn_token.span();
    let build = match config.worker_threads {
        Some((n, span)) => quote_spanned! {span=>
            ::goro::runtime::Runtime::builder().worker_threads(#n).build()
        },
        None => quote! { ::goro::runtime::Runtime::new() },
    };
    let test_attr = match kind {
        Kind::Test => quote! { #[::core::prelude::v1::test] },
        Kind::Main => quote! {},
    };
    // The body runs as an inner `async fn` with the original signature,
    // which keeps its return type for `?` and `return`. A body with no
    // `.await` is fine in an `async fn main`/test, so the inner function
    // must not trip clippy's `unused_async` (pedantic) on the user's code.
    quote_spanned! {span=>
        #test_attr
        #(#attrs)*
        #vis fn #name() #output {
            #[allow(clippy::unused_async)]
            async fn __goro_body() #output #body
            let runtime = #build.expect("goro: failed to build the runtime");
            runtime.block_on(__goro_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(kind: Kind, item: &str) -> String {
        expand(kind, TokenStream2::new(), item.parse().unwrap()).to_string()
    }

    // Spelled out: this crate's own `test` attribute shadows the prelude's.
    #[::core::prelude::v1::test]
    fn inner_body_allows_unused_async() {
        for kind in [Kind::Main, Kind::Test] {
            let out = expanded(kind, "async fn f() { let _ = 1; }");
            let allow = out
                .find("# [allow (clippy :: unused_async)]")
                .unwrap_or_else(|| panic!("no allow in {out}"));
            let inner = out.find("async fn __goro_body").unwrap();
            assert!(allow < inner, "the allow must precede the inner fn: {out}");
        }
    }
}
