//! Configuration: built-in defaults, then a TOML file, then `ANALYZER_*` environment
//! variables (`__` nests: `ANALYZER_KAFKA__BROKERS`). Later layers win.
//!
//! Unknown keys are rejected, and every error names the key and where its value came
//! from (the file's path or the environment variable), so a bad deploy fails at start
//! with a message that says what to fix.
//!
//! A leaf: this module holds the settings and the checks that need nothing but
//! them. Each owner checks its own rules (the Kafka properties in `kafka`, the
//! routes in `http`, the snapshot store in `snapshot`, the schemas in `decode`);
//! `startup::prepare` runs them all once and reports every problem together, each
//! with its source ([`Settings::refuse`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata};
use serde::{Deserialize, Deserializer, Serialize};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "ANALYZER_";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where to read events from.
    pub kafka: KafkaSettings,
    /// The HTTP server.
    pub http: HttpSettings,
    /// How an event's type is found.
    pub classify: ClassifySettings,
    /// The payload cache.
    pub cache: CacheSettings,
    /// The one numbering: when it stops waiting for quiet partitions.
    pub order: OrderSettings,
    /// The Prometheus scrape.
    pub metrics: MetricsSettings,
    /// Avro decoding: local schemas (and the registry's old keys).
    pub avro: AvroSettings,
    /// Protobuf decoding of unframed values: local descriptor sets.
    pub protobuf: ProtobufSettings,
    /// The Schema Registry, for every format it serves.
    pub registry: RegistrySettings,
    /// Index snapshots, so a restart resumes instead of re-reading the topic.
    pub snapshot: SnapshotSettings,
    /// The key index: every event of one entity, across types.
    pub keys: KeysSettings,
    /// Extra paths that serve one type's events: `GET {path}?index=N`.
    pub routes: Vec<RouteSettings>,
    /// Where each value came from, for problems found after loading.
    #[serde(skip)]
    pub sources: Sources,
}

/// Where the loaded values came from (the layers), to name a problem's source, and
/// the `${NAME}` references that no environment variable resolved.
#[derive(Clone, Default)]
pub struct Sources {
    layers: Option<std::sync::Arc<Figment>>,
    unresolved: Vec<(String, String)>,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sources")
    }
}

impl PartialEq for Sources {
    /// Settings compare by their values, never by where they came from.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// `[kafka]`: the broker and topics to index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Topics to index, all partitions of each. A string of comma-separated names is
    /// accepted too (handy in an environment variable).
    #[serde(deserialize_with = "list_or_csv")]
    pub topics: Vec<String>,
    /// Any librdkafka property, passed to every client (SASL, TLS, tuning...).
    #[serde(deserialize_with = "property_map")]
    pub properties: BTreeMap<String, String>,
    /// How often to look for new partitions and topics that appeared, in seconds.
    pub metadata_refresh_secs: u64,
    /// `none` (the default: whatever `properties` say), or `aws_msk_iam`: Amazon
    /// MSK's IAM authentication, tokens signed with the standard AWS credential
    /// chain (analyzer sets `security.protocol` and `sasl.mechanism`).
    pub auth: KafkaAuth,
    /// With `auth = "aws_msk_iam"`: the cluster's region (default: `AWS_REGION`
    /// or `AWS_DEFAULT_REGION`).
    pub aws_region: Option<String>,
}

/// How analyzer authenticates to Kafka beyond `[kafka.properties]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaAuth {
    /// As `[kafka.properties]` say (TLS, SASL PLAIN/SCRAM, OIDC...).
    #[default]
    None,
    /// Amazon MSK IAM over SASL OAUTHBEARER.
    AwsMskIam,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "localhost:9092".into(),
            topics: vec!["events".into()],
            properties: BTreeMap::new(),
            metadata_refresh_secs: 30,
            auth: KafkaAuth::None,
            aws_region: None,
        }
    }
}

