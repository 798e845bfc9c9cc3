//! Site admins: every facility, its lag and its last reconciliation.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::facilities::{FacilitiesOverview, FacilityRow, LinkFacility, facilities_page};
use crate::components::form::FormError;
use crate::components::page_error::guarded;

#[component]
pub fn FacilitiesPage() -> impl IntoView {
    let link = ServerAction::<LinkFacility>::new();
    let overview = Resource::new(move || link.version().get(), |_| facilities_page());
    let query = leptos_router::hooks::use_query_map();
    let linked = move || {
        query.read().get("linked").is_some().then(|| {
            view! {
                <p class="form-success" role="status">
                    "Linked: the facility is pending until its list reconciles with a match."
                </p>
            }
        })
    };
    view! {
        <Title text="Facilities" />
        <h1>"Facilities"</h1>
        <p class="lead">
            "Every prison and jail where a provider applies the registry. A facility is flagged "
            "when it is more than an hour behind the registry, when it has not reconciled with a "
            "match for 24 hours, or when it changed provider and has not matched since."
        </p>
        {linked}
        <FormError result=link.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                overview
                    .get()
                    .map(|answer| guarded(answer, |data| view! { <Overview data link /> }.into_any()))
            }}
        </Suspense>
    }
}

#[component]
fn Overview(data: FacilitiesOverview, link: ServerAction<LinkFacility>) -> impl IntoView {
    if data.facilities.is_empty() {
        return view! { <p>"No provider has registered a facility yet."</p> }.into_any();
    }
    let flagged = data
        .facilities
        .iter()
        .filter(|f| f.stale || f.unreconciled || f.pending)
        .count();
    view! {
        <p data-testid="facilities-summary">
            {format!(
                "{} facilities; {flagged} flagged. The registry's change log is at seq {}.",
                data.facilities.len(),
                data.head,
            )}
        </p>
        <table class="data-table">
            <caption class="visually-hidden">"Facilities by provider"</caption>
            <thead>
                <tr>
                    <th scope="col">"Facility"</th>
                    <th scope="col">"Provider"</th>
                    <th scope="col">"Applied"</th>
                    <th scope="col">"Lag"</th>
                    <th scope="col">"Last reconciliation"</th>
                    <th scope="col">"Attention"</th>
                </tr>
            </thead>
            <tbody>
                {data.facilities.into_iter().map(|row| view! { <Row row link /> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Row(row: FacilityRow, link: ServerAction<LinkFacility>) -> impl IntoView {
    let mut flags = Vec::new();
    if row.pending {
        flags.push("New provider: not matched yet");
    }
    if row.stale {
        flags.push("Over an hour behind");
    }
    if row.unreconciled {
        flags.push("No match for 24 hours");
    }
    let attention = if flags.is_empty() {
        view! { <span>"None"</span> }.into_any()
    } else {
        view! { <strong class="flag">{flags.join("; ")}</strong> }.into_any()
    };
    let switched = row
        .switched_from
        .map(|from| view! { <br /><small>{format!("Took over from {from}")}</small> });
    let link_form = (!row.candidates.is_empty() && switched.is_none()).then(|| {
        let select_id = format!("predecessor-{}", row.id);
        view! {
            <ActionForm action=link attr:class="inline-form">
                <input type="hidden" name="facility" value=row.id.to_string() />
                <label for=select_id.clone()>"Same place as"</label>
                <select id=select_id name="predecessor">
                    {row
                        .candidates
                        .into_iter()
                        .map(|(id, text)| view! { <option value=id.to_string()>{text}</option> })
                        .collect_view()}
                </select>
                <button type="submit" class="button-secondary">"Link"</button>
            </ActionForm>
        }
    });
    view! {
        <tr data-testid="facility-row">
            <th scope="row">
                <span data-testid="facility-name">{row.name}</span>
                <br />
                <small>{format!("{}, {} · code {}", row.state, row.kind, row.code)}</small>
                {switched}
                {link_form}
            </th>
            <td>{row.provider}</td>
            <td>{row.acked.unwrap_or_else(|| "Never acknowledged".into())}</td>
            <td>{format!("{} seqs, {} min", row.lag_seqs, row.lag_minutes)}</td>
            <td>{row.last_reconciliation.unwrap_or_else(|| "Never reconciled".into())}</td>
            <td>{attention}</td>
        </tr>
    }
}

/// Attorneys: for each of their numbers in the registry, the facilities
/// that applied it, and whether each has reconciled since.
#[component]
pub fn NumberFacilitiesPage() -> impl IntoView {
    use crate::api::facilities::my_facilities;
    use leptos_router::hooks::use_query_map;

    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let numbers = Resource::new(search, my_facilities);
    view! {
        <Title text="Where your numbers are applied" />
        <h1>"Where your numbers are applied"</h1>
        <p class="lead">
            "Each facility's phone system holds its own list of numbers it must not record. "
            "Here is, for each of your numbers in the registry, every facility that has confirmed "
            "applying it, and whether its whole list has since been checked against the registry "
            "(reconciled). A facility that never reconciled is marked so."
        </p>
        <form method="get" action="/numbers/facilities" class="form" role="search">
            <div class="field">
                <label for="facility-search">"Facility name or state (e.g. WA)"</label>
                <input id="facility-search" name="q" type="search" maxlength="100" prop:value=search />
            </div>
            <button type="submit" class="button-secondary">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                numbers
                    .get()
                    .map(|answer| {
                        guarded(
                            answer,
                            |numbers| {
                                if numbers.is_empty() {
                                    return view! { <p>"None of your numbers is in the registry yet."</p> }
                                        .into_any();
                                }
                                numbers
                                    .into_iter()
                                    .map(|number| view! { <NumberTable number /> })
                                    .collect_view()
                                    .into_any()
                            },
                        )
                    })
            }}
        </Suspense>
    }
}

#[component]
fn NumberTable(number: crate::api::facilities::NumberFacilities) -> impl IntoView {
    let body = if number.facilities.is_empty() {
        view! { <p>"No facility matches."</p> }.into_any()
    } else {
        let rows = number
            .facilities
            .into_iter()
            .map(|row| {
                let applied = row
                    .applied_on
                    .map(|date| format!("Applied {date}"))
                    .unwrap_or_else(|| "Not applied yet".into());
                let reconciled = match (row.reconciled_on, row.pending) {
                    (_, true) => "New provider: not checked yet".to_owned(),
                    (Some(date), false) => format!("Checked {date}"),
                    (None, false) => "Never reconciled".to_owned(),
                };
                view! {
                    <tr data-testid="applied-row">
                        <th scope="row">{format!("{} ({})", row.facility, row.state)}</th>
                        <td>{row.provider}</td>
                        <td>{applied}</td>
                        <td>{reconciled}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Facility"</th>
                        <th scope="col">"Provider"</th>
                        <th scope="col">"Applied"</th>
                        <th scope="col">"List checked"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="review-card">
            <h2>{number.display}</h2>
            {body}
        </section>
    }
}
