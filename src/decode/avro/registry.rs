//! A Confluent Schema Registry client: `GET {url}/schemas/ids/{id}`, each answer
//! kept for the life of the process (an id names one schema forever).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::WriterSchema;
use super::schema::Schemas;

/// How long one registry request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest schema answer read (a registry answer is a few KiB).
const MAX_ANSWER_BYTES: u64 = 8 << 20;
/// Ids without a usable schema kept; beyond this many (values with made-up ids),
/// such an id is asked again each time rather than grow memory.
const MAX_UNKNOWN_IDS: usize = 10_000;

/// What the registry says of an id.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Its Avro schema.
    Schema(WriterSchema),
    /// No such id (404), or a schema that is not Avro or does not parse: the
    /// message says which.
    Unknown(String),
}

/// Why the registry could not be asked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("schema registry {url} cannot be read: {reason}")]
pub struct Unreachable {
    /// The registry's URL.
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// A registry and the ids it has answered.
pub struct Registry {
    url: String,
    authorization: Option<String>,
    agent: ureq::Agent,
    answers: Mutex<Answers>,
}

/// What the registry answered, by id.
#[derive(Default)]
struct Answers {
    by_id: HashMap<u32, Answer>,
    /// Ids answered without a usable schema so far.
    unknown: usize,
}

impl Registry {
    /// A client for the registry at `url` (`http(s)://host:port[/path]`), with basic auth.
    pub fn new(url: &str, credentials: Option<(&str, &str)>) -> Registry {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Registry {
            url: url.trim_end_matches('/').to_owned(),
            authorization: credentials.map(|(user, password)| {
                format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
            }),
            agent,
            answers: Mutex::new(Answers::default()),
        }
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The answer for `id` if it was asked before.
    pub fn cached(&self, id: u32) -> Option<Answer> {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .get(&id)
            .cloned()
    }

    /// The answer for `id`: cached, or asked now (blocking, up to a few seconds).
    pub fn get(&self, id: u32) -> Result<Answer, Unreachable> {
        if let Some(answer) = self.cached(id) {
            return Ok(answer);
        }
        let answer = self.ask(id)?;
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = match answer {
            Answer::Schema(_) => true,
            Answer::Unknown(_) => {
                answers.unknown += 1;
                answers.unknown <= MAX_UNKNOWN_IDS
            }
        };
        if keep {
            answers.by_id.insert(id, answer.clone());
        }
        Ok(answer)
    }

    fn ask(&self, id: u32) -> Result<Answer, Unreachable> {
        let unreachable = |reason: String| Unreachable {
            url: self.url.clone(),
            reason,
        };
        let mut request = self
            .agent
            .get(format!("{}/schemas/ids/{id}", self.url))
            .header(
                "Accept",
                "application/vnd.schemaregistry.v1+json, application/json",
            );
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let mut response = request.call().map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?;
        match status {
            200 => Ok(parse_answer(&body)),
            404 => Ok(Answer::Unknown(format!("the registry has no schema {id}"))),
            // Anything else (auth, 5xx) may pass: waited out, never taken as an answer.
            _ => Err(unreachable(format!(
                "HTTP {status} for schema {id}: {}",
                body.chars().take(200).collect::<String>()
            ))),
        }
    }
}

/// A `GET /schemas/ids/{id}` answer: `{"schema": "...", "schemaType": "AVRO"}`.
fn parse_answer(body: &str) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SchemaAnswer {
        schema: String,
        schema_type: Option<String>,
    }
    let answer: SchemaAnswer = match serde_json::from_str(body) {
        Ok(answer) => answer,
        Err(e) => return Answer::Unknown(format!("the registry's answer does not parse: {e}")),
    };
    if let Some(other) = answer.schema_type.filter(|t| t != "AVRO") {
        return Answer::Unknown(format!("a {other} schema, not Avro"));
    }
    match Schemas::parse_one(&answer.schema) {
        Ok((schemas, root)) => Answer::Schema(WriterSchema::new(Arc::new(schemas), root)),
        Err(e) => Answer::Unknown(format!("its schema does not parse: {e}")),
    }
}
