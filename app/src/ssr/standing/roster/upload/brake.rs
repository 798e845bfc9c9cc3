//! The brake on mass removals: a commit that would take many attorneys out
//! of good standing, or a full roster far shorter than the one listed now,
//! needs the admin to repeat the count, because one bad import once took
//! most of a county's numbers out of the registry.

use std::collections::HashSet;

use sqlx::AnyPool;

use crate::domain::Jurisdiction;

use super::preview::{Consequences, Upload};
use super::{Mode, UploadError};

/// When a commit needs a confirmation that repeats a count: the brake on
/// mass removals (a county once lost 1,228 of 1,300 registered numbers in
/// one bad import). Settings `ROSTER_BRAKE_PERCENT`,
/// `ROSTER_BRAKE_ATTORNEYS`, `ROSTER_BRAKE_FLOOR`,
/// `ROSTER_BRAKE_FULL_PERCENT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrakeRule {
    /// More than this share (percent) of a jurisdiction's verified
    /// attorneys leaving good standing needs a confirmation.
    pub percent: f64,
    /// More than this many verified attorneys leaving good standing does.
    pub attorneys: u64,
    /// At most this many leaving never needs a confirmation by the
    /// percentage alone: in a bar of 40 verified attorneys, suspending one
    /// is 2.5%, and asking the admin to repeat "1" protects nothing (issue
    /// 24). The mass removals the brake exists for are far above it.
    pub floor: u64,
    /// A full roster listing fewer than this share (percent) of the
    /// members listed now does.
    pub full_roster_percent: f64,
}

impl Default for BrakeRule {
    fn default() -> Self {
        Self {
            percent: 2.0,
            attorneys: 25,
            floor: 5,
            full_roster_percent: 80.0,
        }
    }
}

/// What a commit would take away, weighed by a [`BrakeRule`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brake {
    pub rule: BrakeRule,
    pub jurisdiction: Jurisdiction,
    /// Verified attorneys of the jurisdiction now.
    pub verified: u64,
    /// Of them, those the commit takes out of good standing.
    pub attorneys_leaving: u64,
    /// Full rosters only: members listed now, listed in the file, and
    /// listed now but missing from the file.
    pub full: Option<(u64, u64, u64)>,
}

impl Brake {
    fn attorneys_pulled(&self) -> bool {
        self.attorneys_leaving > self.rule.attorneys
            || (self.attorneys_leaving > self.rule.floor
                && self.attorneys_leaving as f64 > self.verified as f64 * self.rule.percent / 100.0)
    }

    fn roster_pulled(&self) -> bool {
        self.full.is_some_and(|(listed, in_file, _)| {
            listed > 0 && (in_file as f64) < listed as f64 * self.rule.full_roster_percent / 100.0
        })
    }

    /// The count the admin must repeat, when the brake is on: the verified
    /// attorneys leaving good standing, else the members a full roster
    /// leaves out.
    pub fn count(&self) -> Option<u64> {
        if self.attorneys_pulled() {
            Some(self.attorneys_leaving)
        } else if self.roster_pulled() {
            self.full.map(|(_, _, missing)| missing)
        } else {
            None
        }
    }

    /// Why the brake is on, and what to type.
    pub fn describe(&self) -> String {
        let code = self.jurisdiction.code();
        if self.attorneys_pulled() {
            format!(
                "this commit would take {} of the {} verified attorneys of {code} out of good \
                 standing (more than {}% and more than {}, or more than {}), and their numbers \
                 out of the registry: confirm by repeating the count, {}",
                self.attorneys_leaving,
                self.verified,
                self.rule.percent,
                self.rule.floor,
                self.rule.attorneys,
                self.attorneys_leaving
            )
        } else if let (true, Some((listed, in_file, missing))) = (self.roster_pulled(), self.full) {
            format!(
                "this full roster lists {in_file} members where the roster of {code} lists {listed} \
                 now (fewer than {}%): {missing} would become not listed. Check that the file is \
                 complete, and confirm by repeating the count, {missing}",
                self.rule.full_roster_percent
            )
        } else {
            "no confirmation is needed".into()
        }
    }
}

