//! The log of every read of the registry by a provider (which key, what,
//! when; look-ups of single numbers only counted per key and hour). Handlers hand reads to a channel; one task writes them in
//! batches, so logging costs a request no database round trip. Reads
//! still in the channel when the process is killed are lost (at most one
//! batch); a clean shutdown writes them.

use app::ssr::infra::clock::now_millis;
use app::ssr::providers::{self, Read};
use sqlx::AnyPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Reads written per statement batch at most.
const BATCH: usize = 2000;

#[derive(Clone)]
pub struct ReadLog {
    sender: mpsc::UnboundedSender<Read>,
}

impl ReadLog {
    /// Starts the writer; it ends when every `ReadLog` is dropped, after
    /// writing what it holds.
    pub fn start(pool: AnyPool) -> (Self, JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Read>();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = providers::record_reads(&pool, &batch).await {
                    tracing::error!(error = %error, reads = batch.len(), "cannot log provider reads");
                }
                batch.clear();
            }
        });
        (Self { sender }, writer)
    }

    /// Logs a read as written (snapshot, feed, digests, audits).
    pub fn record(&self, key_id: i64, what: String) {
        let _ = self.sender.send(Read {
            key_id,
            what: Some(what),
            at: now_millis(),
        });
    }

    /// Counts a look-up of one number for its key and hour; the number is
    /// not kept.
    pub fn record_lookup(&self, key_id: i64) {
        let _ = self.sender.send(Read {
            key_id,
            what: None,
            at: now_millis(),
        });
    }
}
