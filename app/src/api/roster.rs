//! Roster uploads in the portal: the upload page's data, the preview, and
//! the admin's commit or discard. The file itself arrives at a plain route
//! (`POST /admin/roster/upload`, in the server crate): it is streamed.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::roster_upload::{Field, FileEncoding, Mode, Severity, UploadState};
use crate::domain::{Jurisdiction, RosterStatus, Standing};
use crate::error::AppError;

/// One upload, as the history and the preview show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadView {
    pub id: i64,
    pub jurisdiction: Jurisdiction,
    pub mode: Mode,
    pub state: UploadState,
    pub uploader: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: i64,
    pub rows_valid: i64,
    pub rows_invalid: i64,
    pub ignored_columns: String,
    pub new_members: i64,
    pub changed_members: i64,
    pub unchanged_members: i64,
    pub missing_members: i64,
    pub uploaded: String,
    pub decided: Option<String>,
    pub skipped_invalid: bool,
    pub standings_changed: Option<i64>,
    pub numbers_added: Option<i64>,
    pub numbers_removed: Option<i64>,
    /// How the file's bytes were read ([`FileEncoding::describe`] says it
    /// in words).
    pub encoding: FileEncoding,
    /// Rows with warnings only (a cell left empty or kept as given).
    pub rows_warned: i64,
    pub confirmed_removals: Option<i64>,
    /// Which header gave each field: "bar_number: Registration Number; …".
    pub columns_read: String,
}

/// What the upload page needs: where the admin may upload, and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterPageData {
    /// (code, name) of the jurisdictions the admin may upload for.
    pub jurisdictions: Vec<(String, String)>,
    pub history: Vec<UploadView>,
    /// Saved column names: (jurisdiction, field, header).
    pub columns: Vec<(Jurisdiction, Field, String)>,
    /// Saved status words: (jurisdiction, word, status).
    pub status_words: Vec<(Jurisdiction, String, RosterStatus)>,
    /// The fields a column can be mapped to.
    pub fields: Vec<Field>,
    /// Why the last upload was refused, kept in the session by the upload
    /// route and shown once: never read from the address, so a link
    /// cannot put words on this page (issue 24).
    pub refusal: Option<String>,
}

/// The session key under which the upload route leaves its refusal for
/// the page to show once.
pub const REFUSAL_KEY: &str = "roster_upload_refusal";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingChangeView {
    pub full_name: String,
    pub email: String,
    pub bar_number: String,
    pub from: Standing,
    pub to: Standing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowErrorView {
    pub line: i64,
    pub column: String,
    pub value: String,
    pub message: String,
    /// An error blocks the commit; a warning does not.
    pub severity: Severity,
}

/// An upload and what committing it would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewData {
    pub upload: UploadView,
    /// An earlier commit of the same file: its id and when.
    pub same_file: Option<(i64, String)>,
    pub standing_changes: Vec<StandingChangeView>,
    pub numbers_leaving: usize,
    pub numbers_entering: usize,
    /// The first row problems (all are in the CSV download).
    pub errors: Vec<RowErrorView>,
    /// Status words the jurisdiction's vocabulary does not know, each
    /// once, with how many rows wrote it.
    pub unknown_statuses: Vec<(String, i64)>,
    /// The statuses a word may be mapped to.
    pub statuses: Vec<RosterStatus>,
    /// When the brake is on: the count to repeat, and why.
    pub brake: Option<(u64, String)>,
    /// The fields a column can be mapped to.
    pub fields: Vec<Field>,
}

/// Row errors shown on the page.
pub const ERRORS_SHOWN: i64 = 100;

#[cfg(feature = "ssr")]
async fn roster_admin() -> Result<crate::ssr::accounts::Account, AppError> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    auth::require(&session, Permission::UseRosterPages).await
}

#[cfg(feature = "ssr")]
fn upload_view(upload: crate::ssr::standing::roster::upload::Upload) -> UploadView {
    use crate::ssr::infra::clock::utc_date_time;
    UploadView {
        id: upload.id,
        jurisdiction: upload.jurisdiction,
        mode: upload.mode,
        state: upload.state,
        uploader: upload.uploader,
        file_name: upload.file_name,
        sha256: upload.sha256,
        bytes: upload.bytes,
        rows_valid: upload.rows_valid,
        rows_invalid: upload.rows_invalid,
        ignored_columns: upload.ignored_columns,
        new_members: upload.new_members,
        changed_members: upload.changed_members,
        unchanged_members: upload.unchanged_members,
        missing_members: upload.missing_members,
        uploaded: utc_date_time(upload.created_at),
        decided: upload.decided_at.map(utc_date_time),
        skipped_invalid: upload.skipped_invalid != 0,
        standings_changed: upload.standings_changed,
        numbers_added: upload.numbers_added,
        numbers_removed: upload.numbers_removed,
        encoding: upload.encoding,
        rows_warned: upload.rows_warned,
        confirmed_removals: upload.confirmed_removals,
        columns_read: upload.columns_read,
    }
}

