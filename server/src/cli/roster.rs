//! `server roster`: loading bar rosters, `seed` (a CSV loaded all at
//! once) and `import` (an upload previewed, then committed with
//! `--commit`), with the column and status mappings given on the line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use app::domain::{Jurisdiction, RosterStatus};
use app::ssr::infra::audit_trail::Actor;
use app::ssr::standing;
use app::ssr::standing::roster::reading::Field;
use app::ssr::standing::roster::upload::{
    self as roster_upload, Consequences, Decision, Mode, Progress, Upload, UploadRequest, Uploader,
};
use app::text::counted;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::AnyPool;

use super::open_database;
use crate::configuration::Settings;

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Load roster rows from a CSV file (columns bar_number, full_name,
    /// status, and jurisdiction unless --jurisdiction is given; optionally
    /// email, admitted_on, office_phone), then re-match attorneys. All rows
    /// or none.
    Seed {
        file: PathBuf,
        /// The jurisdiction of rows when the file has no jurisdiction column.
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// Upload a bar's roster CSV (bar_number, full_name, status, email,
    /// admitted_on, office_phone): shows the preview, and with --commit
    /// applies it and its consequences in one transaction.
    Import {
        file: PathBuf,
        /// The bar the roster belongs to (a USPS code, e.g. CA).
        #[arg(long)]
        jurisdiction: String,
        /// The file is the whole membership: members missing from it
        /// become not_listed. Without it, only the rows given change.
        #[arg(long)]
        full: bool,
        /// Apply the upload after the preview.
        #[arg(long)]
        commit: bool,
        /// Commit even though some rows have errors, leaving them out
        /// (their members stay as they are, and are not missing).
        #[arg(long)]
        skip_invalid: bool,
        /// Pass the brake on mass removals by repeating the count the
        /// preview states (verified attorneys leaving good standing, or
        /// members a full roster leaves out).
        #[arg(long, value_name = "N")]
        confirm_removals: Option<u64>,
        /// Which header holds a field, saved for the jurisdiction, e.g.
        /// --column bar_number="Registration Number" (fields: bar_number,
        /// full_name, given_name, middle_name, family_name, name_suffix,
        /// status, email, admitted_on, office_phone). Repeatable.
        #[arg(long = "column", value_name = "FIELD=HEADER")]
        columns: Vec<String>,
        /// What one of the bar's status words means, saved for the
        /// jurisdiction, e.g. --status "Currently registered=active".
        /// Exact words only. Repeatable.
        #[arg(long = "status", value_name = "WORD=STATUS")]
        statuses: Vec<String>,
        /// A file of mappings, one a line: `column FIELD=HEADER` or
        /// `status WORD=STATUS` (# starts a comment).
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
}

/// `server roster …`: reads `--mapping`'s file into the mappings given on
/// the line, then seeds or imports.
pub async fn roster(settings: &Settings, command: RosterCommand) -> anyhow::Result<()> {
    match command {
        RosterCommand::Seed { file, jurisdiction } => seed(settings, file, jurisdiction).await,
        RosterCommand::Import {
            file,
            jurisdiction,
            full,
            commit,
            skip_invalid,
            confirm_removals,
            mut columns,
            mut statuses,
            mapping,
        } => {
            if let Some(path) = mapping {
                read_mapping_file(&path, &mut columns, &mut statuses)?;
            }
            let mode = if full { Mode::Full } else { Mode::Partial };
            let options = ImportOptions {
                mode,
                commit,
                decision: Decision {
                    decided_by: None,
                    actor: Actor::command_line(),
                    skip_invalid,
                    confirm_removals,
                },
                columns,
                statuses,
            };
            import(settings, file, &jurisdiction, options).await
        }
    }
}

/// Adds a mapping file's lines, `column FIELD=HEADER` or
/// `status WORD=STATUS` (`#` starts a comment), to `columns` and
/// `statuses`; any other line is an error naming it.
fn read_mapping_file(
    path: &Path,
    columns: &mut Vec<String>,
    statuses: &mut Vec<String>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some(("column", rest)) => columns.push(rest.trim().to_owned()),
            Some(("status", rest)) => statuses.push(rest.trim().to_owned()),
            _ => anyhow::bail!(
                "{} line {}: expected `column FIELD=HEADER` or `status WORD=STATUS`, \
                 got {line:?}",
                path.display(),
                number + 1
            ),
        }
    }
    Ok(())
}

