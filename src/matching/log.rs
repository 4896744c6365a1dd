//! The durable decision log with group commit.
//!
//! Every match request hands its decision to one writer thread and waits. The writer takes
//! everything queued (up to `match.log_batch`), chains each decision to the previous one
//! (SHA-256), builds a Merkle tree over the group's hashes and signs its root once (Ed25519),
//! appends the group as one frame to the write-ahead journal (`journal.rs`) and syncs it; only
//! then do the requests answer. Many concurrent requests so share one `fdatasync` and one
//! signature instead of queueing for one each.
//!
//! Behind the writer, the projector copies committed groups into the database
//! (`match_decisions` with the webhook deliveries they cause, one transaction per run of
//! groups), which is where supervisors query the log. Readers first wait until the database
//! holds every decision committed when they asked ([`DecisionLog::caught_up`]). At start the
//! journal is read back and whatever the database lacks is written to it before the node
//! serves, so a crash loses nothing that was answered; journal segments are deleted once the
//! database holds what they do.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};

use super::journal::{self, Group, Journal};
use super::receipt::{
    ReceiptFields, encode_proof, merkle_group, receipt_hash, signed_root_message,
};
use crate::store::matches::DecisionRow;
use crate::store::{Store, StoreError};

/// Decisions copied to the database per transaction at most.
const PROJECT_BATCH: usize = 2_000;
/// How often the projector flushes the database copy where commits are not flushed by
/// themselves (the journal keeps what is not yet flushed).
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long the projector waits after a group for more, so a transaction copies many.
const PROJECT_DELAY: Duration = Duration::from_millis(5);
/// How long a reader waits for the database copy before giving up.
const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

/// A decision waiting to be logged.
#[derive(Debug)]
pub struct PendingDecision {
    /// Match id.
    pub id: String,
    /// When decided.
    pub created_at: OffsetDateTime,
    /// Caller (actor id).
    pub caller: String,
    /// Project id.
    pub project_id: String,
    /// Project kind.
    pub project_kind: String,
    /// `as_of`.
    pub as_of: OffsetDateTime,
    /// Bidders per verdict: block, review, clear, invalid.
    pub counts: [i32; 4],
    /// SHA-256 of the request.
    pub request_hash: String,
    /// Epochs used (JSON).
    pub epochs: String,
    /// The decision (JSON).
    pub decision: String,
    /// Webhook deliveries it causes (committed with it).
    pub deliveries: Vec<crate::store::webhooks::NewDelivery>,
}

/// The receipt of a logged decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Position in the chain.
    pub seq: i64,
    /// Previous hash.
    pub prev_hash: String,
    /// This decision's hash.
    pub hash: String,
    /// Audit path from the hash to the signed group root (`receipt::encode_proof`).
    pub proof: String,
    /// The group's Merkle root (hex).
    pub root: String,
    /// Node signature of the group root (base64).
    pub signature: String,
    /// The node's public key (base64).
    pub signer_key: String,
}

/// Why a decision could not be logged (the request then fails: no answer without a log).
#[derive(Debug, thiserror::Error)]
#[error("decision log unavailable: {0}")]
pub struct LogError(pub String);

enum Job {
    Decide(
        Box<PendingDecision>,
        oneshot::Sender<Result<Receipt, LogError>>,
    ),
    Close,
}

/// Handle to the writer thread and the projector.
#[derive(Clone, Debug)]
pub struct DecisionLog {
    sender: mpsc::Sender<Job>,
    /// The last seq durable in the journal.
    committed: Arc<AtomicI64>,
    /// The last seq the database holds.
    projected: watch::Receiver<i64>,
    projector: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    stats: Arc<Counters>,
}

/// Running totals of the writer, for benchmarks and diagnostics.
#[derive(Debug, Default)]
struct Counters {
    groups: std::sync::atomic::AtomicU64,
    decisions: std::sync::atomic::AtomicU64,
    commit_nanos: std::sync::atomic::AtomicU64,
    /// Commits by duration: bucket `i` counts those of `2^i` to `2^(i+1)` µs.
    commit_buckets: [std::sync::atomic::AtomicU64; COMMIT_BUCKETS],
}

/// Buckets of the commit-time histogram (the last one takes everything from ~8.4 s).
const COMMIT_BUCKETS: usize = 24;

/// A snapshot of the writer's totals since start ([`DecisionLog::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Groups committed (one journal frame, one fdatasync, one signature each).
    pub groups: u64,
    /// Decisions committed.
    pub decisions: u64,
    /// Time spent committing (chaining, signing, writing, syncing), summed.
    pub commit: Duration,
    /// Commits by duration: `commit_buckets[i]` took `2^i` to `2^(i+1)` µs.
    pub commit_buckets: [u64; COMMIT_BUCKETS],
}

