//! The reference consumer (`server consumer`): what a provider's system
//! does for one facility, written to be read. It mirrors the registry
//! into a local SQLite file, follows the change feed (long-poll),
//! acknowledges each applied seq for the facility, and reconciles every
//! so often; when a reconciliation does not match it compares the 256
//! bucket digests and fetches only the buckets that differ.
//!
//! Only the public API is used (`/api/v1`, a `registry:read` key), so a
//! provider's engineers can run it as it is or port it. The facility
//! must exist (`PUT /api/v1/facilities/{code}`).
//!
//! The state file holds `numbers (e164)` and `cursor (seq)`: the seq
//! the local list reflects. Every batch of changes is applied and the
//! cursor moved in one local transaction, so a consumer killed at any
//! point resumes where its list is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::ssr::registry::digest::{bucket_of, digest_of_sorted};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// How to reach the registry and where to keep the mirror.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// The portal's origin, e.g. `https://registry.example`.
    pub url: String,
    /// A provider key with `registry:read`.
    pub key: String,
    /// The facility's code at this provider.
    pub facility: String,
    /// The local SQLite file (created when missing).
    pub state: PathBuf,
    /// How often to reconcile while following the feed.
    pub reconcile_every: Duration,
    /// Catch up with the head, acknowledge, reconcile (repairing), and
    /// stop, instead of following the feed for ever.
    pub once: bool,
}

/// What one reconciliation found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub as_of_seq: i64,
    /// The first comparison's result.
    pub matched_first: bool,
    /// Buckets fetched again because their digests differed.
    pub repaired_buckets: Vec<u8>,
    /// Numbers added and removed by the repair.
    pub added: usize,
    pub removed: usize,
    /// The result after the repair (the same as `matched_first` when
    /// nothing needed repair).
    pub matched: bool,
}

struct Consumer {
    options: ConsumerOptions,
    http: reqwest::Client,
    local: SqlitePool,
}

/// Runs the consumer; with `once`, returns the last reconciliation.
pub async fn run(options: ConsumerOptions) -> anyhow::Result<Option<ReconcileReport>> {
    let local = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&options.state)
            .create_if_missing(true),
    )
    .await
    .with_context(|| format!("cannot open the state file {}", options.state.display()))?;
    sqlx::query("CREATE TABLE IF NOT EXISTS numbers (e164 TEXT PRIMARY KEY) WITHOUT ROWID")
        .execute(&local)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)")
        .execute(&local)
        .await?;
    let consumer = Consumer {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        options,
        local,
    };
    consumer.check_facility().await?;
    if consumer.cursor().await?.is_none() {
        consumer.load_snapshot().await?;
    }
    let mut last_reconciled = Instant::now();
    let report = loop {
        let caught_up = consumer.follow().await?;
        if consumer.options.once && caught_up {
            break consumer.reconcile().await?;
        }
        if !consumer.options.once && last_reconciled.elapsed() >= consumer.options.reconcile_every {
            let found = consumer.reconcile().await?;
            println!(
                "reconciled at seq {}: {}",
                found.as_of_seq,
                describe(&found)
            );
            last_reconciled = Instant::now();
        }
    };
    consumer.local.close().await;
    Ok(Some(report))
}

/// One line on what a reconciliation found.
pub fn describe(report: &ReconcileReport) -> String {
    match (report.matched_first, report.matched) {
        (true, _) => "matched".to_owned(),
        (false, true) => format!(
            "did not match; repaired {} buckets ({} numbers added, {} removed), then matched",
            report.repaired_buckets.len(),
            report.added,
            report.removed
        ),
        (false, false) => format!(
            "did not match, and still not after repairing {} buckets",
            report.repaired_buckets.len()
        ),
    }
}

