//! The HTTP API: index lookups, per-type counts, and the OpenAPI document.
//!
//! Handlers only read the shared view and ask the payload layer for bytes; every
//! answer is O(1) in the topic's size (counts are O(number of types)).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use apistos::paths::{Header, MediaType, ParameterDefinition, Response, Responses};
use apistos::reference_or::ReferenceOr;
use apistos::{
    ApiComponent, ApiErrorComponent, ApiSecurity, ApistosSchema, JsonSchema, OpenApiVersion,
    Schema, VersionSpecificSchema,
};
use apistos::{api_operation, web};
use serde::{Deserialize, Serialize};

use crate::classify::UNCLASSIFIED;
use crate::fetch::{FetchError, KafkaReader, Payload, PayloadCache};
use crate::ingest::{IngestStatus, PartitionReport};
use crate::metrics::{self, Metrics};
use crate::view::{Lookup, Position, TypeIndex, View};

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
    /// What the ingest thread reports.
    pub ingest: Arc<IngestStatus>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// When the process started, for uptime.
    pub started: Instant,
    /// The bearer token the data endpoints require, if any.
    pub auth_token: Option<String>,
    /// Whether `/metrics` requires the token too.
    pub protect_metrics: bool,
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
    /// The bearer token is missing or wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
}

/// The statuses [`ApiError`] maps to, with their OpenAPI descriptions.
const ERROR_STATUSES: [(StatusCode, &str); 5] = [
    (
        StatusCode::UNAUTHORIZED,
        "The bearer token is missing or wrong (only when the server sets [http] auth_token)",
    ),
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
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::Unauthorized(_) = self {
            response.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                r#"Bearer realm="analyzer""#,
            ));
        }
        response.json(ErrorMessage {
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

/// OpenAPI responses for `statuses`, each with a JSON body of schema `T`.
fn json_responses<T: ApiComponent>(
    oas_version: OpenApiVersion,
    statuses: &[(StatusCode, &str)],
) -> Vec<(String, Response)> {
    let content = T::schema(oas_version).map(|(name, schema)| {
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
    statuses
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

/// The component schemas `json_responses` refers to, by status.
fn json_schemas<T: ApiComponent>(
    oas_version: OpenApiVersion,
    statuses: &[(StatusCode, &str)],
) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
    T::schema(oas_version)
        .map(|schema| {
            statuses
                .iter()
                .map(|(status, _)| (status.as_u16().to_string(), schema.clone()))
                .collect()
        })
        .unwrap_or_default()
}

impl ApiErrorComponent for ApiError {
    fn schemas_by_status_code(
        oas_version: OpenApiVersion,
    ) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
        json_schemas::<ErrorMessage>(oas_version, &ERROR_STATUSES)
    }

    fn error_responses(oas_version: OpenApiVersion) -> Vec<(String, Response)> {
        json_responses::<ErrorMessage>(oas_version, &ERROR_STATUSES)
    }
}

/// The `?index=N` query of an event lookup.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct IndexQuery {
    /// Position of the event among events of its type, from 0, in topic order.
    #[schemars(range(max = u64::MAX))]
    pub index: u64,
}

/// Access to the data endpoints: `Authorization: Bearer <token>` when the server sets
/// `[http] auth_token` (compared in constant time); no check otherwise.
#[derive(ApiSecurity)]
#[openapi_security(scheme(security_type(http(scheme = "bearer"))))]
pub struct BearerAuth;

impl actix_web::FromRequest for BearerAuth {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<Data<AppState>>();
        let token = state.and_then(|s| s.auth_token.as_deref());
        std::future::ready(authorize(request, token).map(|()| BearerAuth))
    }
}

/// Checks the request's bearer token against `token` (no token: always allowed).
fn authorize(request: &HttpRequest, token: Option<&str>) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Ok(());
    };
    let presented = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if constant_time_eq(presented.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("The bearer token is not valid.")),
        None => Err(ApiError::Unauthorized(
            "This endpoint needs an Authorization: Bearer <token> header.",
        )),
    }
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Turns query-string errors into the JSON 400 every other error uses.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|error, _req| ApiError::InvalidIndex(error.to_string()).into())
}

