use leptos::prelude::*;

use crate::api::notice::{DismissNotice, notice_dismissed};

/// A banner saying the registry is not yet in service. Dismissing it is
/// remembered in the visitor's session; the form posts and the server
/// redirects back (no island: the page reloads, with or without JavaScript).
#[component]
pub fn PreReleaseNotice() -> impl IntoView {
    let dismiss = ServerAction::<DismissNotice>::new();
    let dismissed = Resource::new(move || dismiss.version().get(), |_| notice_dismissed());

    view! {
        <Suspense fallback=|| ()>
            {move || {
                dismissed
                    .get()
                    .map(|answer| {
                        let show = !matches!(answer, Ok(true));
                        show.then(|| {
                            view! {
                                <aside class="notice" aria-label="Service status">
                                    <p>
                                        "Counsel Registry is being built and is not yet in service. "
                                        "Do not rely on it to keep calls private."
                                    </p>
                                    <ActionForm action=dismiss>
                                        <button type="submit" class="button-secondary">
                                            "Dismiss"
                                        </button>
                                    </ActionForm>
                                </aside>
                            }
                        })
                    })
            }}
        </Suspense>
    }
}
