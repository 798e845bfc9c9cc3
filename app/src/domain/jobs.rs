//! The background job queue's closed set, shared by the queue
//! (`ssr::infra::jobs`) and the pages that report on a job.

use crate::domain::closed_set::closed_set;

closed_set!(
    /// Where a job stands (`jobs.state`).
    pub JobState {
        /// Waiting to run, or running under a lease.
        Queued = "queued",
        Done = "done",
        /// Gave up, or could never succeed.
        Failed = "failed",
    }
);
