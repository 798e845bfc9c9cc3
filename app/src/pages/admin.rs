use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::admin::{
    AllowHeldRegistration, DecideReview, HeldView, HolderView, MAX_REASON_CHARS, NumberLookup,
    ReviewItem, RevokeRegistration, held_registrations, look_up_number, review_queue,
};
use crate::components::form::FormError;
use crate::components::page_error::guarded;

#[component]
pub fn ReviewQueuePage() -> impl IntoView {
    let decide = ServerAction::<DecideReview>::new();
    let queue = Resource::new(move || decide.version().get(), |_| review_queue());
    let query = use_query_map();
    let just_decided = move || query.read().get("decided").is_some();

    view! {
        <Title text="Review queue" />
        <h1>"Review queue"</h1>
        <p class="lead">
            "Attorneys whose claim the roster did not confirm, oldest first. The reason you give is "
            "emailed to the attorney."
        </p>
        <Show when=just_decided>
            <p class="form-success" role="status">
                "Decision saved and emailed."
            </p>
        </Show>
        <FormError result=decide.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                queue
                    .get()
                    .map(|answer| {
                        guarded(
                            answer,
                            |items| {
                                if items.is_empty() {
                                    view! { <p>"Nobody is waiting for review."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="review-list">
                                            {items
                                                .into_iter()
                                                .map(|item| view! { <ReviewCard item decide /> })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any()
                                }
                            },
                        )
                    })
            }}
        </Suspense>
    }
}

