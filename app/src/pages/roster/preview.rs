//! One roster upload's preview, for the bar admin of its jurisdiction and
//! site admins: what the file is and how it was read, its status words and
//! columns to fix, the counts, what committing would change (standings,
//! registered numbers), the commit and discard forms while it waits for a
//! decision (its result once decided), and the rows with errors.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{ColumnNames, result_text};
use crate::api::roster::{
    CommitRosterUpload, DiscardRosterUpload, MapRosterStatus, PreviewData, RowErrorView,
    StandingChangeView, UploadView, roster_preview,
};
use crate::components::form::FormError;
use crate::components::page_error::guarded;
use crate::domain::RosterStatus;
use crate::domain::roster_upload::{Field, UploadState};

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

/// An upload's preview, top to bottom: the file, what to fix in how it was
/// read, the counts, the decision, and the rows with errors.
#[component]
fn Preview(
    data: PreviewData,
    commit: ServerAction<CommitRosterUpload>,
    discard: ServerAction<DiscardRosterUpload>,
    map: ServerAction<MapRosterStatus>,
) -> impl IntoView {
    let upload = data.upload;
    view! {
        <FileSummary upload=upload.clone() same_file=data.same_file />
        <ColumnFix upload=upload.clone() fields=data.fields />
        <StatusWords
            upload=upload.clone()
            words=data.unknown_statuses
            statuses=data.statuses
            map
        />
        <UploadCounts upload=upload.clone() />
        <Decision
            upload=upload.clone()
            changes=data.standing_changes
            numbers_leaving=data.numbers_leaving
            numbers_entering=data.numbers_entering
            brake=data.brake
            commit
            discard
        />
        <RowErrors upload errors=data.errors />
    }
}

