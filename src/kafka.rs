//! Shared librdkafka plumbing: the client properties analyzer sets (one table for
//! both of its clients), how client errors are logged, and the context the
//! point-read consumers use.

use std::sync::Arc;

use log::{debug, warn};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::aws::credentials::{CredentialChain, Source};
use crate::aws::env_region;
use crate::aws::msk::MskTokens;
use crate::config::{KafkaAuth, KafkaSettings};

/// The two kinds of Kafka client analyzer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    /// The one long-lived consumer that reads every partition from its beginning.
    Ingest,
    /// The pooled consumers that read one uncached event at a time.
    PointRead,
    /// One export's consumer: reads its partitions forward, prefetching.
    Export,
}

/// Whether a user's `[kafka.properties]` may change a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// A default: a user's value wins.
    Default,
    /// Analyzer's guarantees depend on it (read from the start, never commit, see
    /// every partition's end, out-of-range is an answer): configuration rejects it.
    Managed,
}

/// One property analyzer sets: its name, its value for the ingest, point-read and
/// export clients (None: librdkafka's default), and who may change it.
struct Property {
    name: &'static str,
    ingest: Option<&'static str>,
    point_read: Option<&'static str>,
    export: Option<&'static str>,
    policy: Policy,
}

/// A property the export client sets as ingest does (it reads forward too).
const fn property(
    name: &'static str,
    ingest: Option<&'static str>,
    point_read: Option<&'static str>,
    policy: Policy,
) -> Property {
    Property {
        name,
        ingest,
        point_read,
        export: ingest,
        policy,
    }
}

/// A property the export client sets as a point read does (an export asks for
/// positions the index names: one gone is an answer).
const fn like_point_read(mut p: Property) -> Property {
    p.export = p.point_read;
    p
}

/// Every property analyzer sets, for both clients. `bootstrap.servers` is managed
/// too, from `kafka.brokers`.
const PROPERTIES: [Property; 13] = [
    Property {
        name: "client.id",
        ingest: Some("analyzer-ingest"),
        point_read: Some("analyzer-reader"),
        export: Some("analyzer-export"),
        policy: Policy::Default,
    },
    // librdkafka's assign() needs a group id; analyzer never joins it nor commits.
    property(
        "group.id",
        Some("analyzer"),
        Some("analyzer"),
        Policy::Default,
    ),
    // High watermarks, log start and EOF offsets per partition, broker states.
    like_point_read(property(
        "statistics.interval.ms",
        Some("1000"),
        None,
        Policy::Default,
    )),
    // Brokers like tansu hold every Fetch this long even when data is there: it
    // bounds ingest's tail latency, and a point read needs an answer at once.
    property(
        "fetch.wait.max.ms",
        Some("100"),
        Some("10"),
        Policy::Default,
    ),
    // Once queued.min.messages are waiting, librdkafka postpones the next Fetch this
    // long (default 1 s): during catch-up the queue drained in a fraction of that and
    // ingest sat idle, 3x slower than a plain consumer; a reused point-read consumer
    // inherited the wait, which was cold lookups' p99 (1,020 ms). See BENCHMARKS.md.
    property(
        "fetch.queue.backoff.ms",
        Some("1"),
        Some("1"),
        Policy::Default,
    ),
    // Prefetch at most 4 MiB ahead (default 64 MiB): with the short backoff above the
    // queue stays full during catch-up, and this much kept it as fast (measured).
    // An export renders while it reads: with 4 MiB its reader still waited on an
    // empty queue for 0.12-0.17 s of a 1.3 s export, with 16 MiB 0.01-0.09 s.
    Property {
        name: "queued.max.messages.kbytes",
        ingest: Some("4096"),
        point_read: None,
        export: Some("16384"),
        policy: Policy::Default,
    },
    // A point read needs one message: do not prefetch far ahead.
    property("queued.min.messages", None, Some("1"), Policy::Default),
    // A reader's connection that failed during an outage is retried after a backoff
    // that doubles up to this (librdkafka: 10 s): once the broker was back, cold
    // lookups still answered 503 past their 2 s deadline while ingest had caught up
    // (seen in CI: `faults::broker_killed_then_restarted...`). At most 1 s, the
    // first read after a recovery reconnects within its deadline.
    like_point_read(property(
        "reconnect.backoff.max.ms",
        None,
        Some("1000"),
        Policy::Default,
    )),
    property(
        "enable.auto.commit",
        Some("false"),
        Some("false"),
        Policy::Managed,
    ),
    property(
        "enable.auto.offset.store",
        Some("false"),
        Some("false"),
        Policy::Managed,
    ),
    // Partition EOF is how ingest learns it has read a partition to its end, and
    // how a point read learns its offset is not there.
    property(
        "enable.partition.eof",
        Some("true"),
        Some("true"),
        Policy::Managed,
    ),
    // Ingest starts at the log start; a point read below it must fail (410), not
    // return some other event.
    like_point_read(property(
        "auto.offset.reset",
        Some("earliest"),
        Some("error"),
        Policy::Managed,
    )),
    property(
        "isolation.level",
        Some("read_committed"),
        Some("read_committed"),
        Policy::Managed,
    ),
];

