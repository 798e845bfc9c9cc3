//! The earlier roster uploads, newest first, on the upload page: for a bar
//! admin their jurisdiction's, for a site admin every bar's. Each links to
//! its preview and says what became of it.

use leptos::prelude::*;

use super::result_text;
use crate::api::roster::UploadView;

/// The uploads as a table, or a sentence when there are none.
#[component]
pub(super) fn History(uploads: Vec<UploadView>) -> impl IntoView {
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
                                <td>{upload.mode.as_str()}</td>
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