/// The upload of `id`, if this admin may see it (else "not found", so ids
/// of other jurisdictions' uploads reveal nothing).
#[cfg(feature = "ssr")]
async fn visible_upload(
    account: &crate::ssr::accounts::Account,
    id: i64,
) -> Result<crate::ssr::standing::roster::upload::Upload, AppError> {
    use crate::ssr::standing::roster::upload as roster_upload;
    let state = crate::ssr::auth::state()?;
    let upload = match roster_upload::upload(state.database.pool(), id).await {
        Ok(upload) => upload,
        Err(roster_upload::UploadError::NotFound) => return Err(AppError::NotFound),
        Err(other) => return Err(other.into()),
    };
    let allowed = account.may(crate::ssr::accounts::permission::Permission::ManageRoster(
        upload.jurisdiction,
    ));
    if allowed {
        Ok(upload)
    } else {
        Err(AppError::NotFound)
    }
}

#[server(endpoint = "roster_page")]
pub async fn roster_page() -> Result<RosterPageData, AppError> {
    use crate::domain::bar::JURISDICTIONS;
    let account = roster_admin().await?;
    let own = account
        .admin_jurisdiction
        .as_deref()
        .and_then(|code| Jurisdiction::parse(code).ok());
    let allowed: Vec<Jurisdiction> = JURISDICTIONS
        .iter()
        .filter_map(|(code, _)| Jurisdiction::parse(code).ok())
        .filter(|jurisdiction| {
            account.may(crate::ssr::accounts::permission::Permission::ManageRoster(
                *jurisdiction,
            ))
        })
        .collect();
    let jurisdictions = allowed
        .iter()
        .map(|jurisdiction| {
            (
                jurisdiction.code().to_owned(),
                jurisdiction.name().to_owned(),
            )
        })
        .collect();
    let state = crate::ssr::auth::state()?;
    let scope = match account.role {
        crate::domain::Role::SiteAdmin => None,
        crate::domain::Role::BarAdmin | crate::domain::Role::Attorney => {
            Some(own.ok_or(AppError::Forbidden)?)
        }
    };
    let history =
        crate::ssr::standing::roster::upload::history(state.database.pool(), scope, 50).await?;
    let (columns, status_words) =
        crate::ssr::standing::roster::upload::saved_mappings(state.database.pool(), &allowed)
            .await?;
    let session = crate::ssr::infra::session::current().await?;
    let refusal = session
        .remove::<String>(REFUSAL_KEY)
        .await
        .map_err(AppError::unexpected)?;
    Ok(RosterPageData {
        refusal,
        jurisdictions,
        history: history.into_iter().map(upload_view).collect(),
        columns,
        status_words,
        fields: Field::ALL.to_vec(),
    })
}

#[server(endpoint = "roster_preview")]
pub async fn roster_preview(id: i64) -> Result<PreviewData, AppError> {
    use crate::ssr::standing::roster::upload as roster_upload;
    let account = roster_admin().await?;
    let upload = visible_upload(&account, id).await?;
    let state = crate::ssr::auth::state()?;
    let pool = state.database.pool();
    let waiting = upload.state == roster_upload::UploadState::Previewed;
    let consequences = if waiting {
        roster_upload::consequences(pool, &upload).await?
    } else {
        roster_upload::Consequences::default()
    };
    let brake = if waiting {
        let brake = roster_upload::brake(pool, &upload, &consequences, state.roster_brake).await?;
        brake.count().map(|count| (count, brake.describe()))
    } else {
        None
    };
    let unknown_statuses = if waiting {
        roster_upload::unknown_statuses(pool, upload.id).await?
    } else {
        Vec::new()
    };
    let same_file = roster_upload::same_file_committed(pool, &upload)
        .await?
        .map(|(id, at)| (id, crate::ssr::infra::clock::utc_date_time(at)));
    let errors = roster_upload::errors(pool, upload.id, ERRORS_SHOWN).await?;
    Ok(PreviewData {
        upload: upload_view(upload),
        same_file,
        standing_changes: consequences
            .standing_changes
            .into_iter()
            .map(|change| StandingChangeView {
                full_name: change.full_name,
                email: change.email,
                bar_number: change.bar_number,
                from: change.from,
                to: change.to,
            })
            .collect(),
        numbers_leaving: consequences.numbers_leaving,
        numbers_entering: consequences.numbers_entering,
        errors: errors
            .into_iter()
            .map(|error| RowErrorView {
                line: error.line,
                column: error.column_name,
                value: error.cell,
                message: error.message,
                severity: error.severity,
            })
            .collect(),
        unknown_statuses,
        statuses: RosterStatus::ALL.to_vec(),
        brake,
        fields: Field::ALL.to_vec(),
    })
}

#[cfg(feature = "ssr")]
fn upload_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound)
}

