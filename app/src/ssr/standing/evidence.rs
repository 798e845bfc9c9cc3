//! Evidence an attorney uploads for review when the roster cannot settle
//! their claim (issue 12): a bar card or a letter, as PDF, JPEG or PNG,
//! at most [`MAX_BYTES`]. The type is read from the content, never from
//! the name or the declared type; PDFs that can run script or launch
//! programs are refused. Files are stored outside the web root under a
//! random name, shown only to reviewers of the attorney's jurisdiction,
//! and deleted once a reviewer has decided.

use std::path::{Path, PathBuf};

use sqlx::AnyPool;

use crate::domain::{DocumentType, Jurisdiction};
use crate::error::AppError;
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::secrets;

/// The largest document accepted: 5 MiB.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Documents one attorney may have waiting at once.
pub const MAX_DOCUMENTS: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than 5 MiB")]
    TooLarge,
    #[error("the file is not a PDF, JPEG or PNG (its content was read, not its name)")]
    NotAllowedType,
    #[error("the PDF contains {0}, which could run on a reviewer's computer")]
    ActivePdf(&'static str),
    #[error("you have {MAX_DOCUMENTS} documents waiting already")]
    TooMany,
    #[error("only attorneys waiting for review can add documents")]
    NotWaiting,
    #[error("no such document")]
    NotFound,
    #[error("cannot store the document: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<EvidenceError> for AppError {
    fn from(error: EvidenceError) -> Self {
        match error {
            EvidenceError::NotFound => AppError::NotFound,
            EvidenceError::Io(cause) => AppError::unexpected(cause),
            EvidenceError::Database(cause) => AppError::unexpected(cause),
            EvidenceError::NotWaiting => AppError::Forbidden,
            other => {
                let text = other.to_string();
                let mut chars = text.chars();
                let first = chars.next().map(|c| c.to_uppercase().to_string());
                AppError::Validation(format!(
                    "{}{}. Nothing was stored.",
                    first.unwrap_or_default(),
                    chars.as_str()
                ))
            }
        }
    }
}

