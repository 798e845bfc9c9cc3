//! The bar rosters and the match between attorneys and roster entries.
//! An attorney is `verified` when their jurisdiction and bar number are on
//! the roster, with status active and a matching name; otherwise they wait
//! for a site admin. The match runs at sign-up and again for a whole
//! jurisdiction whenever its roster changes.
//!
//! Owns the tables `roster`, `roster_uploads`, `roster_staging`,
//! `roster_upload_errors`, and the standing columns of `users`. May use:
//! `numbers` (an attorney's numbers follow their standing), `registry`
//! (the write that moves them), `accounts` (who the attorney is),
//! infrastructure. Submodules: `upload` (CSV staging, preview, commit),
//! `review` (attorneys the roster could not settle).

pub mod claims;
pub mod evidence;
pub mod kept_files;
pub mod reading;
pub mod review;
pub mod upload;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Seek};

use sqlx::{Any, AnyPool};

use crate::domain::{
    ClaimState, EmailAddress, Jurisdiction, NameKey, RosterStatus, Standing, StandingSource,
};
use crate::ssr::accounts::{self, AccountError, SignUp};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::infra::db::Database;
use crate::ssr::infra::mail::Mailer;
use crate::ssr::infra::mail_queue;
use crate::ssr::infra::messages;
use crate::ssr::numbers;
use crate::ssr::registry::{self, RegistryWrite};

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("the file has no {0} column")]
    MissingColumn(&'static str),
    #[error("line {line}, column {column}: {message}")]
    InvalidRow {
        line: u64,
        column: String,
        message: String,
    },
    #[error("line {line}: bar number {bar_number} appears twice for {jurisdiction}")]
    DuplicateMember {
        line: u64,
        jurisdiction: &'static str,
        bar_number: String,
    },
    #[error("the file cannot be read: {0}")]
    Unreadable(#[from] reading::ReadError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One member as the roster lists them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RosterEntry {
    pub jurisdiction: String,
    pub bar_number: String,
    pub full_name: String,
    pub status: String,
}

/// How a roster entry bears on an attorney's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On the roster, active, the same name.
    Match,
    /// On the roster, but not in good standing.
    NotInGoodStanding(RosterStatus),
    /// The bar number is listed under a different name.
    NameDiffers,
    NotListed,
}

impl Verdict {
    pub fn of(entry: Option<&RosterEntry>, claimed_name: &str) -> Self {
        let Some(entry) = entry else {
            return Verdict::NotListed;
        };
        match RosterStatus::parse(&entry.status) {
            Some(RosterStatus::Active) => {}
            Some(status) => return Verdict::NotInGoodStanding(status),
            None => return Verdict::NotListed,
        }
        if NameKey::of(claimed_name).matches(&NameKey::of(&entry.full_name)) {
            Verdict::Match
        } else {
            Verdict::NameDiffers
        }
    }

    /// The standing that follows from this verdict for an attorney who has
    /// `current` standing, decided by an admin or not. An admin's decision
    /// stands until the roster says something definite: a match verifies
    /// (unless an admin rejected the claim), a status other than active
    /// always ends verification.
    pub fn next_standing(self, current: Standing, decided_by_admin: bool) -> Standing {
        match (self, current) {
            (_, Standing::Rejected) => Standing::Rejected,
            (Verdict::Match, _) => Standing::Verified,
            (Verdict::NotInGoodStanding(_), _) => Standing::PendingReview,
            (Verdict::NameDiffers | Verdict::NotListed, Standing::Verified) if decided_by_admin => {
                Standing::Verified
            }
            (Verdict::NameDiffers | Verdict::NotListed, _) => Standing::PendingReview,
        }
    }

    /// Why, in words for the review queue.
    pub fn describe(self) -> String {
        match self {
            Verdict::Match => "matches the roster".into(),
            Verdict::NotInGoodStanding(status) => format!("roster status is {status}"),
            Verdict::NameDiffers => "the roster lists this bar number under another name".into(),
            Verdict::NotListed => "bar number not on the roster".into(),
        }
    }
}

/// The roster entry for this bar number, if the jurisdiction lists it.
pub async fn entry(
    executor: impl sqlx::Executor<'_, Database = Any>,
    jurisdiction: &str,
    bar_number: &str,
) -> Result<Option<RosterEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT jurisdiction, bar_number, full_name, status FROM roster \
         WHERE jurisdiction = $1 AND bar_number = $2",
    )
    .bind(jurisdiction)
    .bind(bar_number)
    .fetch_optional(executor)
    .await
}

