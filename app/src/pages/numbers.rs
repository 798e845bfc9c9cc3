use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::numbers::{
    AddNumber, NumberView, ProveNumber, RemoveNumber, SendNumberCode, my_numbers,
};
use crate::components::form::{FormError, provide_form_error_from_url};
use crate::components::page_error::{guarded, leave_if_signed_out};
use crate::domain::RegistrationStatus;

#[derive(Clone, Copy)]
struct NumberActions {
    send: ServerAction<SendNumberCode>,
    prove: ServerAction<ProveNumber>,
    remove: ServerAction<RemoveNumber>,
}

/// How often a hydrated dashboard asks whether anything changed.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// The numbers page. The page around the dashboard is drawn on the server
/// only; the dashboard is an island, so it alone is sent to the browser.
#[component]
pub fn NumbersPage() -> impl IntoView {
    let query = use_query_map();
    let (notice, just_sent) = query.with_untracked(|query| {
        let just_sent = query.get("sent").and_then(|id| id.parse::<i64>().ok());
        (notice_text(query), just_sent)
    });
    let numbers = Resource::new(|| (), |_| my_numbers());
    view! {
        <Title text="Your numbers" />
        <h1>"Your numbers"</h1>
        <p class="lead">
            "The numbers you take client calls on. Each counts once you prove it is yours with a "
            "code, for a year, while you are a verified attorney in good standing."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let (notice, just_sent) = (notice.clone(), just_sent);
                numbers
                    .get()
                    .map(|answer| {
                        guarded(
                            answer,
                            |numbers| view! { <NumbersDashboard numbers notice just_sent /> }.into_any(),
                        )
                    })
            }}
        </Suspense>
    }
}

/// What the page says after a form sent the visitor back to it, read from
/// the query the server function redirected to.
fn notice_text(query: &leptos_router::params::ParamsMap) -> Option<String> {
    if query.get("sent").is_some() {
        Some("A code is on its way. Enter it below within 10 minutes.".to_owned())
    } else if query.get("queued").is_some() {
        Some(
            "We could not reach the phone network just now. We keep trying for a few \
             minutes; this page shows when the code has gone out."
                .to_owned(),
        )
    } else if let Some(added) = query
        .get("added")
        .filter(|added| looks_like_a_number(added))
    {
        let extension = query
            .get("ext")
            .filter(|ext| ext.len() <= 10 && ext.bytes().all(|b| b.is_ascii_digit()))
            .map(|ext| format!(", extension {ext}"))
            .unwrap_or_default();
        let toll_free = if query.get("toll_free").is_some() {
            " This is a toll-free number: many facilities' phone systems cannot place calls \
             to toll-free numbers, so clients there may not reach you on it. Register a \
             direct number as well."
        } else {
            ""
        };
        Some(format!(
            "Added {added}{extension}, as we read it. Check it, then ask for a code to prove \
             it.{toll_free}"
        ))
    } else if query.get("proven").is_some() {
        Some("Number proven.".to_owned())
    } else if query.get("removed").is_some() {
        Some("Number removed.".to_owned())
    } else {
        None
    }
}