/// The properties that name the CA to trust (any one excludes the others).
const CA_PROPERTIES: [&str; 2] = ["ssl.ca.location", "ssl.ca.pem"];

/// The bootstrap property, set from `kafka.brokers`.
const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";

/// Properties a user may not set in `[kafka.properties]`.
pub fn managed_properties() -> impl Iterator<Item = &'static str> {
    std::iter::once(BOOTSTRAP_SERVERS).chain(
        PROPERTIES
            .iter()
            .filter(|p| p.policy == Policy::Managed)
            .map(|p| p.name),
    )
}

/// The librdkafka configuration of a `role` client: analyzer's defaults, then the
/// user's properties, then the brokers and the managed properties.
pub fn client_config(kafka: &KafkaSettings, role: ClientRole) -> ClientConfig {
    let value = |p: &Property| match role {
        ClientRole::Ingest => p.ingest,
        ClientRole::PointRead => p.point_read,
        ClientRole::Export => p.export,
    };
    let mut config = ClientConfig::new();
    for p in PROPERTIES.iter().filter(|p| p.policy == Policy::Default) {
        if let Some(v) = value(p) {
            config.set(p.name, v);
        }
    }
    // OpenSSL is linked in statically: its built-in CA path is the build
    // machine's, not this one's. "probe" makes librdkafka look in the standard
    // places (/etc/ssl/certs/ca-certificates.crt...), so public CAs verify with
    // no setting. Only when the user names no CA of their own.
    if !CA_PROPERTIES
        .iter()
        .any(|p| kafka.properties.contains_key(*p))
    {
        config.set("ssl.ca.location", "probe");
    }
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config.set(BOOTSTRAP_SERVERS, &kafka.brokers);
    for (name, value) in auth_properties(kafka.auth) {
        config.set(*name, *value);
    }
    for p in PROPERTIES.iter().filter(|p| p.policy == Policy::Managed) {
        if let Some(v) = value(p) {
            config.set(p.name, v);
        }
    }
    config
}

/// What this build's librdkafka is and can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// librdkafka's version, like `2.12.1`.
    pub version: String,
    /// Its `builtin.features`: `ssl`, `sasl_scram`, `zstd`, `oidc`...
    pub features: Vec<String>,
}

/// This build's librdkafka, read once from the library itself.
pub fn client_info() -> &'static ClientInfo {
    static INFO: std::sync::OnceLock<ClientInfo> = std::sync::OnceLock::new();
    INFO.get_or_init(|| {
        let features = ClientConfig::new()
            .create_native_config()
            .and_then(|native| native.get("builtin.features"))
            .unwrap_or_default();
        ClientInfo {
            version: rdkafka::util::get_rdkafka_version().1,
            features: features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    })
}

