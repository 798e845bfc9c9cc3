use leptos::prelude::*;
use leptos_router::components::A;

/// The frame of every page: a skip link, the header with the primary
/// navigation, the page's own content as `main`, and the footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
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
                    <ul class="nav-list">
                        <li>
                            <A href="/">"Home"</A>
                        </li>
                        <li>
                            <A href="/how-it-works">"How it works"</A>
                        </li>
                        <li>
                            <A href="/account">"Account"</A>
                        </li>
                        <li>
                            <A href="/signup">"Create account"</A>
                        </li>
                    </ul>
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
