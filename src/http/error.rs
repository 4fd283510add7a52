//! Every error the API answers, in one table: each [`ErrorCode`] has its HTTP
//! status and the description the OpenAPI document gives. Bodies are
//! `{"message": "...", "code": "..."}`: `message` for people, `code` stable for
//! programs.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use apistos::paths::Response;
use apistos::reference_or::ReferenceOr;
use apistos::{ApiComponent, ApiErrorComponent, ApistosSchema, JsonSchema, OpenApiVersion};
use serde::{Deserialize, Serialize};

use super::openapi::{json_responses, json_schemas};
use crate::fetch::FetchError;

/// The stable, machine-readable name of an error: the body's `code`.
// Inlined: the error bodies' schema is registered alone, without its definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "apistos", inline)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A query parameter is missing, repeated, malformed or out of range.
    InvalidQuery,
    /// The bearer token is missing or wrong.
    Unauthorized,
    /// Bulk export is turned off on this server.
    ExportDisabled,
    /// The type has no event at this index.
    NoSuchIndex,
    /// No event of this type was indexed and no route declares it.
    UnknownType,
    /// The type has no event at or after this time.
    NoEventAtTime,
    /// No indexed event is at this Kafka position.
    PositionNotIndexed,
    /// The API has no such path.
    NoSuchPath,
    /// The path does not take this method.
    MethodNotAllowed,
    /// The event was indexed but Kafka no longer has it.
    EventGone,
    /// Kafka did not return the event in time.
    KafkaUnavailable,
    /// The Schema Registry could not be asked for the event's schema.
    RegistryUnavailable,
    /// An event indexed as Avro did not decode at lookup; logged.
    DecodeFailed,
    /// analyzer failed to answer (a bug or a resource limit); logged.
    Internal,
    /// The request was refused before it reached the API (too large, malformed).
    InvalidRequest,
    /// No event with this key was indexed.
    NoSuchKey,
    /// The key index is off on this server.
    KeyIndexOff,
    /// As many live tails are open as the server allows.
    TooManyStreams,
}

impl ErrorCode {
    /// Every code, in the order of the table.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::ExportDisabled,
        ErrorCode::NoSuchIndex,
        ErrorCode::UnknownType,
        ErrorCode::NoEventAtTime,
        ErrorCode::PositionNotIndexed,
        ErrorCode::NoSuchPath,
        ErrorCode::MethodNotAllowed,
        ErrorCode::EventGone,
        ErrorCode::KafkaUnavailable,
        ErrorCode::RegistryUnavailable,
        ErrorCode::DecodeFailed,
        ErrorCode::Internal,
        ErrorCode::InvalidRequest,
        ErrorCode::NoSuchKey,
        ErrorCode::KeyIndexOff,
        ErrorCode::TooManyStreams,
    ];

    /// The table: this code's HTTP status and what it means, for the OpenAPI document.
    pub fn row(self) -> (StatusCode, &'static str) {
        match self {
            ErrorCode::InvalidQuery => (
                StatusCode::BAD_REQUEST,
                "`invalid_query`: a query parameter is missing, repeated, malformed or out of range; the message names it",
            ),
            ErrorCode::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "`unauthorized`: the bearer token is missing or wrong (only when the server sets [http] auth_token)",
            ),
            ErrorCode::ExportDisabled => (
                StatusCode::FORBIDDEN,
                "`export_disabled`: bulk export is turned off on this server ([http] export_enabled = false)",
            ),
            ErrorCode::NoSuchIndex => (
                StatusCode::NOT_FOUND,
                "`no_such_index`: the type has no event at this index",
            ),
            ErrorCode::UnknownType => (
                StatusCode::NOT_FOUND,
                "`unknown_type`: no event of this type has been indexed, and no route declares it",
            ),
            ErrorCode::NoEventAtTime => (
                StatusCode::NOT_FOUND,
                "`no_event_at_time`: the type has no event whose clock is at or after this time",
            ),
            ErrorCode::PositionNotIndexed => (
                StatusCode::NOT_FOUND,
                "`position_not_indexed`: no indexed event is at this position (not read yet, below the log start, or past the end)",
            ),
            ErrorCode::NoSuchPath => (
                StatusCode::NOT_FOUND,
                "`no_such_path`: the API has no such path",
            ),
            ErrorCode::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "`method_not_allowed`: only GET is served",
            ),
            ErrorCode::EventGone => (
                StatusCode::GONE,
                "`event_gone`: the event was indexed but Kafka no longer has it (retention or compaction)",
            ),
            ErrorCode::KafkaUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "`kafka_unavailable`: Kafka could not be reached in time to read the event",
            ),
            ErrorCode::RegistryUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "`registry_unavailable`: the Schema Registry could not be asked for the event's schema (`?format=raw` still answers its bytes)",
            ),
            ErrorCode::DecodeFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "`decode_failed`: an event that decoded as Avro at ingest did not at lookup (it should not happen); logged, `?format=raw` answers its bytes",
            ),
            ErrorCode::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "`internal`: analyzer could not answer; the error is logged",
            ),
            ErrorCode::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                "`invalid_request`: the request was refused before it reached the API",
            ),
            ErrorCode::NoSuchKey => (
                StatusCode::NOT_FOUND,
                "`no_such_key`: no event with this key has been indexed (or its key was left out past [keys] max_keys)",
            ),
            ErrorCode::KeyIndexOff => (
                StatusCode::NOT_FOUND,
                "`key_index_off`: the key index is off on this server ([keys] by is `none`, the default)",
            ),
            ErrorCode::TooManyStreams => (
                StatusCode::SERVICE_UNAVAILABLE,
                "`too_many_streams`: as many live tails are open as [http] max_streams allows; try again later",
            ),
        }
    }

    /// The HTTP status this code answers with.
    pub fn status(self) -> StatusCode {
        self.row().0
    }
}

