//! The pull loop of a child: fetches list changes from its parent (long poll over mutual TLS),
//! verifies them and applies each page atomically, so that lists issued at any level above
//! reach this node, and through it every node below.
//!
//! The cursor is the sequence number held per issuer (read from the database every round),
//! never a wall-clock time; a restart resumes where the node stands.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::outbox::{LinkStatus, backoff};
use super::wire::{ListChangesPage, ListSnapshotPage, MAX_LIST_PAGE, MAX_SNAPSHOT_PAGE};
use crate::audit::AuditEntry;
use crate::domain::lists::ListCatalogue;
use crate::domain::region::RegionCode;
use crate::store::Store;

/// The list catalogue and the state of the downward link.
#[derive(Debug)]
pub struct ListsState {
    /// List types known here.
    pub catalogue: ListCatalogue,
    /// The pull link from the parent.
    link: Mutex<LinkStatus>,
    /// After how long without a successful pull the node's copies count as stale.
    pub stale_after: Duration,
}

impl ListsState {
    /// A new state with an idle link.
    pub fn new(catalogue: ListCatalogue, stale_after: Duration) -> ListsState {
        ListsState {
            catalogue,
            link: Mutex::new(LinkStatus::default()),
            stale_after,
        }
    }

    /// A snapshot of the pull link's status.
    pub fn link_status(&self) -> LinkStatus {
        self.link.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut status) = self.link.lock() {
            change(&mut status);
        }
    }
}

/// The pull loop. Runs until `stopped` changes.
pub struct ListPuller {
    /// Store.
    pub store: Arc<Store>,
    /// This node.
    pub region: RegionCode,
    /// The parent's region (the only node this one takes lists from).
    pub parent_region: RegionCode,
    /// Parent base URL.
    pub parent_url: String,
    /// mTLS client.
    pub client: reqwest::Client,
    /// Shared status.
    pub state: Arc<ListsState>,
    /// How long the parent may hold a request open when nothing is new.
    pub wait: Duration,
    /// Back-off cap.
    pub max_backoff: Duration,
    /// Source of "now".
    pub now: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

enum PullError {
    Transient(String),
    Refused(String),
}

impl ListPuller {
    async fn fetch(&self, after: &BTreeMap<String, i64>) -> Result<ListChangesPage, PullError> {
        let cursor: Vec<String> = after
            .iter()
            .map(|(issuer, seq)| format!("{issuer}:{seq}"))
            .collect();
        let response = self
            .client
            // Region codes, digits, ':' and ',' need no percent-encoding.
            .get(format!(
                "{}/federation/v1/lists/changes?after={}&limit={MAX_LIST_PAGE}&wait_secs={}&snapshot=true",
                self.parent_url,
                cursor.join(","),
                self.wait.as_secs()
            ))
            // The parent holds the request up to `wait`; allow for that plus a round trip.
            .timeout(self.wait + Duration::from_secs(15))
            .send()
            .await
            .map_err(|error| PullError::Transient(format!("parent unreachable: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<ListChangesPage>()
                .await
                .map_err(|error| PullError::Transient(format!("unreadable page: {error}")));
        }
        let body = response.text().await.unwrap_or_default();
        let detail: String = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(body)
            .chars()
            .take(500)
            .collect();
        let message = format!("parent answered {status}: {detail}");
        Err(
            if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
                PullError::Refused(message)
            } else {
                PullError::Transient(message)
            },
        )
    }

    async fn fetch_snapshot_page(
        &self,
        issuer: &str,
        epoch: i64,
        after: Option<uuid::Uuid>,
    ) -> Result<ListSnapshotPage, PullError> {
        let mut url = format!(
            "{}/federation/v1/lists/snapshot?issuer={issuer}&epoch={epoch}&limit={MAX_SNAPSHOT_PAGE}",
            self.parent_url
        );
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let response = self
            .client
            .get(url)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|error| PullError::Transient(format!("parent unreachable: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return response.json::<ListSnapshotPage>().await.map_err(|error| {
                PullError::Transient(format!("unreadable snapshot page: {error}"))
            });
        }
        let body = response.text().await.unwrap_or_default();
        let detail: String = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(body)
            .chars()
            .take(500)
            .collect();
        let message = format!("parent answered {status} to a snapshot page: {detail}");
        // 409: the epoch is gone (the parent took a snapshot itself); the next round asks
        // again and is told the epoch to take.
        Err(
            if status.is_client_error() && ![408, 409, 429].contains(&status.as_u16()) {
                PullError::Refused(message)
            } else {
                PullError::Transient(message)
            },
        )
    }

