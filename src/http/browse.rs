//! Browsing a type: `GET /events/{type}/range?from=I&limit=L` (and `{alias}/range`):
//! a page of events with their provenance, key, headers and value, in one request.
//! The event as a page lists it is what an export (`export.rs`) writes a line of.

use actix_web::web::{Data, Json, Query};
use apistos::{ApiComponent, JsonSchema, api_operation};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::AppState;
use super::auth::BearerAuth;
use super::error::{Answers, ApiError, ErrorCode, Failure};
use super::events::render;
use super::query::EventType;
use crate::decode::{Rendered, ValueKind};
use crate::fetch::Payload;
use crate::view::{Found, Lookup};

/// The most events one range answers.
pub const MAX_LIMIT: u64 = 1_000;
/// Events a range answers when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;

/// The query of a range: `?from=I&limit=L`.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct RangeQuery {
    /// The first index, from 0 (default 0). Past the end: no events.
    #[serde(default)]
    pub from: u64,
    /// How many events, from 1 to 1000 (default 50).
    #[schemars(range(min = 1, max = 1000))]
    #[serde(default = "default_limit")]
    pub limit: u64,
}

fn default_limit() -> u64 {
    DEFAULT_LIMIT
}

impl RangeQuery {
    /// The query, if its `limit` is from 1 to [`MAX_LIMIT`]; else the 400 saying so.
    pub fn checked(&self) -> Result<&RangeQuery, ApiError> {
        if (1..=MAX_LIMIT).contains(&self.limit) {
            return Ok(self);
        }
        Err(ApiError::InvalidQuery(format!(
            "`limit` must be a whole number from 1 to {MAX_LIMIT}, not {}",
            self.limit
        )))
    }
}

/// What a page of events can answer besides the page.
pub struct BrowseFailures;

impl Answers for BrowseFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownType,
        ErrorCode::KafkaUnavailable,
    ];
}

/// A page of a type's events.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct EventRange {
    /// The type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The index of the first event listed.
    pub from: u64,
    /// How many events the type has.
    pub total: u64,
    /// The events, in index order.
    pub events: Vec<BrowsedEvent>,
}

/// One event in full. Text fields hold UTF-8 text; bytes that are not UTF-8 come as
/// base64 in the `_base64` field instead.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct BrowsedEvent {
    /// Its index in its type.
    pub index: u64,
    /// Whether that index is settled (never changes again).
    pub settled: bool,
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Kafka timestamp, ms since the epoch, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The key, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    /// The headers, in order.
    pub headers: Vec<BrowsedHeader>,
    /// The value, when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub value: Option<Box<RawValue>>,
    /// The value's bytes, when it is not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// The Avro writer schema's full name, when the value was Avro (then `value`
    /// is its JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avro_schema: Option<String>,
    /// The writer schema's format, when the value was decoded (then `value` is its
    /// JSON): `AVRO`, `PROTOBUF` or `JSON` (JSON Schema framed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    /// The writer schema's name (an Avro record's or Protobuf message's full name,
    /// a JSON Schema's title), when the value was decoded and it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The writer schema's registry id, when the value was Confluent-framed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_id: Option<u32>,
    /// True when the value is null: a tombstone (a key's deletion marker).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tombstone: bool,
    /// True when Kafka no longer has the event (retention, compaction): no value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
}

/// One header.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct BrowsedHeader {
    /// Its name.
    pub name: String,
    /// Its value, when it is UTF-8 (absent, with no `value_base64`, for a null header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Its value, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

/// `bytes` as (text, base64): one of them, by whether they are UTF-8.
pub fn text_or_base64(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (None, Some(BASE64.encode(bytes))),
    }
}

/// `body` as a JSON value to embed as it is, if it is JSON: checked, not parsed
/// into a tree and written again (an export spent a third of its time on that,
/// measured with perf). On one line, as an NDJSON export's lines must be: JSON
/// spread over lines is written again, compact.
fn one_line_json(body: &[u8]) -> Option<Box<RawValue>> {
    let raw: Box<RawValue> = serde_json::from_slice(body).ok()?;
    if !raw.get().contains('\n') {
        return Some(raw);
    }
    let value: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
    serde_json::value::to_raw_value(&value).ok()
}

