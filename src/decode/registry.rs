//! A Confluent Schema Registry client: `GET {url}/schemas/ids/{id}`, each answer
//! kept for the life of the process (an id names one schema forever), parsed by
//! its `schemaType`: Avro, Protobuf (with its references) or JSON Schema.
//!
//! A Protobuf schema is read as `?format=serialized`: base64 `FileDescriptorProto`s,
//! for it and each file it references (`/subjects/{subject}/versions/{version}`).
//! That is what confluent-kafka's own deserializers ask for, and the registry's
//! protobuf parser (the reference one) has turned `.proto` text into descriptors
//! already: reading the default `.proto` answer would mean a `.proto` parser here
//! (protox) that could disagree with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::avro::WriterSchema;
use super::avro::schema::Schemas;
use super::protobuf::ProtoFile;

/// How long one registry request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest schema answer read (a registry answer is a few KiB).
const MAX_ANSWER_BYTES: u64 = 8 << 20;
/// Ids without a usable schema kept; beyond this many (values with made-up ids),
/// such an id is not kept (memory stays bounded) and new ids are asked at a rate.
const MAX_UNKNOWN_IDS: usize = 10_000;
/// Past `MAX_UNKNOWN_IDS`, new ids asked per second at most: a producer that makes
/// ids up cannot hold ingest in one registry request per message. An id over the
/// rate is answered unknown at once, without a request (the event goes to
/// `unclassified` as `unknown_schema`, kept), and asked again when it comes back.
const FLOOD_ASKS_PER_SECOND: u32 = 10;

/// Files a Protobuf schema may reference, in all (transitively): a bound on the
/// requests one id costs.
const MAX_REFERENCED_FILES: usize = 256;

/// What the registry says of an id.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Its schema, parsed.
    Schema(Registered),
    /// No such id (404), or a schema of no type analyzer reads, or one that does
    /// not parse: the message says which.
    Unknown(String),
}

/// A registry schema, parsed by its type.
#[derive(Debug, Clone)]
pub enum Registered {
    /// `AVRO` (the default type).
    Avro(WriterSchema),
    /// `PROTOBUF`: the file and everything it references.
    Protobuf(ProtoFile),
    /// `JSON`: a JSON Schema; analyzer reads its `title` alone.
    Json {
        /// The schema's top-level `title`, when it is a string.
        title: Option<Arc<str>>,
    },
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
    /// Past `MAX_UNKNOWN_IDS`: the second asks are counted in, and how many.
    flood_window: Option<(Instant, u32)>,
}

impl Answers {
    /// Whether a new id may be asked now: always, until more than
    /// `MAX_UNKNOWN_IDS` ids had no schema; then `FLOOD_ASKS_PER_SECOND`.
    fn may_ask(&mut self, now: Instant) -> bool {
        if self.unknown < MAX_UNKNOWN_IDS {
            return true;
        }
        let (started, asked) = self.flood_window.get_or_insert((now, 0));
        if now.duration_since(*started) >= Duration::from_secs(1) {
            (*started, *asked) = (now, 0);
        }
        *asked += 1;
        *asked <= FLOOD_ASKS_PER_SECOND
    }
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

