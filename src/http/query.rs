//! Query strings: the parameters of the lookups, and the one place that turns a
//! query that does not parse into a JSON 400 naming the parameter.

use std::str::FromStr;

use actix_web::error::QueryPayloadError;
use apistos::{ApiComponent, JsonSchema};
use serde::{Deserialize, Deserializer};

use super::error::ApiError;

/// Turns query-string errors into the JSON 400 every other error uses.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|error, _req| {
        let detail = match error {
            // serde speaks of fields; a client sent parameters.
            QueryPayloadError::Deserialize(e) => e.to_string().replace("field", "parameter"),
            other => other.to_string(),
        };
        ApiError::InvalidQuery(detail).into()
    })
}

/// Turns path segments that do not parse (`/positions/t/x/1`) into a JSON 400.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|error, _req| {
        ApiError::InvalidQuery(format!(
            "a path segment is not what the path takes (partition and offset are whole numbers): {error}"
        ))
        .into()
    })
}

/// Parses the query parameter `name` as a `T`, or fails with a message that names
/// it and says what it takes.
pub fn parameter<'de, D: Deserializer<'de>, T: FromStr>(
    deserializer: D,
    name: &str,
    expected: &str,
) -> Result<T, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse()
        .map_err(|_| serde::de::Error::custom(format!("`{name}` must be {expected}, not {raw:?}")))
}

/// The query of an event lookup: `?index=N` or `?time=T`, exactly one of them.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct EventQuery {
    /// Position of the event among events of its type, from 0, in the one numbering
    /// (clock, topic name, partition, offset).
    #[schemars(range(max = u64::MAX))]
    #[serde(default, deserialize_with = "index")]
    pub index: Option<u64>,
    /// Instead of `index`: the first event whose clock is at or after this time, as
    /// RFC 3339 (`2026-11-30T10:00:00Z`) or integer epoch milliseconds.
    #[schemars(schema_with = "time_schema")]
    #[serde(default, deserialize_with = "time")]
    pub time: Option<i64>,
    /// With the key index on: only events whose key is this one (its bytes
    /// percent-encoded), `index` or `time` counting among those; `X-Index` stays
    /// the event's index in its type.
    #[serde(default)]
    pub key: Option<String>,
    /// How the value is answered: `json` (the default: JSON as stored, Avro
    /// decoded to JSON, anything else as its bytes) or `raw` (the exact bytes
    /// stored in Kafka, `application/octet-stream`).
    #[serde(default)]
    pub format: ValueFormat,
}

/// How an event's value is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// JSON as stored, Avro decoded to JSON, anything else as its bytes.
    #[default]
    Json,
    /// The exact bytes.
    Raw,
}

/// What an event lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The event with this index.
    Index(u64),
    /// The first event whose clock is at or after this many ms since the epoch.
    Time(i64),
}

impl EventQuery {
    /// The one thing the query asks for; both or neither is a 400.
    pub fn target(&self) -> Result<Target, ApiError> {
        match (self.index, self.time) {
            (Some(index), None) => Ok(Target::Index(index)),
            (None, Some(time)) => Ok(Target::Time(time)),
            (Some(_), Some(_)) => Err(ApiError::InvalidQuery(
                "give `index` or `time`, not both".into(),
            )),
            (None, None) => Err(ApiError::InvalidQuery(
                "missing parameter `index` (or `time`)".into(),
            )),
        }
    }
}

fn index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    parameter(
        deserializer,
        "index",
        "a whole number from 0 to 18446744073709551615",
    )
    .map(Some)
}

/// Epoch milliseconds of an integer or an RFC 3339 date-time. A date-time inside
/// a millisecond gives the next one: `time` asks for events at or after it, and
/// clocks are whole milliseconds.
pub fn parse_time(raw: &str) -> Option<i64> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Some(ms);
    }
    let at =
        time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = at.unix_timestamp_nanos();
    let ms = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    i64::try_from(ms).ok()
}

/// What `time` takes, for the OpenAPI document: epoch ms or an RFC 3339 date-time.
fn time_schema(_: &mut apistos::SchemaGenerator) -> apistos::Schema {
    apistos::Schema::try_from(serde_json::json!({
        "description": "Instead of `index`: the first event whose clock is at or after this time, as RFC 3339 (`2026-11-30T10:00:00Z`) or integer epoch milliseconds.",
        "anyOf": [
            {"type": "integer", "format": "int64"},
            {"type": "string", "format": "date-time"}
        ]
    }))
    .unwrap_or_default()
}

