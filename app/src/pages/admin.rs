use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::api::admin::{DecideReview, MAX_REASON_CHARS, ReviewItem, review_queue};
use crate::components::form::FormError;
use crate::components::page_error::PageError;
use crate::error::AppError;

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
                    .map(|answer| match answer {
                        Ok(items) if items.is_empty() => {
                            view! { <p>"Nobody is waiting for review."</p> }.into_any()
                        }
                        Ok(items) => {
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
                        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(AppError::SecondFactorRequired) => {
                            view! { <Redirect path="/account/two-factor" /> }.into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
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
                <button type="submit" class="button">
                    "Save decision"
                </button>
            </ActionForm>
        </li>
    }
}
