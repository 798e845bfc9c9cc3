//! Roster uploads, for bar admins (their jurisdiction) and site admins: the
//! upload page, which composes the upload form with its progress
//! (`upload`), the earlier uploads (`history`) and the bar's column
//! names, and each upload's preview with its commit (`preview`). Also
//! what the pieces share: the column names form and an upload's result.

mod history;
mod preview;
mod upload;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::roster::{RosterPageData, SaveRosterColumn, UploadView, roster_page};
use crate::components::form::FormError;
use crate::components::page_error::guarded;
use crate::domain::roster_upload::{Field, UploadState};
use crate::domain::{Jurisdiction, RosterStatus};

use history::History;
pub use preview::RosterPreviewPage;
use upload::{FileFormat, UploadFileForm};

#[component]
pub fn RosterUploadPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| roster_page());
    let query = use_query_map();
    let discarded = move || query.read().get("discarded").is_some();
    let column_saved = move || query.read().get("column_saved").is_some();
    view! {
        <Title text="Roster uploads" />
        <h1>"Roster uploads"</h1>
        <p class="lead">
            "Upload your bar's membership as CSV. You see what would change before anything does; "
            "committing updates the roster, the standing of attorneys in the portal, and the "
            "registry, all at once."
        </p>
        // The last upload's refusal, from the session (never from the
        // address: a link must not write on this page).
        <Suspense>
            {move || {
                data.get()
                    .and_then(|answer| answer.ok())
                    .and_then(|data| data.refusal)
                    .map(|message| {
                        view! {
                            <div class="form-error" role="alert">
                                <p>{message}</p>
                            </div>
                        }
                    })
            }}
        </Suspense>
        <Show when=discarded>
            <p class="form-success" role="status">"Upload discarded: nothing changed."</p>
        </Show>
        <Show when=column_saved>
            <p class="form-success" role="status">"Column name saved for your bar's next files."</p>
        </Show>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                data.get()
                    .map(|answer| guarded(answer, |data| view! { <UploadForm data /> }.into_any()))
            }}
        </Suspense>
        <FileFormat />
    }
}

#[component]
fn UploadForm(data: RosterPageData) -> impl IntoView {
    view! {
        <UploadFileForm jurisdictions=data.jurisdictions.clone() />
        <h2>"Earlier uploads"</h2>
        <History uploads=data.history />
        <ColumnNames
            jurisdictions=data.jurisdictions
            fields=data.fields
            columns=data.columns
            words=data.status_words
            back=None
        />
    }
}

/// The bar's own column names (saved per jurisdiction) and status words,
/// with a form to name the column that holds a field. On the upload page,
/// and on a preview (for its bar only, coming back to the preview).
#[component]
fn ColumnNames(
    jurisdictions: Vec<(String, String)>,
    fields: Vec<Field>,
    columns: Vec<(Jurisdiction, Field, String)>,
    words: Vec<(Jurisdiction, String, RosterStatus)>,
    back: Option<String>,
) -> impl IntoView {
    let save = ServerAction::<SaveRosterColumn>::new();
    let saved = (!columns.is_empty()).then(|| {
        view! {
            <ul>
                {columns
                    .into_iter()
                    .map(|(code, field, header)| {
                        view! { <li>{format!("{code}: {field} is read from the column \"{header}\"")}</li> }
                    })
                    .collect_view()}
            </ul>
        }
    });
    let words = (!words.is_empty()).then(|| {
        view! {
            <p>"Status words confirmed so far:"</p>
            <ul>
                {words
                    .into_iter()
                    .map(|(code, word, status)| {
                        view! { <li>{format!("{code}: \"{word}\" means {status}")}</li> }
                    })
                    .collect_view()}
            </ul>
        }
    });
    let jurisdiction_field = if let [(code, _)] = jurisdictions.as_slice() {
        view! { <input type="hidden" name="jurisdiction" value=code.clone() /> }.into_any()
    } else {
        view! {
            <div class="field">
                <label for="column-jurisdiction">"Bar whose files use it"</label>
                <select id="column-jurisdiction" name="jurisdiction" required>
                    {jurisdictions
                        .iter()
                        .map(|(code, name)| {
                            view! { <option value=code.clone()>{format!("{name} ({code})")}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
        }
        .into_any()
    };
    view! {
        <h2 id="columns">"Column names"</h2>
        <p>
            "If your bar's files name a column differently (\"Registration Number\", \"Last Name\"), "
            "say which field it holds: it is saved for your bar and used for every file from then "
            "on. A full name can be made of given_name, middle_name, family_name and name_suffix "
            "columns. An empty column name forgets the choice."
        </p>
        {saved}
        {words}
        <FormError result=save.value() />
        <ActionForm action=save attr:class="form">
            {jurisdiction_field}
            <input type="hidden" name="back" value=back.unwrap_or_default() />
            <div class="field">
                <label for="column-field">"Field"</label>
                <select id="column-field" name="field" required>
                    {fields
                        .into_iter()
                        .map(|field| view! { <option value=field.as_str()>{field.as_str()}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="column-header">"Column name in the file"</label>
                <input id="column-header" name="header" type="text" maxlength="200" />
            </div>
            <button type="submit" class="button-secondary">"Save the column name"</button>
        </ActionForm>
    }
}

/// What became of an upload, in the history and on a decided preview.
fn result_text(upload: &UploadView) -> String {
    match upload.state {
        UploadState::Committed => format!(
            "committed {}: {} standings changed, {} numbers in, {} out",
            upload.decided.clone().unwrap_or_default(),
            upload.standings_changed.unwrap_or(0),
            upload.numbers_added.unwrap_or(0),
            upload.numbers_removed.unwrap_or(0)
        ),
        UploadState::Discarded => {
            format!("discarded {}", upload.decided.clone().unwrap_or_default())
        }
        UploadState::Previewed => "waiting for a decision".into(),
    }
}
