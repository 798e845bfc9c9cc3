//! The page a claim link opens: who claims the bar number, and the two
//! answers; for a notice of a number going live under the bar number,
//! the number and the one answer that blocks the claim. Answering takes a
//! click, so a mail scanner that opens links cannot use the token up.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::claims::{AnswerClaim, ClaimView, claim_details};
use crate::components::form::FormError;

#[component]
pub fn ClaimPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let suggested = move || query.read().get("answer").unwrap_or_default();
    let claim = Resource::new(token, claim_details);
    let action = ServerAction::<AnswerClaim>::new();

    view! {
        <Title text="A bar number claim" />
        <h1>"Is this you?"</h1>
        <FormError result=action.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                claim
                    .get()
                    .map(|found| match found {
                        Ok(Some(ClaimView { number: Some(number), full_name, bar, account_email })) => {
                            view! {
                                <p class="lead">
                                    {format!(
                                        "The number {number} became exempt from call recording in prisons and jails, registered under bar number {bar} by {full_name}, with the account {account_email}.",
                                    )}
                                </p>
                                <p>"If this was you, you need not do anything."</p>
                                <ActionForm action=action attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <input type="hidden" name="answer" value="not-mine" />
                                    <button type="submit" class="button">
                                        "This was not me: block the claim and take its numbers out"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Ok(Some(claim)) => {
                            let mine_first = suggested() != "not-mine";
                            let mine = view! {
                                <ActionForm action=action attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <input type="hidden" name="answer" value="mine" />
                                    <button type="submit" class="button">
                                        "Yes, this is me"
                                    </button>
                                </ActionForm>
                            };
                            let not_mine = view! {
                                <ActionForm action=action attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <input type="hidden" name="answer" value="not-mine" />
                                    <button
                                        type="submit"
                                        class=if mine_first { "button-secondary" } else { "button" }
                                    >
                                        "This was not me: block the claim"
                                    </button>
                                </ActionForm>
                            };
                            view! {
                                <p class="lead">
                                    {format!(
                                        "Someone asked to register phone numbers under bar number {} as {}, with the account {}.",
                                        claim.bar,
                                        claim.full_name,
                                        claim.account_email,
                                    )}
                                </p>
                                <p>
                                    "Numbers in Counsel Registry are exempt from call recording in prisons and jails, so we ask the address your bar has on record."
                                </p>
                                {mine}
                                {not_mine}
                            }
                                .into_any()
                        }
                        Ok(None) => {
                            view! {
                                <p class="form-error" role="alert">
                                    "This link is invalid, has expired or was already used."
                                </p>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! {
                                <p class="form-error" role="alert">
                                    {error.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn ClaimAnsweredPage() -> impl IntoView {
    let query = use_query_map();
    let mine = move || query.read().get("answer").as_deref() != Some("not-mine");
    view! {
        <Title text="Thank you" />
        <h1>"Thank you"</h1>
        <Show
            when=mine
            fallback=|| {
                view! {
                    <p role="status">
                        "The claim is blocked, and our reviewers have been told. Nothing registered under it counts."
                    </p>
                }
            }
        >
            <p role="status">
                "Your claim is confirmed. The numbers you register count once you prove each of them."
            </p>
        </Show>
    }
}