impl LogStats {
    /// What was committed between `earlier` and this snapshot.
    #[must_use]
    pub fn since(&self, earlier: &LogStats) -> LogStats {
        LogStats {
            groups: self.groups - earlier.groups,
            decisions: self.decisions - earlier.decisions,
            commit: self.commit.saturating_sub(earlier.commit),
            commit_buckets: std::array::from_fn(|i| {
                self.commit_buckets[i] - earlier.commit_buckets[i]
            }),
        }
    }

    /// An upper bound of the `q` quantile (0–1) of commit times: the top of the bucket it
    /// falls in (at most twice the true value).
    pub fn commit_quantile(&self, q: f64) -> Duration {
        let total: u64 = self.commit_buckets.iter().sum();
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.commit_buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Duration::from_micros(2u64 << i);
            }
        }
        Duration::ZERO
    }
}

/// Journal groups after `head` (the database's last seq), contiguous from `head + 1`.
fn missing_from_database(groups: Vec<Group>, head: i64) -> Vec<Group> {
    let mut expected = head + 1;
    let mut missing = Vec::new();
    for mut group in groups {
        let whole = group.rows.len();
        group.rows.retain(|row| row.seq > head);
        if group.rows.len() != whole {
            // Part of the group is in the database already, and so are its deliveries (the
            // projector writes whole groups; only an edited database gets here).
            group.deliveries.clear();
        }
        let Some((first, last)) = group.seqs() else {
            continue;
        };
        if first != expected {
            tracing::error!(
                expected,
                found = first,
                "the decision journal does not continue the database's chain; later decisions are kept, and `receipts verify` will show the gap"
            );
        }
        expected = last + 1;
        missing.push(group);
    }
    missing
}

/// Runs blocking journal I/O on `dir` off the runtime's workers.
async fn on_journal<T: Send + 'static>(
    dir: &Path,
    work: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    let dir = dir.to_owned();
    let corrupt = |error: String| StoreError::Corrupt(format!("decision journal: {error}"));
    tokio::task::spawn_blocking(move || work(&dir))
        .await
        .map_err(|e| corrupt(e.to_string()))?
        .map_err(|e| corrupt(e.to_string()))
}

impl DecisionLog {
    /// Starts the log on `store` with its journal in `dir`: first the database receives what
    /// the journal holds beyond it (decisions answered before a crash), then the chain
    /// continues from the last decision.
    ///
    /// # Errors
    /// The database or the journal directory failed.
    pub async fn start(
        store: Arc<Store>,
        batch: usize,
        dir: &Path,
    ) -> Result<DecisionLog, StoreError> {
        let mut head = store.last_decision().await?;
        let recovered = on_journal(dir, journal::recover).await?;
        let missing = missing_from_database(recovered, head.0);
        if !missing.is_empty() {
            let n: usize = missing.iter().map(|g| g.rows.len()).sum();
            for chunk in missing.chunks(64) {
                let rows: Vec<DecisionRow> =
                    chunk.iter().flat_map(|g| g.rows.iter().cloned()).collect();
                let deliveries: Vec<_> = chunk
                    .iter()
                    .flat_map(|g| g.deliveries.iter().cloned())
                    .collect();
                // Not flushed one by one: `flush_decisions` below makes them all durable.
                store.insert_decisions(&rows, &deliveries, false).await?;
            }
            if let Some(last) = missing.last().and_then(|g| g.rows.last()) {
                head = (last.seq, last.hash.clone());
            }
            tracing::info!(
                decisions = n,
                "decisions recovered from the journal into the database"
            );
        }
        // Creating the journal drops its old segments: what they held must be on disk in the
        // database first (copies of the last run were not all flushed).
        store.flush_decisions().await?;
        let next = head.0 + 1;
        let journal = on_journal(dir, move |dir| Journal::create(dir, next)).await?;
        let batch = batch.max(1);
        let (sender, receiver) = mpsc::channel::<Job>(batch * 4);
        let (to_projector, from_writer) = mpsc::unbounded_channel::<Group>();
        let committed = Arc::new(AtomicI64::new(head.0));
        let released = Arc::new(AtomicI64::new(head.0));
        let (projected_tx, projected) = watch::channel(head.0);
        let stats = Arc::new(Counters::default());
        let writer = Writer {
            store: store.clone(),
            journal,
            receiver,
            head,
            batch,
            to_projector,
            committed: committed.clone(),
            released: released.clone(),
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Corrupt(format!("starting the decision log: {e}")))?;
        let projector = tokio::spawn(project(store, from_writer, projected_tx, released));
        Ok(DecisionLog {
            sender,
            committed,
            projected,
            projector: Arc::new(tokio::sync::Mutex::new(Some(projector))),
            stats,
        })
    }

