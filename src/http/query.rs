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

/// The `?index=N` query of an event lookup.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct IndexQuery {
    /// Position of the event among events of its type, from 0, in topic order.
    #[schemars(range(max = u64::MAX))]
    #[serde(deserialize_with = "index")]
    pub index: u64,
}

fn index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    parameter(
        deserializer,
        "index",
        "a whole number from 0 to 18446744073709551615",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::web::Query;

    #[test]
    fn index_parses_whole_numbers_and_names_itself_otherwise() {
        let parsed = |q: &str| Query::<IndexQuery>::from_query(q).map(|q| q.index);
        assert_eq!(parsed("index=0").ok(), Some(0));
        assert_eq!(parsed("index=18446744073709551615").ok(), Some(u64::MAX));
        for bad in [
            "",
            "index=",
            "index=-1",
            "index=1.5",
            "index=abc",
            "index=0&index=1",
        ] {
            let error = parsed(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("index"), "{bad}: {error}");
        }
    }
}
