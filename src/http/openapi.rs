//! OpenAPI glue: the document's fixed part, JSON responses for error types, and the
//! responses apistos cannot derive (raw bytes with Kafka headers, streamed bodies).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use actix_web::http::StatusCode;
use apistos::info::Info;
use apistos::paths::{Header, MediaType, ParameterDefinition, Response, Responses};
use apistos::reference_or::ReferenceOr;
use apistos::spec::Spec;
use apistos::{ApiComponent, ApistosSchema, OpenApiVersion, Schema, VersionSpecificSchema};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, Responder};

use super::AppState;
use super::events::{
    HEADER_AVRO_SCHEMA, HEADER_AVRO_SCHEMA_ID, HEADER_INDEX, HEADER_INDEX_SETTLED, HEADER_OFFSET,
    HEADER_PARTITION, HEADER_SCHEMA_ID, HEADER_SCHEMA_TYPE, HEADER_TIMESTAMP, HEADER_TOPIC,
};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI document's fixed part; apistos adds the operations.
pub fn spec() -> Spec {
    Spec {
        info: Info {
            title: "analyzer".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: Some(
                "Per-type index over a Kafka topic of mixed events: the Nth event of a type, and exact counts per type. Every error body is {\"message\", \"code\"}; `code` is stable."
                    .to_owned(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// OpenAPI responses for `statuses`, each with a JSON body of schema `T`.
pub fn json_responses<T: ApiComponent>(
    oas_version: OpenApiVersion,
    statuses: &[(StatusCode, String)],
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
                    description: description.clone(),
                    content: content.clone().unwrap_or_default(),
                    ..Default::default()
                },
            )
        })
        .collect()
}

/// The component schemas `json_responses` refers to, by status.
pub fn json_schemas<T: ApiComponent>(
    oas_version: OpenApiVersion,
    statuses: &[(StatusCode, String)],
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

fn json_schema(value: serde_json::Value) -> ReferenceOr<ApistosSchema> {
    let schema = Schema::try_from(value).unwrap_or_default();
    ReferenceOr::Object(ApistosSchema::new(schema, OpenApiVersion::OAS3_0))
}

/// The 200 response of an event lookup: the value's bytes, JSON or not, with the
/// event's Kafka coordinates as headers.
pub fn event_responses() -> Responses {
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
            ReferenceOr::Object(s) => Some(VersionSpecificSchema::OAS3_0(ReferenceOr::Object(s))),
            ReferenceOr::Reference { .. } => None,
        },
        ..Default::default()
    };
    let integer = |format: &str| serde_json::json!({"type": "integer", "format": format});
    let ok = Response {
        description: "The event's value: byte for byte as stored in Kafka, or an Avro value decoded to JSON (`format=raw`: always the bytes)".to_owned(),
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
                header("Partition of the event", integer("int32"), true),
            ),
            (
                HEADER_OFFSET.to_owned(),
                header("Offset of the event", integer("int64"), true),
            ),
            (
                HEADER_INDEX.to_owned(),
                header("The event's index in its type", integer("int64"), true),
            ),
            (
                HEADER_INDEX_SETTLED.to_owned(),
                header(
                    "true: the index never changes again; false: tentative, an event arriving late on a lagging partition may still be placed before it",
                    serde_json::json!({"type": "string", "enum": ["true", "false"]}),
                    true,
                ),
            ),
            (
                HEADER_SCHEMA_TYPE.to_owned(),
                header(
                    "Format of the writer schema, when the value was decoded: AVRO, PROTOBUF, or JSON (JSON Schema framed)",
                    serde_json::json!({"type": "string", "enum": ["AVRO", "PROTOBUF", "JSON"]}),
                    false,
                ),
            ),
            (
                HEADER_SCHEMA_ID.to_owned(),
                header(
                    "Schema Registry id of the writer schema, when the value was Confluent-framed (any format)",
                    integer("int32"),
                    false,
                ),
            ),
            (
                HEADER_AVRO_SCHEMA.to_owned(),
                header(
                    "Full name of the Avro writer schema, when the value was Avro decoded to JSON",
                    serde_json::json!({"type": "string"}),
                    false,
                ),
            ),
            (
                HEADER_AVRO_SCHEMA_ID.to_owned(),
                header(
                    "Schema Registry id of the writer schema, when the value was Confluent-framed Avro decoded to JSON",
                    integer("int32"),
                    false,
                ),
            ),
            (
                HEADER_TIMESTAMP.to_owned(),
                header(
                    "Kafka timestamp of the event, ms since the epoch; absent when Kafka has none",
                    integer("int64"),
                    false,
                ),
            ),
        ]),
        content: BTreeMap::from([
            (
                "application/json".to_owned(),
                body(serde_json::json!({"description": "The event, when its value is JSON, or Avro decoded to JSON"})),
            ),
            (
                "application/octet-stream".to_owned(),
                body(serde_json::json!({"type": "string", "format": "binary"})),
            ),
        ]),
        ..Default::default()
    };
    Responses {
        responses: BTreeMap::from([("200".to_owned(), ReferenceOr::Object(ok))]),
        ..Default::default()
    }
}