/// Applies a previewed upload (rows with errors only when `skip_invalid`;
/// past the brake only when `confirm_removals` repeats its count).
#[server(endpoint = "commit_roster_upload")]
pub async fn commit_roster_upload(
    upload: String,
    skip_invalid: Option<String>,
    confirm_removals: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::standing::roster::upload::{self as roster_upload, Decision};
    let account = roster_admin().await?;
    let id = upload_id(&upload)?;
    visible_upload(&account, id).await?;
    let confirm_removals = match confirm_removals.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(typed) => Some(typed.replace(',', "").parse::<u64>().map_err(|_| {
            AppError::Validation(format!(
                "Type the count as digits, like 1228 (you typed {typed:?})."
            ))
        })?),
    };
    let state = crate::ssr::auth::state()?;
    roster_upload::commit(
        state.database.pool(),
        id,
        Decision {
            decided_by: Some(account.id),
            actor: crate::ssr::infra::audit_trail::Actor::Account {
                id: account.id,
                email: account.email.clone(),
            },
            skip_invalid: skip_invalid.is_some(),
            confirm_removals,
        },
        state.roster_brake,
    )
    .await?;
    crate::ssr::standing::roster::kept_files::forget(&state.roster_files_dir, id).await;
    leptos_axum::redirect(&format!("/admin/roster/uploads/{id}?committed=1"));
    Ok(())
}

/// Saves which column of a bar's files holds a field (an empty header
/// forgets it); from the upload page or a preview (`back` says where to
/// return). It applies to the files uploaded from then on, and, from a
/// preview whose file was kept, to that file at once: it is read again as
/// a new preview that replaces the old one.
#[server(endpoint = "save_roster_column")]
pub async fn save_roster_column(
    jurisdiction: String,
    field: String,
    header: String,
    back: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::accounts::permission::Permission;
    let account = roster_admin().await?;
    let jurisdiction = Jurisdiction::parse(&jurisdiction)
        .map_err(|_| AppError::Validation("Choose the jurisdiction.".into()))?;
    if !account.may(Permission::ManageRoster(jurisdiction)) {
        return Err(AppError::Forbidden);
    }
    let field = Field::parse(&field)
        .ok_or_else(|| AppError::Validation("Choose the field the column holds.".into()))?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::standing::roster::upload::save_column(
        state.database.pool(),
        jurisdiction,
        field,
        &header,
    )
    .await?;
    // Only our own pages: an open redirect would be a phishing aid.
    let back = back
        .filter(|path| path.starts_with("/admin/roster/uploads/") && !path.contains("//"))
        .unwrap_or_else(|| "/admin/roster".into());
    let preview = back
        .strip_prefix("/admin/roster/uploads/")
        .and_then(|id| id.parse::<i64>().ok());
    if let Some(preview) = preview {
        visible_upload(&account, preview).await?;
        let uploader = crate::ssr::standing::roster::upload::Uploader {
            user_id: Some(account.id),
            label: account.email.clone(),
        };
        let read_again = crate::ssr::standing::roster::kept_files::read_again(
            state.database.pool(),
            &state.roster_files_dir,
            preview,
            jurisdiction,
            uploader,
        )
        .await?;
        if let Some(new_preview) = read_again {
            leptos_axum::redirect(&format!(
                "/admin/roster/uploads/{new_preview}?column_saved=1&read_again=1"
            ));
            return Ok(());
        }
    }
    leptos_axum::redirect(&format!("{back}?column_saved=1"));
    Ok(())
}

/// Confirms what a status word of the file means: saved to the
/// jurisdiction's vocabulary and applied to this upload's rows.
#[server(endpoint = "map_roster_status")]
pub async fn map_roster_status(
    upload: String,
    word: String,
    status: String,
) -> Result<(), AppError> {
    let account = roster_admin().await?;
    let id = upload_id(&upload)?;
    visible_upload(&account, id).await?;
    let status = RosterStatus::parse(&status)
        .ok_or_else(|| AppError::Validation(format!("Choose what {word:?} means.")))?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::standing::roster::upload::map_statuses(
        state.database.pool(),
        id,
        &[(word, status)],
    )
    .await?;
    leptos_axum::redirect(&format!("/admin/roster/uploads/{id}"));
    Ok(())
}

#[server(endpoint = "discard_roster_upload")]
pub async fn discard_roster_upload(upload: String) -> Result<(), AppError> {
    let account = roster_admin().await?;
    let id = upload_id(&upload)?;
    visible_upload(&account, id).await?;
    let state = crate::ssr::auth::state()?;
    crate::ssr::standing::roster::upload::discard(state.database.pool(), id, Some(account.id))
        .await?;
    crate::ssr::standing::roster::kept_files::forget(&state.roster_files_dir, id).await;
    leptos_axum::redirect("/admin/roster?discarded=1");
    Ok(())
}

/// How far the checking of an upload in progress got, for the page that
/// sent it with `token`: (bytes received, bytes checked, rows checked).
/// None once it is over (any instance answers: the counts are in the
/// database).
#[server(endpoint = "roster_upload_progress")]
pub async fn roster_upload_progress(token: String) -> Result<Option<(u64, u64, u64)>, AppError> {
    let account = roster_admin().await?;
    let state = crate::ssr::auth::state()?;
    Ok(state.roster_progress.read(account.id, &token).await?)
}