impl KafkaSettings {
    /// Replaces every property value written `${NAME}` by the environment variable
    /// NAME (how a Secret reaches `sasl.password`: property names have dots, which an
    /// `ANALYZER_*` variable cannot carry). Returns a (key, problem) per unset one.
    pub fn resolve_env_references(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, value) in &mut self.properties {
            if let Err(name) = resolve_env(value, &lookup) {
                problems.push((
                    "kafka.properties".to_owned(),
                    format!("{key:?} refers to environment variable {name}, which is not set"),
                ));
            }
        }
        problems
    }
}

/// `[http]`: the HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish, in seconds.
    pub shutdown_timeout_secs: u64,
    /// When set, every path but the open ones (probes, `/openapi.json`, `/docs`,
    /// `/metrics` unless `protect_metrics`) requires `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    /// With `auth_token`, require it for `/metrics` too.
    pub protect_metrics: bool,
    /// Browser origins allowed to call the API (CORS), like `https://audit.example.com`.
    pub cors_origins: Vec<String>,
    /// Whether `/events/{type}/export` (bulk NDJSON) is served; some teams must not
    /// allow bulk export of sensitive topics (403 when off).
    pub export_enabled: bool,
    /// Live tails (`/events/{type}/stream`) open at once; one more answers 503.
    pub max_streams: u64,
    /// Seconds between heartbeat comments on an idle live tail.
    pub stream_heartbeat_secs: u64,
    /// How far (in events) a live tail may fall behind the live end once it has
    /// reached it, before it is sent `event: overflow` and closed.
    pub stream_max_lag: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            bind: SocketAddr::from(([0, 0, 0, 0], 8110)),
            shutdown_timeout_secs: 10,
            auth_token: None,
            protect_metrics: false,
            cors_origins: Vec::new(),
            export_enabled: true,
            max_streams: 64,
            stream_heartbeat_secs: 15,
            stream_max_lag: 10_000,
        }
    }
}

/// Which part of a message names its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifyBy {
    /// A field of the JSON value.
    JsonField,
    /// A message header.
    Header,
    /// The topic name.
    Topic,
    /// The full name of the Avro writer schema (Confluent framing via the
    /// registry, or a container file's embedded schema).
    AvroRecord,
    /// The name of the value's writer schema, whatever its format: an Avro
    /// record's or a Protobuf message's full name, a JSON Schema's `title`.
    SchemaName,
}

/// `[classify]`: how an event's type is found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifySettings {
    /// `json_field`, `header`, `topic`, `schema_name` or `avro_record`.
    pub by: ClassifyBy,
    /// json_field: a top-level field name, or a JSON pointer like `/meta/type`;
    /// header: the header name; topic: ignored.
    pub name: String,
    /// At most this many distinct types are indexed (declared route types among
    /// them); an event of a new type beyond it goes to `unclassified` as
    /// `too_many_types`. Protects memory from a rule that picks a unique id.
    pub max_types: u64,
}

impl Default for ClassifySettings {
    fn default() -> Self {
        ClassifySettings {
            by: ClassifyBy::JsonField,
            name: "type".into(),
            max_types: 10_000,
        }
    }
}

/// Which part of a message is its entity's key, for the key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeysBy {
    /// No key index (it costs memory: turned on by the user).
    None,
    /// The Kafka record key.
    KafkaKey,
    /// A string field of the JSON value (same path syntax as `classify.name`).
    JsonField,
    /// A message header's value.
    Header,
}

/// `[keys]`: the key index, so that one entity's history is one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSettings {
    /// `none` (default), `kafka_key`, `json_field` or `header`.
    pub by: KeysBy,
    /// json_field: a top-level field name or a JSON pointer like `/patient/id`;
    /// header: the header name; otherwise ignored.
    pub name: String,
    /// At most this many distinct keys are indexed; an event with a new key beyond
    /// it is left out of the key index (counted), never out of its type.
    pub max_keys: u64,
}