/// An event's value bytes with its Kafka coordinates as headers.
pub struct EventPayload {
    payload: Payload,
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
        let value = self.payload.value;
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&value).is_ok();
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
        if let Some(timestamp) = self.payload.timestamp_ms {
            response.insert_header((HEADER_TIMESTAMP, timestamp.to_string()));
        }
        response.body(value)
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
        let unclassified: Arc<TypeIndex> = state.view.unclassified();
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
    let payload = match state.cache.get(&position) {
        Some(payload) => payload,
        None => {
            let started = Instant::now();
            let read = state.reader.read(position).await;
            state.metrics.observe_kafka_fetch(started.elapsed());
            read?
        }
    };
    Ok(EventPayload {
        payload,
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
    error_code = 401,
    error_code = 404,
    error_code = 410,
    error_code = 503
)]
pub async fn get_event(
    _auth: BearerAuth,
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
    error_code = 401,
    error_code = 404,
    error_code = 410,
    error_code = 503
)]
pub async fn get_alias_event(
    _auth: BearerAuth,
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
    description = "Exact number of indexed events of each type, including types declared in routes that have none yet. Unclassified events are not counted here.",
    error_code = 401
)]
pub async fn get_stats(
    _auth: BearerAuth,
    state: Data<AppState>,
) -> Result<actix_web::web::Json<Stats>, ApiError> {
    Ok(actix_web::web::Json(Stats(state.view.counts())))
}

/// Registers the API's routes, one alias resource per `(path, type)`.
pub fn routes(aliases: &[(String, String)]) -> impl FnOnce(&mut apistos::web::ServiceConfig) {
    let aliases = aliases.to_vec();
    move |cfg: &mut apistos::web::ServiceConfig| {
        cfg.service(web::resource("/events/{type}").route(web::get().to(get_event)))
            .service(web::resource("/stats").route(web::get().to(get_stats)))
            .service(web::resource("/status").route(web::get().to(get_status)))
            .service(web::resource("/health/live").route(web::get().to(get_live)))
            .service(web::resource("/health/ready").route(web::get().to(get_ready)));
        for (path, event_type) in aliases {
            cfg.service(
                web::resource(&path)
                    .app_data(Data::new(AliasType(event_type)))
                    .route(web::get().to(get_alias_event)),
            );
        }
    }
}

/// `/health/live` body.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Liveness {
    /// `ok`, or `failed` once ingest has stopped on an unrecoverable error.
    pub status: String,
    /// Why ingest stopped, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A probe body that failed the probe: answered with 503 and the body as JSON.
pub trait ProbeBody: Serialize + ApiComponent + std::fmt::Debug + 'static {
    /// When the probe fails, for the OpenAPI document.
    const FAILS_WHEN: &'static str;
}

impl ProbeBody for Liveness {
    const FAILS_WHEN: &'static str =
        "Ingest stopped on an unrecoverable error (e.g. authentication); restart the process";
}

impl ProbeBody for Readiness {
    const FAILS_WHEN: &'static str =
        "Still catching up: some partition has not been read to its end yet";
}

/// A failed probe: 503 with its body.
#[derive(Debug, thiserror::Error)]
#[error("probe failed: {0:?}")]
pub struct ProbeFailed<T: ProbeBody>(T);

impl<T: ProbeBody> ProbeFailed<T> {
    const STATUSES: [(StatusCode, &'static str); 1] =
        [(StatusCode::SERVICE_UNAVAILABLE, T::FAILS_WHEN)];
}

impl<T: ProbeBody> ResponseError for ProbeFailed<T> {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(&self.0)
    }
}

impl<T: ProbeBody> ApiErrorComponent for ProbeFailed<T> {
    fn schemas_by_status_code(
        oas_version: OpenApiVersion,
    ) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
        json_schemas::<T>(oas_version, &Self::STATUSES)
    }

    fn error_responses(oas_version: OpenApiVersion) -> Vec<(String, Response)> {
        json_responses::<T>(oas_version, &Self::STATUSES)
    }
}

/// Liveness probe.
#[api_operation(
    tag = "operations",
    operation_id = "get_live",
    summary = "Liveness probe",
    description = "200 while the process and its ingest thread run. A broker outage does not make it fail; only an unrecoverable ingest error (authentication, authorization) does, with 503.",
    error_code = 503
)]
pub async fn get_live(
    state: Data<AppState>,
) -> Result<actix_web::web::Json<Liveness>, ProbeFailed<Liveness>> {
    if state.ingest.is_running() {
        Ok(actix_web::web::Json(Liveness {
            status: "ok".into(),
            message: None,
        }))
    } else {
        Err(ProbeFailed(Liveness {
            status: "failed".into(),
            message: Some(
                state
                    .ingest
                    .fatal_error()
                    .unwrap_or_else(|| "ingest stopped".into()),
            ),
        }))
    }
}

/// Catch-up progress of one partition, in offsets from its log start.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct PartitionProgress {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offsets read.
    pub indexed: u64,
    /// Offsets to read: up to the end of the log as last fetched.
    pub target: u64,
    /// indexed / target, from 0.0 to 1.0.
    pub progress: f64,
    /// Read to its end.
    pub caught_up: bool,
}

/// `/health/ready` body: whether the index is complete, and how far catch-up is.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Readiness {
    /// True once every partition has been read to the end seen at (or after) startup.
    pub ready: bool,
    /// Offsets read, over all partitions.
    pub indexed: u64,
    /// Offsets to read, over all partitions.
    pub target: u64,
    /// indexed / target, from 0.0 to 1.0.
    pub progress: f64,
    /// The same, per partition.
    pub partitions: Vec<PartitionProgress>,
}

