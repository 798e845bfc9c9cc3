use leptos::prelude::*;

use crate::error::AppError;

/// A page that could not be shown: the message, and on the server the
/// matching HTTP status (403 for a forbidden page, not 200).
#[component]
pub fn PageError(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status_code())
    {
        response.set_status(status);
    }
    view! {
        <div class="form-error" role="alert">
            <p>{error.to_string()}</p>
        </div>
    }
}

/// The view of a guarded page's data: `ok` with it, else where a visitor
/// who may not see it belongs (sign-in, two-step sign-in) or the error.
pub fn guarded<T>(answer: Result<T, AppError>, ok: impl FnOnce(T) -> AnyView) -> AnyView {
    use leptos_router::components::Redirect;
    match answer {
        Ok(data) => ok(data),
        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
        Err(AppError::SecondFactorRequired) => {
            view! { <Redirect path="/account/two-factor" /> }.into_any()
        }
        Err(error) => view! { <PageError error /> }.into_any(),
    }
}

/// For data an island reads in the browser, where no router runs (islands
/// mode): sends a visitor whose session ended, or who owes the second
/// step, where [`guarded`] sends them on a page. Other errors are left to
/// the island.
pub fn leave_if_signed_out(error: &AppError) {
    #[cfg(feature = "hydrate")]
    {
        let to = match error {
            AppError::Unauthorized => Some("/login"),
            AppError::SecondFactorRequired => Some("/account/two-factor"),
            _ => None,
        };
        if let Some(to) = to {
            let _ = window().location().set_href(to);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = error;
}
