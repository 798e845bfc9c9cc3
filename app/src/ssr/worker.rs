//! The background worker: registers each capability's job kinds and runs
//! due jobs from the queue (`infra::jobs`). Every instance runs one; the
//! queue's leases keep them from running a job twice at once.

use crate::ssr::accounts::LinkEmailJob;
use crate::ssr::infra::jobs::{JobContext, Runner};
use crate::ssr::infra::mail_queue::EmailJob;
use crate::ssr::numbers::SendCodeJob;
use crate::ssr::providers::webhooks::{self, WebhookJob};
use crate::ssr::standing::claims;
use crate::ssr::state::AppState;

/// Every job kind the portal queues.
pub fn runner() -> Runner {
    Runner::new()
        .register::<EmailJob>()
        .register::<LinkEmailJob>()
        .register::<SendCodeJob>()
        .register::<WebhookJob>()
}

/// What jobs run with, from the application state.
pub fn context(state: &AppState) -> JobContext {
    JobContext {
        database: state.database.clone(),
        mailer: state.mailer.clone(),
        code_sender: state.code_sender.clone(),
        code_key: state.code_key.clone(),
        keyring: state.keyring.clone(),
        base_url: state.base_url.clone(),
        http: state.outbound_client.clone(),
        outbound: state.outbound,
    }
}

/// Runs one round: queues webhooks for endpoints behind the registry,
/// tells the bars' emails of record of numbers newly privileged under
/// their bar numbers (a failure there is logged, never in the way of the
/// jobs), then claims due jobs and runs them one after another. Returns
/// how many jobs were claimed.
pub async fn run_due(state: &AppState, worker: &str) -> Result<usize, sqlx::Error> {
    webhooks::dispatch(state.database.pool()).await?;
    if let Err(error) =
        claims::notify_privileged(&state.database, &state.mailer, &state.base_url).await
    {
        tracing::error!(%error, "notices to the bars' emails of record not queued this round");
    }
    runner().run_due(&context(state), worker).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        assert_eq!(
            runner().kinds(),
            ["account_link_email", "email", "send_code", "webhook"]
        );
    }
}
