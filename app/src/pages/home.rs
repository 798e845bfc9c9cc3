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

    /// The audience's name in the page's address (`?for=`).
    fn key(self) -> &'static str {
        match self {
            Audience::Attorney => "attorney",
            Audience::BarAssociation => "bar",
            Audience::PhoneProvider => "provider",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|audience| audience.key() == key)
    }

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

        <section id="audiences" class="audiences" aria-labelledby="audiences-title">
            <h2 id="audiences-title">"Who uses the registry"</h2>
            <AudiencePicker />
        </section>
    }
}

/// What each audience does with the registry, chosen by links
/// (`/?for=provider#audiences`): the page is drawn on the server for the
/// choice, so it works the same with JavaScript or without, and costs the
/// bundle nothing.
#[component]
fn AudiencePicker() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let chosen = query
        .read_untracked()
        .get("for")
        .and_then(|key| Audience::from_key(&key))
        .unwrap_or(Audience::Attorney);
    view! {
        <nav class="audience-picker" aria-label="Choose who you are">
            {Audience::ALL
                .into_iter()
                .map(|audience| {
                    view! {
                        <a
                            class="chip"
                            href=format!("/?for={}#audiences", audience.key())
                            aria-current=(chosen == audience).then_some("true")
                        >
                            {audience.label()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <div class="audience-summary">
            <h3>{chosen.label()}</h3>
            <p>{chosen.summary()}</p>
        </div>
    }
}