/// The type of `bytes` by their signature: PDF (`%PDF-`, ISO 32000-1
/// §7.5.2), JPEG (`FF D8 FF`, ITU T.81 SOI marker) or PNG (the 8-byte
/// signature of RFC 2083 §3.1). A PDF naming an action that runs script,
/// launches a program or carries embedded files is refused.
pub fn sniff(bytes: &[u8]) -> Result<DocumentType, EvidenceError> {
    if bytes.is_empty() {
        return Err(EvidenceError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(EvidenceError::TooLarge);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(DocumentType::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(DocumentType::Jpeg);
    }
    if bytes.starts_with(b"%PDF-") {
        // Names in a PDF may escape characters as #xx (ISO 32000-1
        // §7.3.5); undo that before looking, so /J#61vaScript is seen.
        let text = unescape_pdf_names(bytes);
        for (name, shown) in [
            (&b"/JavaScript"[..], "JavaScript"),
            (b"/JS", "JavaScript"),
            (b"/Launch", "a launch action"),
            (b"/EmbeddedFile", "an embedded file"),
            (b"/RichMedia", "rich media"),
        ] {
            if text.windows(name.len()).any(|window| window == name) {
                return Err(EvidenceError::ActivePdf(shown));
            }
        }
        return Ok(DocumentType::Pdf);
    }
    Err(EvidenceError::NotAllowedType)
}

fn unescape_pdf_names(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'#'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(high * 16 + low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The name shown to reviewers: the last path segment (browsers on
/// Windows send `C:\…\card.pdf`), control characters dropped, at most 100
/// characters. Never used on disk.
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(100).collect();
    if cleaned.trim().is_empty() {
        "document".into()
    } else {
        cleaned
    }
}

/// One stored document, as reviewers see it listed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Document {
    pub id: i64,
    pub user_id: i64,
    pub original_name: String,
    pub content_type: DocumentType,
    pub bytes: i64,
    pub uploaded_at: i64,
}

/// Stores a document for an attorney waiting for review: checked by
/// content, written under a random name in `directory`, then recorded.
pub async fn store(
    pool: &AnyPool,
    directory: &Path,
    user_id: i64,
    original_name: &str,
    bytes: &[u8],
) -> Result<Document, EvidenceError> {
    let content_type = sniff(bytes)?;
    let waiting: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE id = $1 AND role = 'attorney' AND standing = 'pending_review'",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    if waiting.is_none() {
        return Err(EvidenceError::NotWaiting);
    }
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM review_documents WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await?;
    if held >= MAX_DOCUMENTS {
        return Err(EvidenceError::TooMany);
    }
    let (random, _) = secrets::new_token();
    let stored_name = format!("{random}.bin");
    tokio::fs::create_dir_all(directory).await?;
    tokio::fs::write(directory.join(&stored_name), bytes).await?;
    let recorded = sqlx::query_as(
        "INSERT INTO review_documents (user_id, stored_name, original_name, content_type, bytes, \
           uploaded_at) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, user_id, original_name, content_type, bytes, uploaded_at",
    )
    .bind(user_id)
    .bind(&stored_name)
    .bind(display_name(original_name))
    .bind(content_type)
    .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
    .bind(now_millis())
    .fetch_one(pool)
    .await;
    match recorded {
        Ok(document) => Ok(document),
        Err(error) => {
            // No row, no file: a failure leaves nothing behind.
            let _ = tokio::fs::remove_file(directory.join(&stored_name)).await;
            Err(error.into())
        }
    }
}

/// The documents an attorney has waiting, oldest first.
pub async fn documents_of(pool: &AnyPool, user_id: i64) -> Result<Vec<Document>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, original_name, content_type, bytes, uploaded_at \
         FROM review_documents WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// One document's content with its type and the jurisdiction of its
/// attorney (for the reviewer's permission check).
pub async fn open(
    pool: &AnyPool,
    directory: &Path,
    id: i64,
) -> Result<(DocumentType, Jurisdiction, Vec<u8>), EvidenceError> {
    let found: Option<(String, DocumentType, Jurisdiction)> = sqlx::query_as(
        "SELECT d.stored_name, d.content_type, u.jurisdiction \
         FROM review_documents d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let (stored_name, content_type, jurisdiction) = found.ok_or(EvidenceError::NotFound)?;
    let bytes = tokio::fs::read(stored_path(directory, &stored_name)?).await?;
    Ok((content_type, jurisdiction, bytes))
}

/// Deletes an attorney's documents, rows and files (after a decision).
pub async fn delete_all(
    pool: &AnyPool,
    directory: &Path,
    user_id: i64,
) -> Result<(), EvidenceError> {
    let names: Vec<String> =
        sqlx::query_scalar("DELETE FROM review_documents WHERE user_id = $1 RETURNING stored_name")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    for name in names {
        match tokio::fs::remove_file(stored_path(directory, &name)?).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// The path of a stored name, which the code made itself: refuse anything
/// that is not a plain file name, should the table ever be edited.
fn stored_path(directory: &Path, stored_name: &str) -> Result<PathBuf, EvidenceError> {
    let plain = !stored_name.is_empty()
        && stored_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !stored_name.starts_with('.');
    if plain {
        Ok(directory.join(stored_name))
    } else {
        Err(EvidenceError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj\n").ok(), Some(DocumentType::Pdf));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]).ok(),
            Some(DocumentType::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n....").ok(),
            Some(DocumentType::Png)
        );
        // An executable or a web page named card.pdf.
        assert!(matches!(
            sniff(b"MZ\x90\x00"),
            Err(EvidenceError::NotAllowedType)
        ));
        assert!(matches!(
            sniff(b"<html><script>"),
            Err(EvidenceError::NotAllowedType)
        ));
        assert!(matches!(sniff(b""), Err(EvidenceError::Empty)));
        let big = vec![0xFF; MAX_BYTES + 1];
        assert!(matches!(sniff(&big), Err(EvidenceError::TooLarge)));
    }

    #[test]
    fn pdfs_that_run_script_are_refused_even_when_escaped() {
        for body in [
            &b"%PDF-1.4\n<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"[..],
            b"%PDF-1.4\n<< /S /J#61vaScript >>",
            b"%PDF-1.4\n<< /S /Launch /F (cmd.exe) >>",
            b"%PDF-1.4\n<< /Type /EmbeddedFile >>",
        ] {
            assert!(
                matches!(sniff(body), Err(EvidenceError::ActivePdf(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(display_name("C:\\Users\\jane\\card.pdf"), "card.pdf");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("card\u{0}\n.png"), "card.png");
        assert_eq!(display_name("/"), "document");
        assert!(stored_path(Path::new("/x"), "../secret").is_err());
        assert!(stored_path(Path::new("/x"), "abc_DEF-1.bin").is_ok());
    }
}
