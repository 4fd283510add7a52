//! The HTTP API: index lookups, per-type counts, and the OpenAPI document.
//!
//! Handlers only read the shared view and ask the payload layer for bytes; every
//! answer is O(1) in the topic's size (counts are O(number of types)).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use apistos::paths::{Header, MediaType, ParameterDefinition, Response, Responses};
use apistos::reference_or::ReferenceOr;
use apistos::{
    ApiComponent, ApiErrorComponent, ApistosSchema, JsonSchema, OpenApiVersion, Schema,
    VersionSpecificSchema,
};
use apistos::{api_operation, web};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::classify::UNCLASSIFIED;
use crate::fetch::{FetchError, KafkaReader, PayloadCache};
use crate::view::{Lookup, Position, View};

/// What the handlers share.
pub struct AppState {
    /// The index.
    pub view: View,
    /// Payloads kept at ingest time.
    pub cache: PayloadCache,
    /// Point reads for cache misses.
    pub reader: Arc<KafkaReader>,
    /// Topic names, by the index positions store.
    pub topics: Vec<String>,
}

/// Body of every error response.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct ErrorMessage {
    /// What went wrong, for a person.
    pub message: String,
}

/// Every way a request can fail; [`ApiError::status_code`] is the one table from
/// error to HTTP status. The body is always `{"message": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The `index` query parameter is missing or not a whole number in range.
    #[error(
        "Invalid index: {0}. Use ?index=N with N a whole number from 0 to 18446744073709551615."
    )]
    InvalidIndex(String),
    /// The type exists but has no event at this index.
    #[error("No message at index {index}! Type '{event_type}' has {len} events.")]
    NoSuchIndex {
        /// The type asked for.
        event_type: String,
        /// The index asked for.
        index: u64,
        /// How many events the type has.
        len: u64,
    },
    /// No event of this type has been seen and no route declares it.
    #[error("Unknown event type '{0}': no event of this type has been indexed.")]
    UnknownType(String),
    /// The event was indexed but Kafka no longer has it.
    #[error("{0}")]
    Gone(String),
    /// Kafka could not be reached to read the event.
    #[error("{0}")]
    Unavailable(String),
}

/// The statuses [`ApiError`] maps to, with their OpenAPI descriptions.
const ERROR_STATUSES: [(StatusCode, &str); 4] = [
    (
        StatusCode::BAD_REQUEST,
        "The index parameter is missing or not a whole number in range",
    ),
    (
        StatusCode::NOT_FOUND,
        "No event at this index, or the type is unknown",
    ),
    (
        StatusCode::GONE,
        "The event was indexed but Kafka no longer has it (retention or compaction)",
    ),
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Kafka could not be reached in time to read the event",
    ),
];

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidIndex(_) => StatusCode::BAD_REQUEST,
            ApiError::NoSuchIndex { .. } | ApiError::UnknownType(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorMessage {
            message: self.to_string(),
        })
    }
}

impl From<FetchError> for ApiError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Gone { .. } => ApiError::Gone(error.to_string()),
            _ => ApiError::Unavailable(error.to_string()),
        }
    }
}

fn error_message_schema(
    oas_version: OpenApiVersion,
) -> Option<(String, ReferenceOr<ApistosSchema>)> {
    <ErrorMessage as ApiComponent>::schema(oas_version)
}

