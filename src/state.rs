//! Shared state of a running node, handed to every handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::domain::region::RegionCode;
use crate::federation::outbox::FederationState;
use crate::gateway::Gateway;
use crate::store::Store;

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// This node's region.
    pub region: RegionCode,
    /// Storage.
    pub store: Arc<Store>,
    /// The only source of time.
    pub clock: Arc<dyn Clock>,
    /// Token verification keys.
    pub tokens: Arc<TokenKeys>,
    /// API keys, rates and quotas.
    pub gateway: Arc<Gateway>,
    /// Federation link status.
    pub federation: Arc<FederationState>,
    /// The match index and decision log.
    pub matcher: Arc<crate::matching::Matcher>,
    /// List catalogue and the downward link's status.
    pub lists: Arc<crate::federation::lists::ListsState>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
}