impl BrowsedEvent {
    /// The event `found`, with what Kafka holds of it (None: gone) and its value
    /// as the decoder rendered it.
    pub fn new(
        state: &AppState,
        found: &Found,
        payload: Option<Payload>,
        rendered: Option<Rendered>,
    ) -> BrowsedEvent {
        let mut event = BrowsedEvent {
            index: found.index,
            settled: found.settled,
            topic: state.topics.name(found.position.topic).to_owned(),
            partition: found.position.partition,
            offset: found.position.offset,
            timestamp: None,
            key: None,
            key_base64: None,
            headers: Vec::new(),
            value: None,
            value_base64: None,
            avro_schema: None,
            schema_type: None,
            schema: None,
            schema_id: None,
            tombstone: payload.as_ref().is_some_and(|p| p.tombstone),
            gone: payload.is_none(),
        };
        let Some(payload) = payload else {
            return event;
        };
        event.timestamp = payload.timestamp_ms;
        if let Some(key) = &payload.key {
            (event.key, event.key_base64) = text_or_base64(key);
        }
        event.headers = payload
            .headers()
            .iter()
            .map(|header| {
                let (value, value_base64) = header
                    .value
                    .as_ref()
                    .map_or((None, None), |v| text_or_base64(v));
                BrowsedHeader {
                    name: header.name.clone(),
                    value,
                    value_base64,
                }
            })
            .collect();
        if payload.tombstone {
            return event;
        }
        let rendered = rendered.unwrap_or_else(|| Rendered::raw(payload.value));
        event.avro_schema = rendered.avro_schema().map(|name| name.to_string());
        if let Some(schema) = &rendered.schema {
            event.schema_type = Some(schema.schema_type.as_str().to_owned());
            event.schema = schema.name.as_deref().map(str::to_owned);
            event.schema_id = schema.id;
        }
        let json = (rendered.kind == ValueKind::Json)
            .then(|| one_line_json(&rendered.body))
            .flatten();
        match json {
            Some(value) => event.value = Some(value),
            None => event.value_base64 = Some(BASE64.encode(&rendered.body)),
        }
        event
    }
}

/// The events of `event_type` with indexes in `from..end`, in full.
async fn events(
    state: &AppState,
    event_type: &str,
    from: u64,
    end: u64,
) -> Result<Vec<BrowsedEvent>, ApiError> {
    let mut found = Vec::new();
    for at in from..end {
        if let Lookup::Found(event) = state.view.get(event_type, at) {
            found.push((event_type, event));
        }
    }
    in_full(state, &found).await
}

/// Each found event (with its type) in full: the uncached ones read from Kafka in
/// one pass per partition, each value rendered as its type's.
pub async fn in_full(
    state: &AppState,
    found: &[(&str, Found)],
) -> Result<Vec<BrowsedEvent>, ApiError> {
    let positions: Vec<_> = found.iter().map(|(_, f)| f.position).collect();
    let payloads = state.fetcher.payloads(&positions).await?;
    let mut events = Vec::with_capacity(found.len());
    for ((event_type, found), payload) in found.iter().zip(payloads) {
        // A value that does not render (registry down) is listed as its bytes.
        let rendered = match &payload {
            Some(payload) if !payload.tombstone => {
                render(state, event_type, payload.value.clone()).await.ok()
            }
            _ => None,
        };
        events.push(BrowsedEvent::new(state, found, payload, rendered));
    }
    Ok(events)
}

/// The range of `event_type` the query names.
async fn range(
    state: &AppState,
    event_type: &str,
    query: &RangeQuery,
) -> Result<EventRange, ApiError> {
    query.checked()?;
    let Some(index) = state.view.type_index(event_type) else {
        return Err(ApiError::UnknownType(event_type.to_owned()));
    };
    let total = index.len();
    let end = query.from.saturating_add(query.limit).min(total);
    Ok(EventRange {
        event_type: event_type.to_owned(),
        from: query.from,
        total,
        events: events(state, event_type, query.from, end).await?,
    })
}

/// A page of a type's events.
#[api_operation(
    tag = "events",
    operation_id = "get_event_range",
    summary = "A page of a type's events, in full",
    description = "Up to `limit` (1 to 1000, default 50) events of `type` from index `from` (default 0), each with its index, whether that index is settled, topic, partition, offset, timestamp, key, headers and value: `value` is the JSON value when the event is JSON or decoded to JSON (Avro, Protobuf or JSON Schema framed: then `schema_type`, `schema` and, when framed, `schema_id` name the writer schema, and `avro_schema` too for Avro), else `value_base64`; a key or header value that is not UTF-8 comes as `key_base64` or `value_base64`. `from` past the end answers no events. Uncached events are read from Kafka in one pass per partition. An event Kafka no longer has is listed with `gone: true`. Works for `unclassified`."
)]
pub async fn get_event_range(
    _auth: BearerAuth,
    state: Data<AppState>,
    event_type: EventType,
    query: Query<RangeQuery>,
) -> Result<Json<EventRange>, Failure<BrowseFailures>> {
    Ok(Json(range(&state, &event_type, &query).await?))
}