fn time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    parse_time(&raw).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`time` must be an RFC 3339 date-time like 2026-11-30T10:00:00Z or integer epoch milliseconds, not {raw:?}"
        ))
    })
}

/// The type an alias route (`[[routes]]`) serves, in its resource's data.
#[derive(Debug, Clone)]
pub struct AliasType(pub String);

/// The event type a request is about: the `{type}` of `/events/{type}...`, or the
/// type of the alias route that was reached. One handler serves both.
#[derive(Debug, Clone)]
pub struct EventType(pub String);

impl actix_web::FromRequest for EventType {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(
        request: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use futures_util::FutureExt as _;
        if let Some(alias) = request.app_data::<actix_web::web::Data<AliasType>>() {
            return std::future::ready(Ok(EventType(alias.0.clone())));
        }
        // As `Path<String>` reads it (percent-decoded, `path_config`'s errors);
        // its future is ready at once.
        let extracted = actix_web::web::Path::<String>::from_request(request, payload)
            .now_or_never()
            .unwrap_or_else(|| {
                Err(ApiError::Internal("the path was not read at once".into()).into())
            });
        std::future::ready(extracted.map(|path| EventType(path.into_inner())))
    }
}

impl ApiComponent for EventType {
    fn child_schemas(
        oas: apistos::OpenApiVersion,
    ) -> Vec<(
        String,
        apistos::reference_or::ReferenceOr<apistos::ApistosSchema>,
    )> {
        <actix_web::web::Path<String> as ApiComponent>::child_schemas(oas)
    }

    fn schema(
        oas: apistos::OpenApiVersion,
    ) -> Option<(
        String,
        apistos::reference_or::ReferenceOr<apistos::ApistosSchema>,
    )> {
        <actix_web::web::Path<String> as ApiComponent>::schema(oas)
    }

    fn raw_schema(
        oas: apistos::OpenApiVersion,
    ) -> Option<apistos::reference_or::ReferenceOr<apistos::ApistosSchema>> {
        <actix_web::web::Path<String> as ApiComponent>::raw_schema(oas)
    }

    fn parameters(
        oas: apistos::OpenApiVersion,
        description: Option<String>,
    ) -> Vec<apistos::paths::Parameter> {
        // Documented as `/events/{type}` has it; an alias's document drops it.
        <actix_web::web::Path<String> as ApiComponent>::parameters(oas, description)
    }
}

impl std::ops::Deref for EventType {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::web::Query;

    #[test]
    fn index_parses_whole_numbers_and_names_itself_otherwise() {
        let parsed = |q: &str| {
            Query::<EventQuery>::from_query(q)
                .map_err(|e| e.to_string())
                .and_then(|q| q.target().map_err(|e| e.to_string()))
        };
        assert_eq!(parsed("index=0").ok(), Some(Target::Index(0)));
        assert_eq!(
            parsed("index=18446744073709551615").ok(),
            Some(Target::Index(u64::MAX))
        );
        for bad in [
            "",
            "index=",
            "index=-1",
            "index=1.5",
            "index=abc",
            "index=0&index=1",
        ] {
            let error = parsed(bad).err().unwrap_or_default();
            assert!(error.contains("index"), "{bad}: {error}");
        }
    }

    #[test]
    fn time_takes_rfc3339_or_epoch_ms_and_excludes_index() {
        let parsed = |q: &str| {
            Query::<EventQuery>::from_query(q)
                .map_err(|e| e.to_string())
                .and_then(|q| q.target().map_err(|e| e.to_string()))
        };
        let ms = 1_795_000_000_123;
        assert_eq!(parsed(&format!("time={ms}")), Ok(Target::Time(ms)));
        assert_eq!(
            parsed("time=2026-11-30T10:00:00.5%2B01:00"),
            Ok(Target::Time(1_796_029_200_500))
        );
        assert_eq!(parsed("time=1970-01-01T00:00:00Z"), Ok(Target::Time(0)));
        for bad in ["time=yesterday", "time=", "time=2026-11-30"] {
            let error = parsed(bad).err().unwrap_or_default();
            assert!(error.contains("`time`"), "{bad}: {error}");
        }
        let both = parsed("index=1&time=5").err().unwrap_or_default();
        assert!(both.contains("not both"), "{both}");
    }
}
