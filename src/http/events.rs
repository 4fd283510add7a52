//! Event lookups: `GET /events/{type}?index=N` (or `?time=T`), its alias routes, and
//! `GET /positions/{topic}/{partition}/{offset}`, from a Kafka coordinate to its number.

use std::sync::Arc;

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, Responder};
use apistos::paths::Responses;
use apistos::reference_or::ReferenceOr;
use apistos::{ApiComponent, ApistosSchema, JsonSchema, OpenApiVersion, api_operation};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::error::{Answers, ApiError, ErrorCode, Failure};
use super::openapi::event_responses;
use super::query::{EventQuery, EventType, Target, ValueFormat};
use crate::decode::Rendered;
use crate::decode::{DecodeError, SchemaType};
use crate::fetch::Payload;
use crate::view::{Found, KeySeek, Lookup, Position, UNCLASSIFIED};

/// Response header naming the event's topic.
pub const HEADER_TOPIC: &str = "X-Kafka-Topic";
/// Response header naming the event's partition.
pub const HEADER_PARTITION: &str = "X-Kafka-Partition";
/// Response header naming the event's offset.
pub const HEADER_OFFSET: &str = "X-Kafka-Offset";
/// Response header carrying the event's timestamp in ms (absent if Kafka had none).
pub const HEADER_TIMESTAMP: &str = "X-Kafka-Timestamp";
/// Response header carrying the event's index in its type.
pub const HEADER_INDEX: &str = "X-Index";
/// Response header saying whether that index is settled (`true`: it never changes
/// again) or tentative (`false`: an event arriving late on a lagging partition may
/// still be placed before it).
pub const HEADER_INDEX_SETTLED: &str = "X-Index-Settled";
/// Response header naming the format of a decoded value's schema: `AVRO`,
/// `PROTOBUF` or `JSON`.
pub const HEADER_SCHEMA_TYPE: &str = "X-Schema-Type";
/// Response header carrying the registry schema id of a Confluent-framed value
/// of any format.
pub const HEADER_SCHEMA_ID: &str = "X-Schema-Id";
/// Response header naming the Avro writer schema (full name) of a decoded value.
pub const HEADER_AVRO_SCHEMA: &str = "X-Avro-Schema";
/// Response header carrying the registry schema id of a Confluent-framed value.
pub const HEADER_AVRO_SCHEMA_ID: &str = "X-Avro-Schema-Id";

/// An event's rendered value with its Kafka coordinates and its number as headers.
pub struct EventPayload {
    rendered: Rendered,
    timestamp_ms: Option<i64>,
    topic: String,
    found: Found,
}

impl Responder for EventPayload {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response
            .content_type(self.rendered.kind.content_type())
            .insert_header((HEADER_TOPIC, self.topic))
            .insert_header((HEADER_PARTITION, self.found.position.partition.to_string()))
            .insert_header((HEADER_OFFSET, self.found.position.offset.to_string()))
            .insert_header((HEADER_INDEX, self.found.index.to_string()))
            .insert_header((HEADER_INDEX_SETTLED, self.found.settled.to_string()));
        if let Some(timestamp) = self.timestamp_ms {
            response.insert_header((HEADER_TIMESTAMP, timestamp.to_string()));
        }
        if let Some(schema) = &self.rendered.schema {
            response.insert_header((HEADER_SCHEMA_TYPE, schema.schema_type.as_str()));
            if let Some(id) = schema.id {
                response.insert_header((HEADER_SCHEMA_ID, id.to_string()));
            }
            if let (SchemaType::Avro, Some(name)) = (schema.schema_type, &schema.name) {
                response.insert_header((HEADER_AVRO_SCHEMA, name.to_string()));
                if let Some(id) = schema.id {
                    response.insert_header((HEADER_AVRO_SCHEMA_ID, id.to_string()));
                }
            }
        }
        response.body(self.rendered.body)
    }
}

impl ApiComponent for EventPayload {
    fn child_schemas(_: OpenApiVersion) -> Vec<(String, ReferenceOr<ApistosSchema>)> {
        vec![]
    }

    fn schema(_: OpenApiVersion) -> Option<(String, ReferenceOr<ApistosSchema>)> {
        None
    }