/// The properties `[kafka] auth` sets: MSK IAM is SASL OAUTHBEARER over TLS.
fn auth_properties(auth: KafkaAuth) -> &'static [(&'static str, &'static str)] {
    match auth {
        KafkaAuth::None => &[],
        KafkaAuth::AwsMskIam => &[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ],
    }
}

/// Where OAUTHBEARER tokens come from when analyzer makes them (`[kafka] auth =
/// "aws_msk_iam"`); librdkafka makes OIDC tokens itself (`sasl.oauthbearer.method
/// = "oidc"`), on its own thread.
#[derive(Debug, Clone, Default)]
pub struct TokenSource(Option<Arc<MskTokens>>);

impl TokenSource {
    /// The source `kafka` asks for, its credentials from the environment
    /// (`lookup`); an error names what is missing.
    pub fn from_settings(
        kafka: &KafkaSettings,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        if kafka.auth != KafkaAuth::AwsMskIam {
            return Ok(TokenSource(None));
        }
        let region = kafka
            .aws_region
            .clone()
            .or_else(|| env_region(&lookup))
            .ok_or(
            "kafka.auth = \"aws_msk_iam\" needs a region: kafka.aws_region, or AWS_REGION in the environment",
        )?;
        let source = Source::from_env(&lookup, &region).ok_or(
            "kafka.auth = \"aws_msk_iam\" needs AWS credentials, and the environment names none (AWS_EC2_METADATA_DISABLED is set)",
        )?;
        Ok(TokenSource(Some(Arc::new(MskTokens::new(
            &region,
            CredentialChain::new(source),
        )))))
    }

    /// The MSK token maker, when there is one.
    pub fn msk(&self) -> Option<&MskTokens> {
        self.0.as_deref()
    }

    /// Answers librdkafka's token refresh.
    pub fn generate(&self) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let Some(msk) = &self.0 else {
            return Err("sasl.mechanism OAUTHBEARER needs a token: set sasl.oauthbearer.method = \"oidc\" with its endpoint, or [kafka] auth = \"aws_msk_iam\"".into());
        };
        let (token, lifetime_ms, principal_name) = msk.make()?;
        Ok(OAuthToken {
            token,
            principal_name,
            lifetime_ms,
        })
    }
}

/// Every problem with `[kafka.properties]`, as (key, problem): a property analyzer
/// manages, and one that this build of librdkafka does not know or whose value it
/// refuses (an SSL setting in a build without OpenSSL, a misspelt name, a value out
/// of range), in librdkafka's words. Checked at start, so that a bad property stops
/// it with the key and its source rather than failing the client later.
pub fn property_problems(kafka: &KafkaSettings) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for name in managed_properties() {
        if kafka.properties.contains_key(name) {
            problems.push((
                "kafka.properties".to_owned(),
                format!("{name:?} is set by analyzer itself and cannot be overridden"),
            ));
        }
    }
    for (name, value) in auth_properties(kafka.auth) {
        if let Some(set) = kafka.properties.get(*name)
            && !set.eq_ignore_ascii_case(value)
        {
            problems.push((
                format!("kafka.properties.{name}"),
                format!(
                    "is {set:?}, but kafka.auth = \"aws_msk_iam\" sets it to {value:?}: remove one"
                ),
            ));
        }
    }
    for (key, value) in &kafka.properties {
        let mut one = ClientConfig::new();
        one.set(key, value);
        if let Err(e) = one.create_native_config() {
            let why = match e {
                KafkaError::ClientConfig(_, description, _, _) => description,
                other => other.to_string(),
            };
            problems.push((format!("kafka.properties.{key}"), why));
        }
    }
    if problems.is_empty() {
        // Each property alone is fine; together, with files they name (a CA that
        // does not parse, a mechanism without its settings), librdkafka checks
        // them only when a client is made. No broker is named: it connects to none.
        let mut config = client_config(kafka, ClientRole::Ingest);
        config.remove(BOOTSTRAP_SERVERS);
        if let Err(e) = config.create::<rdkafka::consumer::BaseConsumer>() {
            let why = match e {
                KafkaError::ClientCreation(why) => why,
                other => other.to_string(),
            };
            problems.push(("kafka.properties".to_owned(), why));
        }
    }
    problems
}