/// Middleware on the OpenAPI document: the error body's schema (see
/// `with_error_message`) and what the configuration adds to it. apistos
/// derives the document from the handlers' types; `[[routes]]` come from the
/// configuration: each alias is documented from the operations it shares with
/// `/events/{type}`, and the `stats_key`s they declare become required properties
/// of the `Stats` schema.
pub async fn document_deployment(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (keys, aliases): (Vec<String>, Vec<(String, String)>) =
        match request.app_data::<Data<AppState>>() {
            Some(state) if request.path() == OPENAPI_PATH => (
                state.stats_keys.keys().map(str::to_owned).collect(),
                state.aliases.clone(),
            ),
            _ => Default::default(),
        };
    let is_document = request.path() == OPENAPI_PATH;
    let response = next.call(request).await?;
    if !is_document || !response.status().is_success() {
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    let mut document: serde_json::Value =
        serde_json::from_slice(&body).map_err(actix_web::error::ErrorInternalServerError)?;
    with_error_message(&mut document);
    with_stats_keys(&mut document, &keys);
    with_aliases(&mut document, &aliases);
    let body = serde_json::to_vec(&document).map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(ServiceResponse::new(
        request,
        response.set_body(BoxBody::new(body)),
    ))
}

/// `document` with the `ErrorMessage` schema its error responses refer to.
/// apistos (1.0.0-pre-release.14) registers an error type's schemas only for an
/// operation that lists `error_code`s; ours take their codes from
/// [`super::error::Answers`] instead, so the schema is added here, once.
fn with_error_message(document: &mut serde_json::Value) {
    use super::error::ErrorMessage;
    let Some((name, schema)) = ErrorMessage::schema(OpenApiVersion::OAS3_0) else {
        return;
    };
    if let (Ok(schema), Some(schemas)) = (
        serde_json::to_value(schema),
        document.pointer_mut("/components/schemas"),
    ) {
        schemas[name] = schema;
    }
}

/// `document` with a path per alias (and its `/range`), each the operation of
/// `/events/{type}` (and its range) for the alias's type: without the `type`
/// parameter, under an operation id of its own.
fn with_aliases(document: &mut serde_json::Value, aliases: &[(String, String)]) {
    for (path, event_type) in aliases {
        for (template, alias_path) in [
            ("/events/{type}", path.clone()),
            ("/events/{type}/range", format!("{path}/range")),
        ] {
            let Some(mut item) = document["paths"].get(template).cloned() else {
                continue;
            };
            if let Some(operation) = item.get_mut("get") {
                if let Some(parameters) = operation["parameters"].as_array_mut() {
                    parameters.retain(|p| !(p["in"] == "path" && p["name"] == "type"));
                }
                let id = operation["operationId"].as_str().unwrap_or("get");
                let slug: String = alias_path
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                operation["operationId"] = format!("{id}_at{slug}").into();
                let summary = operation["summary"].as_str().unwrap_or_default();
                operation["summary"] = format!("{summary}: alias of type {event_type:?}").into();
            }
            document["paths"][alias_path] = item;
        }
    }
}

/// `document`'s `Stats` schema with `keys` as required integer properties; other
/// types still appear under their names (`additionalProperties`).
fn with_stats_keys(document: &mut serde_json::Value, keys: &[String]) {
    let Some(stats) = document.pointer_mut("/components/schemas/Stats") else {
        return;
    };
    let count = stats["additionalProperties"].clone();
    stats["properties"] = keys
        .iter()
        .map(|key| (key.clone(), count.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    stats["required"] = keys.iter().map(|key| serde_json::json!(key)).collect();
}

/// What a streamed answer's 200 is, for the OpenAPI document.
pub trait StreamedBody {
    /// The 200 response, described.
    fn responses() -> Responses;
}

/// A streamed answer (an export's NDJSON, a tail's events), documented as `B`
/// says: apistos cannot derive a streamed body's schema.
pub struct Streamed<B>(HttpResponse, PhantomData<B>);

impl<B> Streamed<B> {
    /// `response`, whose body is streamed.
    pub fn new(response: HttpResponse) -> Self {
        Streamed(response, PhantomData)
    }
}

impl<B> Responder for Streamed<B> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        self.0
    }
}

impl<B: StreamedBody> ApiComponent for Streamed<B> {
    fn child_schemas(_: OpenApiVersion) -> Vec<(String, ReferenceOr<ApistosSchema>)> {
        vec![]
    }

    fn schema(_: OpenApiVersion) -> Option<(String, ReferenceOr<ApistosSchema>)> {
        None
    }

    fn responses(_: OpenApiVersion, _: Option<String>, _: Option<String>) -> Option<Responses> {
        Some(B::responses())
    }
}

/// The 200 response of an NDJSON stream.
pub fn ndjson_responses(description: &str) -> Responses {
    text_responses("application/x-ndjson", description)
}

/// A 200 of Server-Sent Events, described: each event's fields, as SSE tools read
/// them (`data` a JSON text).
pub fn sse_responses(description: &str) -> Responses {
    let event = serde_json::json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "event": {"type": "string"},
            "data": {"type": "string"},
            "retry": {"type": "integer"}
        }
    });
    media_responses("text/event-stream", event, description)
}

/// A 200 of text of `media_type`, described.
fn text_responses(media_type: &str, description: &str) -> Responses {
    media_responses(
        media_type,
        serde_json::json!({"type": "string"}),
        description,
    )
}

/// A 200 of `media_type` whose schema is `schema`, described.
fn media_responses(media_type: &str, schema: serde_json::Value, description: &str) -> Responses {
    let ok = Response {
        description: description.to_owned(),
        content: BTreeMap::from([(
            media_type.to_owned(),
            MediaType {
                schema: match json_schema(schema) {
                    ReferenceOr::Object(s) => {
                        Some(VersionSpecificSchema::OAS3_0(ReferenceOr::Object(s)))
                    }
                    ReferenceOr::Reference { .. } => None,
                },
                ..Default::default()
            },
        )]),
        ..Default::default()
    };
    Responses {
        responses: BTreeMap::from([("200".to_owned(), ReferenceOr::Object(ok))]),
        ..Default::default()
    }
}
