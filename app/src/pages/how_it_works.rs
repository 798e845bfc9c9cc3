use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HowItWorksPage() -> impl IntoView {
    view! {
        <Title text="How it works" />
        <h1>"How the registry works"</h1>
        <ol class="steps">
            <li>
                <h2>"Bar associations vouch for their members"</h2>
                <p>
                    "Each bar association uploads its membership roster. An attorney counts only "
                    "while the roster lists them in good standing."
                </p>
            </li>
            <li>
                <h2>"Attorneys prove their numbers"</h2>
                <p>
                    "An attorney registers the numbers they take client calls on and proves control "
                    "of each with a one-time code sent by text message or voice call. "
                    "Registrations are renewed once a year."
                </p>
            </li>
            <li>
                <h2>"Providers apply the registry"</h2>
                <p>
                    "Correctional phone providers download the registry, follow its change feed and "
                    "acknowledge what they applied, so everyone can see when each provider knew "
                    "each number. Providers see numbers and times only, never who holds them."
                </p>
            </li>
        </ol>
    }
}
