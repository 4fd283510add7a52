//! The HTTP API, one file per route family: [`events`] (lookups), [`browse`]
//! (ranges), [`export`] (NDJSON exports), [`keys`] (one entity's history), [`stats`], [`status`], [`health`] (probes), [`metrics`]
//! (the scrape and request metrics), [`timeline`] (histograms), [`stream`] (live tails), [`ui`] (the audit
//! page) and [`docs`] (Swagger UI); beside them [`routes`] (the one place routes are
//! registered),
//! [`state`] (what handlers share), [`error`] (the one error table), [`auth`],
//! [`query`] and [`openapi`].
//!
//! Handlers only read the shared view and ask the fetcher for bytes; every answer
//! is O(1) in the topic's size (counts are O(number of types)).

pub mod auth;
pub mod browse;
pub mod docs;
pub mod error;
pub mod events;
pub mod export;
pub mod health;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod routes;
pub mod state;
pub mod stats;
pub mod status;
pub mod stream;
pub mod timeline;
pub mod ui;

pub use routes::{RESERVED_PATHS, app, route_problems};
pub use state::AppState;