/// Logs a client-level error, except partition EOF, which is a normal event here
/// (it is how analyzer learns it has read a partition to its end).
pub fn log_client_error(error: &KafkaError, reason: &str) {
    if !matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
        warn!("librdkafka: {error}: {reason}");
    }
}

/// Context for the point-read consumers: their client-level errors and logs go to
/// debug. A failed read already answers its request with 503 and the error, and the
/// ingest consumer reports the broker's state for the process; these consumers are
/// only polled during a read, so their events would otherwise pile up and all be
/// logged at once when they are dropped.
#[derive(Debug, Default, Clone)]
pub struct QuietContext(pub TokenSource);

impl ClientContext for QuietContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        debug!(target: "librdkafka", "point-read client ({level:?}): {fac} {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        debug!("point-read client: {error}: {reason}");
    }

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.0.generate()
    }
}

impl ConsumerContext for QuietContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_managed_property_has_a_value_for_both_clients() {
        for p in PROPERTIES.iter().filter(|p| p.policy == Policy::Managed) {
            assert!(p.ingest.is_some() && p.point_read.is_some(), "{}", p.name);
        }
    }

    #[test]
    fn configuration_rejects_exactly_the_managed_properties() {
        for p in &PROPERTIES {
            let mut settings = crate::config::Settings::default();
            // A value librdkafka takes, so that only the policy can refuse it.
            let value = p.ingest.or(p.point_read).unwrap_or("1");
            settings
                .kafka
                .properties
                .insert(p.name.to_owned(), value.to_owned());
            let rejected = !property_problems(&settings.kafka).is_empty();
            assert_eq!(rejected, p.policy == Policy::Managed, "{}", p.name);
        }
        let mut settings = crate::config::Settings::default();
        settings
            .kafka
            .properties
            .insert(BOOTSTRAP_SERVERS.to_owned(), "x".to_owned());
        assert!(!property_problems(&settings.kafka).is_empty());
    }

    #[test]
    fn properties_this_build_refuses_are_named_with_librdkafkas_reason() {
        let mut kafka = KafkaSettings::default();
        kafka
            .properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        kafka
            .properties
            .insert("sasl.mechanism".into(), "SCRAM-SHA-512".into());
        kafka.properties.insert("sasl.username".into(), "u".into());
        kafka.properties.insert("sasl.password".into(), "p".into());
        assert_eq!(property_problems(&kafka), []);
        kafka
            .properties
            .insert("no.such.property".into(), "1".into());
        kafka
            .properties
            .insert("fetch.wait.max.ms".into(), "soon".into());
        let problems = property_problems(&kafka);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "kafka.properties.fetch.wait.max.ms",
                "kafka.properties.no.such.property"
            ],
            "{problems:?}"
        );
        assert!(problems[1].1.contains("No such configuration property"));
        // Fine alone, refused together: a CA file that does not exist.
        let mut kafka = KafkaSettings::default();
        kafka
            .properties
            .insert("security.protocol".into(), "SSL".into());
        kafka
            .properties
            .insert("ssl.ca.location".into(), "/nonexistent/ca.pem".into());
        let problems = property_problems(&kafka);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "kafka.properties");
        assert!(problems[0].1.contains("ssl.ca.location"), "{problems:?}");
    }

    #[test]
    fn msk_iam_sets_its_mechanism_and_a_conflicting_property_names_both() {
        let mut kafka = KafkaSettings {
            auth: KafkaAuth::AwsMskIam,
            aws_region: Some("eu-west-1".into()),
            ..KafkaSettings::default()
        };
        let config = client_config(&kafka, ClientRole::Ingest);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("OAUTHBEARER"));
        kafka
            .properties
            .insert("security.protocol".into(), "SASL_PLAINTEXT".into());
        kafka
            .properties
            .insert("sasl.mechanism".into(), "oauthbearer".into());
        let problems = property_problems(&kafka);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "kafka.properties.security.protocol");
        assert!(
            problems[0]
                .1
                .contains("kafka.auth = \"aws_msk_iam\" sets it to \"SASL_SSL\""),
            "{problems:?}"
        );
        // No region anywhere: named.
        let tokens = TokenSource::from_settings(
            &KafkaSettings {
                auth: KafkaAuth::AwsMskIam,
                ..KafkaSettings::default()
            },
            |_| None,
        );
        assert!(tokens.unwrap_err().contains("kafka.aws_region"));
    }

    #[test]
    fn this_build_has_tls_sasl_oidc_and_every_codec() {
        let info = client_info();
        assert!(info.version.starts_with("2."), "{info:?}");
        for feature in [
            "gzip",
            "snappy",
            "ssl",
            "sasl",
            "sasl_plain",
            "sasl_scram",
            "sasl_oauthbearer",
            "zstd",
            "lz4",
            "oidc",
        ] {
            assert!(
                info.features.iter().any(|f| f == feature),
                "{feature}: {info:?}"
            );
        }
    }

    #[test]
    fn a_user_overrides_defaults_but_never_managed_properties() {
        let mut kafka = KafkaSettings::default();
        kafka
            .properties
            .insert("fetch.wait.max.ms".into(), "7".into());
        kafka.properties.insert("sasl.username".into(), "u".into());
        for role in [
            ClientRole::Ingest,
            ClientRole::PointRead,
            ClientRole::Export,
        ] {
            let config = client_config(&kafka, role);
            assert_eq!(config.get("fetch.wait.max.ms"), Some("7"));
            assert_eq!(config.get("sasl.username"), Some("u"));
            assert_eq!(config.get(BOOTSTRAP_SERVERS), Some("localhost:9092"));
            assert_eq!(config.get("isolation.level"), Some("read_committed"));
        }
        let reset = |role| {
            client_config(&kafka, role)
                .get("auto.offset.reset")
                .map(str::to_owned)
        };
        assert_eq!(reset(ClientRole::Ingest).as_deref(), Some("earliest"));
        assert_eq!(reset(ClientRole::PointRead).as_deref(), Some("error"));
        // An export reads forward like ingest (prefetching) but asks for positions.
        assert_eq!(reset(ClientRole::Export).as_deref(), Some("error"));
        let export = client_config(&kafka, ClientRole::Export);
        assert_eq!(export.get("queued.max.messages.kbytes"), Some("16384"));
        assert_eq!(export.get("queued.min.messages"), None);
        assert_eq!(export.get("statistics.interval.ms"), None);
        let backoff = |role| {
            client_config(&kafka, role)
                .get("reconnect.backoff.max.ms")
                .map(str::to_owned)
        };
        assert_eq!(backoff(ClientRole::Ingest), None);
        assert_eq!(backoff(ClientRole::PointRead).as_deref(), Some("1000"));
        assert_eq!(backoff(ClientRole::Export).as_deref(), Some("1000"));
        // The standard CA paths unless the user names a CA.
        let ca = |kafka: &KafkaSettings| {
            client_config(kafka, ClientRole::Ingest)
                .get("ssl.ca.location")
                .map(str::to_owned)
        };
        assert_eq!(ca(&kafka).as_deref(), Some("probe"));
        kafka.properties.insert("ssl.ca.pem".into(), "PEM".into());
        assert_eq!(ca(&kafka), None);
    }
}
