//! # ferrograd-derive
//!
//! `#[derive(Module)]` for [ferrograd](https://crates.io/crates/ferrograd): the visit of a
//! struct's fields that gives a model its parameters, buffers and sub-modules under PyTorch's
//! dotted names (`h.0.ln_1.weight`), written from the field names so nothing is forgotten.
//!
//! It implements `Module` and `Component` (so the struct can be a field of another module).
//! Each field is handed to `Component::visit_as` under its name: a `Var` is a parameter, a
//! `Buffer` a buffer, a `TrainingFlag` the module's train/eval flag, any `Module` a
//! sub-module, `Option` and `Vec` of these what they hold, and plain numbers, strings and
//! flags nothing. A field of another type is marked `#[module(skip)]`.
//!
//! The element type: a struct generic over a type parameter (`struct Block<T: Float>`) is a
//! `Module<T>` for that parameter (the first one); a struct without one is a `Module<f32>`,
//! or `#[module(float = f64)]`, or a `Module<T>` for every float with `#[module(any_float)]`
//! (for a layer whose fields do not depend on the element type).
//!
//! ```ignore
//! use ferrograd::nn::{Linear, Module, TrainingFlag};
//!
//! #[derive(Module)]
//! struct Mlp {
//!     fc1: Linear,      // fc1.weight, fc1.bias
//!     fc2: Linear,      // fc2.weight, fc2.bias
//!     hidden: usize,    // nothing
//! }
//! ```

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{parse_macro_input, spanned::Spanned, Data, DeriveInput, Fields, GenericParam, Ident, Type};

/// Implements `Module` by visiting every field under its name (see the crate page).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What `#[module(...)]` on the struct says about the element type.
enum Float {
    /// `Module<T>` for the struct's first type parameter, or `f32` if it has none.
    Default,
    /// `#[module(float = f64)]`.
    Fixed(Box<Type>),
    /// `#[module(any_float)]`: `Module<F>` for every `F: Float`.
    Any,
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let nn = nn_path();
    let mut float = Float::Default;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("float") {
                float = Float::Fixed(Box::new(meta.value()?.parse()?));
                Ok(())
            } else if meta.path.is_ident("any_float") {
                float = Float::Any;
                Ok(())
            } else {
                Err(meta.error("expected `float = f32|f64` or `any_float`"))
            }
        })?;
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(input.span(), "#[derive(Module)] works on structs"));
    };
    let mut visits = Vec::new();
    let fields: Vec<_> = match &data.fields {
        Fields::Named(f) => f.named.iter().collect(),
        Fields::Unnamed(f) => f.unnamed.iter().collect(),
        Fields::Unit => Vec::new(),
    };
    for (i, field) in fields.into_iter().enumerate() {
        if is_skipped(&field.attrs)? {
            continue;
        }
        let (access, name) = match &field.ident {
            Some(ident) => (quote!(#ident), ident.to_string().trim_start_matches("r#").to_string()),
            None => {
                let index = syn::Index::from(i);
                (quote!(#index), i.to_string())
            }
        };
        visits.push(quote! {
            #nn::Component::visit_as(&self.#access, #name, v);
        });
    }

    let name = &input.ident;
    let first_type_param = input.generics.params.iter().find_map(|p| match p {
        GenericParam::Type(t) => Some(t.ident.clone()),
        _ => None,
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let fresh = Ident::new("__FerrogradFloat", Span::call_site());
    let (impl_generics, float_ty) = match (&float, first_type_param) {
        (Float::Fixed(ty), _) => (quote!(#impl_generics), quote!(#ty)),
        (Float::Default, Some(t)) => (quote!(#impl_generics), quote!(#t)),
        (Float::Default, None) => (quote!(#impl_generics), quote!(f32)),
        (Float::Any, _) => {
            let mut generics = input.generics.clone();
            generics.params.push(syn::parse_quote!(#fresh: #nn::__private::Float));
            let (g, _, _) = generics.split_for_impl();
            (quote!(#g), quote!(#fresh))
        }
    };
    Ok(quote! {
        impl #impl_generics #nn::Module<#float_ty> for #name #ty_generics #where_clause {
            fn visit(&self, v: &mut #nn::Visitor<'_, #float_ty>) {
                let _ = &v;
                #(#visits)*
            }
        }

        impl #impl_generics #nn::Component<#float_ty> for #name #ty_generics #where_clause {
            fn visit_as(&self, name: &str, v: &mut #nn::Visitor<'_, #float_ty>) {
                v.module(name, self);
            }
        }
    })
}

fn is_skipped(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut skip = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(meta.error("expected `skip`"))
            }
        })?;
    }
    Ok(skip)
}

/// How the crate being compiled reaches ferrograd-nn: `::ferrograd_nn` when it depends on it
/// (or is it: the nn crate names itself so), else `::ferrograd::nn` through the facade.
fn nn_path() -> TokenStream2 {
    use proc_macro_crate::{crate_name, FoundCrate};
    match crate_name("ferrograd-nn") {
        Ok(FoundCrate::Itself) => quote!(::ferrograd_nn),
        Ok(FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        Err(_) => match crate_name("ferrograd") {
            Ok(FoundCrate::Name(name)) => {
                let ident = Ident::new(&name, Span::call_site());
                quote!(::#ident::nn)
            }
            _ => quote!(::ferrograd::nn),
        },
    }
}
