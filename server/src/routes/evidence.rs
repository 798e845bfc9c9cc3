//! Review documents (issue 12): an attorney waiting for review uploads a
//! bar card or letter (multipart, one field `document`); a reviewer of
//! the attorney's jurisdiction opens it. Both answer plain HTTP so they
//! work without JavaScript.

use app::error::AppError;
use app::ssr::accounts::permission::Permission;
use app::ssr::auth;
use app::ssr::standing::evidence::{self, EvidenceError, MAX_BYTES};
use app::ssr::state::AppState;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// `POST /account/review-documents`: stores the document and goes back to
/// the account page with `?document=added`, or with `?document_error=…`
/// naming what was wrong.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    multipart: Multipart,
) -> Response {
    let account = match auth::require_with(&state, &session, Permission::ManageOwnNumbers).await {
        Ok(account) => account,
        Err(AppError::Unauthorized) => return Redirect::to("/login").into_response(),
        Err(error) => return back_with_error(&error.to_string()),
    };
    match receive(multipart).await {
        Ok((name, bytes)) => {
            match evidence::store(
                state.database.pool(),
                &state.review_documents_dir,
                account.id,
                &name,
                &bytes,
            )
            .await
            {
                Ok(_) => Redirect::to("/account?document=added").into_response(),
                Err(error) => back_with_error(&AppError::from(error).to_string()),
            }
        }
        Err(message) => back_with_error(&message),
    }
}

fn back_with_error(message: &str) -> Response {
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    Redirect::to(&format!("/account?document_error={encoded}")).into_response()
}

/// The `document` field's file name and bytes, read in chunks and refused
/// as soon as it passes [`MAX_BYTES`].
async fn receive(mut multipart: Multipart) -> Result<(String, Vec<u8>), String> {
    let cut_off = |error: MultipartError| {
        tracing::warn!(error = %error, "review document upload cut off");
        "The upload was cut off before its end: nothing was stored. Try again.".to_owned()
    };
    while let Some(mut field) = multipart.next_field().await.map_err(cut_off)? {
        if field.name() != Some("document") {
            continue;
        }
        let name = field.file_name().unwrap_or("document").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(cut_off)? {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(AppError::from(EvidenceError::TooLarge).to_string());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err("Choose a file to upload.".into())
}

/// `GET /admin/reviews/documents/{id}`: the document, for a reviewer of
/// the attorney's jurisdiction; 404 for anyone else (ids reveal nothing).
/// Sent as an attachment with its sniffed type, `nosniff`, and a sandbox
/// CSP, so a browser never runs anything in it on the portal's origin.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Response {
    let account = match auth::require_with(&state, &session, Permission::ReviewAttorneys).await {
        Ok(account) => account,
        Err(error) => {
            let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::FORBIDDEN);
            return (status, error.to_string()).into_response();
        }
    };
    let opened = evidence::open(state.database.pool(), &state.review_documents_dir, id).await;
    let (content_type, jurisdiction, bytes) = match opened {
        Ok(found) => found,
        Err(EvidenceError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot open a review document");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !account.may(Permission::ReviewAttorney(jurisdiction)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let extension = match content_type {
        app::domain::DocumentType::Pdf => "pdf",
        app::domain::DocumentType::Jpeg => "jpg",
        app::domain::DocumentType::Png => "png",
    };
    (
        [
            (header::CONTENT_TYPE, content_type.as_str().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"review-document-{id}.{extension}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}
