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
pub mod text;

pub use root::{App, shell};

/// Entry point of the WASM bundle. Islands mode: Leptos' loader calls this,
/// then hydrates each `#[island]` on the page; everything else stays the
/// server's HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Tests (and curious engineers) can tell a page whose islands are live
    // from a server-rendered one. The loader hydrates the islands right
    // after this returns, within the same task, so a zero timeout runs
    // once they are all attached.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
