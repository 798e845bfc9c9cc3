//! Site admins: the audit trail of decisions, with its chain checked.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::audit::{AuditOverview, audit_page};
use crate::components::page_error::guarded;

#[component]
pub fn AuditPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| audit_page());
    view! {
        <Title text="Audit trail" />
        <h1>"Audit trail"</h1>
        <p class="lead">
            "Every decision of an admin or at the command line: reviews, revocations, roster "
            "commits, providers and keys, new admins. Each entry carries the hash of the one before "
            "it, so an edited or deleted entry shows below; "
            <code>"server audit verify"</code>
            " checks the same from the command line."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                overview
                    .get()
                    .map(|answer| guarded(answer, |data| view! { <Trail data /> }.into_any()))
            }}
        </Suspense>
    }
}

#[component]
fn Trail(data: AuditOverview) -> impl IntoView {
    let status = if data.problems.is_empty() {
        view! {
            <p role="status" data-testid="audit-status">
                {format!("The chain is intact: {} entries. Head hash ", data.entries)}
                <code>{data.head_hash}</code>
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="form-error" role="alert" data-testid="audit-status">
                <p>{format!("The chain is broken ({} entries read):", data.entries)}</p>
                <ul>{data.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any()
    };
    let rows = data
        .recent
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td>{row.id}</td>
                    <td>{row.at}</td>
                    <td>{row.actor}</td>
                    <td>{row.action}</td>
                    <td>{row.subject}</td>
                    <td>{row.detail}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {status}
        <table class="data-table">
            <caption class="visually-hidden">"Latest decisions, newest first"</caption>
            <thead>
                <tr>
                    <th scope="col">"#"</th>
                    <th scope="col">"When"</th>
                    <th scope="col">"Who"</th>
                    <th scope="col">"What"</th>
                    <th scope="col">"About"</th>
                    <th scope="col">"Detail"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
