use std::path::PathBuf;

use anyhow::Context;
use app::domain::{EmailAddress, Jurisdiction, PersonName};
use app::ssr::accounts::admins::{self as admin, AdminCreated, AdminRole};
use app::ssr::infra::audit_trail::Actor;
use app::ssr::infra::db::Database;
use app::ssr::infra::mail::Mailer;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app::domain::RosterStatus;
use app::ssr::providers::{self, Scope};
use app::ssr::rosters;
use app::ssr::rosters::reading::Field;
use app::ssr::rosters::upload::{
    self as roster_upload, Decision, Mode, Progress, UploadRequest, Uploader,
};
use app::text::counted;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::configuration::Settings;

/// Counsel Registry: the registry of attorney phone numbers that
/// correctional phone providers must not record.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal and the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Bar rosters.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Phone providers and their API keys.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Copy a SQLite database to FILE while the portal serves (a
    /// consistent snapshot, checked); PostgreSQL: use pg_dump.
    Backup { file: PathBuf },
    /// The audit trail of admin decisions.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The keys stored secrets are sealed under (SECRETS_KEYS).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The reference consumer: mirror the registry for one facility into
    /// a local SQLite file, follow the feed, acknowledge, and reconcile
    /// (repairing a drift by buckets). Uses only the public API.
    Consumer {
        /// The portal's origin, e.g. https://registry.example
        #[arg(long)]
        url: String,
        /// A provider key with registry:read.
        #[arg(long)]
        key: String,
        /// The facility's code at this provider (it must be registered).
        #[arg(long)]
        facility: String,
        /// The local SQLite file holding the mirror (created when missing).
        #[arg(long)]
        state: PathBuf,
        /// Minutes between reconciliations while following the feed.
        #[arg(long, default_value_t = 60)]
        reconcile_every: u64,
        /// Catch up, acknowledge, reconcile once (repairing), and stop.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Reseal every stored secret (TOTP secrets, webhook signing secrets)
    /// under the current key, the first of SECRETS_KEYS; values sealed
    /// under older keys or stored in clear before sealing move. All or
    /// nothing, and recorded in the audit trail. Afterwards the older keys
    /// may leave SECRETS_KEYS.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; fails on any edited or deleted entry,
    /// and prints the head hash (keep it elsewhere to detect a rewrite of
    /// the whole tail).
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register a phone provider.
    Create { name: String },
    /// Make an API key for a provider; it is printed once, and only its
    /// SHA-256 is stored.
    Key {
        name: String,
        /// registry:read (snapshot, changes, acks, lookups) and/or
        /// audit:write (call audits). Default: both.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Revoke a key by its visible prefix (crk_…); it stops working within 2 s.
    RevokeKey { prefix: String },
}

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

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account a site admin (or, with --bar, a bar admin for one
    /// jurisdiction). A new account gets an emailed link to choose its
    /// password.
    Create {
        #[arg(long)]
        email: String,
        /// The name for a new account.
        #[arg(long, default_value = "Site Administrator")]
        name: String,
        /// Make a bar admin for this jurisdiction instead of a site admin.
        #[arg(long)]
        bar: Option<String>,
    },
}

/// Opens the database named by the settings, with migrations applied.
async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::connect(&settings.database_url, 2)
        .await
        .context("cannot open the database (DATABASE_URL)")?;
    database
        .migrate()
        .await
        .context("cannot apply migrations")?;
    Ok(database)
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    println!(
        "migrations applied: {} ({:?})",
        database.embedded_migrations().len(),
        database.engine()
    );
    database.close().await;
    Ok(())
}

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
                let text = std::fs::read_to_string(&path)
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
    let report = rosters::seed_csv(
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
    for (field, header) in &columns {
        roster_upload::save_column(pool, jurisdiction, *field, header).await?;
        println!("saved for {jurisdiction}: column {header:?} is {field}");
    }
    for (word, status) in &statuses {
        roster_upload::save_status_word(pool, jurisdiction, word, *status).await?;
        println!("saved for {jurisdiction}: status {word:?} is {status}");
    }
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
        &request,
        std::io::BufReader::new(input),
        progress.clone(),
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    let upload_id =
        staged.with_context(|| format!("{} was refused; nothing was stored", file.display()))?;

    let upload = roster_upload::upload(pool, upload_id).await?;
    let consequences = roster_upload::consequences(pool, &upload).await?;
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
    let unknown = roster_upload::unknown_statuses(pool, upload_id).await?;
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
        for error in roster_upload::errors(pool, upload_id, ERRORS_SHOWN).await? {
            println!(
                "    {} line {}, column {:?}, value {:?}: {}",
                error.severity, error.line, error.column_name, error.cell, error.message
            );
        }
        if upload.rows_invalid + upload.rows_warned > ERRORS_SHOWN {
            println!("    … the rest in the preview's CSV download");
        }
    }
    if let Some((earlier, _)) = roster_upload::same_file_committed(pool, &upload).await? {
        println!("  the same file was committed before, as upload #{earlier}");
    }

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