/// The entry a reviewer should compare an attorney with: the one under
/// their bar number, else one with the same name in their jurisdiction.
pub async fn closest_entry(
    pool: &AnyPool,
    jurisdiction: &str,
    bar_number: &str,
    full_name: &str,
) -> Result<Option<RosterEntry>, sqlx::Error> {
    if let Some(found) = entry(pool, jurisdiction, bar_number).await? {
        return Ok(Some(found));
    }
    sqlx::query_as(
        "SELECT jurisdiction, bar_number, full_name, status FROM roster \
         WHERE jurisdiction = $1 AND name_key = $2 ORDER BY bar_number LIMIT 1",
    )
    .bind(jurisdiction)
    .bind(NameKey::of(full_name).index_key())
    .fetch_optional(pool)
    .await
}

/// Whose standing to re-decide.
#[derive(Debug, Clone, Copy)]
pub enum Attorneys<'a> {
    /// Everyone who claims membership of this jurisdiction's bar.
    Of(&'a str),
    /// One attorney.
    Only(i64),
}

/// Sign-up: creates the account and matches it against the roster in one
/// registry write (the match may verify the attorney, and a verified
/// attorney's numbers count at once). The confirmation email is queued in
/// that write and sent after the commit, never under the lock.
pub async fn sign_up(
    database: &Database,
    mailer: &Mailer,
    base_url: &str,
    form: SignUp,
) -> Result<(), AccountError> {
    let account = form.hashed().await?;
    let mut write = registry::begin_write(database.pool()).await?;
    let created = accounts::create(&mut write.transaction, base_url, &account).await?;
    let mut queued: Vec<_> = created.email.into_iter().collect();
    if let Some(user_id) = created.user_id {
        // Someone else holds this bar number: they are told at once.
        let holders: Vec<(String, String)> = sqlx::query_as(
            "SELECT email, full_name FROM users WHERE jurisdiction = $1 AND bar_number = $2 \
             AND id <> $3 AND role = 'attorney' AND standing = 'verified'",
        )
        .bind(account.jurisdiction.code())
        .bind(account.bar_number.as_str())
        .bind(user_id)
        .fetch_all(&mut *write.transaction)
        .await?;
        for (email, name) in holders {
            let Ok(to) = EmailAddress::parse(&email) else {
                continue;
            };
            let bar = format!("{} {}", account.jurisdiction.code(), account.bar_number);
            let message = messages::second_claim_notice(&name, &bar, base_url);
            queued.push(mail_queue::queue(&mut *write.transaction, &to, message).await?);
        }
        // The roster's address for this bar number is asked, unless it is
        // the one signing up (confirming it is the proof then).
        match claims::queue_link(&mut write.transaction, base_url, user_id).await {
            Ok(link) => queued.extend(link),
            Err(claims::ClaimError::NoEmailOfRecord) => {}
            Err(claims::ClaimError::Database(error)) => return Err(error.into()),
            Err(claims::ClaimError::InvalidLink) => {}
        }
        rematch(&mut write, Attorneys::Only(user_id)).await?;
    }
    write.commit().await?;
    for email in queued {
        mail_queue::send_queued(mailer, database, email).await;
    }
    Ok(())
}

/// The sign-up confirmation link: the address is confirmed and, in the
/// same registry write, the attorney's claim re-decided (an address equal
/// to the roster's email of record proves it).
pub async fn confirm_email(database: &Database, token: &str) -> Result<(), AccountError> {
    let mut write = registry::begin_write(database.pool()).await?;
    let user_id = accounts::confirm_email(&mut write.transaction, token).await?;
    rematch(&mut write, Attorneys::Only(user_id)).await?;
    write.commit().await?;
    Ok(())
}

/// What backs an attorney's claim to their bar number beyond the name and
/// bar number a bar directory publishes (issue 12, DESIGN.md "Trust
/// rules"): control of the roster's email of record for that bar number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck {
    /// Proved: signed up with the roster's address and confirmed it, or
    /// followed the claim link sent to it.
    Proven,
    /// The roster has an email of record; no proof yet.
    Unproven,
    /// The roster lists no email for the member (or no such member): only
    /// a reviewer can verify.
    NoEmailOfRecord,
    /// The email of record answered "this was not me".
    Disputed,
    /// Another account already holds this bar number, verified.
    HeldByAnother,
}

