use leptos::prelude::*;

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