    /// Logs a decision durably and returns its receipt.
    ///
    /// # Errors
    /// The journal could not be written, or the log is closed.
    pub async fn append(&self, decision: PendingDecision) -> Result<Receipt, LogError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job::Decide(Box::new(decision), reply))
            .await
            .map_err(|_| LogError("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LogError("the writer has stopped".into()))?
    }

    /// Waits until the database holds every decision committed before the call; `false` if
    /// it did not within ten seconds (the database is failing; see the logs).
    pub async fn caught_up(&self) -> bool {
        let target = self.committed.load(Ordering::Acquire);
        let mut projected = self.projected.clone();
        matches!(
            tokio::time::timeout(CATCH_UP_WAIT, projected.wait_for(|seq| *seq >= target)).await,
            Ok(Ok(_))
        )
    }

    /// The writer's totals since start.
    pub fn stats(&self) -> LogStats {
        LogStats {
            groups: self.stats.groups.load(Ordering::Relaxed),
            decisions: self.stats.decisions.load(Ordering::Relaxed),
            commit: Duration::from_nanos(self.stats.commit_nanos.load(Ordering::Relaxed)),
            commit_buckets: std::array::from_fn(|i| {
                self.stats.commit_buckets[i].load(Ordering::Relaxed)
            }),
        }
    }

    /// Stops taking decisions and waits until the database holds every committed one.
    pub async fn close(&self) {
        let _ = self.sender.send(Job::Close).await;
        if let Some(projector) = self.projector.lock().await.take() {
            let _ = projector.await;
        }
    }
}

/// The writer thread's state.
struct Writer {
    store: Arc<Store>,
    journal: Journal,
    receiver: mpsc::Receiver<Job>,
    /// Last (seq, hash) of the chain.
    head: (i64, String),
    batch: usize,
    to_projector: mpsc::UnboundedSender<Group>,
    committed: Arc<AtomicI64>,
    /// The last seq the database holds (journal segments up to it may go).
    released: Arc<AtomicI64>,
    stats: Arc<Counters>,
}

type Reply = oneshot::Sender<Result<Receipt, LogError>>;

