//! What one key, and the instance, may have the API do at once (issue 24,
//! finding 7): a key streaming snapshots or computing digests without end
//! would hold the pool's connections, the disk and the CPU of every
//! instance it reaches.
//!
//! Each kind of heavy work ([`Work`]) passes a [`Gate`]: a count per key
//! and one for the instance, kept in memory (the caps hold per instance,
//! like the request rate). A key at its own cap is refused
//! ([`Busy::Key`], answered 429); an instance at its cap refuses everyone
//! ([`Busy::Server`], 503); both with `Retry-After`. A [`Permit`] holds
//! the place until it is dropped: with the snapshot's producer, when the
//! stream ends however it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::ssr::registry::digest::DigestCache;

use crate::configuration::ProviderCaps;

/// Digest results kept per instance: each is about 25 KB (256 buckets).
const DIGEST_CACHE_ENTRIES: usize = 64;

/// A kind of heavy work with its own caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// `GET /registry/snapshot`, from its request to its last byte.
    Snapshots,
    /// `GET /registry/digests` and `POST /facilities/{code}/reconciliations`:
    /// a read of the whole registry at a seq, hashed.
    Digests,
}

impl Work {
    /// What the refusal calls it, in the plural.
    fn noun(self) -> &'static str {
        match self {
            Work::Snapshots => "snapshots",
            Work::Digests => "digest computations (digests and reconciliations)",
        }
    }

    /// The wait a refusal suggests, in seconds: about how long one takes.
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Work::Snapshots => 30,
            Work::Digests => 5,
        }
    }
}

/// Why work was refused a place; the message says which cap and when to
/// retry, in words a provider's engineer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// This key has `limit` of this work in progress already (429).
    #[error(
        "this key already has {limit} {} in progress, the most one key may have at once; \
         finish or close one, or retry after {} s",
        work.noun(),
        work.retry_after_secs()
    )]
    Key { work: Work, limit: usize },
    /// The instance runs `limit` of this work for all keys already (503).
    #[error(
        "the server is already running {limit} {} for all keys, the most it runs at once; \
         retry after {} s",
        work.noun(),
        work.retry_after_secs()
    )]
    Server { work: Work, limit: usize },
}

impl Busy {
    /// Seconds for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Busy::Key { work, .. } | Busy::Server { work, .. } => work.retry_after_secs(),
        }
    }
}

/// Counts of work in progress for one kind of work.
#[derive(Default)]
struct Counts {
    total: usize,
    /// Only keys with work in progress.
    by_key: HashMap<i64, usize>,
}

struct GateInner {
    work: Work,
    per_key: usize,
    total: usize,
    counts: Mutex<Counts>,
}

/// The caps of one kind of work: at most `per_key` per key and `total`
/// in all, on this instance.
#[derive(Clone)]
pub struct Gate(Arc<GateInner>);

impl Gate {
    pub fn new(work: Work, per_key: usize, total: usize) -> Self {
        Self(Arc::new(GateInner {
            work,
            per_key,
            total,
            counts: Mutex::new(Counts::default()),
        }))
    }

    /// A place for key `key_id`, held until the permit is dropped, or why
    /// there is none (the key's own cap is checked first: a key at its cap
    /// hears so even when the instance is full too).
    pub fn enter(&self, key_id: i64) -> Result<Permit, Busy> {
        let inner = &self.0;
        let mut counts = inner.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = counts.by_key.get(&key_id).copied().unwrap_or(0);
        if mine >= inner.per_key {
            return Err(Busy::Key {
                work: inner.work,
                limit: inner.per_key,
            });
        }
        if counts.total >= inner.total {
            return Err(Busy::Server {
                work: inner.work,
                limit: inner.total,
            });
        }
        counts.total += 1;
        *counts.by_key.entry(key_id).or_default() += 1;
        Ok(Permit {
            gate: self.0.clone(),
            key_id,
        })
    }

