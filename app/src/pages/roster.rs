//! Roster uploads for bar admins (their jurisdiction) and site admins: the
//! upload form with the format, the history, and each upload's preview
//! with its commit.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::roster::{
    CommitRosterUpload, DiscardRosterUpload, MapRosterStatus, PreviewData, RosterPageData,
    SaveRosterColumn, UploadView, roster_page, roster_preview,
};
use crate::components::form::FormError;
use crate::components::page_error::guarded;

/// Where a hydrated upload is: sending the file (percent), or waiting
/// while the server checks the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only the browser's code sets it; the server renders the idle form.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Sending {
    Uploading(u32),
    Checking,
    /// Rows checked so far, and the share of the file they cover.
    Checked {
        rows: u64,
        percent: u32,
    },
    Failed,
}

#[component]
pub fn RosterUploadPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| roster_page());
    let query = use_query_map();
    let error = move || query.read().get("error");
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
        {move || {
            error()
                .map(|message| {
                    view! {
                        <div class="form-error" role="alert">
                            <p>{message}</p>
                        </div>
                    }
                })
        }}
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
        <h2 id="format">"The file"</h2>
        <p>
            "A CSV file whose first line names the columns, in any order; names are compared "
            "ignoring case, spaces, underscores and hyphens (\"Bar Number\" is bar_number). "
            "UTF-8 (with or without a byte-order mark), Excel's \"Unicode Text\" (UTF-16), or "
            "Excel's Windows \"CSV\" (Windows-1252, taken when the file is not UTF-8 and reads "
            "cleanly; the preview says so). A first line sep=, (or sep=;) chooses the separator. "
            "Rows may leave trailing empty fields out."
        </p>
        <dl class="facts">
            <dt>"bar_number"</dt>
            <dd>
                "required: letters and digits as the bar writes them (also read from \"Registration Number\", \"License Number\")"
            </dd>
            <dt>"full_name"</dt>
            <dd>"required, or given_name, middle_name, family_name and name_suffix columns"</dd>
            <dt>"status"</dt>
            <dd>
                "required: active, inactive, suspended, disbarred, deceased or resigned, or the bar's own words once mapped on the preview"
            </dd>
            <dt>"email"</dt>
            <dd>"optional"</dd>
            <dt>"admitted_on"</dt>
            <dd>"optional: YYYY-MM-DD, M/D/YYYY, MM/DD/YYYY or a year (never a two-digit year)"</dd>
            <dt>"office_phone"</dt>
            <dd>"optional: with an extension as ext. 12, #204, x7 or , 3"</dd>
        </dl>
        <p>
            "Other columns are ignored (the preview names them). A member whose bar number reads is "
            "never dropped for another cell: an unreadable email, date or phone is left empty "
            "with a warning; an unknown status keeps the member's status until you map it. "
            "At most 50 MiB and 1,000,000 rows. "
            <a href="/roster-template.csv" download="roster-template.csv">
                "Download the template"
            </a> "."
        </p>
    }
}