impl Writer {
    fn run(mut self) {
        let mut jobs: Vec<(Box<PendingDecision>, Reply)> = Vec::with_capacity(self.batch);
        let mut closing = false;
        while !closing {
            let Some(first) = self.receiver.blocking_recv() else {
                break;
            };
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Decide(decision, reply) => jobs.push((decision, reply)),
                    Job::Close => {
                        closing = true;
                        break;
                    }
                }
                if jobs.len() < self.batch {
                    next = self.receiver.try_recv().ok();
                }
            }
            if !jobs.is_empty() {
                self.commit(&mut jobs);
            }
            self.journal.release(self.released.load(Ordering::Acquire));
        }
        // Dropping `to_projector` lets the projector finish what is queued, then stop.
        tracing::debug!("decision log writer stopped");
    }

    /// Chains, signs and writes one group; answers its requests.
    fn commit(&mut self, jobs: &mut Vec<(Box<PendingDecision>, Reply)>) {
        let started = std::time::Instant::now();
        let (mut seq, mut prev) = self.head.clone();
        let mut rows = Vec::with_capacity(jobs.len());
        let mut deliveries = Vec::new();
        for (decision, _) in jobs.iter_mut() {
            seq += 1;
            let hash = receipt_hash(ReceiptFields {
                seq,
                id: &decision.id,
                created_at: decision.created_at,
                request_hash: &decision.request_hash,
                epochs: &decision.epochs,
                decision: &decision.decision,
                prev_hash: &prev,
            });
            deliveries.append(&mut decision.deliveries);
            let decision = &mut **decision;
            rows.push(DecisionRow {
                seq,
                id: std::mem::take(&mut decision.id),
                created_at: decision.created_at,
                created_us: crate::store::webhooks::unix_micros(decision.created_at),
                caller: std::mem::take(&mut decision.caller),
                project_id: std::mem::take(&mut decision.project_id),
                project_kind: std::mem::take(&mut decision.project_kind),
                as_of: decision.as_of,
                n_block: decision.counts[0],
                n_review: decision.counts[1],
                n_clear: decision.counts[2],
                n_invalid: decision.counts[3],
                request_hash: std::mem::take(&mut decision.request_hash),
                epochs: std::mem::take(&mut decision.epochs),
                decision: std::mem::take(&mut decision.decision),
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
                signature: String::new(),
                signer_key: String::new(),
                proof: None,
            });
        }
        let hashes: Vec<String> = rows.iter().map(|row| row.hash.clone()).collect();
        let (root, proofs) = merkle_group(&hashes);
        let outcome = match self.store.sign_with_node_key(&signed_root_message(&root)) {
            None => Err("the node's signing key is not loaded".to_owned()),
            Some((signature, signer_key)) => {
                for (row, proof) in rows.iter_mut().zip(&proofs) {
                    row.signature.clone_from(&signature);
                    row.signer_key.clone_from(&signer_key);
                    row.proof = Some(encode_proof(proof));
                }
                let mut group = Group { rows, deliveries };
                match self.journal.append(&mut group) {
                    Ok(()) => Ok(group),
                    Err(error) => Err(error.to_string()),
                }
            }
        };
        metrics::histogram!("integrity_match_log_batch_size").record(jobs.len() as f64);
        let took = started.elapsed();
        metrics::histogram!("integrity_match_log_commit_seconds").record(took.as_secs_f64());
        self.stats.groups.fetch_add(1, Ordering::Relaxed);
        self.stats
            .decisions
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        self.stats.commit_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let bucket = (micros.ilog2() as usize).min(COMMIT_BUCKETS - 1);
        self.stats.commit_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(group) => {
                self.head = (seq, prev);
                self.committed.store(seq, Ordering::Release);
                for ((_, reply), row) in jobs.drain(..).zip(&group.rows) {
                    let _ = reply.send(Ok(Receipt {
                        seq: row.seq,
                        prev_hash: row.prev_hash.clone(),
                        hash: row.hash.clone(),
                        proof: row.proof.clone().unwrap_or_default(),
                        root: root.clone(),
                        signature: row.signature.clone(),
                        signer_key: row.signer_key.clone(),
                    }));
                }
                let _ = self.to_projector.send(group);
            }
            Err(error) => {
                tracing::error!(error = %error, "writing match decisions to the journal failed; their requests fail");
                metrics::counter!("integrity_match_log_failures_total").increment(1);
                for (_, reply) in jobs.drain(..) {
                    let _ = reply.send(Err(LogError(error.clone())));
                }
            }
        }
    }
}