async fn seed(
    settings: &Settings,
    file: PathBuf,
    jurisdiction: Option<String>,
) -> anyhow::Result<()> {
    let jurisdiction = jurisdiction
        .map(|code| Jurisdiction::parse(&code))
        .transpose()
        .context("--jurisdiction")?;
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let database = open_database(settings).await?;
    let report = standing::seed_csv(
        database.pool(),
        std::io::BufReader::new(input),
        jurisdiction,
    )
    .await
    .with_context(|| format!("{} was not loaded; nothing changed", file.display()))?;
    println!(
        "roster seeded: {} members in {}; {} attorneys changed standing",
        report.members,
        report.jurisdictions.join(", "),
        report.standings_changed
    );
    for warning in report.warnings.iter().take(ERRORS_SHOWN as usize) {
        println!(
            "  warning: line {}, column {:?}, value {:?}: {}",
            warning.line, warning.column, warning.cell, warning.message
        );
    }
    database.close().await;
    Ok(())
}

/// Row errors printed; the rest are counted.
const ERRORS_SHOWN: i64 = 20;

/// What `roster import` was asked to do.
struct ImportOptions {
    mode: Mode,
    commit: bool,
    decision: Decision,
    /// FIELD=HEADER, to save before reading.
    columns: Vec<String>,
    /// WORD=STATUS, to save before reading.
    statuses: Vec<String>,
}

/// Column names and status words given on the command line.
type GivenMappings = (Vec<(Field, String)>, Vec<(String, RosterStatus)>);

