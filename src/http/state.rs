//! What every handler shares: the index, the fetcher, the decoder and the settings
//! the API needs, built once by `startup` and handed to actix as `Data<AppState>`.

use std::sync::Arc;
use std::time::Instant;

use super::stats;
use crate::decode::Decoder;
use crate::fetch::Fetcher;
use crate::ingest::IngestStatus;
use crate::kafka::TokenSource;
use crate::metrics::Metrics;
use crate::view::{Topics, View};

/// What the handlers share.
pub struct AppState {
    /// The index.
    pub view: View,
    /// Positions to payloads: cache, then Kafka.
    pub fetcher: Fetcher,
    /// How values are rendered.
    pub decoder: Arc<Decoder>,
    /// Topic names, by the ids positions hold.
    pub topics: Topics,
    /// What the ingest thread reports.
    pub ingest: Arc<IngestStatus>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// When the process started, for uptime.
    pub started: Instant,
    /// The bearer token every route but the open ones requires, if any.
    pub auth_token: Option<String>,
    /// Whether `/metrics` requires the token too.
    pub protect_metrics: bool,
    /// The keys `/stats` reports types under.
    pub stats_keys: stats::StatsKeys,
    /// Whether bulk export is served.
    pub export_enabled: bool,
    /// Live tails: how many are open, and the bounds of `[http]` on them.
    pub streams: super::stream::StreamLimits,
    /// Whether the key index is on (`[keys] by` is not `none`).
    pub keys_enabled: bool,
    /// Whether `[snapshot] dir` is set (`/status` then reports snapshots).
    pub snapshots_enabled: bool,
    /// OAUTHBEARER tokens analyzer makes (MSK IAM), for `/status`.
    pub tokens: TokenSource,
    /// `[[routes]]`: (path, type), each served like `/events/{type}`.
    pub aliases: Vec<(String, String)>,
}
