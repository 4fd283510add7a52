//! OpenAPI glue: the document's fixed part, JSON responses for error types, and the
//! event responses apistos cannot derive (raw bytes with Kafka headers).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use apistos::info::Info;
use apistos::paths::{Header, MediaType, ParameterDefinition, Response, Responses};
use apistos::reference_or::ReferenceOr;
use apistos::spec::Spec;
use apistos::{ApiComponent, ApistosSchema, OpenApiVersion, Schema, VersionSpecificSchema};

use super::events::{HEADER_OFFSET, HEADER_PARTITION, HEADER_TIMESTAMP, HEADER_TOPIC};

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
                header("Partition of the event", integer("int32"), true),
            ),
            (
                HEADER_OFFSET.to_owned(),
                header("Offset of the event", integer("int64"), true),
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
                body(serde_json::json!({"description": "The event, when its value is JSON"})),
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
