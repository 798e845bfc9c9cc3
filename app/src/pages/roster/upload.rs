//! The roster upload form, for bar admins and site admins on the upload
//! page: an island that shows how far the file's upload and the server's
//! check of its rows got, and the description of the file it takes (its
//! columns, encodings and limits). Without JavaScript the browser sends
//! the form itself and waits for the preview.

use leptos::prelude::*;

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

/// The upload form, with the progress of the upload and of the server's
/// check of the rows. An island: without JavaScript the browser sends the
/// form itself and the page waits for the preview.
#[island]
pub(super) fn UploadFileForm(jurisdictions: Vec<(String, String)>) -> impl IntoView {
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

/// What the file must hold and how it is read: the part of the upload page
/// under the form.
#[component]
pub(super) fn FileFormat() -> impl IntoView {
    view! {
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