/// The attorney's numbers and the forms that act on them. An island: in
/// the browser it polls for changes made elsewhere and counts down to the
/// next code. Its inputs come from the server-drawn page (`numbers` as it
/// was read for the page; `notice` and `just_sent` from the query, which
/// an island cannot read: no router runs in the browser).
#[island]
fn NumbersDashboard(
    numbers: Vec<NumberView>,
    notice: Option<String>,
    just_sent: Option<i64>,
) -> impl IntoView {
    provide_form_error_from_url();
    let add = ServerAction::<AddNumber>::new();
    let actions = NumberActions {
        send: ServerAction::new(),
        prove: ServerAction::new(),
        remove: ServerAction::new(),
    };
    // What the page says is about the latest form only: when one is sent,
    // the notice the page loaded with and the other forms' errors go.
    let notice = RwSignal::new(notice);
    let forget_older = move || {
        notice.set(None);
        add.value().set(None);
        actions.send.value().set(None);
        actions.prove.value().set(None);
        actions.remove.value().set(None);
    };
    Effect::new(move |_| {
        let sending = add.pending().get()
            || actions.send.pending().get()
            || actions.prove.pending().get()
            || actions.remove.pending().get();
        if sending {
            forget_older();
        }
    });
    let numbers = RwSignal::new(numbers);
    // Read again after a form's answer and every POLL_EVERY, for changes
    // made elsewhere (the worker sent a code, an admin revoked one, the
    // roster changed a standing). The cards are drawn again only when
    // what they show changed, so a poll never wipes a code being typed.
    // Effects run only in the browser: without JavaScript the page is as
    // fresh as its last load.
    let refresh = move || {
        leptos::task::spawn_local(async move {
            match my_numbers().await {
                Ok(fresh) => {
                    let changed = numbers.with_untracked(|shown| {
                        shown
                            .iter()
                            .map(NumberView::shown)
                            .ne(fresh.iter().map(NumberView::shown))
                    });
                    if changed {
                        numbers.set(fresh);
                    }
                }
                Err(error) => leave_if_signed_out(&error),
            }
        });
    };
    Effect::new(move |first: Option<()>| {
        add.version().track();
        actions.send.version().track();
        actions.prove.version().track();
        actions.remove.version().track();
        if first.is_some() {
            refresh();
        }
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(refresh, POLL_EVERY) {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        {move || notice.get().map(|text| view! { <p class="form-success" role="status">{text}</p> })}
        <FormError result=add.value() />
        <FormError result=actions.send.value() />
        <FormError result=actions.prove.value() />
        <FormError result=actions.remove.value() />
        {move || {
            let list = numbers.get();
            if list.is_empty() {
                view! { <p>"You have not registered a number yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="review-list">
                        {list
                            .into_iter()
                            .map(|number| view! { <NumberCard number actions just_sent /> })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }
        }}
        <h2>"Add a number"</h2>
        <ActionForm action=add attr:class="form">
            <div class="field">
                <label for="number">"Phone number"</label>
                <p class="hint" id="number-hint">"A US, US territory or Canadian number, e.g. (202) 456-1111 ext. 12, as you would paste it."</p>
                <input id="number" name="number" type="tel" autocomplete="tel" required maxlength="40" aria-describedby="number-hint" />
            </div>
            <div class="field">
                <label for="label">"What it is (optional)"</label>
                <select id="label" name="label">
                    <option value="">"—"</option>
                    <option value="office">"Office line"</option>
                    <option value="mobile">"Mobile"</option>
                    <option value="switchboard">"Firm switchboard"</option>
                    <option value="other">"Other"</option>
                </select>
            </div>
            <div class="field">
                <label for="extension">"Extension (optional)"</label>
                <input id="extension" name="extension" type="text" inputmode="numeric" maxlength="10" pattern="[0-9]*" />
            </div>
            <button type="submit" class="button">
                "Add number"
            </button>
        </ActionForm>
    }
}

fn status_text(number: &NumberView) -> String {
    let reason = number.status_reason.as_deref().unwrap_or("no reason given");
    match (number.status, &number.expires_on) {
        (RegistrationStatus::Active, Some(date)) => format!("In the registry until {date}"),
        (RegistrationStatus::Pending, Some(_)) => {
            "Proven; counts once your standing is verified".into()
        }
        (RegistrationStatus::Pending, None) => "Not proven yet: ask for a code".into(),
        (RegistrationStatus::Suspended, _) => {
            "Suspended while your standing is not verified".into()
        }
        (RegistrationStatus::Expired, _) => "Expired: prove it again to renew".into(),
        (RegistrationStatus::Revoked, _) => {
            format!("Revoked by the registry's administrators: {reason}")
        }
        // Not listed on the dashboard (removed), or not yet dated.
        (RegistrationStatus::Active, None) | (RegistrationStatus::Removed, _) => {
            number.status.to_string()
        }
    }
}

#[component]
fn NumberCard(number: NumberView, actions: NumberActions, just_sent: Option<i64>) -> impl IntoView {
    let id = number.id.to_string();
    let heading = match (&number.label, &number.extension) {
        (Some(label), Some(ext)) => format!("{} ext. {ext} ({label})", number.display),
        (Some(label), None) => format!("{} ({label})", number.display),
        (None, Some(ext)) => format!("{} ext. {ext}", number.display),
        (None, None) => number.display.clone(),
    };
    let status = status_text(&number);
    let applied = (number.status == RegistrationStatus::Active).then(|| {
        if number.applied_by.is_empty() {
            view! { <p class="hint">"No phone provider has confirmed applying it yet."</p> }
                .into_any()
        } else {
            let providers: Vec<String> = number
                .applied_by
                .iter()
                .map(|(name, date)| format!("{name} (since {date})"))
                .collect();
            view! { <p class="hint">{format!("Applied by: {}.", providers.join(", "))}</p> }
                .into_any()
        }
    });
    let delivery = number
        .delivery
        .clone()
        .map(|text| view! { <p class="form-error" role="status">{text}</p> });
    if number.status == RegistrationStatus::Revoked {
        return view! {
            <li class="review-card">
                <h2>{heading}</h2>
                <p>{status}</p>
            </li>
        }
        .into_any();
    }
    let prove_form = number.code_pending.then(|| {
        view! { <ProveForm id=number.id action=actions.prove focus={just_sent == Some(number.id)} /> }
    });
    let send_label = if number.status == RegistrationStatus::Active {
        "Renew: send a new code"
    } else {
        "Send a code"
    };
    let remove_id = id.clone();
    view! {
        <li class="review-card">
            <h2>{heading}</h2>
            <p>{status}</p>
            {applied}
            {delivery}
            {prove_form}
            <SendForm id action=actions.send label=send_label wait_secs=number.resend_in_secs />
            <ActionForm action=actions.remove>
                <input type="hidden" name="registration" value=remove_id />
                <button type="submit" class="button-secondary">"Remove this number"</button>
            </ActionForm>
        </li>
    }
    .into_any()
}

/// The code field; it takes the focus when the code was just sent, by
/// `autofocus` on a full page load and by an effect once hydrated.
#[component]
fn ProveForm(id: i64, action: ServerAction<ProveNumber>, focus: bool) -> impl IntoView {
    let code_id = format!("code-{id}");
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input.get()
            && focus
        {
            let _ = input.focus();
        }
    });
    view! {
        <ActionForm action attr:class="form">
            <input type="hidden" name="registration" value=id.to_string() />
            <div class="field">
                <label for=code_id.clone()>"Code you received"</label>
                // No `pattern` or 6-character limit: "123 456", as a code
                // is often copied or written down, would be refused or cut
                // by the browser; the server reads it (`OneTimeCode`).
                <input id=code_id name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="32" autofocus=focus node_ref=input />
            </div>
            <button type="submit" class="button">"Prove"</button>
        </ActionForm>
    }
}

/// Asking for a code by text or call. Once hydrated, the button waits out
/// the time before another code may be sent, counting down; without
/// JavaScript the server says how long to wait if asked too soon.
#[component]
fn SendForm(
    id: String,
    action: ServerAction<SendNumberCode>,
    label: &'static str,
    wait_secs: i64,
) -> impl IntoView {
    let remaining = RwSignal::new(wait_secs);
    let counting = RwSignal::new(false);
    Effect::new(move |_| {
        if remaining.get_untracked() > 0 {
            counting.set(true);
            let tick = move || remaining.update(|secs| *secs = (*secs - 1).max(0));
            if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    let waiting = move || counting.get() && remaining.get() > 0;
    let button_text = move || {
        if waiting() {
            format!("{label} (in {} s)", remaining.get())
        } else {
            label.to_string()
        }
    };
    view! {
        <ActionForm action attr:class="form">
            <input type="hidden" name="registration" value=id />
            <fieldset class="choice">
                <legend>"Send the code by"</legend>
                <label>
                    <input type="radio" name="channel" value="sms" required />
                    " Text message"
                </label>
                <label>
                    <input type="radio" name="channel" value="voice" />
                    " Voice call (for landlines)"
                </label>
            </fieldset>
            <button type="submit" class="button-secondary" disabled=waiting aria-disabled=move || waiting().to_string()>
                {button_text}
            </button>
        </ActionForm>
    }
}

/// Whether a query's `added` value is a number as the server formats it,
/// "(202) 456-1111": a crafted link cannot make the page say other words.
fn looks_like_a_number(text: &str) -> bool {
    text.len() <= 20
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || " ()-+".contains(c))
}
