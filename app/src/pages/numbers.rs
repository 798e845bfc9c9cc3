use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::api::numbers::{
    AddNumber, NumberView, ProveNumber, RemoveNumber, SendNumberCode, my_numbers,
};
use crate::components::form::FormError;
use crate::components::page_error::PageError;
use crate::error::AppError;

#[derive(Clone, Copy)]
struct NumberActions {
    send: ServerAction<SendNumberCode>,
    prove: ServerAction<ProveNumber>,
    remove: ServerAction<RemoveNumber>,
}

#[component]
pub fn NumbersPage() -> impl IntoView {
    let add = ServerAction::<AddNumber>::new();
    let actions = NumberActions {
        send: ServerAction::new(),
        prove: ServerAction::new(),
        remove: ServerAction::new(),
    };
    let numbers = Resource::new(
        move || {
            (
                add.version().get(),
                actions.send.version().get(),
                actions.prove.version().get(),
                actions.remove.version().get(),
            )
        },
        |_| my_numbers(),
    );
    let query = use_query_map();
    let notice = move || {
        let query = query.read();
        if query.get("sent").is_some() {
            Some("A code is on its way. Enter it below within 10 minutes.")
        } else if query.get("proven").is_some() {
            Some("Number proven.")
        } else if query.get("removed").is_some() {
            Some("Number removed.")
        } else {
            None
        }
    };

    view! {
        <Title text="Your numbers" />
        <h1>"Your numbers"</h1>
        <p class="lead">
            "The numbers you take client calls on. Each counts once you prove it is yours with a "
            "code, for a year, while you are a verified attorney in good standing."
        </p>
        {move || notice().map(|text| view! { <p class="form-success" role="status">{text}</p> })}
        <FormError result=add.value() />
        <FormError result=actions.send.value() />
        <FormError result=actions.prove.value() />
        <FormError result=actions.remove.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                numbers
                    .get()
                    .map(|answer| match answer {
                        Ok(list) if list.is_empty() => {
                            view! { <p>"You have not registered a number yet."</p> }.into_any()
                        }
                        Ok(list) => {
                            view! {
                                <ul class="review-list">
                                    {list
                                        .into_iter()
                                        .map(|number| view! { <NumberCard number actions /> })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
        <h2>"Add a number"</h2>
        <ActionForm action=add attr:class="form">
            <div class="field">
                <label for="number">"Phone number"</label>
                <p class="hint" id="number-hint">"A US, US territory or Canadian number, e.g. (202) 456-1111."</p>
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
    match (number.status.as_str(), &number.expires_on) {
        ("active", Some(date)) => format!("In the registry until {date}"),
        ("pending", Some(_)) => "Proven; counts once your standing is verified".into(),
        ("pending", None) => "Not proven yet: ask for a code".into(),
        ("suspended", _) => "Suspended while your standing is not verified".into(),
        ("expired", _) => "Expired: prove it again to renew".into(),
        (other, _) => other.to_string(),
    }
}

#[component]
fn NumberCard(number: NumberView, actions: NumberActions) -> impl IntoView {
    let id = number.id.to_string();
    let code_id = format!("code-{}", number.id);
    let heading = match (&number.label, &number.extension) {
        (Some(label), Some(ext)) => format!("{} ext. {ext} ({label})", number.display),
        (Some(label), None) => format!("{} ({label})", number.display),
        (None, Some(ext)) => format!("{} ext. {ext}", number.display),
        (None, None) => number.display.clone(),
    };
    let (send_id, remove_id) = (id.clone(), id.clone());
    let send_label = if number.status == "active" {
        "Renew: send a new code"
    } else {
        "Send a code"
    };
    let prove_form = number.code_pending.then(|| {
        let id = id.clone();
        view! {
            <ActionForm action=actions.prove attr:class="form">
                <input type="hidden" name="registration" value=id />
                <div class="field">
                    <label for=code_id.clone()>"Code you received"</label>
                    <input id=code_id name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="6" pattern="[0-9]{6}" />
                </div>
                <button type="submit" class="button">"Prove"</button>
            </ActionForm>
        }
    });
    view! {
        <li class="review-card">
            <h2>{heading}</h2>
            <p>{status_text(&number)}</p>
            {prove_form}
            <ActionForm action=actions.send attr:class="form">
                <input type="hidden" name="registration" value=send_id />
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
                <button type="submit" class="button-secondary">{send_label}</button>
            </ActionForm>
            <ActionForm action=actions.remove>
                <input type="hidden" name="registration" value=remove_id />
                <button type="submit" class="button-secondary">"Remove this number"</button>
            </ActionForm>
        </li>
    }
}