fn ratio(done: u64, target: u64, complete: bool) -> f64 {
    match target {
        0 if complete => 1.0,
        0 => 0.0,
        _ => (done as f64 / target as f64).min(1.0),
    }
}

/// Readiness probe.
#[api_operation(
    tag = "operations",
    operation_id = "get_ready",
    summary = "Readiness probe",
    description = "503 until every assigned partition has been read up to the end of the log seen at (or after) startup, then 200 for good. The body always reports catch-up progress."
)]
pub async fn get_ready(
    state: Data<AppState>,
) -> Result<actix_web::web::Json<Readiness>, ProbeFailed<Readiness>> {
    let ready = state.ingest.is_ready();
    let partitions: Vec<PartitionProgress> = state
        .ingest
        .partitions()
        .into_iter()
        .map(|p| {
            let (indexed, target) = p.progress();
            PartitionProgress {
                progress: ratio(indexed, target, p.caught_up),
                topic: p.topic,
                partition: p.partition,
                indexed,
                target,
                caught_up: p.caught_up,
            }
        })
        .collect();
    let indexed = partitions.iter().map(|p| p.indexed).sum();
    let target = partitions.iter().map(|p| p.target).sum();
    let readiness = Readiness {
        ready,
        indexed,
        target,
        progress: ratio(indexed, target, ready),
        partitions,
    };
    if ready {
        Ok(actix_web::web::Json(readiness))
    } else {
        Err(ProbeFailed(readiness))
    }
}

/// Where an event is in Kafka.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct EventPosition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Kafka timestamp, ms since the epoch, if any.
    pub timestamp_ms: Option<i64>,
}

/// One type's part of the index.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct TypeStatus {
    /// Events of this type.
    pub count: u64,
    /// Total size of their values.
    pub bytes: u64,
    /// The first event (index 0).
    pub first: Option<EventPosition>,
    /// The last event.
    pub last: Option<EventPosition>,
}

/// The events whose type could not be determined.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct UnclassifiedStatus {
    /// Counts by reason (every reason listed).
    pub by_reason: BTreeMap<String, u64>,
    /// Their positions: fetch them with `/events/unclassified?index=N`.
    #[serde(flatten)]
    pub index: TypeStatus,
}

/// One partition's ingest state.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct PartitionStatus {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Next offset to index (one past the last indexed).
    pub next_offset: i64,
    /// End of the log as the latest Fetch reported it.
    pub high_watermark: Option<i64>,
    /// high_watermark - next_offset.
    pub lag: Option<i64>,
    /// First offset still in Kafka; lookups of older events answer 410.
    pub log_start_offset: Option<i64>,
    /// Read to its end.
    pub caught_up: bool,
}

/// A broker as the ingest client sees it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct BrokerStatus {
    /// `host:port/id`.
    pub name: String,
    /// librdkafka's connection state: `UP`, `DOWN`, `CONNECT`, `AUTH`, `INIT`, ...
    pub state: String,
}

/// The Kafka connection.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KafkaStatus {
    /// `up` when some broker is connected, `down` when none is, `unknown` before the first report.
    pub connection: String,
    /// Every broker known.
    pub brokers: Vec<BrokerStatus>,
}

/// The payload cache.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct CacheStatus {
    /// Budget (0: disabled).
    pub max_bytes: u64,
    /// Bytes charged (payloads plus bookkeeping).
    pub bytes: u64,
    /// Payloads held.
    pub entries: u64,
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that read from Kafka.
    pub misses: u64,
}

/// `/status`: everything an operator or an audit UI may want to know.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Status {
    /// analyzer's version.
    pub version: String,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// Every partition was read to its end once (as `/health/ready`).
    pub ready: bool,
    /// Every partition is read to its end now.
    pub caught_up: bool,
    /// The ingest thread runs.
    pub ingest_running: bool,
    /// Why ingest stopped, if it failed.
    pub fatal_error: Option<String>,
    /// Broker connection state.
    pub kafka: KafkaStatus,
    /// Per partition.
    pub partitions: Vec<PartitionStatus>,
    /// Per type.
    pub types: BTreeMap<String, TypeStatus>,
    /// Events without a type.
    pub unclassified: UnclassifiedStatus,
    /// Payload cache.
    pub cache: CacheStatus,
    /// Messages delivered again at an offset already indexed, and skipped.
    pub duplicates_skipped: u64,
    /// Topics found deleted and recreated (or truncated), and re-read.
    pub topic_resets: u64,
}