impl ApiErrorComponent for ApiError {
    fn schemas_by_status_code(
        oas_version: OpenApiVersion,
    ) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
        error_message_schema(oas_version)
            .map(|schema| {
                ERROR_STATUSES
                    .iter()
                    .map(|(status, _)| (status.as_u16().to_string(), schema.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn error_responses(oas_version: OpenApiVersion) -> Vec<(String, Response)> {
        let content = error_message_schema(oas_version).map(|(name, schema)| {
            let schema = match oas_version {
                OpenApiVersion::OAS3_0 => VersionSpecificSchema::OAS3_0(ReferenceOr::Reference {
                    _ref: format!("#/components/schemas/{name}"),
                }),
                OpenApiVersion::OAS3_1 => match schema {
                    ReferenceOr::Object(schema) => VersionSpecificSchema::OAS3_1(schema),
                    ReferenceOr::Reference { _ref } => {
                        VersionSpecificSchema::OAS3_0(ReferenceOr::Reference { _ref })
                    }
                },
            };
            BTreeMap::from([(
                "application/json".to_owned(),
                MediaType {
                    schema: Some(schema),
                    ..Default::default()
                },
            )])
        });
        ERROR_STATUSES
            .iter()
            .map(|(status, description)| {
                (
                    status.as_u16().to_string(),
                    Response {
                        description: (*description).to_owned(),
                        content: content.clone().unwrap_or_default(),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }
}

/// The `?index=N` query of an event lookup.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct IndexQuery {
    /// Position of the event among events of its type, from 0, in topic order.
    pub index: u64,
}

/// Turns query-string errors into the JSON 400 every other error uses.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|error, _req| ApiError::InvalidIndex(error.to_string()).into())
}

/// An event's value bytes with its Kafka coordinates as headers.
pub struct EventPayload {
    value: Bytes,
    topic: String,
    position: Position,
}

/// Response header naming the event's topic.
pub const HEADER_TOPIC: &str = "X-Kafka-Topic";
/// Response header naming the event's partition.
pub const HEADER_PARTITION: &str = "X-Kafka-Partition";
/// Response header naming the event's offset.
pub const HEADER_OFFSET: &str = "X-Kafka-Offset";
/// Response header carrying the event's timestamp in ms (absent if Kafka had none).
pub const HEADER_TIMESTAMP: &str = "X-Kafka-Timestamp";

impl Responder for EventPayload {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&self.value).is_ok();
        let mut response = HttpResponse::Ok();
        response
            .content_type(if is_json {
                ContentType::json()
            } else {
                ContentType::octet_stream()
            })
            .insert_header((HEADER_TOPIC, self.topic))
            .insert_header((HEADER_PARTITION, self.position.partition.to_string()))
            .insert_header((HEADER_OFFSET, self.position.offset.to_string()));
        if let Some(timestamp) = self.position.timestamp_ms {
            response.insert_header((HEADER_TIMESTAMP, timestamp.to_string()));
        }
        response.body(self.value)
    }
}

fn json_schema(value: serde_json::Value) -> ReferenceOr<ApistosSchema> {
    let schema = Schema::try_from(value).unwrap_or_default();
    ReferenceOr::Object(ApistosSchema::new(schema, OpenApiVersion::OAS3_0))
}

impl ApiComponent for EventPayload {
    fn child_schemas(_: OpenApiVersion) -> Vec<(String, ReferenceOr<ApistosSchema>)> {
        vec![]
    }

    fn schema(_: OpenApiVersion) -> Option<(String, ReferenceOr<ApistosSchema>)> {
        None
    }

    fn responses(_: OpenApiVersion, _: Option<String>, _: Option<String>) -> Option<Responses> {
        let header = |description: &str, schema: serde_json::Value, required: bool| {
            ReferenceOr::Object(Header {
                description: Some(description.to_owned()),
                required: Some(required),
                definition: Some(ParameterDefinition::Schema(json_schema(schema))),
                ..Default::default()
            })
        };
        let body = |schema: serde_json::Value| MediaType {
            schema: match json_schema(schema) {
                ReferenceOr::Object(s) => {
                    Some(VersionSpecificSchema::OAS3_0(ReferenceOr::Object(s)))
                }
                ReferenceOr::Reference { .. } => None,
            },
            ..Default::default()
        };
        let ok = Response {
            description: "The event's value, byte for byte as stored in Kafka".to_owned(),
            headers: BTreeMap::from([
                (
                    HEADER_TOPIC.to_owned(),
                    header(
                        "Topic of the event",
                        serde_json::json!({"type": "string"}),
                        true,
                    ),
                ),
                (
                    HEADER_PARTITION.to_owned(),
                    header(
                        "Partition of the event",
                        serde_json::json!({"type": "integer", "format": "int32"}),
                        true,
                    ),
                ),
                (
                    HEADER_OFFSET.to_owned(),
                    header(
                        "Offset of the event",
                        serde_json::json!({"type": "integer", "format": "int64"}),
                        true,
                    ),
                ),
                (
                    HEADER_TIMESTAMP.to_owned(),
                    header(
                        "Kafka timestamp of the event, ms since the epoch; absent when Kafka has none",
                        serde_json::json!({"type": "integer", "format": "int64"}),
                        false,
                    ),
                ),
            ]),
            content: BTreeMap::from([
                (
                    "application/json".to_owned(),
                    body(serde_json::json!({"description": "The event, when its value is JSON"})),
                ),
                (
                    "application/octet-stream".to_owned(),
                    body(serde_json::json!({"type": "string", "format": "binary"})),
                ),
            ]),
            ..Default::default()
        };
        Some(Responses {
            responses: BTreeMap::from([("200".to_owned(), ReferenceOr::Object(ok))]),
            ..Default::default()
        })
    }
}

/// Per-type event counts: `{"blood_pressure": 22, "heart_rate": 33}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
#[serde(transparent)]
pub struct Stats(pub BTreeMap<String, u64>);

/// Finds the event and its bytes: from the cache, else from Kafka.
async fn lookup(state: &AppState, event_type: &str, index: u64) -> Result<EventPayload, ApiError> {
    let lookup = if event_type == UNCLASSIFIED {
        let unclassified = state.view.unclassified();
        match unclassified.get(index) {
            Some(position) => Lookup::Found(position),
            None => Lookup::OutOfRange {
                len: unclassified.len(),
            },
        }
    } else {
        state.view.get(event_type, index)
    };
    let position = match lookup {
        Lookup::Found(position) => position,
        Lookup::OutOfRange { len } => {
            return Err(ApiError::NoSuchIndex {
                event_type: event_type.to_owned(),
                index,
                len,
            });
        }
        Lookup::UnknownType => return Err(ApiError::UnknownType(event_type.to_owned())),
    };
    let value = match state.cache.get(&position) {
        Some(value) => value,
        None => state.reader.read(position).await?,
    };
    Ok(EventPayload {
        value,
        topic: state
            .topics
            .get(usize::from(position.topic))
            .cloned()
            .unwrap_or_default(),
        position,
    })
}

/// Get the Nth event of a type.
#[api_operation(
    tag = "events",
    operation_id = "get_event",
    summary = "Get the Nth event of a type",
    description = "Returns the event at `index` (from 0) among the events of `type`, in topic order, byte for byte as stored in Kafka. The type `unclassified` holds the events whose type could not be determined.",
    error_code = 400,
    error_code = 404,
    error_code = 410,
    error_code = 503
)]
pub async fn get_event(
    state: Data<AppState>,
    event_type: Path<String>,
    query: Query<IndexQuery>,
) -> Result<EventPayload, ApiError> {
    lookup(&state, &event_type, query.index).await
}

/// The type an alias route serves.
#[derive(Debug, Clone)]
pub struct AliasType(pub String);

/// Get the Nth event of the type this alias route serves.
#[api_operation(
    tag = "events",
    operation_id = "get_alias_event",
    summary = "Get the Nth event of this route's type",
    description = "An alias declared in the configuration's [[routes]]: same as /events/{type}?index=N for its type.",
    error_code = 400,
    error_code = 404,
    error_code = 410,
    error_code = 503
)]
pub async fn get_alias_event(
    state: Data<AppState>,
    alias: Data<AliasType>,
    query: Query<IndexQuery>,
) -> Result<EventPayload, ApiError> {
    lookup(&state, &alias.0, query.index).await
}

/// Exact event counts per type.
#[api_operation(
    tag = "stats",
    operation_id = "get_stats",
    summary = "Count events per type",
    description = "Exact number of indexed events of each type, including types declared in routes that have none yet. Unclassified events are not counted here."
)]
pub async fn get_stats(state: Data<AppState>) -> actix_web::web::Json<Stats> {
    actix_web::web::Json(Stats(state.view.counts()))
}

/// Registers the API's routes, one alias resource per `(path, type)`.
pub fn routes(aliases: &[(String, String)]) -> impl FnOnce(&mut apistos::web::ServiceConfig) {
    let aliases = aliases.to_vec();
    move |cfg: &mut apistos::web::ServiceConfig| {
        cfg.service(web::resource("/events/{type}").route(web::get().to(get_event)))
            .service(web::resource("/stats").route(web::get().to(get_stats)));
        for (path, event_type) in aliases {
            cfg.service(
                web::resource(&path)
                    .app_data(Data::new(AliasType(event_type)))
                    .route(web::get().to(get_alias_event)),
            );
        }
    }
}