    fn responses(_: OpenApiVersion, _: Option<String>, _: Option<String>) -> Option<Responses> {
        Some(event_responses())
    }
}

/// The event of `event_type` the query names: its position from the view, its bytes
/// from the fetcher, rendered by the decoder.
async fn event(
    state: &AppState,
    event_type: &str,
    query: &EventQuery,
    key: Option<Vec<u8>>,
) -> Result<EventPayload, ApiError> {
    let target = query.target()?;
    let clock = |time: i64| u64::try_from(time).unwrap_or(0);
    let lookup = match (target, key) {
        (Target::Index(index), None) => state.view.get(event_type, index),
        (Target::Time(time), None) => state.view.first_at_or_after(event_type, clock(time)),
        (_, Some(key)) => {
            if !state.keys_enabled {
                return Err(ApiError::KeyIndexOff);
            }
            let seek = match target {
                Target::Index(index) => KeySeek::Index(index),
                Target::Time(time) => KeySeek::Clock(clock(time)),
            };
            match state.view.key_lookup(&key, event_type, seek) {
                Lookup::OutOfRange { len: 0 } if state.view.key_summary(&key).is_none() => {
                    return Err(ApiError::NoSuchKey(String::from_utf8_lossy(&key).into()));
                }
                lookup => lookup,
            }
        }
    };
    let found = match (lookup, target) {
        (Lookup::Found(found), _) => found,
        (Lookup::OutOfRange { len }, Target::Index(index)) => {
            return Err(ApiError::NoSuchIndex {
                event_type: event_type.to_owned(),
                index,
                len,
            });
        }
        (Lookup::OutOfRange { len }, Target::Time(time)) => {
            return Err(ApiError::NoEventAtTime {
                event_type: event_type.to_owned(),
                time,
                len,
            });
        }
        (Lookup::UnknownType, _) => return Err(ApiError::UnknownType(event_type.to_owned())),
    };
    let Payload {
        value,
        timestamp_ms,
        ..
    } = state.fetcher.payload(found.position).await?;
    let rendered = match query.format {
        ValueFormat::Raw => Rendered::raw(value),
        ValueFormat::Json => render(state, event_type, value).await?,
    };
    Ok(EventPayload {
        rendered,
        timestamp_ms,
        topic: state.topics.name(found.position.topic).to_owned(),
        found,
    })
}

/// The value of an event of `event_type` rendered by the decoder, asking the
/// registry (off the request thread) for a schema id it has not fetched yet.
/// `unclassified` holds what did not decode: its values fall back to their bytes.
pub async fn render(
    state: &AppState,
    event_type: &str,
    value: Bytes,
) -> Result<Rendered, ApiError> {
    let mut outcome = decoded(state, event_type, &value);
    if let Err(DecodeError::NotAsked(id)) = outcome {
        let decoder = Arc::clone(&state.decoder);
        outcome = match actix_web::web::block(move || decoder.ask_registry(id)).await {
            Ok(Err(unreachable)) => Err(DecodeError::Unreachable(unreachable)),
            _ => decoded(state, event_type, &value),
        };
    }
    rendered_or_error(outcome, event_type, value)
}

/// As [`render`], on a thread that may block (an export's): the registry is asked
/// there.
pub fn render_blocking(
    state: &AppState,
    event_type: &str,
    value: Bytes,
) -> Result<Rendered, ApiError> {
    let mut outcome = decoded(state, event_type, &value);
    if let Err(DecodeError::NotAsked(id)) = outcome {
        outcome = (state.decoder.ask_registry(id))
            .map_err(DecodeError::Unreachable)
            .and_then(|()| decoded(state, event_type, &value));
    }
    rendered_or_error(outcome, event_type, value)
}

/// The decoder's rendering of `value` as an event of `event_type`.
fn decoded(state: &AppState, event_type: &str, value: &Bytes) -> Result<Rendered, DecodeError> {
    let typed = (event_type != UNCLASSIFIED).then_some(event_type);
    state.decoder.render(typed, value.clone())
}

