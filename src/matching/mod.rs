//! Bid screening (招投标信用核查): "自动比对、自动拦截、自动监督".
//!
//! - [`index`]: the in-memory index of every list entry held here;
//! - [`engine`]: the decision for each bidder of a project;
//! - [`log`] and [`receipt`]: the durable, chained and signed decision log.
//!
//! The [`Matcher`] owns the index and keeps it current: it is built at start from the
//! database, then follows the downward journal of list changes (`list_changes`), which every
//! local issuance and every replicated change goes through, so no restart is ever needed.

pub mod engine;
pub mod index;
pub mod journal;
pub mod log;
pub mod receipt;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use crate::config::MatchSettings;
use crate::domain::lists::{ListCatalogue, ListEntry};
use crate::store::{Store, StoreError};
use index::{BidderKeys, HitKey, IndexBuilder, IndexEntry, MatchIndex, Slot, measure_bit};

/// Rows read per query while building the index.
pub(crate) const BUILD_PAGE: usize = 50_000;
/// Changes read per query while following the journal.
const FOLLOW_PAGE: u64 = 10_000;

/// The index, what it reflects, and the decision log.
pub struct Matcher {
    /// The index and, per issuer, the last list change applied to it (the epochs a decision
    /// uses), under one lock so a decision's epochs always describe the index it read.
    index: RwLock<(MatchIndex, BTreeMap<String, i64>)>,
    /// The decision log.
    pub log: log::DecisionLog,
    /// Project kind → bit mask of the measures that restrict it.
    restrictions: BTreeMap<String, u16>,
    /// Days around `as_of` in which an entry's start or end gives `review`.
    pub boundary_days: i64,
    /// Bumped after list changes reached the index (monitors re-screen on it).
    updated: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").finish_non_exhaustive()
    }
}

fn index_entry(entry: &ListEntry) -> IndexEntry {
    IndexEntry {
        id: entry.id,
        list: entry.list.clone(),
        version: entry.version,
        status: entry.status,
        subject_code: entry.subject_code.clone(),
        subject_kind: entry.subject_kind.clone(),
        names: std::iter::once(entry.subject_name.clone())
            .chain(entry.former_names.iter().cloned())
            .collect(),
        measures: entry.measures.clone(),
        rep_id: entry
            .legal_representative
            .as_ref()
            .and_then(|rep| rep.id_number.clone()),
        effective_from: entry.effective_from,
        effective_to: entry.effective_to,
    }
}

