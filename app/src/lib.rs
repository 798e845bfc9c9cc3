//! The Counsel Registry web application: pages, components and server
//! functions shared by the server (feature `ssr`) and the browser bundle
//! (feature `hydrate`). Backend-only code lives under [`ssr`].

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
mod root;

#[cfg(feature = "ssr")]
pub mod ssr;

pub use root::{App, shell};

/// Entry point of the WASM bundle: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