/// What the decoder's `outcome` for `value` answers.
fn rendered_or_error(
    outcome: Result<Rendered, DecodeError>,
    event_type: &str,
    value: Bytes,
) -> Result<Rendered, ApiError> {
    match outcome {
        Ok(rendered) => Ok(rendered),
        Err(_) if event_type == UNCLASSIFIED => Ok(Rendered::raw(value)),
        Err(DecodeError::Unreachable(e)) => Err(ApiError::RegistryUnavailable(e.to_string())),
        Err(DecodeError::NotAsked(id)) => Err(ApiError::RegistryUnavailable(format!(
            "the Schema Registry was not asked for schema {id}"
        ))),
        Err(e @ (DecodeError::Invalid(..) | DecodeError::UnknownSchema(_))) => {
            Err(ApiError::DecodeFailed(format!("{event_type}: {e}")))
        }
    }
}

/// What a lookup can answer besides its event.
pub struct LookupFailures;

impl Answers for LookupFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::NoSuchIndex,
        ErrorCode::UnknownType,
        ErrorCode::NoEventAtTime,
        ErrorCode::EventGone,
        ErrorCode::KafkaUnavailable,
        ErrorCode::RegistryUnavailable,
        ErrorCode::DecodeFailed,
        ErrorCode::NoSuchKey,
        ErrorCode::KeyIndexOff,
        ErrorCode::Internal,
    ];
}

/// What a position lookup can answer besides the position.
pub struct PositionFailures;

impl Answers for PositionFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::PositionNotIndexed,
    ];
}

/// Get the Nth event of a type.
#[api_operation(
    tag = "events",
    operation_id = "get_event",
    summary = "Get the Nth event of a type",
    description = "Returns the event at `index` (from 0) among the events of `type`, or with `time` the first whose clock is at or after that time, byte for byte as stored in Kafka, except values of a format with schemas (Avro: a container file, a type with a local schema; Protobuf: a type with a local message; with a registry, Confluent framing of Avro, Protobuf or JSON Schema), which answer their JSON (Protobuf in proto3's canonical JSON mapping, framed JSON without its prefix) with `X-Schema-Type` (AVRO, PROTOBUF or JSON) and, when framed, `X-Schema-Id`; Avro keeps `X-Avro-Schema` (the writer schema's full name) and `X-Avro-Schema-Id`; `format=raw` answers the exact bytes of any event. Events of a type are numbered by (clock, topic name, partition, offset), where an event's clock is the running maximum of its partition's timestamps: the same number on every replica and after every restart. `X-Index` gives the number, `X-Index-Settled` whether it can still move. The type `unclassified` holds the events whose type could not be determined."
)]
pub async fn get_event(
    _auth: BearerAuth,
    state: Data<AppState>,
    event_type: EventType,
    query: Query<EventQuery>,
    request: HttpRequest,
) -> Result<EventPayload, Failure<LookupFailures>> {
    let key = match query.key {
        Some(_) => super::keys::query_key(&request)?,
        None => None,
    };
    Ok(event(&state, &event_type, &query, key).await?)
}

/// Where an indexed event stands in its type.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct IndexedPosition {
    /// The event's type (`unclassified` when it has none).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Its index in that type.
    pub index: u64,
    /// Whether that index is settled (never changes again).
    pub settled: bool,
}

/// Find an event's type and index from its Kafka position.
#[api_operation(
    tag = "events",
    operation_id = "get_position",
    summary = "Find the type and index of the event at a Kafka position",
    description = "For an auditor holding a Kafka coordinate: the type and per-type index of the event at topic/partition/offset, and whether that index is settled."
)]
pub async fn get_position(
    _auth: BearerAuth,
    state: Data<AppState>,
    path: Path<(String, i32, i64)>,
) -> Result<Json<IndexedPosition>, Failure<PositionFailures>> {
    let (topic, partition, offset) = path.into_inner();
    let not_indexed = || ApiError::PositionNotIndexed {
        topic: topic.clone(),
        partition,
        offset,
    };
    let topic_id = state.topics.id(&topic).ok_or_else(not_indexed)?;
    let position = Position {
        topic: topic_id,
        partition,
        offset,
    };
    let (event_type, found) = state.view.locate(position).ok_or_else(not_indexed)?;
    Ok(Json(IndexedPosition {
        event_type,
        index: found.index,
        settled: found.settled,
    }))
}
