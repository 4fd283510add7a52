//! `GET /events/{type}/histogram`: when a type's events happened, counted by clock
//! over equal spans of time, from the index alone (no payload is read).

use actix_web::web::{Data, Json, Query};
use apistos::{ApiComponent, JsonSchema, api_operation};
use serde::{Deserialize, Deserializer, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::error::{Answers, ApiError, ErrorCode, Failure};
use super::query::{EventType, parse_time};
use crate::view::Lookup;

/// Spans a histogram has by default, and at most.
pub const DEFAULT_BUCKETS: u64 = 100;
const MAX_BUCKETS: u64 = 1_000;

/// The query of a histogram: `?from=T1&to=T2&buckets=N`.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct HistogramQuery {
    /// The start (inclusive), as RFC 3339 or integer epoch milliseconds (default:
    /// the type's first clock).
    #[schemars(schema_with = "instant_schema")]
    #[serde(default, deserialize_with = "instant")]
    pub from: Option<i64>,
    /// The end (exclusive), as `from` (default: just past the type's last clock).
    #[schemars(schema_with = "instant_schema")]
    #[serde(default, deserialize_with = "instant")]
    pub to: Option<i64>,
    /// How many equal spans, from 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    #[serde(default = "default_buckets")]
    pub buckets: u64,
}

fn default_buckets() -> u64 {
    DEFAULT_BUCKETS
}

fn instant<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    parse_time(&raw).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`from` and `to` must be RFC 3339 date-times like 2026-11-30T10:00:00Z or integer epoch milliseconds, not {raw:?}"
        ))
    })
}

/// What `from` and `to` take, for the OpenAPI document.
fn instant_schema(_: &mut apistos::SchemaGenerator) -> apistos::Schema {
    apistos::Schema::try_from(serde_json::json!({
        "description": "RFC 3339 (`2026-11-30T10:00:00Z`) or integer epoch milliseconds.",
        "anyOf": [
            {"type": "integer", "format": "int64"},
            {"type": "string", "format": "date-time"}
        ]
    }))
    .unwrap_or_default()
}

/// A type's events counted by clock over equal spans of `[from, to)`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct TypeHistogram {
    /// The type (`unclassified` too).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The start, epoch ms (inclusive).
    pub from: u64,
    /// The end, epoch ms (exclusive).
    pub to: u64,
    /// Each span's width, ms; the last span is cut at `to`.
    pub bucket_ms: u64,
    /// Events whose clock falls in each span, in order.
    pub counts: Vec<u64>,
    /// Of those, the tentative ones (their index may still move).
    pub tentative: Vec<u64>,
}

/// What a histogram can answer besides itself.
pub struct TimelineFailures;

impl Answers for TimelineFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownType,
    ];
}

/// A type's events over time.
#[api_operation(
    tag = "events",
    operation_id = "get_event_histogram",
    summary = "A type's events counted over time",
    description = "How many events of `type` have their clock in each of `buckets` (1 to 1000, default 100) equal spans of `[from, to)` (times as in `?time=`; by default from the type's first clock to just past its last), and how many of them are tentative. Computed from the index's clocks, O(buckets × partitions × log n), never by reading payloads. A type with no events answers zeros. Works for `unclassified`."
)]
pub async fn get_event_histogram(
    _auth: BearerAuth,
    state: Data<AppState>,
    event_type: EventType,
    query: Query<HistogramQuery>,
) -> Result<Json<TypeHistogram>, Failure<TimelineFailures>> {
    if !(1..=MAX_BUCKETS).contains(&query.buckets) {
        let problem = format!(
            "`buckets` must be from 1 to {MAX_BUCKETS}, not {}",
            query.buckets
        );
        return Err(ApiError::InvalidQuery(problem).into());
    }
    let unknown = || ApiError::UnknownType(event_type.0.clone());
    let index = state.view.type_index(&event_type).ok_or_else(unknown)?;
    let clock_of = |at: u64| match state.view.get(&event_type, at) {
        Lookup::Found(found) => Some(found.clock),
        _ => None,
    };
    // Clocks are ms since the epoch, never negative.
    let at = |ms: i64| u64::try_from(ms).unwrap_or(0);
    let from = query.from.map(at).or_else(|| clock_of(0)).unwrap_or(0);
    let last = index.len().checked_sub(1).and_then(clock_of);
    let to = query
        .to
        .map(at)
        .or_else(|| last.map(|clock| clock.saturating_add(1)))
        .unwrap_or(from);
    if to < from {
        let problem = format!("`from` ({from}) must not be after `to` ({to})");
        return Err(ApiError::InvalidQuery(problem).into());
    }
    let histogram = state
        .view
        .histogram(&event_type, from, to, query.buckets)
        .ok_or_else(unknown)?;
    Ok(Json(TypeHistogram {
        event_type: event_type.0,
        from,
        to,
        bucket_ms: histogram.bucket_ms,
        counts: histogram.counts,
        tentative: histogram.tentative,
    }))
}
