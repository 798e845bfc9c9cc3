//! Roster uploads: the brake on mass removals (`ROSTER_BRAKE_PERCENT`,
//! `ROSTER_BRAKE_ATTORNEYS`, `ROSTER_BRAKE_FLOOR`,
//! `ROSTER_BRAKE_FULL_PERCENT`), how long a
//! preview waits (`ROSTER_PREVIEW_TTL_HOURS`) and where its file is kept
//! (`ROSTER_FILES_DIR`).

use std::path::PathBuf;
use std::time::Duration;

use app::ssr::standing::roster::upload::BrakeRule;

use super::env::{ConfigError, Env};

pub(super) struct RosterSettings {
    pub(super) brake: BrakeRule,
    pub(super) preview_ttl: Duration,
    pub(super) files_dir: PathBuf,
}

pub(super) fn read(env: &Env) -> Result<RosterSettings, ConfigError> {
    let percent = |name: &'static str, default: &str| {
        env.range(
            name,
            default,
            0.0..=100.0,
            "expected a percentage from 0 to 100",
        )
    };
    let brake = BrakeRule {
        percent: percent("ROSTER_BRAKE_PERCENT", "2")?,
        attorneys: env.parse(
            "ROSTER_BRAKE_ATTORNEYS",
            "25",
            "expected a whole number of attorneys",
        )?,
        floor: env.parse(
            "ROSTER_BRAKE_FLOOR",
            "5",
            "expected a whole number of attorneys",
        )?,
        full_roster_percent: percent("ROSTER_BRAKE_FULL_PERCENT", "80")?,
    };
    let ttl_hours: u64 = env.range(
        "ROSTER_PREVIEW_TTL_HOURS",
        "24",
        1..,
        "expected a whole number of hours, at least 1",
    )?;
    Ok(RosterSettings {
        brake,
        preview_ttl: Duration::from_secs(ttl_hours * 3600),
        files_dir: env.text("ROSTER_FILES_DIR", "data/roster-files").into(),
    })
}
