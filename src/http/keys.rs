//! One entity's history: `GET /keys/{key}` (its counts, first and last events) and
//! `GET /keys/{key}/events?from=I&limit=L` (its events across types, in the one
//! numbering's order), from the key index.
//!
//! A key is named by its bytes, percent-encoded (`/keys/p-0017`, `/keys/%FF%FE`),
//! read from the raw request so that a key that is not UTF-8 is addressed exactly.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::web::{Data, Json, Path, Query};
use apistos::{ApiComponent, JsonSchema, api_operation};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::browse::{BrowsedEvent, RangeQuery, in_full, text_or_base64};
use super::error::{Answers, ApiError, ErrorCode, Failure};
use crate::view::KeyedEvent;

/// Where a key's path segment starts.
const KEYS_PREFIX: &str = "/keys/";

/// The bytes of the percent-encoded `raw` (`+` is a space where `plus_is_space`),
/// or a 400 naming `what`.
fn percent_decoded(raw: &str, plus_is_space: bool, what: &str) -> Result<Vec<u8>, ApiError> {
    let bad = || ApiError::InvalidQuery(format!("{what} has a malformed percent-escape"));
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let text = std::str::from_utf8(hex).map_err(|_| bad())?;
                decoded.push(u8::from_str_radix(text, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                i += 1;
            }
            _ => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    Ok(decoded)
}

/// The key named by the path `/keys/{key}...`, as bytes.
pub(super) fn path_key(request: &HttpRequest) -> Result<Vec<u8>, ApiError> {
    let rest = request.path().strip_prefix(KEYS_PREFIX).unwrap_or_default();
    let segment = rest.split('/').next().unwrap_or_default();
    percent_decoded(segment, false, "the key in the path")
}

/// The `key` query parameter as bytes (the query extractor has checked it is
/// given at most once); None when absent.
pub fn query_key(request: &HttpRequest) -> Result<Option<Vec<u8>>, ApiError> {
    request
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .map(|raw| percent_decoded(raw, true, "`key`"))
        .transpose()
}

/// A key as a person reads it: its text, or its bytes in base64.
pub(super) fn shown(key: &[u8]) -> String {
    match text_or_base64(key) {
        (Some(text), _) => format!("{text:?}"),
        (_, base64) => format!("(base64) {}", base64.unwrap_or_default()),
    }
}

/// The key index, or why it cannot answer.
pub(super) fn key_index_on(state: &AppState) -> Result<(), ApiError> {
    state
        .keys_enabled
        .then_some(())
        .ok_or(ApiError::KeyIndexOff)
}

/// What a key lookup can answer besides the key's events.
pub struct KeyFailures;

impl Answers for KeyFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::NoSuchKey,
        ErrorCode::KeyIndexOff,
        ErrorCode::KafkaUnavailable,
    ];
}

/// A key as a response names it: `key` when it is UTF-8, else `key_base64`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeyName {
    /// The key, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
}

impl KeyName {
    fn of(key: &[u8]) -> KeyName {
        let (key, key_base64) = text_or_base64(key);
        KeyName { key, key_base64 }
    }
}

/// Where one event of a key's history is: its type, its index there, and Kafka's
/// coordinates.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeyedPosition {
    /// Its type (`unclassified` when it has none: a tombstone, say).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Its index in that type.
    pub index: u64,
    /// Whether that index is settled (never changes again).
    pub settled: bool,
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Its clock (ms since the epoch): the running maximum of its partition's timestamps.
    pub clock_ms: u64,
}

impl KeyedPosition {
    fn of(state: &AppState, keyed: &KeyedEvent) -> KeyedPosition {
        let found = &keyed.found;
        KeyedPosition {
            event_type: keyed.event_type.to_string(),
            index: found.index,
            settled: found.settled,
            topic: state.topics.name(found.position.topic).to_owned(),
            partition: found.position.partition,
            offset: found.position.offset,
            clock_ms: found.clock,
        }
    }
}

/// What the key index holds of one key.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeyHistory {
    /// The key.
    #[serde(flatten)]
    pub name: KeyName,
    /// Its events, across types.
    pub total: u64,
    /// Its events per type.
    pub types: BTreeMap<String, u64>,
    /// Its first event in the numbering's order.
    pub first: KeyedPosition,
    /// Its last event in the numbering's order.
    pub last: KeyedPosition,
}

