//! Roster files from the browser: the upload itself (streamed to a
//! temporary file, never held in memory, refused past 50 MiB), the row
//! errors as CSV, and the template. The preview and the commit are pages
//! and server functions (`app::api::roster`).

use app::api::roster::REFUSAL_KEY;
use app::domain::Jurisdiction;
use app::error::AppError;
use app::ssr::accounts::Account;
use app::ssr::accounts::permission::Permission;
use app::ssr::auth;
use app::ssr::standing::roster::upload::{
    self as roster_upload, MAX_BYTES, Mode, Progress, TEMPLATE, UploadError, UploadRequest,
    Uploader,
};
use app::ssr::state::AppState;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::io::AsyncWriteExt;
use tower_sessions::Session;

/// Why an upload was not staged, as the upload page says it.
enum Refusal {
    SignIn,
    SecondFactor,
    Message(String),
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthorized => Refusal::SignIn,
            AppError::SecondFactorRequired => Refusal::SecondFactor,
            other => Refusal::Message(other.to_string()),
        }
    }
}

impl From<MultipartError> for Refusal {
    fn from(error: MultipartError) -> Self {
        tracing::warn!(error = %error, "roster upload cut off");
        Refusal::Message(
            "The upload was cut off or malformed before its end: nothing was stored. Try again."
                .into(),
        )
    }
}

impl From<UploadError> for Refusal {
    fn from(error: UploadError) -> Self {
        if let UploadError::Database(cause) = &error {
            tracing::error!(error = %cause, "roster upload failed");
            return Refusal::Message(AppError::unexpected(cause).to_string());
        }
        let mut message = error.to_string();
        if let Some(first) = message.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Refusal::Message(format!("{message}. Nothing was stored."))
    }
}

fn io_refusal(error: std::io::Error) -> Refusal {
    tracing::error!(error = %error, "cannot spool a roster upload");
    Refusal::Message(AppError::unexpected(error).to_string())
}

/// The admins who may upload: bar admins (their jurisdiction), site admins.
async fn roster_admin(state: &AppState, session: &Session) -> Result<Account, AppError> {
    auth::require_with(state, session, Permission::UseRosterPages).await
}

/// `POST /admin/roster/upload` (multipart: `jurisdiction`, `mode`, `file`).
/// Answers with a redirect: to the preview, or back to the upload page
/// with the reason.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    match receive(&state, &session, &headers, multipart).await {
        Ok(upload_id) => {
            Redirect::to(&format!("/admin/roster/uploads/{upload_id}")).into_response()
        }
        Err(Refusal::SignIn) => Redirect::to("/login").into_response(),
        Err(Refusal::SecondFactor) => Redirect::to("/account/two-factor").into_response(),
        Err(Refusal::Message(message)) => {
            // The page shows it once from the session; the address only
            // says that there is one, so no link can write on the page.
            if let Err(error) = session.insert(REFUSAL_KEY, message).await {
                tracing::error!(error = %error, "cannot keep a roster refusal in the session");
            }
            Redirect::to("/admin/roster?refused=1").into_response()
        }
    }
}

async fn receive(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<i64, Refusal> {
    let account = roster_admin(state, session).await?;
    // Refused before a byte is read when the browser says it is too big.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BYTES + 64 * 1024) {
        return Err(UploadError::TooLarge.into());
    }
    let (mut jurisdiction, mut mode, mut file) = (None, None, None);
    // The page sends a token before the file so it can ask how far the
    // checking got; without one (no JavaScript) nobody asks.
    let mut entry = None;
    while let Some(field) = multipart.next_field().await? {
        match field.name().unwrap_or_default() {
            "jurisdiction" => jurisdiction = Some(small_text(field).await?),
            "mode" => mode = Some(small_text(field).await?),
            "progress_token" => {
                let token = small_text(field).await?;
                if !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    entry = Some(state.roster_progress.enter(account.id, &token));
                }
            }
            "file" => {
                let name = field.file_name().unwrap_or("roster.csv").to_owned();
                let progress = entry.as_ref().map(|entry| entry.progress.clone());
                file = Some((name, spool(field, progress.as_deref()).await?));
            }
            _ => {}
        }
    }
    let progress = entry
        .as_ref()
        .map_or_else(Default::default, |entry| entry.progress.clone());
    let jurisdiction = Jurisdiction::parse(jurisdiction.as_deref().unwrap_or(""))
        .map_err(|_| Refusal::Message("Choose the jurisdiction of the roster.".into()))?;
    if !account.may(Permission::ManageRoster(jurisdiction)) {
        return Err(UploadError::NotYourJurisdiction(
            account.admin_jurisdiction.clone().unwrap_or_default(),
        )
        .into());
    }
    let mode = match mode.as_deref() {
        Some("full") => Mode::Full,
        Some("partial") => Mode::Partial,
        _ => {
            return Err(Refusal::Message(
                "Say whether the file is the full roster or a partial update.".into(),
            ));
        }
    };
    let Some((file_name, spooled)) = file else {
        return Err(Refusal::Message("Choose a CSV file to upload.".into()));
    };
    let input = spooled.reopen().map_err(io_refusal)?;
    let request = UploadRequest {
        jurisdiction,
        mode,
        uploader: Uploader {
            user_id: Some(account.id),
            label: account.email.clone(),
        },
        file_name,
    };
    let upload_id = roster_upload::stage(
        state.database.pool(),
        &request,
        std::io::BufReader::new(input),
        progress,
    )
    .await?;
    // Kept so a column named on the preview reads it again; without it
    // the admin uploads the file again, so a failure is only logged.
    if let Err(error) = app::ssr::standing::roster::kept_files::keep(
        &state.roster_files_dir,
        upload_id,
        spooled.path(),
    )
    .await
    {
        tracing::warn!(upload_id, %error, "the upload's file was not kept");
    }
    drop(spooled);
    drop(entry);
    Ok(upload_id)
}