impl ClaimCheck {
    /// The check for one account: its claim state, its email key (lower
    /// case) and whether it is confirmed, the roster's email for its bar
    /// number, and whether another account holds that bar number.
    pub fn of(
        state: ClaimState,
        email_key: &str,
        email_confirmed: bool,
        roster_email: Option<&str>,
        held_by_another: bool,
    ) -> Self {
        let roster_email = roster_email.map(str::trim).filter(|e| !e.is_empty());
        if state == ClaimState::Disputed {
            ClaimCheck::Disputed
        } else if held_by_another {
            ClaimCheck::HeldByAnother
        } else if state == ClaimState::Proven {
            ClaimCheck::Proven
        } else {
            match roster_email {
                None => ClaimCheck::NoEmailOfRecord,
                Some(address) if email_confirmed && address.to_lowercase() == email_key => {
                    ClaimCheck::Proven
                }
                Some(_) => ClaimCheck::Unproven,
            }
        }
    }

    /// The standing once the claim is weighed: a roster match verifies a
    /// proven claim only; anything else waits for review. A reviewer's
    /// verification stands until the roster says something definite
    /// against it (which `Verdict::next_standing` already applied).
    pub fn limit(self, by_roster: Standing, current: Standing, decided_by_admin: bool) -> Standing {
        if by_roster != Standing::Verified || self == ClaimCheck::Proven {
            by_roster
        } else if current == Standing::Verified && decided_by_admin {
            Standing::Verified
        } else {
            Standing::PendingReview
        }
    }

    /// Why, in words for the attorney and the review queue; `None` when
    /// the claim is proven.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            ClaimCheck::Proven => None,
            ClaimCheck::Unproven => Some("waiting for proof through the bar's email of record"),
            ClaimCheck::NoEmailOfRecord => Some("the roster has no email of record to prove it"),
            ClaimCheck::Disputed => Some("the bar's email of record said this was not them"),
            ClaimCheck::HeldByAnother => Some("another account already holds this bar number"),
        }
    }
}

/// Re-decides the standing of attorneys against their roster and their
/// claim ([`ClaimCheck`]), inside the caller's registry write: an attorney
/// who stops being verified has their numbers suspended, one who becomes
/// verified has them back. Returns how many attorneys changed standing.
pub async fn rematch(
    write: &mut RegistryWrite<'_>,
    attorneys: Attorneys<'_>,
) -> Result<u64, sqlx::Error> {
    let transaction = &mut write.transaction;
    type Row = (
        i64,
        String,
        Standing,
        Option<StandingSource>,
        Option<String>,
        Option<String>,
        String,
        Option<i64>,
        ClaimState,
        Option<String>,
        String,
        i64,
        Option<String>,
    );
    // Ordered by id: of two accounts claiming one bar number, the older
    // claim is weighed first, and holds it if it is proven.
    let select = "SELECT u.id, u.full_name, u.standing, u.standing_source, r.full_name, r.status, \
           u.email_key, u.email_verified_at, u.claim_state, r.email, u.bar_number, \
           (SELECT COUNT(*) FROM users o WHERE o.jurisdiction = u.jurisdiction \
              AND o.bar_number = u.bar_number AND o.id <> u.id AND o.role = 'attorney' \
              AND o.standing = 'verified'), u.standing_reason \
         FROM users u LEFT JOIN roster r \
           ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.role = 'attorney'";
    let rows: Vec<Row> = match attorneys {
        Attorneys::Of(jurisdiction) => {
            sqlx::query_as(&format!("{select} AND u.jurisdiction = $1 ORDER BY u.id"))
                .bind(jurisdiction)
                .fetch_all(&mut **transaction)
                .await?
        }
        Attorneys::Only(user_id) => {
            sqlx::query_as(&format!("{select} AND u.id = $1"))
                .bind(user_id)
                .fetch_all(&mut **transaction)
                .await?
        }
    };

    let mut changed = 0;
    // Bar numbers this pass verified (or found verified): held from then on.
    let mut held: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        if row.2 == Standing::Verified {
            held.entry(row.10.clone()).or_insert(row.0);
        }
    }
    for (
        user_id,
        claimed_name,
        standing,
        source,
        roster_name,
        roster_status,
        email_key,
        email_verified_at,
        claim_state,
        roster_email,
        bar_number,
        verified_others,
        stored_reason,
    ) in rows
    {
        let entry = roster_name
            .zip(roster_status)
            .map(|(full_name, status)| RosterEntry {
                jurisdiction: String::new(),
                bar_number: String::new(),
                full_name,
                status,
            });
        let verdict = Verdict::of(entry.as_ref(), &claimed_name);
        let held_by_another = verified_others > 0
            || held
                .get(&bar_number)
                .is_some_and(|holder| *holder != user_id);
        let claim = ClaimCheck::of(
            claim_state,
            &email_key,
            email_verified_at.is_some(),
            roster_email.as_deref(),
            held_by_another,
        );
        if claim == ClaimCheck::Proven && claim_state != ClaimState::Proven {
            // Proof is an event: once the confirmed address matched the
            // roster's, a later roster without (or with another) email
            // of record does not take it back.
            sqlx::query("UPDATE users SET claim_state = $1, claim_changed_at = $2 WHERE id = $3")
                .bind(ClaimState::Proven)
                .bind(now_millis())
                .bind(user_id)
                .execute(&mut *write.transaction)
                .await?;
        }
        let current = standing;
        let admin = source == Some(StandingSource::Admin);
        let next = claim.limit(verdict.next_standing(current, admin), current, admin);
        if next == Standing::Verified {
            held.entry(bar_number).or_insert(user_id);
        }
        let reason = match (next, claim.describe()) {
            (Standing::PendingReview, Some(why)) if verdict == Verdict::Match => {
                format!("{}; {why}", verdict.describe())
            }
            _ => verdict.describe(),
        };
        if next != current {
            set_standing(write, user_id, next, StandingSource::Roster, &reason).await?;
            changed += 1;
        } else if next == Standing::PendingReview
            && !admin
            && stored_reason.as_deref() != Some(reason.as_str())
        {
            // Still waiting, for a reason that changed (the roster now
            // lists them, a claim was disputed): the attorney and the
            // reviewers read the current one.
            sqlx::query("UPDATE users SET standing_reason = $1 WHERE id = $2")
                .bind(&reason)
                .bind(user_id)
                .execute(&mut *write.transaction)
                .await?;
        }
    }
    Ok(changed)
}