    /// The answer for `id`: cached, or asked now (blocking, up to a few seconds),
    /// or, past `MAX_UNKNOWN_IDS` ids without a schema and over the rate, unknown
    /// without asking.
    pub fn get(&self, id: u32) -> Result<Answer, Unreachable> {
        {
            let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(answer) = answers.by_id.get(&id) {
                return Ok(answer.clone());
            }
            if !answers.may_ask(Instant::now()) {
                return Ok(Answer::Unknown(format!(
                    "schema {id} was not asked: over {MAX_UNKNOWN_IDS} ids without a schema came (made-up ids?), and new ids are asked at most {FLOOD_ASKS_PER_SECOND} a second"
                )));
            }
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
        let path = format!("schemas/ids/{id}");
        let answer = match self.read(&path, &format!("schema {id}"))? {
            Ok(answer) => answer,
            Err(why) => return Ok(Answer::Unknown(why)),
        };
        let schema_type = answer.schema_type.as_deref().unwrap_or("AVRO");
        Ok(match schema_type {
            "AVRO" => match Schemas::parse_one(&answer.schema) {
                Ok((schemas, root)) => {
                    Answer::Schema(Registered::Avro(WriterSchema::new(Arc::new(schemas), root)))
                }
                Err(e) => Answer::Unknown(format!("its schema does not parse: {e}")),
            },
            "JSON" => match serde_json::from_str::<serde_json::Value>(&answer.schema) {
                Ok(schema) => Answer::Schema(Registered::Json {
                    title: schema.get("title").and_then(|t| t.as_str()).map(Arc::from),
                }),
                Err(e) => Answer::Unknown(format!("its JSON Schema does not parse: {e}")),
            },
            "PROTOBUF" => self.protobuf(id)?,
            other => Answer::Unknown(format!("a {other} schema, which analyzer does not read")),
        })
    }

    /// Protobuf schema `id` read again as `?format=serialized`, with every file it
    /// references, built into descriptors.
    fn protobuf(&self, id: u32) -> Result<Answer, Unreachable> {
        let serialized = format!("schemas/ids/{id}?format=serialized");
        let main = match self.read(&serialized, &format!("schema {id}"))? {
            Ok(answer) => answer,
            Err(why) => return Ok(Answer::Unknown(why)),
        };
        let mut files = Vec::new();
        let mut pending = main.references.clone();
        let mut seen: Vec<String> = Vec::new();
        while let Some(reference) = pending.pop() {
            if seen.contains(&reference.name) {
                continue;
            }
            if seen.len() >= MAX_REFERENCED_FILES {
                return Ok(Answer::Unknown(format!(
                    "it references over {MAX_REFERENCED_FILES} files"
                )));
            }
            seen.push(reference.name.clone());
            let path = format!(
                "subjects/{}/versions/{}?format=serialized",
                percent_encode(&reference.subject),
                reference.version
            );
            let what = format!(
                "reference {:?} (subject {:?} version {})",
                reference.name, reference.subject, reference.version
            );
            let referenced = match self.read(&path, &what)? {
                Ok(answer) => answer,
                Err(why) => return Ok(Answer::Unknown(why)),
            };
            pending.extend(referenced.references.iter().cloned());
            files.push((reference.name, referenced.schema));
        }
        files.push((String::new(), main.schema));
        Ok(match ProtoFile::from_serialized(&files) {
            Ok(file) => Answer::Schema(Registered::Protobuf(file)),
            Err(why) => Answer::Unknown(why),
        })
    }

    /// `GET {url}/{path}`: the schema answer, or why there is none (404, or an
    /// answer that does not parse); `what` names it in messages.
    fn read(&self, path: &str, what: &str) -> Result<Result<SchemaAnswer, String>, Unreachable> {
        let unreachable = |reason: String| Unreachable {
            url: self.url.clone(),
            reason,
        };
        let mut request = self.agent.get(format!("{}/{path}", self.url)).header(
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
            200 => Ok(serde_json::from_str(&body)
                .map_err(|e| format!("the registry's answer for {what} does not parse: {e}"))),
            404 => Ok(Err(format!("the registry has no {what}"))),
            // Not transient: a registry that does not implement this form never
            // will (Redpanda's answer to a `format` it does not support).
            501 => Ok(Err(format!(
                "the registry cannot serve {what} as asked (HTTP 501 for {path})"
            ))),
            // Anything else (auth, 5xx) may pass: waited out, never taken as an answer.
            _ => Err(unreachable(format!(
                "HTTP {status} for {what}: {}",
                body.chars().take(200).collect::<String>()
            ))),
        }
    }
}

/// A registry's schema answer (`/schemas/ids/{id}` or a subject's version).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaAnswer {
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
}

/// A schema's reference to another subject's version.
#[derive(Debug, Clone, serde::Deserialize)]
struct Reference {
    /// The import name (`shop/money.proto`).
    name: String,
    subject: String,
    version: i64,
}