/// Which upload this is and how its file was read: the facts, and notices
/// for a file committed before and for the columns read and ignored.
#[component]
fn FileSummary(upload: UploadView, same_file: Option<(i64, String)>) -> impl IntoView {
    let mode = upload.mode.describe();
    let same_file = same_file.map(|(earlier, when)| {
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
            <dd data-testid="encoding">{upload.encoding.describe()}</dd>
        </dl>
        {same_file}
        {columns_read}
        {ignored}
    }
}

/// While the upload waits for a decision: naming a column of the bar's
/// files, after which the file is read again as a new preview.
#[component]
fn ColumnFix(upload: UploadView, fields: Vec<Field>) -> impl IntoView {
    (upload.state == UploadState::Previewed).then(|| {
        let code = upload.jurisdiction.code().to_owned();
        let jurisdictions = vec![(code.clone(), code)];
        view! {
            <details>
                <summary>"A column was read wrongly or ignored?"</summary>
                <ColumnNames
                    jurisdictions
                    fields
                    columns=Vec::new()
                    words=Vec::new()
                    back=Some(format!("/admin/roster/uploads/{}", upload.id))
                />
                <p>"The file is then read again with the saved name, as a new preview."</p>
            </details>
        }
    })
}

/// While the upload waits for a decision: the status words the bar's
/// vocabulary does not know yet, each with a form to say what it means.
#[component]
fn StatusWords(
    upload: UploadView,
    words: Vec<(String, i64)>,
    statuses: Vec<RosterStatus>,
    map: ServerAction<MapRosterStatus>,
) -> impl IntoView {
    let upload_id = upload.id;
    (!words.is_empty() && upload.state == UploadState::Previewed).then(move || {
        let forms = words
            .into_iter()
            .map(|(word, rows)| {
                let options = statuses
                    .iter()
                    .map(|status| {
                        view! { <option value=status.as_str()>{status.as_str().replace('_', " ")}</option> }
                    })
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
    })
}

/// How the file's members compare with the roster.
#[component]
fn UploadCounts(upload: UploadView) -> impl IntoView {
    view! {
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
    }
}

/// While the upload waits: what committing would do, and the forms to
/// commit or discard it. Once decided: the result.
#[component]
fn Decision(
    upload: UploadView,
    changes: Vec<StandingChangeView>,
    numbers_leaving: usize,
    numbers_entering: usize,
    brake: Option<(u64, String)>,
    commit: ServerAction<CommitRosterUpload>,
    discard: ServerAction<DiscardRosterUpload>,
) -> impl IntoView {
    match upload.state {
        UploadState::Previewed => view! {
            <Consequences upload_id=upload.id changes numbers_leaving numbers_entering />
            <CommitForms upload_id=upload.id rows_invalid=upload.rows_invalid brake commit discard />
        }
        .into_any(),
        UploadState::Committed | UploadState::Discarded => view! { <p data-testid="upload-result">{format!("Result: {}.", result_text(&upload))}</p> }.into_any(),
    }
}

/// What committing would change: the attorneys' standing in the portal
/// (and the changes as CSV) and the registered numbers.
#[component]
fn Consequences(
    upload_id: i64,
    changes: Vec<StandingChangeView>,
    numbers_leaving: usize,
    numbers_entering: usize,
) -> impl IntoView {
    let changes_href = format!("/admin/roster/uploads/{upload_id}/changes.csv");
    view! {
        <h2>"If you commit"</h2>
        <StandingChanges changes />
        <p>
            <a href=changes_href download="">"Download the changes as CSV"</a>
            " (members, statuses before and after, attorneys and their numbers)."
        </p>
        <p data-testid="numbers-effect">
            {format!(
                "Registered numbers leaving the registry: {}. Entering it: {}.",
                numbers_leaving,
                numbers_entering,
            )}
        </p>
    }
}

/// The attorneys in the portal whose standing the commit would change.
#[component]
fn StandingChanges(changes: Vec<StandingChangeView>) -> impl IntoView {
    if changes.is_empty() {
        return view! { <p>"No attorney in the portal would change standing."</p> }.into_any();
    }
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
                {changes
                    .into_iter()
                    .map(|change| {
                        view! {
                            <tr>
                                <td>{format!("{} <{}>", change.full_name, change.email)}</td>
                                <td>{change.bar_number}</td>
                                <td>{change.from.as_str().replace('_', " ")}</td>
                                <td>{change.to.as_str().replace('_', " ")}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The form that commits the upload (with the count to confirm a large
/// removal, and the choice to skip rows with errors) and the one that
/// discards it.
#[component]
fn CommitForms(
    upload_id: i64,
    rows_invalid: i64,
    brake: Option<(u64, String)>,
    commit: ServerAction<CommitRosterUpload>,
    discard: ServerAction<DiscardRosterUpload>,
) -> impl IntoView {
    let id = upload_id.to_string();
    let (commit_id, discard_id) = (id.clone(), id);
    view! {
        <ActionForm action=commit attr:class="form">
            <input type="hidden" name="upload" value=commit_id />
            <RemovalBrake brake />
            <SkipInvalid rows_invalid />
            <button type="submit" class="button">"Commit this upload"</button>
        </ActionForm>
        <ActionForm action=discard>
            <input type="hidden" name="upload" value=discard_id />
            <button type="submit" class="button-secondary">"Discard it"</button>
        </ActionForm>
    }
}

/// When the commit would remove many members: why it stops, and the count
/// to type to go on.
#[component]
fn RemovalBrake(brake: Option<(u64, String)>) -> impl IntoView {
    brake.map(|(count, why)| {
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
    })
}

/// When rows have errors: the choice to commit without them.
#[component]
fn SkipInvalid(rows_invalid: i64) -> impl IntoView {
    (rows_invalid > 0).then(|| {
        view! {
            <div class="field">
                <label>
                    <input type="checkbox" name="skip_invalid" value="yes" />
                    {format!(
                        " Skip the {} with errors",
                        crate::text::counted(rows_invalid, "row", "rows"),
                    )}
                </label>
            </div>
        }
    })
}

/// The rows with errors or warnings: the first of them, and all as CSV.
#[component]
fn RowErrors(upload: UploadView, errors: Vec<RowErrorView>) -> impl IntoView {
    let errors_href = format!("/admin/roster/uploads/{}/errors.csv", upload.id);
    (upload.rows_invalid > 0 || upload.rows_warned > 0).then(|| {
        let shown = errors.len();
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
                    {errors
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
                                    <td>{error.severity.as_str()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    })
}