/// Body of every error response.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct ErrorMessage {
    /// What went wrong, for a person.
    pub message: String,
    /// What went wrong, for a program: stable across versions.
    pub code: ErrorCode,
}

/// Every way a request can fail; [`ApiError::code`] places it in the table.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is wrong; the text names it.
    #[error("Invalid query: {0}.")]
    InvalidQuery(String),
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
    /// The type has no event at or after this time.
    #[error("Type '{event_type}' has no event at or after {time} (epoch ms); it has {len} events.")]
    NoEventAtTime {
        /// The type asked for.
        event_type: String,
        /// The time asked for, epoch ms.
        time: i64,
        /// How many events the type has.
        len: u64,
    },
    /// No indexed event is at this position.
    #[error(
        "No indexed event at {topic}/{partition}@{offset}: not read yet, below the log start, past the end, or not a configured topic."
    )]
    PositionNotIndexed {
        /// The topic asked for.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// The offset asked for.
        offset: i64,
    },
    /// The event was indexed but Kafka no longer has it.
    #[error("{0}")]
    Gone(#[source] FetchError),
    /// Kafka could not be reached to read the event.
    #[error("{0}")]
    Unavailable(#[source] FetchError),
    /// The bearer token is missing or wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Bulk export is turned off.
    #[error("Export is turned off on this server ([http] export_enabled = false).")]
    ExportDisabled,
    /// The registry could not be asked for the event's schema.
    #[error("{0}; ?format=raw answers the event's bytes.")]
    RegistryUnavailable(String),
    /// An Avro event did not decode at lookup.
    #[error("The event's Avro value does not decode: {0}. ?format=raw answers its bytes.")]
    DecodeFailed(String),
    /// No event with this key was indexed.
    #[error("No event with key {0} has been indexed.")]
    NoSuchKey(String),
    /// The key index is off.
    #[error(
        "The key index is off on this server: set [keys] by to \"kafka_key\", \"json_field\" or \"header\"."
    )]
    KeyIndexOff,
    /// As many live tails are open as allowed.
    #[error("{0} live tails are open, as many as [http] max_streams allows; try again later.")]
    TooManyStreams(u64),
    /// analyzer could not answer.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The error's row in the table.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidQuery(_) => ErrorCode::InvalidQuery,
            ApiError::NoSuchIndex { .. } => ErrorCode::NoSuchIndex,
            ApiError::UnknownType(_) => ErrorCode::UnknownType,
            ApiError::NoEventAtTime { .. } => ErrorCode::NoEventAtTime,
            ApiError::PositionNotIndexed { .. } => ErrorCode::PositionNotIndexed,
            ApiError::Gone(_) => ErrorCode::EventGone,
            ApiError::Unavailable(_) => ErrorCode::KafkaUnavailable,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::ExportDisabled => ErrorCode::ExportDisabled,
            ApiError::RegistryUnavailable(_) => ErrorCode::RegistryUnavailable,
            ApiError::DecodeFailed(_) => ErrorCode::DecodeFailed,
            ApiError::NoSuchKey(_) => ErrorCode::NoSuchKey,
            ApiError::KeyIndexOff => ErrorCode::KeyIndexOff,
            ApiError::TooManyStreams(_) => ErrorCode::TooManyStreams,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="analyzer""#));
            }
            ApiError::Internal(_) | ApiError::DecodeFailed(_) => {
                log::error!("answering 500: {self}")
            }
            _ => {}
        }
        response.json(ErrorMessage {
            message: self.to_string(),
            code: self.code(),
        })
    }
}

