//! The re-match: reads the facts about attorneys from the database,
//! decides their standing with [`decide_all`](super::decision::decide_all)
//! and writes what changed, inside the caller's registry write, so their
//! numbers follow in the same commit.

use sqlx::FromRow;

use crate::domain::{ClaimState, Standing, StandingSource};
use crate::ssr::infra::clock::now_millis;
use crate::ssr::numbers;
use crate::ssr::registry::RegistryWrite;

use super::decision::{StandingFacts, decide_all};
use super::{Attorneys, RosterEntry};

/// One attorney's facts as the database holds them now.
#[derive(FromRow)]
struct FactsRow {
    id: i64,
    full_name: String,
    standing: Standing,
    standing_source: Option<StandingSource>,
    roster_name: Option<String>,
    roster_status: Option<String>,
    email_key: String,
    email_proven_at: Option<i64>,
    claim_state: ClaimState,
    roster_email: Option<String>,
    bar_number: String,
    verified_others: i64,
    standing_reason: Option<String>,
}

impl From<FactsRow> for StandingFacts {
    fn from(row: FactsRow) -> Self {
        StandingFacts {
            user_id: row.id,
            entry: row
                .roster_name
                .zip(row.roster_status)
                .map(|(full_name, status)| RosterEntry {
                    jurisdiction: String::new(),
                    bar_number: row.bar_number.clone(),
                    full_name,
                    status,
                }),
            bar_number: row.bar_number,
            claimed_name: row.full_name,
            roster_email: row.roster_email,
            current: row.standing,
            decided_by_admin: row.standing_source == Some(StandingSource::Admin),
            claim_state: row.claim_state,
            email_key: row.email_key,
            address_proven: row.email_proven_at.is_some(),
            held_by_another_now: row.verified_others > 0,
            stored_reason: row.standing_reason,
        }
    }
}

/// Re-decides the standing of attorneys against their roster and their
/// claim ([`ClaimCheck`](super::ClaimCheck)), inside the caller's registry
/// write: an attorney who stops being verified has their numbers
/// suspended, one who becomes verified has them back. Returns how many
/// attorneys changed standing.
pub async fn rematch(
    write: &mut RegistryWrite<'_>,
    attorneys: Attorneys<'_>,
) -> Result<u64, sqlx::Error> {
    let select = "SELECT u.id, u.full_name, u.standing, u.standing_source, \
           r.full_name AS roster_name, r.status AS roster_status, \
           u.email_key, u.email_proven_at, u.claim_state, r.email AS roster_email, \
           u.bar_number, \
           (SELECT COUNT(*) FROM users o WHERE o.jurisdiction = u.jurisdiction \
              AND o.bar_number = u.bar_number AND o.id <> u.id AND o.role = 'attorney' \
              AND o.standing = 'verified') AS verified_others, u.standing_reason \
         FROM users u LEFT JOIN roster r \
           ON r.jurisdiction = u.jurisdiction AND r.bar_number = u.bar_number \
         WHERE u.role = 'attorney'";
    let rows: Vec<FactsRow> = match attorneys {
        Attorneys::Of(jurisdiction) => {
            sqlx::query_as(&format!("{select} AND u.jurisdiction = $1"))
                .bind(jurisdiction)
                .fetch_all(&mut *write.transaction)
                .await?
        }
        Attorneys::Only(user_id) => {
            sqlx::query_as(&format!("{select} AND u.id = $1"))
                .bind(user_id)
                .fetch_all(&mut *write.transaction)
                .await?
        }
    };
    let facts: Vec<StandingFacts> = rows.into_iter().map(StandingFacts::from).collect();

    let mut changed = 0;
    for decision in decide_all(&facts) {
        if decision.claim_proven_now {
            // Proof is an event: once the confirmed address matched the
            // roster's, a later roster without (or with another) email
            // of record does not take it back.
            sqlx::query("UPDATE users SET claim_state = $1, claim_changed_at = $2 WHERE id = $3")
                .bind(ClaimState::Proven)
                .bind(now_millis())
                .bind(decision.user_id)
                .execute(&mut *write.transaction)
                .await?;
        }
        if decision.to != decision.from {
            set_standing(
                write,
                decision.user_id,
                decision.to,
                StandingSource::Roster,
                &decision.reason,
            )
            .await?;
            changed += 1;
        } else if decision.reason_changed {
            // Still waiting, for a reason that changed (the roster now
            // lists them, a claim was disputed): the attorney and the
            // reviewers read the current one.
            sqlx::query("UPDATE users SET standing_reason = $1 WHERE id = $2")
                .bind(&decision.reason)
                .bind(decision.user_id)
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