impl Default for KeysSettings {
    fn default() -> Self {
        KeysSettings {
            by: KeysBy::None,
            name: String::new(),
            max_keys: 2_000_000,
        }
    }
}

/// `[cache]`: the in-memory payload cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Budget in bytes; 0 disables the cache (every lookup reads from Kafka).
    pub max_bytes: u64,
    /// Keep each event's headers too, so ranges and exports are served from the
    /// cache. Off by default: reading headers at ingest slows catch-up by 17-30%;
    /// ranges then read from Kafka. Always on with `classify.by = "header"`.
    pub headers: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            max_bytes: 128 << 20,
            headers: false,
        }
    }
}

/// `[order]`: how the numbering settles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderSettings {
    /// A partition read to its end stops holding the watermark back once the highest
    /// clock is more than this many milliseconds ahead of its own (Flink's idleness).
    pub max_lateness_ms: u64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            max_lateness_ms: 300_000,
        }
    }
}

/// `[metrics]`: the Prometheus scrape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Per-type series for at most this many types (those with the most events);
    /// the rest are summed under `type="_other"`, so a scrape stays small.
    pub max_type_series: usize,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            max_type_series: 500,
        }
    }
}

/// `[snapshot]`: index snapshots. Off when neither `dir` nor `url` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSettings {
    /// A directory (a PVC or an emptyDir) where snapshots are written and read.
    pub dir: Option<PathBuf>,
    /// Object storage, `s3://bucket/prefix` (credentials, region and endpoint from
    /// the standard AWS environment variables). With `dir` too, both are written and
    /// the newer is read.
    pub url: Option<String>,
    /// Seconds between snapshots.
    pub interval_secs: u64,
    /// Whether this process writes snapshots. Every replica reads the newest at
    /// start; one at a time should write to a shared directory, so other replicas
    /// set this to false.
    pub write: bool,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        SnapshotSettings {
            dir: None,
            url: None,
            interval_secs: 60,
            write: true,
        }
    }
}

/// Replaces a value written `${NAME}` by environment variable NAME (any other
/// value is kept); the NAME when it is not set.
pub(super) fn resolve_env(
    value: &mut String,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let Some(name) = value
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return Ok(());
    };
    match lookup(name) {
        Some(resolved) => {
            *value = resolved;
            Ok(())
        }
        None => Err(name.to_owned()),
    }
}

/// `[[routes]]`: an alias path for one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// The path, like `/blood_pressure`.
    pub path: String,
    /// The event type it serves.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The key `/stats` reports this type's count under, instead of the type name
    /// (`num_bp`, as the original audit service's contract has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_key: Option<String>,
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn one(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

/// Where to read the configuration file from.
#[derive(Debug, Clone)]
pub enum ConfigFile {
    /// The default `./analyzer.toml`, used only if it exists.
    Default,
    /// A file named on the command line; it must exist.
    Explicit(PathBuf),
}

/// The default configuration file name, looked up in the working directory.
pub const DEFAULT_FILE: &str = "analyzer.toml";

/// Loads the configuration from its three layers. Values of the wrong shape fail
/// here; unresolved `${NAME}` references, the cross-field checks and each owner's
/// run in `startup::prepare`, so that one start reports every problem.
pub fn load(file: &ConfigFile) -> Result<Settings, ConfigError> {
    let path = match file {
        ConfigFile::Explicit(path) if !path.is_file() => {
            return Err(ConfigError::one(format!(
                "config file {} does not exist (given with --config)",
                path.display()
            )));
        }
        ConfigFile::Explicit(path) => Some(path.as_path()),
        ConfigFile::Default => Some(Path::new(DEFAULT_FILE)).filter(|p| p.is_file()),
    };
    let figment = figment(path);
    let mut settings: Settings = figment.extract().map_err(|e| ConfigError {
        problems: e.into_iter().map(|e| describe(&e)).collect(),
    })?;
    let lookup = |name: &str| std::env::var(name).ok();
    let mut unresolved = settings.kafka.resolve_env_references(lookup);
    unresolved.extend(settings.avro.resolve_env_references(lookup));
    unresolved.extend(settings.registry.resolve_env_references(lookup));
    settings.sources = Sources {
        layers: Some(std::sync::Arc::new(figment)),
        unresolved,
    };
    Ok(settings)
}

fn figment(file: Option<&Path>) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    // Only nested keys (every setting lives in a section): Kubernetes injects
    // ANALYZER_PORT, ANALYZER_SERVICE_HOST... for a Service named "analyzer", and
    // those must not fail the start. A misspelt nested key is still rejected.
    figment.merge(
        Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains("__"))
            .split("__"),
    )
}