/// Reads `FIELD=HEADER` and `WORD=STATUS` pairs, saying what is wrong.
fn mappings(options: &ImportOptions) -> anyhow::Result<GivenMappings> {
    let columns = options
        .columns
        .iter()
        .map(|pair| {
            let (field, header) = pair
                .split_once('=')
                .with_context(|| format!("--column {pair:?}: expected FIELD=HEADER"))?;
            let field = Field::parse(field).with_context(|| {
                let fields: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
                format!(
                    "--column {pair:?}: the field is one of {}",
                    fields.join(", ")
                )
            })?;
            Ok((field, header.trim().to_owned()))
        })
        .collect::<anyhow::Result<_>>()?;
    let statuses = options
        .statuses
        .iter()
        .map(|pair| {
            let (word, status) = pair
                .rsplit_once('=')
                .with_context(|| format!("--status {pair:?}: expected WORD=STATUS"))?;
            let status = RosterStatus::parse(status).with_context(|| {
                let all: Vec<&str> = RosterStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("--status {pair:?}: the status is one of {}", all.join(", "))
            })?;
            Ok((word.trim().to_owned(), status))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((columns, statuses))
}

/// `server roster import`: stages the file, prints its preview, and with
/// `--commit` applies it (the brake permitting).
async fn import(
    settings: &Settings,
    file: PathBuf,
    jurisdiction: &str,
    options: ImportOptions,
) -> anyhow::Result<()> {
    let (columns, statuses) = mappings(&options)?;
    let ImportOptions {
        mode,
        commit,
        decision,
        ..
    } = options;
    let jurisdiction = Jurisdiction::parse(jurisdiction).context("--jurisdiction")?;
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = input.metadata().map(|meta| meta.len()).unwrap_or(0);
    if size > roster_upload::MAX_BYTES {
        anyhow::bail!(
            "{} is larger than 50 MiB: nothing was stored",
            file.display()
        );
    }
    let database = open_database(settings).await?;
    let pool = database.pool();
    save_mappings(pool, jurisdiction, &columns, &statuses).await?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let request = UploadRequest {
        jurisdiction,
        mode,
        uploader: Uploader {
            user_id: None,
            label: format!("command line ({user})"),
        },
        file_name: file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let upload_id = stage_with_progress(pool, &request, input, size)
        .await
        .with_context(|| format!("{} was refused; nothing was stored", file.display()))?;

    let upload = roster_upload::upload(pool, upload_id).await?;
    let consequences = roster_upload::consequences(pool, &upload).await?;
    print_preview(pool, &upload, &consequences).await?;

    let brake = roster_upload::brake(pool, &upload, &consequences, settings.roster_brake).await?;
    if let Some(count) = brake.count() {
        println!("  brake: {}", brake.describe());
        println!("  to commit, add --confirm-removals {count}");
    }

    if !commit {
        println!("preview only: run again with --commit to apply it");
    } else {
        let report = roster_upload::commit(pool, upload_id, decision, settings.roster_brake)
            .await
            .context("the upload was not committed; the roster is unchanged")?;
        println!(
            "committed: {} attorneys changed standing; {} numbers entered and {} left the registry",
            report.standings_changed, report.numbers_added, report.numbers_removed
        );
    }
    database.close().await;
    Ok(())
}

/// Saves the column names and status words given for `jurisdiction`,
/// saying each.
async fn save_mappings(
    pool: &AnyPool,
    jurisdiction: Jurisdiction,
    columns: &[(Field, String)],
    statuses: &[(String, RosterStatus)],
) -> anyhow::Result<()> {
    for (field, header) in columns {
        roster_upload::save_column(pool, jurisdiction, *field, header).await?;
        println!("saved for {jurisdiction}: column {header:?} is {field}");
    }
    for (word, status) in statuses {
        roster_upload::save_status_word(pool, jurisdiction, word, *status).await?;
        println!("saved for {jurisdiction}: status {word:?} is {status}");
    }
    Ok(())
}

/// Stages `input` (`size` bytes) as an upload; returns its id.
async fn stage_with_progress(
    pool: &AnyPool,
    request: &UploadRequest,
    input: std::fs::File,
    size: u64,
) -> Result<i64, roster_upload::UploadError> {
    // The bar follows the bytes read; it draws only on a terminal.
    let progress = Arc::new(Progress::default());
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template(
            "{spinner} checking {bytes}/{total_bytes} [{bar:30}] {msg} ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                bar.set_message(format!("{} rows", progress.rows.load(Ordering::Relaxed)));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let staged = roster_upload::stage(
        pool,
        request,
        std::io::BufReader::new(input),
        progress.clone(),
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    staged
}

/// Prints what the upload holds, what committing it would change, and its
/// first problems.
async fn print_preview(
    pool: &AnyPool,
    upload: &Upload,
    consequences: &Consequences,
) -> anyhow::Result<()> {
    println!(
        "upload #{} for {} ({} roster), SHA-256 {}, read as {}",
        upload.id,
        upload.jurisdiction,
        upload.mode,
        upload.sha256,
        upload.encoding.describe()
    );
    println!(
        "  {}: {} new, {} changed, {} unchanged; {} missing (become not listed)",
        counted(upload.rows_valid, "valid row", "valid rows"),
        upload.new_members,
        upload.changed_members,
        upload.unchanged_members,
        counted(upload.missing_members, "member", "members")
    );
    if !upload.ignored_columns.is_empty() {
        println!("  ignored columns: {}", upload.ignored_columns);
    }
    println!(
        "  attorneys in the portal whose standing changes: {}; numbers leaving the registry: {}, entering: {}",
        consequences.standing_changes.len(),
        consequences.numbers_leaving,
        consequences.numbers_entering
    );
    for change in &consequences.standing_changes {
        println!(
            "    {} <{}> (bar number {}): {} -> {}",
            change.full_name, change.email, change.bar_number, change.from, change.to
        );
    }
    print_problems(pool, upload).await?;
    if let Some((earlier, _)) = roster_upload::same_file_committed(pool, upload).await? {
        println!("  the same file was committed before, as upload #{earlier}");
    }
    Ok(())
}

/// Prints the status words the jurisdiction does not know, and the first
/// rows with warnings or errors.
async fn print_problems(pool: &AnyPool, upload: &Upload) -> anyhow::Result<()> {
    let unknown = roster_upload::unknown_statuses(pool, upload.id).await?;
    if !unknown.is_empty() {
        println!(
            "  status words this jurisdiction's vocabulary does not know (map them with --status \"WORD=STATUS\"):"
        );
        for (word, rows) in &unknown {
            println!("    {word:?}: {}", counted(*rows, "row", "rows"));
        }
    }
    if upload.rows_warned > 0 {
        println!(
            "  {} with warnings (a cell left empty or kept as written; the members are read)",
            counted(upload.rows_warned, "row", "rows")
        );
    }
    if upload.rows_invalid > 0 || upload.rows_warned > 0 {
        if upload.rows_invalid > 0 {
            println!(
                "  {} with errors (they block the commit until mapped, fixed or skipped)",
                counted(upload.rows_invalid, "row", "rows")
            );
        }
        println!("  the first problems:");
        for error in roster_upload::errors(pool, upload.id, ERRORS_SHOWN).await? {
            println!(
                "    {} line {}, column {:?}, value {:?}: {}",
                error.severity, error.line, error.column_name, error.cell, error.message
            );
        }
        if upload.rows_invalid + upload.rows_warned > ERRORS_SHOWN {
            println!("    … the rest in the preview's CSV download");
        }
    }
    Ok(())
}