#[component]
fn ReviewCard(item: ReviewItem, decide: ServerAction<DecideReview>) -> impl IntoView {
    let id = item.user_id;
    let heading_id = format!("attorney-{id}");
    let reason_id = format!("reason-{id}");
    let closest = match item.closest {
        Some(entry) => format!(
            "{} {} — {} ({})",
            item.jurisdiction, entry.bar_number, entry.full_name, entry.status
        ),
        None => "No roster entry under this bar number or name".to_string(),
    };
    // The bar's email of record has not answered, or said "not me":
    // approving takes an override, which the audit trail records.
    let open_claim = item.open_claim.map(|open| {
        let override_id = format!("override-{id}");
        view! {
            <p class="form-error" role="note">
                {format!("Open claim: {open}.")}
            </p>
            <div class="field">
                <input id=override_id.clone() type="checkbox" name="override_claim" value="yes" />
                <label for=override_id>
                    " Approve over it: I checked the claim otherwise (recorded in the audit trail)"
                </label>
            </div>
        }
    });
    view! {
        <li class="review-card">
            <h2 id=heading_id>{item.full_name}</h2>
            <dl class="facts">
                <dt>"Email"</dt>
                <dd>{item.email}</dd>
                <dt>"Claimed bar"</dt>
                <dd>{format!("{} {}", item.jurisdiction, item.bar_number)}</dd>
                <dt>"Closest roster entry"</dt>
                <dd>{closest}</dd>
                <dt>"Finding"</dt>
                <dd>{item.finding}</dd>
                <dt>"Claim"</dt>
                <dd>{item.claim.unwrap_or_else(|| "no proof recorded".into())}</dd>
                <dt>"Other claims on this bar number"</dt>
                <dd>
                    {if item.other_claims.is_empty() {
                        "none".to_string()
                    } else {
                        item.other_claims.join("; ")
                    }}
                </dd>
                <dt>"Documents"</dt>
                <dd>
                    {if item.documents.is_empty() {
                        view! { "none uploaded" }.into_any()
                    } else {
                        view! {
                            <ul>
                                {item
                                    .documents
                                    .into_iter()
                                    .map(|(id, name, kind)| {
                                        view! {
                                            <li>
                                                <a href=format!("/admin/reviews/documents/{id}") rel="noopener">
                                                    {name}
                                                </a>
                                                {format!(" ({kind})")}
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }}
                </dd>
            </dl>
            <ActionForm action=decide attr:class="form">
                <input type="hidden" name="user_id" value=id.to_string() />
                <fieldset class="choice">
                    <legend>"Decision"</legend>
                    <label>
                        <input type="radio" name="decision" value="approve" required />
                        " Approve: an attorney in good standing"
                    </label>
                    <label>
                        <input type="radio" name="decision" value="reject" />
                        " Reject"
                    </label>
                </fieldset>
                <div class="field">
                    <label for=reason_id.clone()>"Reason (emailed to the attorney)"</label>
                    <textarea id=reason_id name="reason" required rows="3" maxlength=MAX_REASON_CHARS.to_string()></textarea>
                </div>
                {open_claim}
                <button type="submit" class="button">
                    "Save decision"
                </button>
            </ActionForm>
        </li>
    }
}

/// Site admins look a number up and revoke registrations of it; above,
/// the registrations held for review since a revocation.
#[component]
pub fn NumberLookupPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeRegistration>::new();
    let query = use_query_map();
    let number = Memo::new(move |_| query.read().get("number").unwrap_or_default());
    let lookup = Resource::new(
        move || (number.get(), revoke.version().get()),
        |(number, _)| look_up_number(number),
    );
    let just_revoked = move || query.read().get("revoked").is_some();

    view! {
        <Title text="Numbers" />
        <h1>"Look up a number"</h1>
        <p class="lead">
            "Who holds a number and in what state. Revoking takes it from that attorney only; the "
            "reason is emailed to them and they cannot add the number again."
        </p>
        <Show when=just_revoked>
            <p class="form-success" role="status">
                "Registration revoked; the attorney is being emailed."
            </p>
        </Show>
        <FormError result=revoke.value() />
        <HeldQueue revoked=revoke />
        <form method="get" action="/admin/numbers" class="form">
            <div class="field">
                <label for="number">"Phone number"</label>
                <input id="number" name="number" type="tel" required maxlength="40" prop:value=move || number.get() />
            </div>
            <button type="submit" class="button">"Look up"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                lookup
                    .get()
                    .map(|answer| {
                        guarded(
                            answer,
                            |found| match found {
                                None => ().into_any(),
                                Some(found) => view! { <LookupResult found revoke /> }.into_any(),
                            },
                        )
                    })
            }}
        </Suspense>
    }
}

/// The registrations held for review: each links to its number's look-up
/// (where the revoked registration and its reason show) and can be allowed.
#[component]
fn HeldQueue(revoked: ServerAction<RevokeRegistration>) -> impl IntoView {
    let allow = ServerAction::<AllowHeldRegistration>::new();
    let held = Resource::new(
        move || (allow.version().get(), revoked.version().get()),
        |_| held_registrations(),
    );
    view! {
        <section aria-labelledby="held-heading">
            <h2 id="held-heading">"Held for review"</h2>
            <p>
                "Proven registrations held because another attorney's registration of the same "
                "number was revoked. Their attorneys have been told. Look the number up, then "
                "allow the registration if it is an attorney's line."
            </p>
            <FormError result=allow.value() />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    held.get()
                        .map(|answer| {
                            guarded(
                                answer,
                                move |items| {
                                    if items.is_empty() {
                                        view! { <p>"No registration is held."</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="review-list" data-testid="held-queue">
                                                {items
                                                    .into_iter()
                                                    .map(|item| view! { <HeldCard item allow /> })
                                                    .collect_view()}
                                            </ul>
                                        }
                                            .into_any()
                                    }
                                },
                            )
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn HeldCard(item: HeldView, allow: ServerAction<AllowHeldRegistration>) -> impl IntoView {
    let lookup = format!(
        "/admin/numbers?number=%2B{}",
        item.e164.trim_start_matches('+')
    );
    view! {
        <li class="review-card">
            <h3>
                <a href=lookup>{item.display}</a>
            </h3>
            <dl class="facts">
                <dt>"Attorney"</dt>
                <dd>{format!("{} <{}>", item.full_name, item.email)}</dd>
                <dt>"Bar"</dt>
                <dd>{item.bar}</dd>
                <dt>"Status"</dt>
                <dd>{item.status.to_string()}</dd>
                <dt>"Held since"</dt>
                <dd>{item.held_since}</dd>
            </dl>
            <ActionForm action=allow attr:class="form">
                <input type="hidden" name="registration" value=item.registration_id.to_string() />
                <input type="hidden" name="number" value=item.e164 />
                <button type="submit" class="button">"Allow after review"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn LookupResult(found: NumberLookup, revoke: ServerAction<RevokeRegistration>) -> impl IntoView {
    let summary = found.summary();
    let e164 = found.e164.clone();
    view! {
        <h2>{found.display.clone()}</h2>
        <p role="status">{summary}</p>
        <ul class="review-list">
            {found
                .holders
                .into_iter()
                .map(|holder| view! { <HolderCard holder e164=e164.clone() revoke /> })
                .collect_view()}
        </ul>
    }
}

#[component]
fn HolderCard(
    holder: HolderView,
    e164: String,
    revoke: ServerAction<RevokeRegistration>,
) -> impl IntoView {
    let id = holder.registration_id;
    let reason_id = format!("revoke-reason-{id}");
    let revoke_number = e164.clone();
    let revoke_form = holder.revocable().then(|| {
        view! {
            <ActionForm action=revoke attr:class="form">
                <input type="hidden" name="registration" value=id.to_string() />
                <input type="hidden" name="number" value=revoke_number />
                <div class="field">
                    <label for=reason_id.clone()>"Reason for revoking (emailed to the attorney)"</label>
                    <textarea id=reason_id name="reason" required rows="3" maxlength=MAX_REASON_CHARS.to_string()></textarea>
                </div>
                <button type="submit" class="button-danger">"Revoke this registration"</button>
            </ActionForm>
        }
    });
    let allow = ServerAction::<AllowHeldRegistration>::new();
    let allow_form = holder.held_for_review.then(|| {
        view! {
            <ActionForm action=allow attr:class="form">
                <input type="hidden" name="registration" value=id.to_string() />
                <input type="hidden" name="number" value=e164 />
                <button type="submit" class="button">"Allow after review"</button>
            </ActionForm>
        }
    });
    let status = match holder.status_reason {
        Some(reason) => format!("{} ({reason})", holder.status),
        None => holder.status.to_string(),
    };
    view! {
        <li class="review-card">
            <h3>{holder.full_name}</h3>
            <dl class="facts">
                <dt>"Email"</dt>
                <dd>{holder.email}</dd>
                <dt>"Bar"</dt>
                <dd>{holder.bar}</dd>
                <dt>"Status"</dt>
                <dd>{status}</dd>
            </dl>
            {allow_form}
            {revoke_form}
        </li>
    }
}
