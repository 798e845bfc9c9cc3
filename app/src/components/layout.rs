use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::api::accounts::{AccountSummary, LogOut, current_account};
use crate::domain::Role;
use crate::error::AppError;

/// Who is signed in, as the header loaded it (refetched on every
/// navigation); pages may read it from context instead of asking again.
#[derive(Clone, Copy)]
pub struct SignedIn(pub Resource<Result<Option<AccountSummary>, AppError>>);

/// The frame of every page: a skip link, the header with the primary
/// navigation (who is signed in and what they may open, or how to sign in),
/// the page's own content as `main`, and the footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let location = use_location();
    let account = Resource::new(move || location.pathname.get(), |_| current_account());
    provide_context(SignedIn(account));
    view! {
        <a class="skip-link" href="#main">
            "Skip to main content"
        </a>
        <header class="site-header">
            <div class="container header-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">
                        "§"
                    </span>
                    <span class="brand-name">"Counsel Registry"</span>
                </a>
                <nav aria-label="Primary">
                    <Suspense fallback=|| view! { <SignedOutNav /> }>
                        {move || {
                            account
                                .get()
                                .map(|answer| match answer {
                                    Ok(Some(account)) => view! { <SignedInNav account /> }.into_any(),
                                    _ => view! { <SignedOutNav /> }.into_any(),
                                })
                        }}
                    </Suspense>
                </nav>
            </div>
        </header>
        <main id="main" class="container" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <div class="container">
                <p>
                    "Counsel Registry keeps the list of attorney phone numbers that correctional "
                    "phone providers must not record. Providers receive numbers and times only, "
                    "never who holds them."
                </p>
            </div>
        </footer>
    }
}

#[component]
fn SignedOutNav() -> impl IntoView {
    view! {
        <ul class="nav-list">
            <li>
                <A href="/">"Home"</A>
            </li>
            <li>
                <A href="/how-it-works">"How it works"</A>
            </li>
            <li>
                <A href="/login">"Sign in"</A>
            </li>
            <li>
                <A href="/signup">"Create account"</A>
            </li>
        </ul>
    }
}

#[component]
fn SignedInNav(account: AccountSummary) -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let links: Vec<(&'static str, &'static str)> = match account.role {
        Role::Attorney => vec![
            ("/numbers", "Your numbers"),
            ("/numbers/facilities", "Where they are applied"),
        ],
        Role::BarAdmin => vec![
            ("/admin/reviews", "Review queue"),
            ("/admin/roster", "Roster uploads"),
        ],
        Role::SiteAdmin => vec![
            ("/admin/overview", "Overview"),
            ("/admin/reviews", "Review queue"),
            ("/admin/numbers", "Look up a number"),
            ("/admin/roster", "Roster uploads"),
            ("/admin/providers", "Phone providers"),
            ("/admin/facilities", "Facilities"),
            ("/admin/audit", "Audit trail"),
        ],
    };
    view! {
        <ul class="nav-list">
            <li>
                <A href="/">"Home"</A>
            </li>
            {links
                .into_iter()
                .map(|(href, label)| view! { <li><A href=href>{label}</A></li> })
                .collect_view()}
            <li>
                <A href="/account">"Account"</A>
            </li>
            <li class="signed-in-as">
                <span>{format!("Signed in as {}", account.full_name)}</span>
            </li>
            <li>
                <ActionForm action=log_out attr:class="inline-form">
                    <button type="submit" class="link-button">
                        "Sign out"
                    </button>
                </ActionForm>
            </li>
        </ul>
    }
}