/// Weighs an upload's [`Consequences`] by the rule, for the preview.
pub async fn brake(
    pool: &AnyPool,
    upload: &Upload,
    consequences: &Consequences,
    rule: BrakeRule,
) -> Result<Brake, UploadError> {
    let jurisdiction = upload.jurisdiction;
    let mut connection = pool.acquire().await?;
    let verified = verified_attorneys(&mut connection, jurisdiction)
        .await?
        .len() as u64;
    let full = match upload.mode {
        Mode::Full => Some(members_listed(&mut connection, upload.id, jurisdiction).await?),
        Mode::Partial => None,
    };
    Ok(Brake {
        rule,
        jurisdiction,
        verified,
        attorneys_leaving: consequences.attorneys_leaving,
        full,
    })
}

pub(super) async fn verified_attorneys(
    connection: &mut sqlx::AnyConnection,
    jurisdiction: Jurisdiction,
) -> Result<HashSet<i64>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'attorney' AND jurisdiction = $1 \
           AND standing = 'verified'",
    )
    .bind(jurisdiction.code())
    .fetch_all(&mut *connection)
    .await?;
    Ok(ids.into_iter().collect())
}

/// (members listed now, members in the file, listed now but not in it).
pub(super) async fn members_listed(
    connection: &mut sqlx::AnyConnection,
    upload_id: i64,
    jurisdiction: Jurisdiction,
) -> Result<(u64, u64, u64), sqlx::Error> {
    let (listed, missing): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM roster_staging s \
             WHERE s.upload_id = $1 AND s.bar_number = r.bar_number) THEN 1 ELSE 0 END), 0) \
         FROM roster r WHERE r.jurisdiction = $2 AND r.status <> 'not_listed'",
    )
    .bind(upload_id)
    .bind(jurisdiction.code())
    .fetch_one(&mut *connection)
    .await?;
    let in_file: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM roster_staging WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_one(&mut *connection)
            .await?;
    Ok((listed as u64, in_file as u64, missing as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brake(verified: u64, leaving: u64, full: Option<(u64, u64, u64)>) -> Brake {
        Brake {
            rule: BrakeRule::default(),
            jurisdiction: Jurisdiction::parse("CA").expect("CA"),
            verified,
            attorneys_leaving: leaving,
            full,
        }
    }

    #[test]
    fn the_brake_counts_attorneys_then_missing_members() {
        // 2% of 1,000 is 20: 20 may leave, 21 may not without the count.
        assert_eq!(brake(1000, 20, None).count(), None);
        assert_eq!(brake(1000, 21, None).count(), Some(21));
        // More than 25 always needs it, however large the bar.
        assert_eq!(brake(100_000, 25, None).count(), None);
        assert_eq!(brake(100_000, 26, None).count(), Some(26));
        // A full roster with under 80% of the members listed now.
        assert_eq!(brake(0, 0, Some((1300, 1040, 260))).count(), None);
        assert_eq!(brake(0, 0, Some((1300, 72, 1228))).count(), Some(1228));
        assert!(
            brake(0, 0, Some((1300, 72, 1228)))
                .describe()
                .contains("1228 would become not listed")
        );
        // The first roster of a bar has nothing to lose.
        assert_eq!(brake(0, 0, Some((0, 5, 0))).count(), None);
    }

    #[test]
    fn a_few_leaving_a_small_bar_need_no_count() {
        // One of 40 is 2.5%, over 2%, but under the floor of 5.
        assert_eq!(brake(40, 1, None).count(), None);
        assert_eq!(brake(40, 5, None).count(), None);
        assert_eq!(brake(40, 6, None).count(), Some(6));
        // The mass removals still stop: a county's 1,228 of 1,300, and a
        // full roster missing a fifth of its members.
        assert_eq!(brake(1300, 1228, None).count(), Some(1228));
        assert_eq!(brake(40, 0, Some((40, 31, 9))).count(), Some(9));
        // A floor of 0 is the percentage alone.
        let mut strict = brake(40, 1, None);
        strict.rule.floor = 0;
        assert_eq!(strict.count(), Some(1));
    }
}