    /// Work in progress: (this key's, the instance's).
    #[cfg(test)]
    fn in_progress(&self, key_id: i64) -> (usize, usize) {
        let counts = self.0.counts.lock().unwrap_or_else(PoisonError::into_inner);
        (
            counts.by_key.get(&key_id).copied().unwrap_or(0),
            counts.total,
        )
    }
}

/// A place taken at a [`Gate`]; dropping it gives the place back.
pub struct Permit {
    gate: Arc<GateInner>,
    key_id: i64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .gate
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.by_key.get_mut(&self.key_id) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.by_key.remove(&self.key_id);
            }
        }
    }
}

/// The API's caps, one per instance (an `Extension` on `/api/v1`): the
/// gates, the snapshot's deadline and spool directory, the facilities a
/// provider may have, and the digests already computed.
#[derive(Clone)]
pub struct ApiCaps {
    pub(super) snapshots: Gate,
    pub(super) digests: Gate,
    /// From a snapshot's request to its last byte.
    pub(super) snapshot_deadline: Duration,
    pub(super) spool_dir: PathBuf,
    pub(super) facilities_per_provider: u32,
    pub(super) digest_cache: DigestCache,
}

impl ApiCaps {
    /// The caps `settings` give. Creates the spool directory when missing
    /// and deletes spool files older than the snapshot deadline there
    /// (left by a process that died: none of them can still stream).
    /// Errors: the spool directory cannot be created.
    pub fn new(settings: &ProviderCaps) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.snapshot_spool_dir)?;
        super::registry::sweep_spool(&settings.snapshot_spool_dir, settings.snapshot_deadline);
        Ok(Self {
            snapshots: Gate::new(
                Work::Snapshots,
                settings.snapshots_per_key,
                settings.snapshots_total,
            ),
            digests: Gate::new(
                Work::Digests,
                settings.digests_per_key,
                settings.digests_total,
            ),
            snapshot_deadline: settings.snapshot_deadline,
            spool_dir: settings.snapshot_spool_dir.clone(),
            facilities_per_provider: settings.facilities_per_provider,
            digest_cache: DigestCache::new(DIGEST_CACHE_ENTRIES),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_at_its_cap_is_refused_before_the_instance() {
        let gate = Gate::new(Work::Snapshots, 2, 3);
        let first = gate.enter(1).expect("first");
        let _second = gate.enter(1).expect("second");
        assert_eq!(
            gate.enter(1).err(),
            Some(Busy::Key {
                work: Work::Snapshots,
                limit: 2
            })
        );
        let _other = gate.enter(2).expect("another key");
        assert_eq!(
            gate.enter(3).err(),
            Some(Busy::Server {
                work: Work::Snapshots,
                limit: 3
            })
        );
        // Key 1 is at its own cap and the instance is full: its own cap
        // is what it hears.
        assert!(matches!(gate.enter(1), Err(Busy::Key { .. })));
        drop(first);
        assert_eq!(gate.in_progress(1), (1, 2));
        let _again = gate.enter(3).expect("a place freed");
    }

    #[test]
    fn places_come_back_and_idle_keys_are_forgotten() {
        let gate = Gate::new(Work::Digests, 1, 10);
        for _ in 0..3 {
            let permit = gate.enter(7).expect("a place");
            assert!(gate.enter(7).is_err());
            drop(permit);
        }
        assert_eq!(gate.in_progress(7), (0, 0));
        assert!(gate.0.counts.lock().expect("lock").by_key.is_empty());
    }

    #[test]
    fn refusals_say_which_cap_and_when_to_retry() {
        let key = Busy::Key {
            work: Work::Snapshots,
            limit: 2,
        };
        assert!(key.to_string().contains("this key already has 2 snapshots"));
        assert!(key.to_string().contains("retry after 30 s"));
        let server = Busy::Server {
            work: Work::Digests,
            limit: 4,
        };
        assert!(
            server
                .to_string()
                .contains("the server is already running 4 digest")
        );
        assert_eq!(server.retry_after_secs(), 5);
    }
}
