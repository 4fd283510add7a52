//! Event lookups: `GET /events/{type}?index=N` and its alias routes.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, Responder};
use apistos::paths::Responses;
use apistos::reference_or::ReferenceOr;
use apistos::{ApiComponent, ApistosSchema, OpenApiVersion, api_operation};

use super::AppState;
use super::auth::BearerAuth;
use super::error::ApiError;
use super::openapi::event_responses;
use super::query::IndexQuery;
use crate::decode::Rendered;
use crate::fetch::Payload;
use crate::view::{Lookup, Position};

/// Response header naming the event's topic.
pub const HEADER_TOPIC: &str = "X-Kafka-Topic";
/// Response header naming the event's partition.
pub const HEADER_PARTITION: &str = "X-Kafka-Partition";
/// Response header naming the event's offset.
pub const HEADER_OFFSET: &str = "X-Kafka-Offset";
/// Response header carrying the event's timestamp in ms (absent if Kafka had none).
pub const HEADER_TIMESTAMP: &str = "X-Kafka-Timestamp";

/// An event's rendered value with its Kafka coordinates as headers.
pub struct EventPayload {
    rendered: Rendered,
    timestamp_ms: Option<i64>,
    topic: String,
    position: Position,
}

impl Responder for EventPayload {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response
            .content_type(self.rendered.kind.content_type())
            .insert_header((HEADER_TOPIC, self.topic))
            .insert_header((HEADER_PARTITION, self.position.partition.to_string()))
            .insert_header((HEADER_OFFSET, self.position.offset.to_string()));
        if let Some(timestamp) = self.timestamp_ms {
            response.insert_header((HEADER_TIMESTAMP, timestamp.to_string()));
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

/// The `index`-th event of `event_type`: its position from the view, its bytes from
/// the fetcher, rendered by the decoder.
async fn event(state: &AppState, event_type: &str, index: u64) -> Result<EventPayload, ApiError> {
    let position = match state.view.get(event_type, index) {
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
    let Payload {
        value,
        timestamp_ms,
    } = state.fetcher.payload(position).await?;
    Ok(EventPayload {
        rendered: state.decoder.render(value),
        timestamp_ms,
        topic: state.topics.name(position.topic).to_owned(),
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
    event(&state, &event_type, query.index).await
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
    event(&state, &alias.0, query.index).await
}