impl Consumer {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.options.url.trim_end_matches('/'))
    }

    /// A GET or POST answered 200, as JSON; anything else is an error
    /// naming the problem document's detail.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.options.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|problem| problem["detail"].as_str().map(str::to_owned))
                .unwrap_or(text);
            bail!("{method} {path}: {status}: {detail}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON"))
    }

    async fn check_facility(&self) -> anyhow::Result<()> {
        let listed = self.call(reqwest::Method::GET, "/facilities", None).await?;
        let known = listed["facilities"].as_array().is_some_and(|all| {
            all.iter()
                .any(|f| f["code"] == self.options.facility.as_str())
        });
        if !known {
            bail!(
                "this provider has no facility {:?}: register it with PUT /api/v1/facilities/{{code}}",
                self.options.facility
            );
        }
        Ok(())
    }

    async fn cursor(&self) -> anyhow::Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT seq FROM cursor WHERE id = 1")
            .fetch_optional(&self.local)
            .await?)
    }

    /// Replaces the local list with the snapshot (NDJSON: a first line
    /// `{"as_of_seq": N}`, then one number a line).
    async fn load_snapshot(&self) -> anyhow::Result<()> {
        let response = self
            .http
            .get(self.url("/registry/snapshot"))
            .bearer_auth(&self.options.key)
            .header("accept", "application/x-ndjson")
            .send()
            .await?
            .error_for_status()?;
        let text = response.text().await?;
        let mut lines = text.lines();
        let first: Value = serde_json::from_str(lines.next().unwrap_or_default())
            .context("the snapshot's first line")?;
        let seq = first["as_of_seq"].as_i64().context("as_of_seq")?;
        let mut transaction = self.local.begin().await?;
        sqlx::query("DELETE FROM numbers")
            .execute(&mut *transaction)
            .await?;
        for line in lines.filter(|line| !line.is_empty()) {
            let number: Value = serde_json::from_str(line)?;
            sqlx::query("INSERT INTO numbers (e164) VALUES (?)")
                .bind(number["e164"].as_str().context("e164")?)
                .execute(&mut *transaction)
                .await?;
        }
        set_cursor(&mut transaction, seq).await?;
        transaction.commit().await?;
        self.acknowledge(seq).await
    }

    /// Applies one page of changes (waiting up to 30 s for one, unless
    /// `once`) and acknowledges it. Returns whether the list is at the
    /// head.
    async fn follow(&self) -> anyhow::Result<bool> {
        let after = self.cursor().await?.unwrap_or(0);
        let wait = if self.options.once { 0 } else { 30 };
        let page = self
            .call(
                reqwest::Method::GET,
                &format!("/registry/changes?after={after}&limit=1000&wait={wait}"),
                None,
            )
            .await?;
        let changes = page["changes"].as_array().context("changes")?;
        if !changes.is_empty() {
            let mut transaction = self.local.begin().await?;
            for change in changes {
                let e164 = change["e164"].as_str().context("e164")?;
                let sql = if change["op"] == "add" {
                    "INSERT OR IGNORE INTO numbers (e164) VALUES (?)"
                } else {
                    "DELETE FROM numbers WHERE e164 = ?"
                };
                sqlx::query(sql)
                    .bind(e164)
                    .execute(&mut *transaction)
                    .await?;
            }
            let next = page["next_after"].as_i64().context("next_after")?;
            set_cursor(&mut transaction, next).await?;
            transaction.commit().await?;
            self.acknowledge(next).await?;
        }
        Ok(!page["has_more"].as_bool().unwrap_or(false) && changes.is_empty())
    }

    async fn acknowledge(&self, seq: i64) -> anyhow::Result<()> {
        let path = format!("/facilities/{}/acks", self.options.facility);
        self.call(
            reqwest::Method::POST,
            &path,
            Some(json!({"through_seq": seq})),
        )
        .await?;
        Ok(())
    }

    async fn local_numbers(&self) -> anyhow::Result<BTreeSet<String>> {
        let numbers: Vec<String> = sqlx::query_scalar("SELECT e164 FROM numbers")
            .fetch_all(&self.local)
            .await?;
        Ok(numbers.into_iter().collect())
    }

    async fn send_reconciliation(
        &self,
        seq: i64,
        numbers: &BTreeSet<String>,
    ) -> anyhow::Result<bool> {
        let path = format!("/facilities/{}/reconciliations", self.options.facility);
        let answer = self
            .call(
                reqwest::Method::POST,
                &path,
                Some(json!({"as_of_seq": seq, "count": numbers.len(), "digest": digest_of(numbers.iter())})),
            )
            .await?;
        Ok(answer["match"].as_bool().unwrap_or(false))
    }

    /// Reconciles the list at its cursor; on a mismatch fetches the
    /// buckets whose digests differ, as of the same seq, replaces them and
    /// reconciles again.
    async fn reconcile(&self) -> anyhow::Result<ReconcileReport> {
        let seq = self.cursor().await?.unwrap_or(0);
        let numbers = self.local_numbers().await?;
        let matched_first = self.send_reconciliation(seq, &numbers).await?;
        let mut report = ReconcileReport {
            as_of_seq: seq,
            matched_first,
            repaired_buckets: Vec::new(),
            added: 0,
            removed: 0,
            matched: matched_first,
        };
        if matched_first {
            return Ok(report);
        }
        let digests = self
            .call(
                reqwest::Method::GET,
                &format!("/registry/digests?as_of_seq={seq}"),
                None,
            )
            .await?;
        let mut local: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
        for number in &numbers {
            local
                .entry(bucket_of(number))
                .or_default()
                .insert(number.clone());
        }
        let mut transaction = self.local.begin().await?;
        for bucket in digests["buckets"].as_array().context("buckets")? {
            let index = bucket["bucket"].as_u64().context("bucket")? as u8;
            let mine = local.remove(&index).unwrap_or_default();
            if bucket["digest"] == digest_of(mine.iter()).as_str() {
                continue;
            }
            let theirs = self
                .call(
                    reqwest::Method::GET,
                    &format!("/registry/snapshot?as_of_seq={seq}&bucket={index}"),
                    None,
                )
                .await?;
            let theirs: BTreeSet<String> = theirs["numbers"]
                .as_array()
                .context("numbers")?
                .iter()
                .filter_map(|n| n["e164"].as_str().map(str::to_owned))
                .collect();
            for gone in mine.difference(&theirs) {
                sqlx::query("DELETE FROM numbers WHERE e164 = ?")
                    .bind(gone)
                    .execute(&mut *transaction)
                    .await?;
                report.removed += 1;
            }
            for missing in theirs.difference(&mine) {
                sqlx::query("INSERT INTO numbers (e164) VALUES (?)")
                    .bind(missing)
                    .execute(&mut *transaction)
                    .await?;
                report.added += 1;
            }
            report.repaired_buckets.push(index);
        }
        transaction.commit().await?;
        report.matched = self
            .send_reconciliation(seq, &self.local_numbers().await?)
            .await?;
        Ok(report)
    }
}

async fn set_cursor(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq")
        .bind(seq)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// The contract's digest of a set (a `BTreeSet<String>` iterates in the
/// byte order the contract sorts by), as the registry computes it.
fn digest_of<'a>(numbers: impl Iterator<Item = &'a String>) -> String {
    digest_of_sorted(numbers.map(String::as_str)).digest
}