/// Sum up one key's history.
#[api_operation(
    tag = "keys",
    operation_id = "get_key",
    summary = "What one entity (a key) has: its events per type, its first and last",
    description = "For the key in the path (its bytes percent-encoded: `/keys/p-0017`, `/keys/%FF%FE` for a key that is not UTF-8): how many events it has, per type, and where its first and last events are (type, index in that type, Kafka position, clock). From the key index ([keys] by): no Kafka read. 404 `no_such_key` for a key never indexed, `key_index_off` when the key index is off."
)]
pub async fn get_key(
    _auth: BearerAuth,
    state: Data<AppState>,
    request: HttpRequest,
    _key: Path<String>,
) -> Result<Json<KeyHistory>, Failure<KeyFailures>> {
    key_index_on(&state)?;
    let key = path_key(&request)?;
    let summary = state
        .view
        .key_summary(&key)
        .ok_or_else(|| ApiError::NoSuchKey(shown(&key)))?;
    Ok(Json(KeyHistory {
        name: KeyName::of(&key),
        total: summary.total,
        types: summary
            .types
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect(),
        first: KeyedPosition::of(&state, &summary.first),
        last: KeyedPosition::of(&state, &summary.last),
    }))
}

/// One event of a key's history in full: a `/range` item with its type.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeyedBrowsedEvent {
    /// Its type (`unclassified` when it has none).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event, as `/events/{type}/range` lists it (`index` is its index in its type).
    #[serde(flatten)]
    pub event: BrowsedEvent,
}

/// A page of a key's history.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeyEvents {
    /// The key.
    #[serde(flatten)]
    pub name: KeyName,
    /// The place in the key's history of the first event listed.
    pub from: u64,
    /// How many events the key has.
    pub total: u64,
    /// The events, in the numbering's order.
    pub events: Vec<KeyedBrowsedEvent>,
}

/// A page of one key's events, across types.
#[api_operation(
    tag = "keys",
    operation_id = "get_key_events",
    summary = "One entity's events across types, in order, in full",
    description = "Up to `limit` (1 to 1000, default 50) events of the key in the path (its bytes percent-encoded), from its `from`-th (default 0), in the one numbering's order (clock, topic name, partition, offset), across types. Each is shaped like a /events/{type}/range item, with its `type` added (`index` is its index in that type); a tombstone (a null value) is listed with `tombstone: true`. From the key index, then the cache or Kafka (one pass per partition)."
)]
pub async fn get_key_events(
    _auth: BearerAuth,
    state: Data<AppState>,
    request: HttpRequest,
    _key: Path<String>,
    query: Query<RangeQuery>,
) -> Result<Json<KeyEvents>, Failure<KeyFailures>> {
    key_index_on(&state)?;
    query.checked()?;
    let key = path_key(&request)?;
    let (total, keyed) = state
        .view
        .key_events(&key, query.from, query.limit)
        .ok_or_else(|| ApiError::NoSuchKey(shown(&key)))?;
    let found: Vec<(&str, _)> = keyed
        .iter()
        .map(|k| (k.event_type.as_ref(), k.found))
        .collect();
    let events = in_full(&state, &found)
        .await?
        .into_iter()
        .zip(&keyed)
        .map(|(event, keyed)| KeyedBrowsedEvent {
            event_type: keyed.event_type.to_string(),
            event,
        })
        .collect();
    Ok(Json(KeyEvents {
        name: KeyName::of(&key),
        from: query.from,
        total,
        events,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_percent_decoded_to_their_bytes() {
        let decoded = |raw: &str, plus| percent_decoded(raw, plus, "key").ok();
        assert_eq!(decoded("p-0017", false), Some(b"p-0017".to_vec()));
        assert_eq!(decoded("%FF%fe", false), Some(vec![0xff, 0xfe]));
        assert_eq!(decoded("a%2Fb+c", false), Some(b"a/b+c".to_vec()));
        assert_eq!(decoded("a+c", true), Some(b"a c".to_vec()));
        assert_eq!(decoded("%E2%9C%93", false), Some("✓".as_bytes().to_vec()));
        for bad in ["%", "%F", "%GG", "a%2"] {
            assert_eq!(decoded(bad, false), None, "{bad}");
        }
    }
}
