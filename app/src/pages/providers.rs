//! Site admins: phone providers, their keys, and how far behind each is.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::providers::{
    CreateProvider, CreateProviderKey, ProviderView, ProvidersOverview, RevokeProviderKey,
    providers_page,
};
use crate::components::form::FormError;
use crate::components::page_error::guarded;

#[derive(Clone, Copy)]
struct KeyActions {
    create: ServerAction<CreateProviderKey>,
    revoke: ServerAction<RevokeProviderKey>,
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let create = ServerAction::<CreateProvider>::new();
    let keys = KeyActions {
        create: ServerAction::new(),
        revoke: ServerAction::new(),
    };
    let overview = Resource::new(
        move || {
            (
                create.version().get(),
                keys.create.version().get(),
                keys.revoke.version().get(),
            )
        },
        |_| providers_page(),
    );
    let query = use_query_map();
    let notice = move || {
        let query = query.read();
        if query.get("created").is_some() {
            Some("Provider added. Make it a key below.")
        } else if query.get("revoked").is_some() {
            Some("Key revoked: it stops working within 2 seconds.")
        } else {
            None
        }
    };
    view! {
        <Title text="Phone providers" />
        <h1>"Phone providers"</h1>
        <p class="lead">
            "The providers that pull the registry, their API keys, and how far behind each one is. "
            "A provider is flagged when the registry has moved on and it has not acknowledged "
            "anything for over an hour."
        </p>
        {move || notice().map(|text| view! { <p class="form-success" role="status">{text}</p> })}
        <FormError result=create.value() />
        <FormError result=keys.create.value() />
        <FormError result=keys.revoke.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                overview
                    .get()
                    .map(|answer| guarded(answer, |data| view! { <Overview data keys /> }.into_any()))
            }}
        </Suspense>
        <h2>"Add a provider"</h2>
        <ActionForm action=create attr:class="form">
            <div class="field">
                <label for="provider-name">"Name"</label>
                <input id="provider-name" name="name" type="text" required maxlength="100" />
            </div>
            <button type="submit" class="button">"Add provider"</button>
        </ActionForm>
    }
}

#[component]
fn Overview(data: ProvidersOverview, keys: KeyActions) -> impl IntoView {
    let new_key = data.new_key.map(|(provider, key)| {
        view! {
            <div class="notice" role="status">
                <p>
                    {format!("The new key for {provider}, shown this once: copy it now. ")}
                    <code data-testid="new-provider-key">{key}</code>
                </p>
            </div>
        }
    });
    let list = if data.providers.is_empty() {
        view! { <p>"No provider yet."</p> }.into_any()
    } else {
        view! {
            <ul class="review-list">
                {data
                    .providers
                    .into_iter()
                    .map(|provider| view! { <ProviderCard provider keys /> })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        {new_key}
        <p>{format!("The registry's change log is at seq {}.", data.head)}</p>
        {list}
    }
}

#[component]
fn ProviderCard(provider: ProviderView, keys: KeyActions) -> impl IntoView {
    let lag = match (provider.acked_seq, provider.minutes_since_ack) {
        (Some(seq), Some(minutes)) => format!(
            "Acknowledged through seq {seq}, {minutes} minutes ago ({}); {} changes behind.",
            provider.last_ack.clone().unwrap_or_default(),
            provider.behind
        ),
        _ => format!("Never acknowledged; {} changes behind.", provider.behind),
    };
    let flag = provider.flagged.then(|| {
        view! { <p class="form-error" role="status">"Behind for over an hour: check on this provider."</p> }
    });
    let name = provider.name.clone();
    let key_rows = provider
        .keys
        .into_iter()
        .map(|key| {
            let state = match (&key.revoked, &key.last_used) {
                (Some(when), _) => format!("revoked {when}"),
                (None, Some(when)) => format!("last used {when}"),
                (None, None) => "never used".into(),
            };
            let revoke = key.revoked.is_none().then(|| {
                let prefix = key.prefix.clone();
                view! {
                    <ActionForm action=keys.revoke>
                        <input type="hidden" name="prefix" value=prefix />
                        <button type="submit" class="button-secondary">"Revoke"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr>
                    <td>
                        <code>{format!("{}…", key.prefix)}</code>
                    </td>
                    <td>{key.scopes}</td>
                    <td>{key.created}</td>
                    <td>{state}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <li class="review-card">
            <h2>{provider.name}</h2>
            <p data-testid="provider-lag">{lag}</p>
            {flag}
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Made"</th>
                        <th scope="col">"Use"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{key_rows}</tbody>
            </table>
            <ActionForm action=keys.create attr:class="form">
                <input type="hidden" name="provider" value=name />
                <fieldset class="choice">
                    <legend>"A new key may"</legend>
                    <label>
                        <input type="checkbox" name="registry_read" value="yes" checked />
                        " read the registry (snapshot, changes, acknowledgements, look-ups)"
                    </label>
                    <label>
                        <input type="checkbox" name="audit_write" value="yes" />
                        " audit call records"
                    </label>
                </fieldset>
                <button type="submit" class="button-secondary">"Make a key"</button>
            </ActionForm>
        </li>
    }
}