/// The environment variable that sets `key`, like `ANALYZER_KAFKA__BROKERS`.
pub fn env_var_for(key: &[impl AsRef<str>]) -> String {
    let joined: Vec<String> = key.iter().map(|k| k.as_ref().to_uppercase()).collect();
    format!("{ENV_PREFIX}{}", joined.join("__"))
}

fn where_from(metadata: &Metadata, key: &[String]) -> String {
    match &metadata.source {
        Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
        _ if metadata.name.contains("environment") => {
            format!(" (from environment variable {})", env_var_for(key))
        }
        _ => " (built-in default)".into(),
    }
}

/// Where `key`'s value came from; array elements (`routes.0`) resolve via their parent.
pub(super) fn source_of(figment: &Figment, key: &str) -> String {
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    (1..=path.len())
        .rev()
        .find_map(|n| figment.find_metadata(&path[..n].join(".")))
        .map(|metadata| where_from(metadata, &path))
        .unwrap_or_default()
}

fn describe(error: &figment::Error) -> String {
    let mut key = error.path.clone();
    if let figment::error::Kind::UnknownField(field, _) = &error.kind {
        key.push(field.clone());
    }
    let source = error
        .metadata
        .as_ref()
        .map(|m| where_from(m, &key))
        .unwrap_or_default();
    if key.is_empty() {
        format!("{}{source}", error.kind)
    } else {
        format!("{}: {}{source}", key.join("."), error.kind)
    }
}

impl Settings {
    /// Every one of `problems`, (key, problem) pairs, with where its value came from.
    pub fn refuse(&self, problems: Vec<(String, String)>) -> ConfigError {
        let source = |key: &str| match &self.sources.layers {
            Some(figment) => source_of(figment, key),
            None => String::new(),
        };
        ConfigError {
            problems: problems
                .into_iter()
                .map(|(key, problem)| format!("{key}: {problem}{}", source(&key)))
                .collect(),
        }
    }