fn type_status(index: &TypeIndex, topics: &[String]) -> TypeStatus {
    let position = |p: Position, timestamp_ms| EventPosition {
        topic: topics
            .get(usize::from(p.topic))
            .cloned()
            .unwrap_or_default(),
        partition: p.partition,
        offset: p.offset,
        timestamp_ms,
    };
    let ends = index.first_and_last();
    let (first_timestamp, last_timestamp) = index.first_and_last_timestamps();
    TypeStatus {
        count: index.len(),
        bytes: index.value_bytes(),
        first: ends.map(|(first, _)| position(first, first_timestamp)),
        last: ends.map(|(_, last)| position(last, last_timestamp)),
    }
}

fn partition_status(p: PartitionReport) -> PartitionStatus {
    PartitionStatus {
        lag: p.lag(),
        topic: p.topic,
        partition: p.partition,
        next_offset: p.next_offset,
        high_watermark: p.high_watermark,
        log_start_offset: p.log_start_offset,
        caught_up: p.caught_up,
    }
}

/// Operational status.
#[api_operation(
    tag = "operations",
    operation_id = "get_status",
    summary = "Operational status",
    description = "Version, uptime, broker connection, per-partition offsets and lag, per-type counts with first and last positions, unclassified counts by reason, payload cache figures.",
    error_code = 401
)]
pub async fn get_status(
    _auth: BearerAuth,
    state: Data<AppState>,
) -> Result<actix_web::web::Json<Status>, ApiError> {
    let ingest = &state.ingest;
    let brokers: Vec<BrokerStatus> = ingest
        .brokers()
        .into_iter()
        .map(|b| BrokerStatus {
            name: b.name,
            state: b.state,
        })
        .collect();
    let connection = if brokers.is_empty() {
        "unknown"
    } else if brokers.iter().any(|b| b.state == "UP") {
        "up"
    } else {
        "down"
    };
    let cache = state.cache.stats();
    Ok(actix_web::web::Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        ready: ingest.is_ready(),
        caught_up: ingest.is_caught_up(),
        ingest_running: ingest.is_running(),
        fatal_error: ingest.fatal_error(),
        kafka: KafkaStatus {
            connection: connection.to_owned(),
            brokers,
        },
        partitions: ingest
            .partitions()
            .into_iter()
            .map(partition_status)
            .collect(),
        types: state
            .view
            .types()
            .into_iter()
            .map(|(name, index)| (name, type_status(&index, &state.topics)))
            .collect(),
        unclassified: UnclassifiedStatus {
            by_reason: ingest
                .unclassified_counts()
                .into_iter()
                .map(|(reason, count)| (reason.to_owned(), count))
                .collect(),
            index: type_status(&state.view.unclassified(), &state.topics),
        },
        cache: CacheStatus {
            max_bytes: state.cache.max_bytes(),
            bytes: cache.bytes,
            entries: cache.entries,
            hits: cache.hits,
            misses: cache.misses,
        },
        duplicates_skipped: ingest.duplicates_skipped(),
        topic_resets: ingest.topic_resets(),
    }))
}

/// Prometheus scrape endpoint: plain text, mounted outside the OpenAPI document.
/// Open unless `[http] protect_metrics` is set.
pub async fn get_metrics(request: HttpRequest, state: Data<AppState>) -> HttpResponse {
    if state.protect_metrics
        && let Err(e) = authorize(&request, state.auth_token.as_deref())
    {
        return e.error_response();
    }
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type(metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => HttpResponse::InternalServerError().json(ErrorMessage {
            message: format!("cannot encode metrics: {e}"),
        }),
    }
}

/// The method label for request metrics: the standard ones, else `other`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Gives the framework's own error responses (404 for an unknown path, 405 for a
/// method a route does not serve, and any other empty-bodied error) the same JSON
/// `{"message"}` body as every other error. Responses that already carry JSON are
/// left alone.
pub fn json_error_bodies<B: 'static>() -> actix_web::middleware::ErrorHandlers<B> {
    actix_web::middleware::ErrorHandlers::new().default_handler_client(with_json_message)
}

fn with_json_message<B>(
    response: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::http::header;
    use actix_web::middleware::ErrorHandlerResponse;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let request = response.request();
    let message = match status {
        StatusCode::NOT_FOUND => format!(
            "No such path: {}. The API is described at /docs and /openapi.json.",
            request.path()
        ),
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "Method {} is not allowed on {}: use GET.",
            request.method(),
            request.path()
        ),
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned(),
    };
    let mut json = HttpResponse::build(status);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        json.insert_header((header::ALLOW, "GET"));
    }
    let json = json.json(ErrorMessage { message });
    let (request, _) = response.into_parts();
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(request, json).map_into_right_body(),
    ))
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
            HEADER_TOPIC,
            HEADER_PARTITION,
            HEADER_OFFSET,
            HEADER_TIMESTAMP,
        ])
        .max_age(3600);
    Some(cors)
}
