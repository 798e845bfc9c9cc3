use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::SignedIn;
use crate::components::notice::PreReleaseNotice;
use crate::domain::Role;

/// The people the registry serves, and what each does with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Audience {
    Attorney,
    BarAssociation,
    PhoneProvider,
}

impl Audience {
    const ALL: [Audience; 3] = [
        Audience::Attorney,
        Audience::BarAssociation,
        Audience::PhoneProvider,
    ];

    fn label(self) -> &'static str {
        match self {
            Audience::Attorney => "Attorney",
            Audience::BarAssociation => "Bar association",
            Audience::PhoneProvider => "Phone provider",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Audience::Attorney => {
                "Register the numbers you take client calls on, prove each one with a \
                 one-time code by text message or voice call, renew once a year, and see \
                 which phone providers have applied each number."
            }
            Audience::BarAssociation => {
                "Upload your membership roster as a CSV file, preview what changes, and \
                 commit it in one step. Numbers of members who are suspended or disbarred \
                 leave the registry automatically."
            }
            Audience::PhoneProvider => {
                "Pull the verified registry through a versioned REST API: a snapshot, a \
                 change feed, acknowledgements that prove when you applied each number, \
                 point-in-time lookups and audits of call records."
            }
        }
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    // A signed-in attorney's first action is their numbers; anyone else
    // starts with how the registry works.
    let signed_in = use_context::<SignedIn>();
    let first_action = move || {
        let attorney = signed_in
            .and_then(|SignedIn(account)| account.get())
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|account| account.role == Role::Attorney);
        if attorney {
            view! {
                <a class="button" href="/numbers">
                    "Register your numbers"
                </a>
            }
            .into_any()
        } else {
            view! {
                <a class="button" href="/how-it-works">
                    "How the registry works"
                </a>
            }
            .into_any()
        }
    };

    view! {
        <Title text="" />
        <PreReleaseNotice />
        <section class="hero" aria-labelledby="hero-title">
            <h1 id="hero-title">"Attorney calls from prisons and jails must not be recorded."</h1>
            <p class="lead">
                "Counsel Registry is the one place where attorneys register and prove the numbers "
                "they take client calls on, where bar associations vouch for who is in good "
                "standing, and from which every correctional phone provider pulls the list of "
                "numbers it must never record."
            </p>
            <p>
                <Suspense fallback=|| ()>{first_action}</Suspense>
            </p>
        </section>

        <section class="audiences" aria-labelledby="audiences-title">
            <h2 id="audiences-title">"Who uses the registry"</h2>
            <AudiencePicker />
        </section>
    }
}

/// The buttons that show what each audience does with the registry. An
/// island: without JavaScript the attorney's summary shows.
#[island]
fn AudiencePicker() -> impl IntoView {
    let chosen = RwSignal::new(Audience::Attorney);
    view! {
        <div class="audience-picker" role="group" aria-label="Choose who you are">
            {Audience::ALL
                .into_iter()
                .map(|audience| {
                    view! {
                        <button
                            type="button"
                            class="chip"
                            aria-pressed=move || (chosen.get() == audience).to_string()
                            on:click=move |_| chosen.set(audience)
                        >
                            {audience.label()}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <div class="audience-summary" aria-live="polite">
            <h3>{move || chosen.get().label()}</h3>
            <p>{move || chosen.get().summary()}</p>
        </div>
    }
}