/// A form field that is a word, not a file.
async fn small_text(field: Field<'_>) -> Result<String, Refusal> {
    let text = field.text().await?;
    if text.len() > 100 {
        return Err(Refusal::Message("A form field is too long.".into()));
    }
    Ok(text)
}

/// Writes the file field to a temporary file as it arrives, counting.
async fn spool(
    mut field: Field<'_>,
    progress: Option<&Progress>,
) -> Result<tempfile::NamedTempFile, Refusal> {
    let spooled = tempfile::NamedTempFile::new().map_err(io_refusal)?;
    let mut writer = tokio::fs::File::from_std(spooled.reopen().map_err(io_refusal)?);
    let mut written = 0_u64;
    while let Some(chunk) = field.chunk().await? {
        written += chunk.len() as u64;
        if written > MAX_BYTES {
            return Err(UploadError::TooLarge.into());
        }
        writer.write_all(&chunk).await.map_err(io_refusal)?;
        if let Some(progress) = progress {
            progress
                .received
                .store(written, std::sync::atomic::Ordering::Relaxed);
        }
    }
    writer.flush().await.map_err(io_refusal)?;
    Ok(spooled)
}

/// `GET /admin/roster/uploads/{id}/errors.csv`: the row errors, with
/// spreadsheet formulas neutralised.
pub async fn errors_csv(
    State(state): State<AppState>,
    session: Session,
    Path(upload_id): Path<i64>,
) -> Response {
    download(&state, &session, upload_id, "errors", |pool, upload| {
        Box::pin(async move { roster_upload::errors_csv(&pool, upload.id).await })
    })
    .await
}

/// `GET /admin/roster/uploads/{id}/changes.csv`: what committing would
/// change (members, standings, numbers), formulas neutralised.
pub async fn changes_csv(
    State(state): State<AppState>,
    session: Session,
    Path(upload_id): Path<i64>,
) -> Response {
    download(&state, &session, upload_id, "changes", |pool, upload| {
        Box::pin(async move { roster_upload::changes_csv(&pool, &upload).await })
    })
    .await
}

type CsvFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, UploadError>> + Send>>;

/// A CSV about one upload, for an admin who may see it (else 404, so ids
/// of other jurisdictions' uploads reveal nothing).
async fn download(
    state: &AppState,
    session: &Session,
    upload_id: i64,
    what: &str,
    make: impl FnOnce(sqlx::AnyPool, roster_upload::Upload) -> CsvFuture,
) -> Response {
    let account = match roster_admin(state, session).await {
        Ok(account) => account,
        Err(error) => {
            let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::FORBIDDEN);
            return (status, error.to_string()).into_response();
        }
    };
    let pool = state.database.pool().clone();
    let upload = match roster_upload::upload(&pool, upload_id).await {
        Ok(upload) if account.may(Permission::ManageRoster(upload.jurisdiction)) => upload,
        _ => return (StatusCode::NOT_FOUND, "No such upload.").into_response(),
    };
    match make(pool, upload).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"roster-upload-{upload_id}-{what}.csv\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, what, "cannot write a roster CSV");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

/// `GET /roster-template.csv`: the format, with one example row.
pub async fn template() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"roster-template.csv\"",
            ),
        ],
        TEMPLATE,
    )
        .into_response()
}