/// Records a new standing and who decided it; the attorney's numbers
/// follow.
pub async fn set_standing(
    write: &mut RegistryWrite<'_>,
    user_id: i64,
    standing: Standing,
    source: StandingSource,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET standing = $1, standing_source = $2, standing_reason = $3, \
         standing_changed_at = $4 WHERE id = $5",
    )
    .bind(standing)
    .bind(source)
    .bind(reason)
    .bind(now_millis())
    .bind(user_id)
    .execute(&mut *write.transaction)
    .await?;
    numbers::follow_standing(write, user_id).await?;
    Ok(())
}

/// What a seed did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub members: u64,
    pub jurisdictions: Vec<&'static str>,
    pub standings_changed: u64,
    /// Cells left empty or kept as given, with why.
    pub warnings: Vec<reading::Problem>,
}

/// Loads roster rows from CSV with the uploads' reader (`reading`: the
/// same encodings, shapes, column names, dates and phones), replacing
/// entries with the same bar number, then re-runs the match. All rows or
/// none: a row with a blocking problem (no bar number, an unknown status,
/// an unreadable name, a bar number twice) stops the seed before anything
/// is stored; unreadable optional cells are left empty and reported. A
/// row without a jurisdiction column takes `default_jurisdiction`, whose
/// saved mappings are used. The bulk upload with preview is the roster
/// issue's; this is for bootstrapping and development.
pub async fn seed_csv(
    pool: &AnyPool,
    mut input: impl Read + Seek,
    default_jurisdiction: Option<Jurisdiction>,
) -> Result<SeedReport, RosterError> {
    let mappings = match default_jurisdiction {
        Some(jurisdiction) => upload::load_mappings(pool, jurisdiction).await?,
        None => reading::Mappings::default(),
    };
    let encoding = reading::sniff(&mut input, upload::MAX_BYTES)?;
    let mut reader = reading::Reader::open(input, encoding, &mappings)?;
    if !reader.layout().has_jurisdiction() && default_jurisdiction.is_none() {
        return Err(RosterError::MissingColumn("jurisdiction"));
    }

    let now = now_millis();
    let mut seen = BTreeSet::new();
    let mut jurisdictions = BTreeSet::new();
    let mut members = 0;
    let mut warnings = Vec::new();
    let mut write = registry::begin_write(pool).await?;
    while let Some(row) = reader.next_row(&mappings)? {
        let (member, problems) = match row {
            reading::Row::Member { member, problems } => (member, problems),
            reading::Row::Unreadable(problem) => return Err(problem.into()),
        };
        if let Some(blocking) = problems
            .iter()
            .find(|p| p.severity == reading::Severity::Error)
        {
            return Err(blocking.clone().into());
        }
        warnings.extend(problems);
        let line = member.line;
        let (Some(full_name), Some(status)) = (member.full_name, member.status) else {
            return Err(RosterError::InvalidRow {
                line,
                column: "status".into(),
                message: "no status or name".into(),
            });
        };
        let jurisdiction = match member.jurisdiction.or(default_jurisdiction) {
            Some(jurisdiction) => jurisdiction,
            None => return Err(RosterError::MissingColumn("jurisdiction")),
        };
        if !seen.insert((jurisdiction.code(), member.bar_number.as_str().to_owned())) {
            return Err(RosterError::DuplicateMember {
                line,
                jurisdiction: jurisdiction.code(),
                bar_number: member.bar_number.to_string(),
            });
        }
        let (office_phone, office_phone_ext) = member
            .office_phone
            .as_ref()
            .map(reading::OfficePhone::columns)
            .map_or((None, None), |(phone, ext)| (Some(phone), ext));

        sqlx::query(
            "INSERT INTO roster (jurisdiction, bar_number, full_name, name_key, status, email, \
             admitted_on, office_phone, office_phone_ext, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (jurisdiction, bar_number) DO UPDATE SET full_name = excluded.full_name, \
             name_key = excluded.name_key, status = excluded.status, email = excluded.email, \
             admitted_on = excluded.admitted_on, office_phone = excluded.office_phone, \
             office_phone_ext = excluded.office_phone_ext, updated_at = excluded.updated_at",
        )
        .bind(jurisdiction.code())
        .bind(member.bar_number.as_str())
        .bind(full_name.as_str())
        .bind(NameKey::of(full_name.as_str()).index_key())
        .bind(status.as_str())
        .bind(member.email.as_ref().map(|email| email.as_str()))
        .bind(member.admitted_on.as_ref().map(|date| date.as_str()))
        .bind(office_phone)
        .bind(office_phone_ext)
        .bind(now)
        .execute(&mut *write.transaction)
        .await?;
        jurisdictions.insert(jurisdiction.code());
        members += 1;
    }

    let mut standings_changed = 0;
    for jurisdiction in &jurisdictions {
        standings_changed += rematch(&mut write, Attorneys::Of(jurisdiction)).await?;
    }
    write.commit().await?;
    Ok(SeedReport {
        members,
        jurisdictions: jurisdictions.into_iter().collect(),
        standings_changed,
        warnings,
    })
}