    /// Takes a snapshot of `issuer`'s lists at `epoch` from the parent: every page verified and
    /// staged, then swapped in at once (`Store::swap_snapshot`). Returns the entries swapped in.
    async fn snapshot(
        &self,
        issuer: &str,
        epoch: i64,
        stopped: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<usize, PullError> {
        let refused = |error: crate::store::federation::ApplyError| match error {
            crate::store::federation::ApplyError::Store(cause) => PullError::Transient(cause),
            other => {
                PullError::Refused(format!("refused a snapshot page from the parent: {other}"))
            }
        };
        let mut after = None;
        let head = loop {
            let page = tokio::select! {
                page = self.fetch_snapshot_page(issuer, epoch, after) => page?,
                _ = stopped.changed() => return Ok(0),
            };
            if page.issuer != issuer || page.epoch != epoch {
                return Err(PullError::Refused(format!(
                    "the parent answered a snapshot of {} at {} when asked for {issuer} at {epoch}",
                    page.issuer, page.epoch
                )));
            }
            self.store
                .stage_snapshot_page(self.region, self.parent_region, &page, after)
                .await
                .map_err(refused)?;
            match page.next_after {
                Some(next) => after = Some(next),
                None => break page.head,
            }
        };
        let audit = AuditEntry {
            actor_kind: "peer".into(),
            actor_id: format!("region:{}", self.parent_region),
            action: "lists.replicate".into(),
            resource: "lists".into(),
            outcome: "ok".into(),
            request_id: String::new(),
            detail: String::new(),
        };
        let n = self
            .store
            .swap_snapshot(issuer, epoch, head, (self.now)(), audit)
            .await
            .map_err(refused)?;
        metrics::counter!("integrity_list_snapshots_total", "issuer" => issuer.to_owned())
            .increment(1);
        metrics::counter!("integrity_list_snapshot_entries_total", "issuer" => issuer.to_owned())
            .increment(n as u64);
        tracing::info!(issuer, epoch, entries = n, "list snapshot swapped in");
        Ok(n)
    }

    /// One round: fetch what is new and apply it; `Ok(true)` when the parent sent changes.
    /// `Ok(false)` also when `stopped` changed while
    /// the parent held the request (the wait is cancelled; an apply never is, so the audit
    /// chain head in memory always matches the database).
    async fn round(
        &self,
        stopped: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<bool, PullError> {
        let held = self
            .store
            .list_heads()
            .await
            .map_err(|error| PullError::Transient(error.to_string()))?;
        // Only ancestors' changes come from the parent; this node's own issuer stream starts
        // here and is never taken from above.
        let after: BTreeMap<String, i64> = held
            .into_iter()
            .filter(|(issuer, _)| *issuer != self.region.to_string())
            .collect();
        let page = tokio::select! {
            page = self.fetch(&after) => page?,
            _ = stopped.changed() => return Ok(false),
        };
        let n = page.changes.len() + page.snapshot.len();
        let snapshots = page.snapshot.clone();
        let audit = AuditEntry {
            actor_kind: "peer".into(),
            actor_id: format!("region:{}", self.parent_region),
            action: "lists.replicate".into(),
            resource: "lists".into(),
            outcome: "ok".into(),
            request_id: String::new(),
            detail: String::new(),
        };
        let applied = self
            .store
            .apply_list_changes(
                self.region,
                self.parent_region,
                &page.heads,
                page.changes,
                (self.now)(),
                audit,
            )
            .await
            .map_err(|error| match error {
                crate::store::federation::ApplyError::Store(cause) => PullError::Transient(cause),
                // A page that does not verify will not verify next time either: hold at the
                // longest back-off, visibly, rather than apply any of it.
                other => PullError::Refused(format!("refused a page from the parent: {other}")),
            })?;
        for (issuer, head) in &page.heads {
            metrics::gauge!("integrity_list_parent_epoch", "issuer" => issuer.clone())
                .set(*head as f64);
        }
        metrics::counter!("integrity_list_changes_applied_total").increment(applied as u64);
        let mut applied = applied;
        for (issuer, epoch) in &snapshots {
            applied += self.snapshot(issuer, *epoch, stopped).await?;
        }
        let now = (self.now)();
        self.state.update(|status| {
            status.last_success_at = Some(now);
            status.consecutive_failures = 0;
            status.last_error = None;
            status.events_pushed += applied as u64;
        });
        tracing::debug!(changes = n, applied, "list page applied");
        Ok(n > 0)
    }

    /// Runs until `stopped` changes.
    pub async fn run(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        loop {
            let pause = match self.round(&mut stopped).await {
                Ok(true) => Duration::ZERO,
                // Nothing new within the parent's wait (or stopping): a short pause guards
                // against a parent that answers at once without waiting.
                Ok(false) => Duration::from_millis(100),
                Err(PullError::Transient(error)) => {
                    self.fail(error);
                    backoff(
                        self.state.link_status().consecutive_failures,
                        self.max_backoff,
                    )
                }
                Err(PullError::Refused(error)) => {
                    self.fail(error);
                    self.max_backoff
                }
            };
            if *stopped.borrow() {
                break;
            }
            if pause.is_zero() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopped.changed() => break,
            }
        }
    }

    fn fail(&self, error: String) {
        tracing::warn!(peer = "parent", error = %error, "list pull from parent failed");
        metrics::counter!("integrity_list_pull_failures_total").increment(1);
        self.state.update(|status| {
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            status.last_error = Some(error);
        });
    }
}