/// `text` with every byte but unreserved ones percent-encoded, for a URL path segment.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Why `url` cannot be a registry's URL, if it cannot.
pub fn url_problem(url: &str) -> Option<String> {
    let parsed: Result<actix_web::http::Uri, _> = url.parse();
    match parsed {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
                && uri.query().is_none() =>
        {
            None
        }
        _ => Some(format!(
            "{url:?} is not a URL like \"http://registry:8081\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A registry stand-in on a free port answering every request with
    /// `respond(path)` (status, body); the URL and the count of requests.
    fn serve(respond: fn(&str) -> (u16, String)) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    let _ = writer.set_nodelay(true);
                    // Keep-alive: one request after another on the connection.
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                        while line != "\r\n" {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                        }
                        counted.fetch_add(1, Ordering::Relaxed);
                        let (status, body) = respond(&path);
                        // One write: a head and a body apart wait out delayed ACKs.
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if writer.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, requests)
    }

    #[test]
    fn a_registry_url_is_http_or_https_with_a_host_and_no_query() {
        for bad in [
            "registry:8081",
            "ftp://r",
            "http://",
            "not a url",
            "http://r:8081/?x=1",
        ] {
            assert!(url_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "http://registry:8081",
            "https://sr.example.com/base/",
            "http://127.0.0.1:1",
        ] {
            assert_eq!(url_problem(good), None, "{good}");
        }
    }

    #[test]
    fn fifty_thousand_made_up_ids_cost_a_bounded_number_of_requests() {
        let (url, requests) = serve(|_| (404, r#"{"error_code":40403}"#.to_owned()));
        let registry = Registry::new(&url, None);
        let started = Instant::now();
        for id in 0..50_000 {
            let answer = registry.get(id).unwrap();
            assert!(matches!(answer, Answer::Unknown(_)), "{id}");
        }
        let seconds = started.elapsed().as_secs() as usize + 1;
        let asked = requests.load(Ordering::Relaxed);
        let bound = MAX_UNKNOWN_IDS + FLOOD_ASKS_PER_SECOND as usize * seconds;
        assert!(
            asked <= bound,
            "{asked} requests for 50,000 ids, bound {bound}"
        );
        let kept = registry.answers.lock().unwrap().by_id.len();
        assert_eq!(kept, MAX_UNKNOWN_IDS, "memory stays bounded");
        // Unknown ids seen before are answered from memory, without a request.
        registry.get(7).unwrap();
        assert_eq!(requests.load(Ordering::Relaxed), asked);
    }

    #[test]
    fn refusals_and_server_errors_are_waited_out_and_never_taken_as_answers() {
        for respond in [
            (|_: &str| (401, r#"{"message":"Unauthorized"}"#.to_owned()))
                as fn(&str) -> (u16, String),
            |_| (500, "Internal Server Error".to_owned()),
            |_| (503, "".to_owned()),
        ] {
            let (url, _) = serve(respond);
            let registry = Registry::new(&url, Some(("u", "p")));
            let error = registry.get(1).unwrap_err();
            assert!(error.reason.contains("HTTP"), "{error}");
            assert!(registry.cached(1).is_none(), "asked again later");
        }
    }

    #[test]
    fn a_schema_of_another_type_or_that_does_not_parse_is_unknown_and_says_why() {
        let (url, _) = serve(|path| match path {
            "/schemas/ids/1" => (200, r#"{"schema":"<x/>","schemaType":"XML"}"#.to_owned()),
            "/schemas/ids/2" => (200, r#"{"schema":"{\"type\":\"record\"}"}"#.to_owned()),
            "/schemas/ids/3" => (200, "not json".to_owned()),
            _ => (200, r#"{"schema":"\"long\""}"#.to_owned()),
        });
        let registry = Registry::new(&url, None);
        let why = |id| match registry.get(id).unwrap() {
            Answer::Unknown(why) => why,
            Answer::Schema(_) => panic!("schema {id} taken"),
        };
        assert!(
            why(1).contains("XML schema, which analyzer does not"),
            "{}",
            why(1)
        );
        assert!(why(2).contains("does not parse"), "{}", why(2));
        assert!(
            why(3).contains("answer for schema 3 does not parse"),
            "{}",
            why(3)
        );
        assert!(matches!(
            registry.get(4).unwrap(),
            Answer::Schema(Registered::Avro(_))
        ));
    }

    /// The registry's answers for shop/orders.proto (id 1, path
    /// `/schemas/ids/1`) and shop/money.proto (subject `shop/money.proto`
    /// version 1) from examples/protobuf/shop.desc; id 2 references a subject the
    /// registry lacks; id 3's reference references itself.
    fn protobuf_answer(path: &str) -> (u16, String) {
        use prost_reflect::prost::Message as _;
        static FILES: std::sync::OnceLock<HashMap<String, String>> = std::sync::OnceLock::new();
        let files = FILES.get_or_init(|| {
            let desc = include_bytes!("../../examples/protobuf/shop.desc");
            let set = prost_reflect::prost_types::FileDescriptorSet::decode(&desc[..]).unwrap();
            (set.file.iter())
                .map(|f| (f.name().to_owned(), BASE64.encode(f.encode_to_vec())))
                .collect()
        });
        let answer = |file: &str, subject: &str| {
            serde_json::json!({"schemaType": "PROTOBUF", "schema": files[file],
                "references": [{"name": "shop/money.proto", "subject": subject, "version": 1}]})
            .to_string()
        };
        match path {
            "/schemas/ids/4?format=serialized" => (501, r#"{"error_code":501}"#.to_owned()),
            "/schemas/ids/1" | "/schemas/ids/2" | "/schemas/ids/3" | "/schemas/ids/4" => (
                200,
                r#"{"schemaType":"PROTOBUF","schema":"syntax = \"proto3\";"}"#.to_owned(),
            ),
            "/schemas/ids/1?format=serialized" => (200, answer("shop/orders.proto", "money")),
            "/schemas/ids/2?format=serialized" => (200, answer("shop/orders.proto", "gone")),
            "/schemas/ids/3?format=serialized" => (200, answer("shop/orders.proto", "self")),
            "/subjects/money/versions/1?format=serialized" => (
                200,
                serde_json::json!({"schemaType": "PROTOBUF", "schema": files["shop/money.proto"]})
                    .to_string(),
            ),
            "/subjects/self/versions/1?format=serialized" => {
                (200, answer("shop/money.proto", "self"))
            }
            _ => (404, r#"{"error_code":40401}"#.to_owned()),
        }
    }

    #[test]
    fn a_protobuf_schema_is_read_serialized_with_its_references() {
        let (url, requests) = serve(protobuf_answer);
        let registry = Registry::new(&url, None);
        let Answer::Schema(Registered::Protobuf(file)) = registry.get(1).unwrap() else {
            panic!("schema 1 is Protobuf");
        };
        let parcel = file.message(&[1, 0]).unwrap();
        assert_eq!(parcel.full_name(), "shop.OrderShipped.Parcel");
        // The schema, serialized, and its one reference: three requests.
        assert_eq!(requests.load(Ordering::Relaxed), 3);
        let why = |id| match registry.get(id).unwrap() {
            Answer::Unknown(why) => why,
            Answer::Schema(_) => panic!("schema {id} taken"),
        };
        assert!(
            why(2).contains("no reference \"shop/money.proto\" (subject \"gone\" version 1)"),
            "{}",
            why(2)
        );
        // A registry that cannot serve the serialized form: unknown, not waited for.
        assert!(why(4).contains("HTTP 501"), "{}", why(4));
        // A file that references itself is read once: no loop.
        let before = requests.load(Ordering::Relaxed);
        assert!(matches!(
            registry.get(3).unwrap(),
            Answer::Schema(Registered::Protobuf(_))
        ));
        assert_eq!(requests.load(Ordering::Relaxed), before + 3);
    }
}