impl From<reading::Problem> for RosterError {
    fn from(problem: reading::Problem) -> Self {
        RosterError::InvalidRow {
            line: problem.line,
            column: problem.column,
            message: format!("{} (value {:?})", problem.message, problem.cell),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, status: &str) -> RosterEntry {
        RosterEntry {
            jurisdiction: "CA".into(),
            bar_number: "123".into(),
            full_name: name.into(),
            status: status.into(),
        }
    }

    #[test]
    fn verdicts() {
        let active = entry("DOE, JANE Q.", "active");
        assert_eq!(Verdict::of(Some(&active), "Jane Doe"), Verdict::Match);
        assert_eq!(Verdict::of(Some(&active), "John Doe"), Verdict::NameDiffers);
        assert_eq!(Verdict::of(None, "Jane Doe"), Verdict::NotListed);
        assert_eq!(
            Verdict::of(Some(&entry("Jane Doe", "suspended")), "Jane Doe"),
            Verdict::NotInGoodStanding(RosterStatus::Suspended)
        );
    }

    #[test]
    fn admin_decisions_stand_until_the_roster_is_definite() {
        use Standing::*;
        let unlisted = Verdict::NotListed;
        assert_eq!(unlisted.next_standing(Verified, true), Verified);
        assert_eq!(unlisted.next_standing(Verified, false), PendingReview);
        let suspended = Verdict::NotInGoodStanding(RosterStatus::Suspended);
        assert_eq!(suspended.next_standing(Verified, true), PendingReview);
        assert_eq!(Verdict::Match.next_standing(PendingReview, false), Verified);
        assert_eq!(Verdict::Match.next_standing(Rejected, true), Rejected);
    }
}
