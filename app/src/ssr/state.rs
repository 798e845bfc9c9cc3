use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::ssr::db::Database;

/// What every request handler and server function may reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub database: Database,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