/// The upload form, with the progress of the upload and of the server's
/// check of the rows. An island: without JavaScript the browser sends the
/// form itself and the page waits for the preview.
#[island]
fn UploadFileForm(jurisdictions: Vec<(String, String)>) -> impl IntoView {
    let sending = RwSignal::new(None::<Sending>);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        send_with_progress(&event, sending);
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, sending);
    };
    let jurisdiction_field = if let [(code, name)] = jurisdictions.as_slice() {
        view! {
            <input type="hidden" name="jurisdiction" value=code.clone() />
            <p>{format!("For the {name} bar ({code}).")}</p>
        }
        .into_any()
    } else {
        view! {
            <div class="field">
                <label for="jurisdiction">"Jurisdiction"</label>
                <select id="jurisdiction" name="jurisdiction" required>
                    <option value="">"Choose…"</option>
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
    let status = move || {
        match sending.get() {
        Some(Sending::Uploading(percent)) => Some(
            view! {
                <progress max="100" value=percent.to_string() aria-label="Upload progress"></progress>
                <span>{format!(" Uploading: {percent}%")}</span>
            }
                .into_any(),
        ),
        Some(Sending::Checking) => Some(
            view! {
                <progress aria-label="Checking the rows"></progress>
                <span>" Uploaded. Checking the rows…"</span>
            }
                .into_any(),
        ),
        Some(Sending::Checked { rows, percent }) => Some(
            view! {
                <progress max="100" value=percent.to_string() aria-label="Checking the rows"></progress>
                <span>{format!(" Uploaded. Checked {rows} rows ({percent}%)…")}</span>
            }
                .into_any(),
        ),
        Some(Sending::Failed) => Some(
            view! { <span>"The upload failed: check the connection and try again."</span> }
                .into_any(),
        ),
        None => None,
    }
    };
    view! {
        <form method="post" action="/admin/roster/upload" enctype="multipart/form-data" class="form" on:submit=on_submit>
            // Set by the page before sending, so it can ask how far the
            // server's check got; empty without JavaScript.
            <input type="hidden" name="progress_token" value="" />
            {jurisdiction_field}
            <fieldset class="choice">
                <legend>"What the file is"</legend>
                <label>
                    <input type="radio" name="mode" value="full" required />
                    " The full roster: members missing from it become not listed (not in good standing)"
                </label>
                <label>
                    <input type="radio" name="mode" value="partial" />
                    " A partial update: only the rows in the file change"
                </label>
            </fieldset>
            <div class="field">
                <label for="file">"CSV file"</label>
                <input id="file" name="file" type="file" accept=".csv,text/csv" required />
            </div>
            <button type="submit" class="button" disabled=move || matches!(sending.get(), Some(Sending::Uploading(_) | Sending::Checking | Sending::Checked { .. }))>
                "Upload and preview"
            </button>
            <p class="hint" role="status" aria-live="polite">{status}</p>
        </form>
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
/// with a form to name the column that holds a field.
#[component]
fn ColumnNames(
    jurisdictions: Vec<(String, String)>,
    fields: Vec<String>,
    columns: Vec<(String, String, String)>,
    words: Vec<(String, String, String)>,
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
                        .map(|field| view! { <option value=field.clone()>{field.clone()}</option> })
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

/// Sends the form by XMLHttpRequest to show the upload's progress; the
/// server answers with a redirect (to the preview, or back here with the
/// reason), which the page then follows.
#[cfg(feature = "hydrate")]
fn send_with_progress(event: &leptos::ev::SubmitEvent, sending: RwSignal<Option<Sending>>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Some(form) = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok())
    else {
        return;
    };
    let (Ok(data), Ok(request)) = (
        web_sys::FormData::new_with_form(&form),
        web_sys::XmlHttpRequest::new(),
    ) else {
        // Without these the browser sends the form itself.
        return;
    };
    if request.open("POST", "/admin/roster/upload").is_err() {
        return;
    }
    event.prevent_default();
    let token: String = window()
        .crypto()
        .map(|crypto| crypto.random_uuid())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    // `set` keeps the field where the form has it: before the file.
    let _ = data.set_with_str("progress_token", &token);
    sending.set(Some(Sending::Uploading(0)));
    if let Ok(upload) = request.upload() {
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
            move |progress: web_sys::ProgressEvent| {
                if progress.length_computable() && progress.total() > 0.0 {
                    let percent = (progress.loaded() / progress.total() * 100.0) as u32;
                    sending.set(Some(if percent >= 100 {
                        Sending::Checking
                    } else {
                        Sending::Uploading(percent)
                    }));
                }
            },
        );
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
        let on_sent = Closure::<dyn FnMut()>::new(move || {
            sending.set(Some(Sending::Checking));
            watch_the_check(token.clone(), sending);
        });
        upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
        on_sent.forget();
    }
    let answered = request.clone();
    let on_load = Closure::<dyn FnMut()>::new(move || {
        let _ = window().location().assign(&answered.response_url());
    });
    request.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    let on_error = Closure::<dyn FnMut()>::new(move || sending.set(Some(Sending::Failed)));
    request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    if request.send_with_opt_form_data(Some(&data)).is_err() {
        sending.set(Some(Sending::Failed));
    }
}

/// Asks every half second how far the server's check of the rows got,
/// until the page moves on to the preview.
#[cfg(feature = "hydrate")]
fn watch_the_check(token: String, sending: RwSignal<Option<Sending>>) {
    use crate::api::roster::roster_upload_progress;
    let ask = move || {
        let token = token.clone();
        leptos::task::spawn_local(async move {
            if let Ok(Some((received, checked, rows))) = roster_upload_progress(token).await {
                let percent = (checked * 100).checked_div(received).unwrap_or(0).min(100) as u32;
                if !matches!(sending.get_untracked(), Some(Sending::Failed)) {
                    sending.set(Some(Sending::Checked { rows, percent }));
                }
            }
        });
    };
    let _ = set_interval_with_handle(ask, std::time::Duration::from_millis(500));
}

#[component]
fn History(uploads: Vec<UploadView>) -> impl IntoView {
    if uploads.is_empty() {
        return view! { <p>"No roster has been uploaded yet."</p> }.into_any();
    }
    view! {
        <table class="data-table">
            <caption class="visually-hidden">"Roster uploads, newest first"</caption>
            <thead>
                <tr>
                    <th scope="col">"Upload"</th>
                    <th scope="col">"When"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Mode"</th>
                    <th scope="col">"Rows"</th>
                    <th scope="col">"Result"</th>
                    <th scope="col">"SHA-256"</th>
                </tr>
            </thead>
            <tbody>
                {uploads
                    .into_iter()
                    .map(|upload| {
                        let href = format!("/admin/roster/uploads/{}", upload.id);
                        let result = result_text(&upload);
                        view! {
                            <tr>
                                <td>
                                    <a href=href>{format!("#{} {}", upload.id, upload.jurisdiction)}</a>
                                </td>
                                <td>{upload.uploaded.clone()}</td>
                                <td>{upload.uploader.clone()}</td>
                                <td>{upload.mode.clone()}</td>
                                <td>{format!("{} valid, {} with errors", upload.rows_valid, upload.rows_invalid)}</td>
                                <td>{result}</td>
                                <td>
                                    <code title=upload.sha256.clone()>{upload.sha256.chars().take(12).collect::<String>()}</code>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn result_text(upload: &UploadView) -> String {
    match upload.state.as_str() {
        "committed" => format!(
            "committed {}: {} standings changed, {} numbers in, {} out",
            upload.decided.clone().unwrap_or_default(),
            upload.standings_changed.unwrap_or(0),
            upload.numbers_added.unwrap_or(0),
            upload.numbers_removed.unwrap_or(0)
        ),
        "discarded" => format!("discarded {}", upload.decided.clone().unwrap_or_default()),
        _ => "waiting for a decision".into(),
    }
}

#[component]
pub fn RosterPreviewPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let commit = ServerAction::<CommitRosterUpload>::new();
    let discard = ServerAction::<DiscardRosterUpload>::new();
    let map = ServerAction::<MapRosterStatus>::new();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let preview = Resource::new(
        move || (id(), commit.version().get() + map.version().get()),
        |(id, _)| roster_preview(id),
    );
    let committed = move || query.read().get("committed").is_some();
    let column_saved = move || query.read().get("column_saved").is_some();
    let read_again = move || query.read().get("read_again").is_some();
    view! {
        <Title text="Roster upload" />
        <Show when=committed>
            <p class="form-success" role="status">"Committed."</p>
        </Show>
        <Show when=move || column_saved() && read_again()>
            <p class="form-success" role="status">
                "Column name saved, and the file was read again with it: this is the new preview \
                 (the previous one is discarded)."
            </p>
        </Show>
        <Show when=move || column_saved() && !read_again()>
            <p class="form-success" role="status">
                "Column name saved. This upload's file was not kept (it came from the command \
                 line): discard it and upload the file again to read it so."
            </p>
        </Show>
        <FormError result=commit.value() />
        <FormError result=discard.value() />
        <FormError result=map.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                preview
                    .get()
                    .map(|answer| guarded(answer, |data| view! { <Preview data commit discard map /> }.into_any()))
            }}
        </Suspense>
        <p>
            <a href="/admin/roster">"All roster uploads"</a>
        </p>
    }
}

#[component]
fn Preview(
    data: PreviewData,
    commit: ServerAction<CommitRosterUpload>,
    discard: ServerAction<DiscardRosterUpload>,
    map: ServerAction<MapRosterStatus>,
) -> impl IntoView {
    let upload = data.upload;
    let statuses = data.statuses.clone();
    let unknown_words = data.unknown_statuses.clone();
    let upload_id = upload.id;
    let unknown = (!unknown_words.is_empty() && upload.state == "previewed").then(move || {
        let forms = unknown_words
            .into_iter()
            .map(|(word, rows)| {
                let options = statuses
                    .iter()
                    .map(|(value, label)| view! { <option value=value.clone()>{label.clone()}</option> })
                    .collect_view();
                let label = format!("\"{word}\" ({rows} rows) means");
                view! {
                    <ActionForm action=map attr:class="form-inline">
                        <input type="hidden" name="upload" value=upload_id.to_string() />
                        <input type="hidden" name="word" value=word.clone() />
                        <label>
                            {label}
                            " "
                            <select name="status" required>
                                <option value="">"Choose…"</option>
                                {options}
                            </select>
                        </label>
                        <button type="submit" class="button-secondary">"Save for this bar"</button>
                    </ActionForm>
                }
            })
            .collect_view();
        view! {
            <h2>"Status words to map"</h2>
            <p>
                "The file uses status words this bar's vocabulary does not know yet. Until you say "
                "what each means, those members keep the status they have now and the upload "
                "cannot be committed without skipping them. Each choice is saved for the next "
                "file. Words match exactly: \"Suspended, currently registered\" is not "
                "\"Currently registered\"."
            </p>
            {forms}
        }
    });
    let changes_href = format!("/admin/roster/uploads/{}/changes.csv", upload.id);
    let id = upload.id.to_string();
    let mode = if upload.mode == "full" {
        "full roster"
    } else {
        "partial update"
    };
    let same_file = data.same_file.map(|(earlier, when)| {
        view! {
            <p class="notice" role="note">
                {format!(
                    "This is the same file as upload #{earlier}, committed {when}: committing it again changes nothing that has not changed since."
                )}
            </p>
        }
    });
    let ignored = (!upload.ignored_columns.is_empty()).then(|| {
        view! { <p class="notice" role="note">{format!("Ignored columns: {}.", upload.ignored_columns)}</p> }
    });
    let columns_read = (!upload.columns_read.is_empty())
        .then(|| view! { <p data-testid="columns-read">{format!("Columns read: {}.", upload.columns_read)}</p> });
    let column_form = (upload.state == "previewed").then(|| {
        let jurisdictions = vec![(upload.jurisdiction.clone(), upload.jurisdiction.clone())];
        view! {
            <details>
                <summary>"A column was read wrongly or ignored?"</summary>
                <ColumnNames
                    jurisdictions
                    fields=data.fields.clone()
                    columns=Vec::new()
                    words=Vec::new()
                    back=Some(format!("/admin/roster/uploads/{}", upload.id))
                />
                <p>"The file is then read again with the saved name, as a new preview."</p>
            </details>
        }
    });
    let errors_href = format!("/admin/roster/uploads/{}/errors.csv", upload.id);
    let errors = (upload.rows_invalid > 0 || upload.rows_warned > 0).then(|| {
        let shown = data.errors.len();
        view! {
            <h2>
                {format!(
                    "{} with errors, {} with warnings",
                    crate::text::counted(upload.rows_invalid, "row", "rows"),
                    upload.rows_warned,
                )}
            </h2>
            <p>
                "An error blocks the commit until mapped, fixed or skipped (a skipped row leaves its "
                "member as they are, never missing). A warning only says which cell was left empty "
                "or kept as written: the member was read."
            </p>
            <p>
                {format!("The first {shown} are below. ")}
                <a href=errors_href download="">"Download the errors as CSV"</a>
                "."
            </p>
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Line"</th>
                        <th scope="col">"Column"</th>
                        <th scope="col">"Value"</th>
                        <th scope="col">"Problem"</th>
                        <th scope="col">"Kind"</th>
                    </tr>
                </thead>
                <tbody>
                    {data
                        .errors
                        .into_iter()
                        .map(|error| {
                            view! {
                                <tr>
                                    <td>{error.line}</td>
                                    <td>{error.column}</td>
                                    <td>
                                        <code>{error.value}</code>
                                    </td>
                                    <td>{error.message}</td>
                                    <td>{error.severity}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    });
    let decision = match upload.state.as_str() {
        "previewed" => {
            let changes = if data.standing_changes.is_empty() {
                view! { <p>"No attorney in the portal would change standing."</p> }.into_any()
            } else {
                view! {
                    <table class="data-table">
                        <thead>
                            <tr>
                                <th scope="col">"Attorney"</th>
                                <th scope="col">"Bar number"</th>
                                <th scope="col">"Standing now"</th>
                                <th scope="col">"After the commit"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {data
                                .standing_changes
                                .into_iter()
                                .map(|change| {
                                    view! {
                                        <tr>
                                            <td>{format!("{} <{}>", change.full_name, change.email)}</td>
                                            <td>{change.bar_number}</td>
                                            <td>{change.from}</td>
                                            <td>{change.to}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            };
            let skip = (upload.rows_invalid > 0).then(|| {
                view! {
                    <div class="field">
                        <label>
                            <input type="checkbox" name="skip_invalid" value="yes" />
                            {format!(
                                " Skip the {} with errors",
                                crate::text::counted(upload.rows_invalid, "row", "rows"),
                            )}
                        </label>
                    </div>
                }
            });
            let brake = data.brake.clone().map(|(count, why)| {
                let mut why = why;
                if let Some(first) = why.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                view! {
                    <div class="notice" role="note" data-testid="brake">
                        <p>{format!("{why}.")}</p>
                        <div class="field">
                            <label for="confirm_removals">
                                {format!("Type {count} to confirm")}
                            </label>
                            <input id="confirm_removals" name="confirm_removals" inputmode="numeric" autocomplete="off" required />
                        </div>
                    </div>
                }
            });
            let (commit_id, discard_id) = (id.clone(), id.clone());
            view! {
                <h2>"If you commit"</h2>
                {changes}
                <p>
                    <a href=changes_href download="">"Download the changes as CSV"</a>
                    " (members, statuses before and after, attorneys and their numbers)."
                </p>
                <p data-testid="numbers-effect">
                    {format!(
                        "Registered numbers leaving the registry: {}. Entering it: {}.",
                        data.numbers_leaving,
                        data.numbers_entering,
                    )}
                </p>
                <ActionForm action=commit attr:class="form">
                    <input type="hidden" name="upload" value=commit_id />
                    {brake}
                    {skip}
                    <button type="submit" class="button">"Commit this upload"</button>
                </ActionForm>
                <ActionForm action=discard>
                    <input type="hidden" name="upload" value=discard_id />
                    <button type="submit" class="button-secondary">"Discard it"</button>
                </ActionForm>
            }
                .into_any()
        }
        _ => view! { <p data-testid="upload-result">{format!("Result: {}.", result_text(&upload))}</p> }.into_any(),
    };
    view! {
        <h1>{format!("Upload #{}: {}, {mode}", upload.id, upload.jurisdiction)}</h1>
        <dl class="facts">
            <dt>"File"</dt>
            <dd>{format!("{} ({} bytes)", upload.file_name, upload.bytes)}</dd>
            <dt>"Uploaded"</dt>
            <dd>{format!("{} by {}", upload.uploaded, upload.uploader)}</dd>
            <dt>"SHA-256"</dt>
            <dd>
                <code>{upload.sha256.clone()}</code>
            </dd>
            <dt>"Read as"</dt>
            <dd data-testid="encoding">{upload.encoding.clone()}</dd>
        </dl>
        {same_file}
        {columns_read}
        {ignored}
        {column_form}
        {unknown}
        <table class="data-table" data-testid="upload-counts">
            <tbody>
                <tr>
                    <th scope="row">"New members"</th>
                    <td>{upload.new_members}</td>
                </tr>
                <tr>
                    <th scope="row">"Changed"</th>
                    <td>{upload.changed_members}</td>
                </tr>
                <tr>
                    <th scope="row">"Unchanged"</th>
                    <td>{upload.unchanged_members}</td>
                </tr>
                <tr>
                    <th scope="row">"Missing (become not listed)"</th>
                    <td>{upload.missing_members}</td>
                </tr>
                <tr>
                    <th scope="row">"Rows with errors"</th>
                    <td>{upload.rows_invalid}</td>
                </tr>
            </tbody>
        </table>
        {decision}
        {errors}
    }
}