impl Matcher {
    /// Builds the index from everything `store` holds and starts following list changes.
    pub async fn start(
        store: Arc<Store>,
        catalogue: &ListCatalogue,
        settings: &MatchSettings,
        journal_dir: &std::path::Path,
    ) -> Result<Arc<Matcher>, StoreError> {
        let started = Instant::now();
        // Heads first: a change committed during the build is applied again by the follower,
        // which is harmless (an entry never goes back to an older version).
        let epochs = store.list_heads().await?;
        // Streamed a page at a time: the next page is read while this one's keys are computed
        // (on every core), and no page is kept once its slots and postings are.
        let mut builder = IndexBuilder::new(catalogue);
        // The pages the scan below reads, read ahead of it with many reads in flight: on a cold
        // disk the scan alone waits for one page at a time (`store::prewarm`).
        let prewarm = if settings.prewarm_index {
            store.prewarm_match_index().await
        } else {
            None
        };
        // One page read ahead while this one's keys are computed.
        let mut pages = store.index_pages(BUILD_PAGE);
        while let Some(page) = pages.recv().await {
            let page = page?;
            builder = tokio::task::spawn_blocking(move || {
                builder.add(&page);
                builder
            })
            .await
            .map_err(|error| StoreError::Corrupt(format!("building the match index: {error}")))?;
        }
        if let Some(prewarm) = prewarm
            && let Ok(report) = tokio::task::spawn_blocking(move || prewarm.finish()).await
        {
            tracing::info!(
                pages = report.pages,
                levels = report.levels,
                bytes = report.bytes,
                partial = report.partial,
                millis = report.took.as_millis() as u64,
                "match index pages read ahead"
            );
        }
        let index = tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|error| StoreError::Corrupt(format!("building the match index: {error}")))?;
        tracing::info!(
            entries = index.len(),
            bytes = index.heap_bytes(),
            millis = started.elapsed().as_millis() as u64,
            "match index built"
        );
        metrics::gauge!("integrity_match_index_entries").set(index.len() as f64);
        metrics::gauge!("integrity_match_index_bytes").set(index.heap_bytes() as f64);
        let restrictions = settings
            .restrictions
            .iter()
            .map(|(kind, measures)| {
                (
                    kind.clone(),
                    measures.iter().fold(0u16, |m, c| m | measure_bit(c)),
                )
            })
            .collect();
        let matcher = Arc::new(Matcher {
            index: RwLock::new((index, epochs)),
            log: log::DecisionLog::start(store.clone(), settings.log_batch, journal_dir).await?,
            restrictions,
            boundary_days: i64::from(settings.boundary_days),
            updated: tokio::sync::watch::Sender::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&matcher), store));
        Ok(matcher)
    }

    /// A receiver that sees a new value each time list changes reached the index.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.updated.subscribe()
    }

    /// Waits until the index reflects `issuer`'s list changes up to `seq`, at most `within`;
    /// whether it does. A list write here waits on it before answering, so that a screening
    /// sent after the answer sees the entry (read-your-writes on the issuing node).
    pub async fn reflects(&self, issuer: &str, seq: i64, within: std::time::Duration) -> bool {
        let mut updated = self.updated.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Subscribed before reading: an update between the read and the wait still wakes it.
            updated.borrow_and_update();
            let held = self
                .index
                .read()
                .map(|guard| guard.1.get(issuer).copied().unwrap_or(0))
                .unwrap_or(0);
            if held >= seq {
                return true;
            }
            match tokio::time::timeout_at(deadline, updated.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }

    /// Project kinds this node screens for.
    pub fn project_kinds(&self) -> impl Iterator<Item = &str> {
        self.restrictions.keys().map(String::as_str)
    }

    /// The measure mask restricting `kind`, if the kind is known.
    pub fn restriction(&self, kind: &str) -> Option<u16> {
        self.restrictions.get(kind).copied()
    }

    /// The epochs the index reflects.
    pub fn epochs(&self) -> BTreeMap<String, i64> {
        self.index
            .read()
            .map(|guard| guard.1.clone())
            .unwrap_or_default()
    }

    /// Candidate entries for several bidders, read under one lock, with the epochs of the
    /// index they were read from.
    #[allow(
        clippy::type_complexity,
        reason = "candidates per bidder, with their list code"
    )]
    pub fn candidates(
        &self,
        bidders: &[Option<&BidderKeys>],
    ) -> (BTreeMap<String, i64>, Vec<Vec<(HitKey, Slot, String)>>) {
        let Ok(guard) = self.index.read() else {
            return (BTreeMap::new(), vec![Vec::new(); bidders.len()]);
        };
        let (index, epochs) = &*guard;
        let chunk = |bidders: &[Option<&BidderKeys>]| -> Vec<Vec<(HitKey, Slot, String)>> {
            index
                .candidates_many(bidders)
                .into_iter()
                .map(|hits| {
                    hits.into_iter()
                        .map(|(key, slot)| {
                            let list = index.list_code(&slot).to_owned();
                            (key, slot, list)
                        })
                        .collect()
                })
                .collect()
        };
        let hits = parallel_chunks(bidders, chunk);
        (epochs.clone(), hits)
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.index.read().map(|guard| guard.0.len()).unwrap_or(0)
    }

    /// Bytes held by the index's own structures (`MatchIndex::heap_bytes`).
    pub fn heap_bytes(&self) -> usize {
        self.index
            .read()
            .map(|guard| guard.0.heap_bytes())
            .unwrap_or(0)
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies list changes after the index's epochs; returns how many were applied.
    async fn catch_up(&self, store: &Store) -> Result<usize, StoreError> {
        let mut applied = 0;
        loop {
            let after = self.epochs();
            let (_, changes) = store.list_changes_after(&after, FOLLOW_PAGE).await?;
            if changes.is_empty() {
                return Ok(applied);
            }
            let n = changes.len();
            let mut parsed = Vec::with_capacity(n);
            for change in &changes {
                match serde_json::from_str::<ListEntry>(&change.payload) {
                    Ok(entry) => parsed.push(index_entry(&entry)),
                    Err(_) => {
                        return Err(StoreError::Corrupt(format!(
                            "list change {}/{}",
                            change.issuer, change.seq
                        )));
                    }
                }
            }
            if let Ok(mut guard) = self.index.write() {
                let (index, epochs) = &mut *guard;
                for entry in &parsed {
                    index.upsert(entry);
                }
                for change in &changes {
                    let epoch = epochs.entry(change.issuer.clone()).or_insert(0);
                    *epoch = (*epoch).max(change.seq);
                }
                metrics::gauge!("integrity_match_index_entries").set(index.len() as f64);
                metrics::gauge!("integrity_match_index_bytes").set(index.heap_bytes() as f64);
            }
            applied += n;
            if (n as u64) < FOLLOW_PAGE {
                return Ok(applied);
            }
        }
    }
}

/// Follows list changes until the matcher is dropped.
async fn follow(matcher: Weak<Matcher>, store: Arc<Store>) {
    let mut changed = store.subscribe_lists();
    loop {
        let Some(current) = matcher.upgrade() else {
            return;
        };
        match current.catch_up(&store).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(changes = n, "match index updated");
                current.updated.send_modify(|version| *version += 1);
            }
            Err(error) => {
                tracing::warn!(error = %error, "updating the match index failed; retrying on the next change");
            }
        }
        drop(current);
        // A change wakes the follower at once; the periodic pass retries after an error and
        // is cheap when nothing is new (one indexed query).
        tokio::select! {
            result = changed.changed() => if result.is_err() { return },
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

/// Below this many items a request's per-bidder work runs on the calling thread.
const PARALLEL_FROM: usize = 128;

/// `work` over `items` split into one chunk per core (scoped threads, the calling thread
/// taking the first chunk), results in order; small inputs run on the calling thread.
///
/// A large match request is CPU work of a few milliseconds (name normalisation, index
/// look-ups) that is independent per bidder; splitting it over the cores cut a 1,000-bidder
/// request from 9.6 to 5.6-6.6 ms at 1 M entries (BENCHMARKS.md). Scoped threads rather than a pool: the work
/// borrows the request and the index guard, and a thread start (~20 us) is small beside it.
pub(crate) fn parallel_chunks<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    // Once: `available_parallelism` reads the cgroup files on every call (tens of us).
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads =
        *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    if items.len() < PARALLEL_FROM || threads < 2 {
        return work(items);
    }
    let size = items
        .len()
        .div_ceil(threads.min(items.len() / (PARALLEL_FROM / 2)).max(1));
    let work = &work;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|chunk| scope.spawn(move || work(chunk)))
            .collect();
        let mut out = work(first);
        for other in others {
            match other.join() {
                Ok(mut more) => out.append(&mut more),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}