    /// Config's own cross-field checks, as (key, problem) pairs; each owner checks
    /// the rest (see the module's doc).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = self.sources.unresolved.clone();
        let mut problem = |key: &str, text: String| problems.push((key.to_owned(), text));
        if self.kafka.brokers.trim().is_empty() {
            problem("kafka.brokers", "must name at least one broker".into());
        }
        if self.kafka.topics.is_empty() {
            problem("kafka.topics", "must name at least one topic".into());
        }
        for (i, topic) in self.kafka.topics.iter().enumerate() {
            if topic.trim().is_empty() {
                problem("kafka.topics", "a topic name is empty".into());
            } else if self.kafka.topics[..i].contains(topic) {
                problem("kafka.topics", format!("topic {topic:?} is listed twice"));
            }
        }
        match &self.http.auth_token {
            Some(token) if token.trim().is_empty() => {
                problem("http.auth_token", "must not be empty when set".into());
            }
            None if self.http.protect_metrics => problem(
                "http.protect_metrics",
                "needs http.auth_token to protect /metrics with".into(),
            ),
            _ => {}
        }
        for origin in &self.http.cors_origins {
            let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
            if !scheme_ok || origin.ends_with('/') {
                problem(
                    "http.cors_origins",
                    format!("{origin:?} is not an origin like \"https://audit.example.com\""),
                );
            }
        }
        if self.http.stream_heartbeat_secs == 0 {
            problem("http.stream_heartbeat_secs", "must be at least 1".into());
        }
        if self.kafka.metadata_refresh_secs == 0 {
            problem("kafka.metadata_refresh_secs", "must be at least 1".into());
        }
        if self.classify.by != ClassifyBy::Topic && self.classify.name.is_empty() {
            problem(
                "classify.name",
                "must name the field or header that holds the type".into(),
            );
        }
        if self.snapshot.interval_secs == 0 {
            problem("snapshot.interval_secs", "must be at least 1".into());
        }
        if matches!(self.keys.by, KeysBy::JsonField | KeysBy::Header) && self.keys.name.is_empty() {
            problem(
                "keys.name",
                "must name the field or header that holds the key".into(),
            );
        }
        if self.keys.by != KeysBy::None && self.keys.max_keys == 0 {
            problem("keys.max_keys", "must be at least 1".into());
        }
        for (key, text) in self.format_problems() {
            problem(&key, text);
        }
        let declared: std::collections::BTreeSet<&str> =
            self.routes.iter().map(|r| r.event_type.as_str()).collect();
        if self.classify.max_types < declared.len().max(1) as u64 {
            problem(
                "classify.max_types",
                format!(
                    "must be at least 1 and at least the {} types [[routes]] declare",
                    declared.len()
                ),
            );
        }
        for (i, route) in self.routes.iter().enumerate() {
            let key = format!("routes.{i}");
            if !route.path.starts_with('/') || route.path.len() < 2 {
                problem(&key, format!("path {:?} must start with '/'", route.path));
            }
            if self.routes[..i].iter().any(|r| r.path == route.path) {
                problem(&key, format!("path {:?} is declared twice", route.path));
            }
            if let Some(stats_key) = &route.stats_key {
                for problem_found in self.stats_key_problems(i, stats_key) {
                    problem(&format!("{key}.stats_key"), problem_found);
                }
            }
        }
        problems
    }

    /// Why route `i`'s `stats_key` cannot be used: empty, or taken by an earlier
    /// route's key or by another declared type's name (`/stats` could not tell them apart).
    fn stats_key_problems(&self, i: usize, stats_key: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if stats_key.is_empty() {
            problems.push(format!("{stats_key:?} must not be empty"));
        }
        let own_type = &self.routes[i].event_type;
        for (j, other) in self.routes.iter().enumerate() {
            if j < i
                && other.stats_key.as_deref() == Some(stats_key)
                && other.event_type != *own_type
            {
                problems.push(format!(
                    "{stats_key:?} is also the stats_key of routes.{j} (type {:?}); each type needs its own key",
                    other.event_type
                ));
            }
            if j < i
                && other.event_type == *own_type
                && let Some(earlier) = other.stats_key.as_deref().filter(|k| *k != stats_key)
            {
                problems.push(format!(
                    "type {own_type:?} already has stats_key {earlier:?} in routes.{j}; one type, one key"
                ));
            }
            if other.event_type == stats_key && other.event_type != *own_type {
                problems.push(format!(
                    "{stats_key:?} is the name of the type routes.{j} serves; /stats would report both under one key"
                ));
            }
        }
        problems
    }
}

fn list_or_csv<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match ListOrCsv::deserialize(deserializer)? {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(csv) => csv.split(',').map(|s| s.trim().to_owned()).collect(),
    })
}

/// librdkafka takes every property as a string; accept TOML numbers and booleans too.
fn property_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        String(String),
        Integer(i64),
        Float(f64),
        Bool(bool),
    }
    let map = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::String(s) => s,
                Scalar::Integer(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, v)
        })
        .collect())
}

mod formats;
mod summary;

pub use formats::{AvroSettings, ProtobufSettings, RegistrySettings};
#[cfg(test)]
mod tests;
