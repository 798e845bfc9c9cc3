use leptos::prelude::*;

use crate::domain::password::Strength;
use crate::error::AppError;

/// The error of the last submission of a form, announced to screen readers.
/// With JavaScript off the error arrives in the URL after the redirect
/// back, and the action reads it from there: the same view serves both.
#[component]
pub fn FormError(#[prop(into)] result: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
    move || {
        result.get().and_then(Result::err).map(|error| {
            view! {
                <div class="form-error" role="alert">
                    <p>{error.to_string()}</p>
                </div>
            }
        })
    }
}

/// Gives an island's server actions the error a form posted without
/// JavaScript came back with (`?__err=…&__path=…`, set by the server
/// function's redirect). The router provides it on the server; in the
/// browser no router runs in islands mode, so without this the island
/// would drop the message the server drew.
pub fn provide_form_error_from_url() {
    #[cfg(feature = "hydrate")]
    {
        let query = window().location().search().unwrap_or_default();
        if let Ok(params) = web_sys::UrlSearchParams::new_with_str(&query)
            && let (Some(err), Some(path)) = (params.get("__err"), params.get("__path"))
        {
            provide_context(leptos::server::ServerActionError::new(&path, &err));
        }
    }
}

/// A field for choosing a password (named `password`), with the rule
/// spelled out and, once hydrated, a strength hint while typing. An
/// island: the page around it needs no JavaScript.
#[island]
pub fn NewPasswordField(#[prop(into)] label: String) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let strength = move || {
        let password = typed.get();
        (!password.is_empty()).then(|| Strength::of(&password).label())
    };
    view! {
        <div class="field">
            <label for="password">{label}</label>
            <p class="hint" id="password-rule">
                "At least 12 characters. A few unrelated words make a strong password."
            </p>
            <input
                id="password"
                name="password"
                type="password"
                autocomplete="new-password"
                required
                minlength="12"
                maxlength="128"
                aria-describedby="password-rule password-strength"
                on:input=move |event| typed.set(event_target_value(&event))
            />
            <p class="hint" id="password-strength" aria-live="polite">
                {strength}
            </p>
        </div>
    }
}

/// The email address field (named `email`). `autocomplete` is `email` on
/// sign-up and `username` where an existing account is meant, so password
/// managers pair it with the right password.
#[component]
pub fn EmailField(autocomplete: &'static str) -> impl IntoView {
    view! {
        <div class="field">
            <label for="email">"Email address"</label>
            <input id="email" name="email" type="email" autocomplete=autocomplete required maxlength="254" />
        </div>
    }
}

/// The current password, as a change confirmed by it asks for it; `id`
/// keeps two such fields on one page apart.
#[component]
pub fn CurrentPasswordField(
    #[prop(default = "current_password")] id: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Current password"</label>
            <input
                id=id
                name="current_password"
                type="password"
                autocomplete="current-password"
                required
                maxlength="128"
            />
        </div>
    }
}