/// Copies committed groups into the database, in order, many per transaction; retries until
/// the database takes them (the journal keeps them meanwhile). Where the database's commits
/// are not flushed by themselves (embedded SQLite, see `Store::insert_decisions`), one copy
/// about every `FLUSH_EVERY` is flushed, and journal segments are released only up to the
/// last flushed decision.
async fn project(
    store: Arc<Store>,
    mut from_writer: mpsc::UnboundedReceiver<Group>,
    projected: watch::Sender<i64>,
    released: Arc<AtomicI64>,
) {
    let deferred = store.decision_commits_deferred();
    let mut flushed_at = std::time::Instant::now();
    while let Some(group) = from_writer.recv().await {
        let Group {
            mut rows,
            mut deliveries,
        } = group;
        // Each statement is a round trip to the database (on SQLite a hand-off to its worker
        // thread and back): copying whatever a short wait gathers in one transaction costs
        // far less per decision than a transaction per group (at 8 k decisions/s, ~35 µs of
        // the SQLite thread per decision was spent switching threads).
        if rows.len() < PROJECT_BATCH {
            tokio::time::sleep(PROJECT_DELAY).await;
        }
        while rows.len() < PROJECT_BATCH {
            match from_writer.try_recv() {
                Ok(mut more) => {
                    rows.append(&mut more.rows);
                    deliveries.append(&mut more.deliveries);
                }
                Err(_) => break,
            }
        }
        let Some(last) = rows.last().map(|row| row.seq) else {
            continue;
        };
        let flush = !deferred || flushed_at.elapsed() >= FLUSH_EVERY;
        let mut backoff = Duration::from_millis(50);
        loop {
            match store.insert_decisions(&rows, &deliveries, flush).await {
                Ok(()) => break,
                Err(error) => {
                    // Already there (a commit whose acknowledgement was lost)?
                    if store
                        .last_decision()
                        .await
                        .is_ok_and(|(seq, _)| seq >= last)
                    {
                        break;
                    }
                    tracing::warn!(error = %error, "copying decisions to the database failed; retrying (they are safe in the journal)");
                    metrics::counter!("integrity_match_log_projection_failures_total").increment(1);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        if flush {
            released.store(last, Ordering::Release);
            flushed_at = std::time::Instant::now();
        }
        projected.send_replace(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::journal::tests::{group, seqs};

    #[test]
    fn only_what_the_database_lacks_is_replayed() {
        let groups = vec![group(1..=3), group(4..=6), group(7..=7)];
        assert_eq!(
            seqs(&missing_from_database(groups.clone(), 0)),
            (1..=7).collect::<Vec<_>>()
        );
        assert_eq!(seqs(&missing_from_database(groups.clone(), 6)), vec![7]);
        assert_eq!(
            seqs(&missing_from_database(groups.clone(), 4)),
            vec![5, 6, 7]
        );
        assert!(missing_from_database(groups, 7).is_empty());
    }

    #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let path = dir.path().join("node.sqlite3");
        let store = Store::connect(&crate::store::ConnectSettings {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    async fn decisions_copied_on_sqlite_are_stored_as_sea_orm_stores_them() {
        use sea_orm::{ConnectionTrait, EntityTrait};
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        // Awkward values: escapes, control characters, non-BMP text, extreme integers, a
        // timestamp with an offset and microseconds, a missing proof; and more rows than one
        // statement takes (runs of 32 and shorter).
        let awkward = |seq: i64| {
            let mut row = crate::matching::journal::tests::row(seq);
            row.created_at = time::macros::datetime!(2026-12-03 09:30:00.123456 +08:00);
            row.as_of = time::macros::datetime!(2026-12-31 23:59:59.999999 -05:00);
            row.created_us = i64::MIN + seq;
            row.n_block = i32::MAX;
            row.caller = "key:\"quoted\" \\ back\u{1}\n\t".into();
            row.project_id = "工程-𠀋-\u{7f}".into();
            row.decision = "{\"name\":\"某某\\\"公司\\\"\",\"x\":1.50}".into();
            row.proof = (seq % 2 == 0).then(|| "L:ab|R:cd".to_owned());
            row
        };
        let rows: Vec<_> = (1..=45).map(awkward).collect();
        store.insert_decisions(&rows, &[], false).await.unwrap();
        let mut back = store
            .find_decisions(&crate::store::matches::DecisionFilter::default(), 100)
            .await
            .unwrap();
        back.reverse();
        assert_eq!(back, rows);
        // Stored exactly as sea-orm's own insert stores them (the path PostgreSQL takes).
        let mut reference = awkward(100);
        reference.id = "reference".into();
        crate::store::entities::match_decisions::Entity::insert(
            sea_orm::IntoActiveModel::into_active_model(reference),
        )
        .exec_without_returning(store.connection())
        .await
        .unwrap();
        let stored = |seq: i64| {
            let store = &store;
            async move {
                store
                    .connection()
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Sqlite,
                        format!(
                            "SELECT created_at || '|' || typeof(created_at) || '|' || as_of || \
                             '|' || created_us || '|' || typeof(created_us) || '|' || \
                             typeof(n_block) || '|' || coalesce(proof, 'NULL') || '|' || \
                             decision || '|' || caller FROM match_decisions WHERE seq = {seq}"
                        ),
                    ))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get_by_index::<String>(0)
                    .unwrap()
            }
        };
        assert_eq!(
            stored(2).await.replace(&(i64::MIN + 2).to_string(), "US"),
            stored(100)
                .await
                .replace(&(i64::MIN + 100).to_string(), "US")
        );
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    async fn sqlite_copies_are_flushed_only_when_asked_and_a_flush_reaches_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        assert!(store.decision_commits_deferred());
        assert_eq!(store.decisions_synchronous().await.unwrap(), 1);
        store.flush_decisions().await.unwrap();
        let wal = dir.path().join("node.sqlite3-wal");
        let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(wal_len(), 0, "a TRUNCATE checkpoint empties the WAL");

        let rows = group(1..=3).rows;
        store.insert_decisions(&rows, &[], false).await.unwrap();
        assert!(wal_len() > 0, "an unflushed copy waits in the WAL");
        store
            .insert_decisions(&group(4..=5).rows, &[], true)
            .await
            .unwrap();
        assert_eq!(store.last_decision().await.unwrap().0, 5);
        store.flush_decisions().await.unwrap();
        assert_eq!(
            wal_len(),
            0,
            "after the flush everything is in the database file"
        );
        // The connection went back to NORMAL after the flushing copy.
        assert_eq!(store.decisions_synchronous().await.unwrap(), 1);
        store
            .insert_decisions(&group(6..=6).rows, &[], false)
            .await
            .unwrap();
        assert_eq!(store.last_decision().await.unwrap().0, 6);
    }
}