pub async fn admin(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Create { email, name, bar } = command;
    let email = EmailAddress::parse(&email).context("--email")?;
    let name = PersonName::parse(&name).context("--name")?;
    let role = match bar {
        Some(code) => AdminRole::Bar(Jurisdiction::parse(&code).context("--bar")?),
        None => AdminRole::Site,
    };
    // Links point where the portal is served: PUBLIC_URL, or the address
    // it binds to by default.
    let base_url = settings.public_origin(settings.bind_address);
    let mailer = Mailer::new(&settings.mail_from, &settings.mail_transport)
        .context("cannot set up email (MAIL_FROM, SMTP_URL, MAIL_OUTBOX_DIR)")?;
    let database = open_database(settings).await?;
    let created = admin::create_admin(
        &database,
        &mailer,
        &base_url,
        &email,
        &name,
        role,
        &Actor::command_line(),
    )
    .await
    .context("the admin was not created")?;
    match created {
        AdminCreated::New => {
            println!("created {email}; a link to choose the password (valid 24 hours) was emailed")
        }
        AdminCreated::Promoted { user_id } => {
            // An admin account holds no numbers.
            app::ssr::numbers::follow_account(database.pool(), user_id)
                .await
                .context("suspending the promoted account's numbers")?;
            println!("{email} is now an administrator (they were emailed)");
        }
    }
    database.close().await;
    Ok(())
}

pub async fn provider(settings: &Settings, command: ProviderCommand) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    let pool = database.pool();
    match command {
        ProviderCommand::Create { name } => {
            providers::create_provider(pool, &Actor::command_line(), &name).await?;
            println!("provider {name:?} created; make it a key with: server provider key {name:?}");
        }
        ProviderCommand::Key { name, scopes } => {
            let scopes: Vec<Scope> = if scopes.is_empty() {
                Scope::ALL.to_vec()
            } else {
                scopes
                    .iter()
                    .map(|raw| {
                        Scope::parse(raw).with_context(|| {
                            format!("unknown scope {raw:?}: use registry:read or audit:write")
                        })
                    })
                    .collect::<anyhow::Result<_>>()?
            };
            let key = providers::create_key(pool, &Actor::command_line(), &name, &scopes).await?;
            let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
            println!("key for {name:?} ({}), shown this once:", scopes.join(", "));
            println!("{}", key.key);
        }
        ProviderCommand::RevokeKey { prefix } => {
            providers::revoke_key(pool, &Actor::command_line(), &prefix).await?;
            println!("key {prefix} revoked; it stops working within 2 seconds");
        }
    }
    database.close().await;
    Ok(())
}

/// `server consumer`: runs the reference consumer; with `--once` prints
/// what its reconciliation found and fails when the list still differs.
pub async fn consumer(command: Command) -> anyhow::Result<()> {
    let Command::Consumer {
        url,
        key,
        facility,
        state,
        reconcile_every,
        once,
    } = command
    else {
        anyhow::bail!("not the consumer command");
    };
    let report = crate::consumer::run(crate::consumer::ConsumerOptions {
        url,
        key,
        facility,
        state,
        reconcile_every: std::time::Duration::from_secs(reconcile_every * 60),
        once,
    })
    .await?;
    if let Some(report) = report {
        println!(
            "reconciled at seq {}: {}",
            report.as_of_seq,
            crate::consumer::describe(&report)
        );
        if !report.matched {
            anyhow::bail!("the facility's list does not match the registry");
        }
    }
    Ok(())
}

/// `server audit verify`.
pub async fn audit(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify = command;
    let database = open_database(settings).await?;
    let found = app::ssr::infra::audit_trail::verify(database.pool()).await?;
    database.close().await;
    if found.problems.is_empty() {
        println!(
            "audit trail intact: {} entries; head hash {}",
            found.entries, found.head_hash
        );
        Ok(())
    } else {
        for problem in &found.problems {
            println!("{problem}");
        }
        anyhow::bail!(
            "the audit trail is broken in {} places ({} entries read)",
            found.problems.len(),
            found.entries
        )
    }
}

/// `server secrets rotate`.
pub async fn secrets(settings: &Settings, command: SecretsCommand) -> anyhow::Result<()> {
    use app::ssr::infra::{audit_trail, db, sealing::Keyring};
    let SecretsCommand::Rotate = command;
    let database = open_database(settings).await?;
    let pool = database.pool();
    let outcome = async {
        let keyring = Keyring::for_server(settings.secrets_keys.as_ref(), pool)
            .await
            .context("cannot read the database's own key")?;
        let mut transaction = db::begin_write(pool).await?;
        let totp = app::ssr::accounts::two_factor::reseal_all(&mut transaction, &keyring)
            .await
            .context("no secret was resealed")?;
        let webhook = app::ssr::providers::webhooks::reseal_all(&mut transaction, &keyring)
            .await
            .context("no secret was resealed")?;
        let detail = format!(
            "{} TOTP secrets and {} webhook signing secrets resealed; {} and {} were already under it",
            totp.resealed, webhook.resealed, totp.current, webhook.current
        );
        audit_trail::append(
            &mut transaction,
            &Actor::command_line(),
            audit_trail::AuditAction::SecretsRotated,
            &format!("key {}", keyring.current_id()),
            &detail,
        )
        .await?;
        transaction.commit().await?;
        anyhow::Ok(format!("sealed under key {}: {detail}", keyring.current_id()))
    }
    .await;
    database.close().await;
    println!("{}", outcome?);
    Ok(())
}

/// `server backup FILE`.
pub async fn backup(settings: &Settings, file: PathBuf) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    let outcome = database.backup_to(&file).await;
    database.close().await;
    outcome.with_context(|| format!("no backup was written to {}", file.display()))?;
    let size = std::fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
    println!(
        "backup written to {} ({size} bytes), integrity check ok; restore by stopping the portal and copying it over DATABASE_URL's file",
        file.display()
    );
    Ok(())
}