impl From<FetchError> for ApiError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Gone { .. } => ApiError::Gone(error),
            _ => ApiError::Unavailable(error),
        }
    }
}

/// The error codes a route family can answer: what its OpenAPI operation
/// documents, taken from the table, and all that its handler may return (checked
/// in debug builds, so every test run holds the two together).
pub trait Answers {
    /// The codes, each a row of the table.
    const CODES: &'static [ErrorCode];
}

/// An [`ApiError`] of a route family `F`: answered as the error is, documented
/// with `F`'s codes.
pub struct Failure<F>(ApiError, PhantomData<F>);

impl<F: Answers> From<ApiError> for Failure<F> {
    fn from(error: ApiError) -> Self {
        debug_assert!(
            F::CODES.contains(&error.code()),
            "{:?} answers {:?}, which its Answers::CODES leave out",
            std::any::type_name::<F>(),
            error.code()
        );
        Failure(error, PhantomData)
    }
}

impl<F: Answers> From<FetchError> for Failure<F> {
    fn from(error: FetchError) -> Self {
        ApiError::from(error).into()
    }
}

impl<F> fmt::Debug for Failure<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<F> fmt::Display for Failure<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<F> ResponseError for Failure<F> {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

impl<F: Answers> ApiErrorComponent for Failure<F> {
    fn schemas_by_status_code(
        oas_version: OpenApiVersion,
    ) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
        json_schemas::<ErrorMessage>(oas_version, &statuses(F::CODES))
    }

    fn error_responses(oas_version: OpenApiVersion) -> Vec<(String, Response)> {
        json_responses::<ErrorMessage>(oas_version, &statuses(F::CODES))
    }
}

/// `codes`' rows grouped by status, as (status, every description of that status).
fn statuses(codes: &[ErrorCode]) -> Vec<(StatusCode, String)> {
    let mut by_status: BTreeMap<u16, (StatusCode, Vec<&str>)> = BTreeMap::new();
    for &code in codes {
        let (status, description) = code.row();
        by_status
            .entry(status.as_u16())
            .or_insert((status, Vec::new()))
            .1
            .push(description);
    }
    by_status
        .into_values()
        .map(|(status, descriptions)| (status, descriptions.join("; ")))
        .collect()
}

/// Gives the framework's own error responses (404 for an unknown path, 405 for a
/// method a route does not serve, and any other empty-bodied error) the same JSON
/// body as every other error. Responses that already carry JSON are left alone.
pub fn json_error_bodies<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler_client(with_json_message)
}

fn with_json_message<B>(
    response: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
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
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (
            ErrorCode::NoSuchPath,
            format!(
                "No such path: {}. The API is described at /docs and /openapi.json.",
                request.path()
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            format!(
                "Method {} is not allowed on {}: use GET.",
                request.method(),
                request.path()
            ),
        ),
        _ => (
            ErrorCode::InvalidRequest,
            status
                .canonical_reason()
                .unwrap_or("Request failed")
                .to_owned(),
        ),
    };
    let mut json = HttpResponse::build(status);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        json.insert_header((header::ALLOW, "GET"));
    }
    let json = json.json(ErrorMessage { message, code });
    let (request, _) = response.into_parts();
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(request, json).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_row_and_its_name_in_its_description() {
        for code in ErrorCode::ALL {
            let name = serde_json::to_value(code).unwrap();
            let (status, description) = code.row();
            assert!(status.is_client_error() || status.is_server_error());
            assert!(
                description.starts_with(&format!("`{}`", name.as_str().unwrap())),
                "{description}"
            );
        }
        // Documented variants are a oneOf of constants; plain ones an enum.
        let schema = serde_json::to_value(apistos::schemars::schema_for!(ErrorCode)).unwrap();
        let variants = schema["oneOf"]
            .as_array()
            .or(schema["enum"].as_array())
            .map(Vec::len);
        assert_eq!(
            variants,
            Some(ErrorCode::ALL.len()),
            "ALL lists every code: {schema}"
        );
    }
}
