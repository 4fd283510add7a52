//! The HTTP API, one file per route family: [`events`] (lookups), [`stats`],
//! [`status`], [`health`] (probes), [`metrics`] (the scrape and request metrics);
//! beside them [`error`] (the one error table), [`auth`], [`query`] and [`openapi`].
//!
//! Handlers only read the shared view and ask the fetcher for bytes; every answer
//! is O(1) in the topic's size (counts are O(number of types)).

use std::sync::Arc;
use std::time::Instant;

use actix_web::web::Data;
use apistos::web;

pub mod auth;
pub mod browse;
pub mod docs;
pub mod error;
pub mod events;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod stats;
pub mod status;
pub mod ui;

use crate::decode::Decoder;
use crate::fetch::Fetcher;
use crate::ingest::IngestStatus;
use crate::metrics::Metrics;
use crate::view::{Topics, View};

/// Paths the API itself uses; an alias route may not take them or go below them.
pub const RESERVED_PATHS: [&str; 9] = [
    "/ui",
    "/events",
    "/positions",
    "/stats",
    openapi::OPENAPI_PATH,
    "/docs",
    "/health",
    "/metrics",
    "/status",
];

/// What is wrong with `[[routes]]` that only the API knows: a path the API itself
/// uses, a type or `/stats` key it cannot serve; as (key, problem).
pub fn route_problems(routes: &[crate::config::RouteSettings]) -> Vec<(String, String)> {
    use crate::classify::MAX_TYPE_LEN;
    use crate::view::UNCLASSIFIED;
    let mut problems = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        let key = format!("routes.{i}");
        if RESERVED_PATHS
            .iter()
            .any(|p| route.path == *p || route.path.starts_with(&format!("{p}/")))
        {
            let problem = format!("path {:?} is used by the API itself", route.path);
            problems.push((key.clone(), problem));
        }
        if route.event_type.is_empty()
            || route.event_type.len() > MAX_TYPE_LEN
            || route.event_type == UNCLASSIFIED
        {
            let problem = format!(
                "type {:?} must be 1 to {MAX_TYPE_LEN} bytes and not {UNCLASSIFIED:?}",
                route.event_type
            );
            problems.push((key.clone(), problem));
        }
        if let Some(stats_key) = &route.stats_key
            && stats_key.len() > MAX_TYPE_LEN
        {
            let problem = format!("{stats_key:?} must be 1 to {MAX_TYPE_LEN} bytes");
            problems.push((format!("{key}.stats_key"), problem));
        }
    }
    problems
}

/// What the handlers share.
pub struct AppState {
    /// The index.
    pub view: View,
    /// Positions to payloads: cache, then Kafka.
    pub fetcher: Fetcher,
    /// How values are rendered.
    pub decoder: Decoder,
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
    /// Whether `[snapshot] dir` is set (`/status` then reports snapshots).
    pub snapshots_enabled: bool,
    /// OAUTHBEARER tokens analyzer makes (MSK IAM), for `/status`.
    pub tokens: crate::kafka::TokenSource,
}

/// Registers the documented routes, one alias resource per `(path, type)`.
pub fn routes(aliases: &[(String, String)]) -> impl FnOnce(&mut apistos::web::ServiceConfig) {
    let aliases = aliases.to_vec();
    move |cfg: &mut apistos::web::ServiceConfig| {
        cfg.service(web::resource("/events/{type}").route(web::get().to(events::get_event)))
            .service(
                web::resource("/events/{type}/range").route(web::get().to(browse::get_event_range)),
            )
            .service(
                web::resource("/events/{type}/export")
                    .route(web::get().to(browse::get_event_export)),
            )
            .service(
                web::resource("/positions/{topic}/{partition}/{offset}")
                    .route(web::get().to(events::get_position)),
            )
            .service(web::resource("/stats").route(web::get().to(stats::get_stats)))
            .service(web::resource("/status").route(web::get().to(status::get_status)))
            .service(web::resource("/health/live").route(web::get().to(health::get_live)))
            .service(web::resource("/health/ready").route(web::get().to(health::get_ready)));
        for (path, event_type) in aliases {
            let alias = Data::new(events::AliasType(event_type));
            cfg.service(
                web::resource(&path)
                    .app_data(alias.clone())
                    .route(web::get().to(events::get_alias_event)),
            )
            .service(
                web::resource(&format!("{path}/range"))
                    .app_data(alias)
                    .route(web::get().to(browse::get_alias_event_range)),
            );
        }
    }
}

/// CORS for browser-based audit UIs at `origins` (none: no CORS headers at all).
/// GET only, with the Authorization header, and the X-Kafka-* headers readable.
pub fn cors(origins: &[String]) -> Option<actix_cors::Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::ACCEPT,
        ])
        .expose_headers([
            events::HEADER_TOPIC,
            events::HEADER_PARTITION,
            events::HEADER_OFFSET,
            events::HEADER_TIMESTAMP,
            events::HEADER_INDEX,
            events::HEADER_INDEX_SETTLED,
            events::HEADER_AVRO_SCHEMA,
            events::HEADER_AVRO_SCHEMA_ID,
        ])
        .max_age(3600);
    Some(cors)
}
