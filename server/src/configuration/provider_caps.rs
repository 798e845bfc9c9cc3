//! What one provider key, one provider and the whole instance may have the
//! provider API do (issue 24): concurrent snapshots
//! (`API_SNAPSHOTS_PER_KEY`, `API_SNAPSHOTS_TOTAL`), concurrent digest
//! computations, that is digests and reconciliations
//! (`API_DIGESTS_PER_KEY`, `API_DIGESTS_TOTAL`), how long one snapshot may
//! stream (`API_SNAPSHOT_DEADLINE_SECS`) and where it is spooled
//! (`SNAPSHOT_SPOOL_DIR`), and how many facilities a provider may have
//! (`API_FACILITIES_PER_PROVIDER`).

use std::path::PathBuf;
use std::time::Duration;

use super::env::{ConfigError, Env};

/// The caps on the provider API. Concurrency caps are per instance (in
/// memory); the facilities cap is in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCaps {
    /// Snapshots one key may have streaming at once
    /// (`API_SNAPSHOTS_PER_KEY`, 1 to 1000, default 2); one more is 429.
    pub snapshots_per_key: usize,
    /// Snapshots the instance streams at once for all keys
    /// (`API_SNAPSHOTS_TOTAL`, 1 to 10000, default 8); one more is 503.
    pub snapshots_total: usize,
    /// Digests and reconciliations one key may have computing at once
    /// (`API_DIGESTS_PER_KEY`, 1 to 1000, default 2); one more is 429.
    pub digests_per_key: usize,
    /// Digests and reconciliations the instance computes at once for all
    /// keys (`API_DIGESTS_TOTAL`, 1 to 10000, default 4); one more is 503.
    pub digests_total: usize,
    /// How long one snapshot may take from its request to its last byte
    /// (`API_SNAPSHOT_DEADLINE_SECS`, 1 to 86400, default 600); past it
    /// the body ends with an error and its spool file is deleted.
    pub snapshot_deadline: Duration,
    /// Where snapshots are spooled while they stream
    /// (`SNAPSHOT_SPOOL_DIR`, default the system's temporary directory);
    /// created at start when missing.
    pub snapshot_spool_dir: PathBuf,
    /// Facilities (not retired) one provider may have
    /// (`API_FACILITIES_PER_PROVIDER`, 1 to 1000000, default 5000); one
    /// more is 409.
    pub facilities_per_provider: u32,
}

/// Reads the caps. Errors: the first variable out of its range, naming it.
pub(super) fn read(env: &Env) -> Result<ProviderCaps, ConfigError> {
    let per_key = |name: &'static str, default: &str| {
        env.range(
            name,
            default,
            1..=1000,
            "expected a whole number from 1 to 1000",
        )
    };
    let total = |name: &'static str, default: &str| {
        env.range(
            name,
            default,
            1..=10_000,
            "expected a whole number from 1 to 10000",
        )
    };
    let deadline_secs: u64 = env.range(
        "API_SNAPSHOT_DEADLINE_SECS",
        "600",
        1..=86_400,
        "expected a whole number of seconds from 1 to 86400",
    )?;
    Ok(ProviderCaps {
        snapshots_per_key: per_key("API_SNAPSHOTS_PER_KEY", "2")?,
        snapshots_total: total("API_SNAPSHOTS_TOTAL", "8")?,
        digests_per_key: per_key("API_DIGESTS_PER_KEY", "2")?,
        digests_total: total("API_DIGESTS_TOTAL", "4")?,
        snapshot_deadline: Duration::from_secs(deadline_secs),
        snapshot_spool_dir: env
            .get("SNAPSHOT_SPOOL_DIR")
            .map_or_else(std::env::temp_dir, PathBuf::from),
        facilities_per_provider: env.range(
            "API_FACILITIES_PER_PROVIDER",
            "5000",
            1..=1_000_000,
            "expected a whole number from 1 to 1000000",
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_caps(variables: &[(&str, &str)]) -> Result<ProviderCaps, ConfigError> {
        let lookup = |name: &str| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        };
        read(&Env::new(&lookup))
    }

    #[test]
    fn the_defaults_suit_a_two_core_instance() {
        let caps = read_caps(&[]).expect("defaults");
        assert_eq!((caps.snapshots_per_key, caps.snapshots_total), (2, 8));
        assert_eq!((caps.digests_per_key, caps.digests_total), (2, 4));
        assert_eq!(caps.snapshot_deadline, Duration::from_secs(600));
        assert_eq!(caps.snapshot_spool_dir, std::env::temp_dir());
        assert_eq!(caps.facilities_per_provider, 5000);
    }

    #[test]
    fn each_cap_is_read_and_checked() {
        let caps = read_caps(&[
            ("API_SNAPSHOTS_PER_KEY", "3"),
            ("API_SNAPSHOTS_TOTAL", "30"),
            ("API_DIGESTS_PER_KEY", "1"),
            ("API_DIGESTS_TOTAL", "2"),
            ("API_SNAPSHOT_DEADLINE_SECS", "60"),
            ("SNAPSHOT_SPOOL_DIR", "/var/spool/registry"),
            ("API_FACILITIES_PER_PROVIDER", "10"),
        ])
        .expect("valid");
        assert_eq!((caps.snapshots_per_key, caps.snapshots_total), (3, 30));
        assert_eq!((caps.digests_per_key, caps.digests_total), (1, 2));
        assert_eq!(caps.snapshot_deadline, Duration::from_secs(60));
        assert_eq!(
            caps.snapshot_spool_dir,
            PathBuf::from("/var/spool/registry")
        );
        assert_eq!(caps.facilities_per_provider, 10);
        for (name, value) in [
            ("API_SNAPSHOTS_PER_KEY", "0"),
            ("API_SNAPSHOTS_TOTAL", "many"),
            ("API_DIGESTS_TOTAL", "10001"),
            ("API_SNAPSHOT_DEADLINE_SECS", "0"),
            ("API_FACILITIES_PER_PROVIDER", "-1"),
        ] {
            let error = read_caps(&[(name, value)]).expect_err(name);
            assert_eq!(error.variable, name);
            assert!(error.message.contains(value), "{error}");
        }
    }
}
