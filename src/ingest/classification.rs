//! An event's type: the rule applied to a polled message (its value, topic or
//! headers), checked by decoding when a value format is configured. While the
//! Schema Registry cannot be read, classification waits, retrying with backoff.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{info, warn};
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Headers as _, Message as _};

use super::status::lock;
use super::{Indexer, MAX_RETRY_BACKOFF, POLL_TIMEOUT};
use crate::classify::{self, Headers, KeyRule, Message, Rule, Unclassified};
use crate::decode::{DecodeError, Decoder, SchemaType};
use crate::view::UNCLASSIFIED;
use bytes::Bytes;
use serde::de::IgnoredAny;

impl Indexer {
    /// The message's type by the rule, checked by decoding when a value format is
    /// configured: a value that does not decode goes to `unclassified`. While
    /// the registry cannot be read this waits, retrying with backoff; None if
    /// ingest is stopped meanwhile.
    pub(super) fn type_of<'a>(
        &mut self,
        topic: &'a str,
        message: &'a BorrowedMessage<'_>,
    ) -> Option<Result<Cow<'a, str>, Unclassified>> {
        // Fields borrowed apart: the decoder is used in place, no reference count
        // taken per message.
        let Indexer {
            decoder,
            rule,
            waiting,
            status,
            stop,
            undecodable,
            ..
        } = self;
        if !decoder.checks_values() {
            return Some(classify(rule, topic, message, message.payload()));
        }
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 0u32;
        loop {
            let outcome = decoded_type(decoder, rule, topic, message);
            if *waiting && !matches!(outcome, Err(DecodeError::Unreachable(_))) {
                *waiting = false;
                *lock(&status.waiting_for) = None;
                info!("the schema registry answers again: ingest goes on");
            }
            let (reason, why) = match outcome {
                Ok(typed) => return Some(typed),
                Err(DecodeError::Unreachable(e)) => {
                    attempt += 1;
                    warn!(
                        "{e}; ingest waits at {topic}/{}@{} (attempt {attempt}, next in {backoff:?}): nothing is indexed until the registry answers",
                        message.partition(),
                        message.offset()
                    );
                    *lock(&status.waiting_for) = Some(e.to_string());
                    *waiting = true;
                    if !sleep_unless_stopped(backoff, stop) {
                        return None;
                    }
                    backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                    continue;
                }
                Err(DecodeError::Invalid(format, why)) => (invalid(format), why),
                // check() asks the registry itself: it never answers this.
                Err(e @ DecodeError::NotAsked(_)) => (Unclassified::InvalidAvro, e.to_string()),
                Err(DecodeError::UnknownSchema(why)) => (Unclassified::UnknownSchema, why),
            };
            if let Some(count) = undecodable.due() {
                warn!(
                    "{count} value(s) did not decode and went to unclassified, e.g. {topic}/{}@{} ({reason}): {why}",
                    message.partition(),
                    message.offset(),
                );
            }
            return Some(Err(reason));
        }
    }
}

/// The reason a value of `format` that does not decode is unclassified for.
fn invalid(format: SchemaType) -> Unclassified {
    match format {
        SchemaType::Avro => Unclassified::InvalidAvro,
        SchemaType::Protobuf => Unclassified::InvalidProtobuf,
        SchemaType::Json => Unclassified::InvalidJson,
    }
}

/// The message's type by the rule, checked by decoding: a JSON Schema framed
/// value is classified as the JSON after its prefix; with `schema_name` (or
/// `avro_record`) the type is the writer schema's name. An error when the
/// value does not decode or the registry cannot be read.
fn decoded_type<'a>(
    decoder: &Decoder,
    rule: &Rule,
    topic: &'a str,
    message: &'a BorrowedMessage<'_>,
) -> Result<Result<Cow<'a, str>, Unclassified>, DecodeError> {
    let by_schema_name = matches!(rule, Rule::AvroRecord | Rule::SchemaName);
    let value = message.payload();
    let rule_type = match by_schema_name {
        true => None,
        false => match classify(rule, topic, message, value) {
            Ok(event_type) => Some(event_type),
            // A JSON rule fails on a framed value's prefix: if the registry says
            // JSON Schema, the rule reads the JSON after it (asked only then, so
            // values typed by a header or the topic cost no registry request here).
            Err(reason) => {
                return Ok(match value.map(|v| decoder.framed_json(v)).transpose()? {
                    Some(Some(framed))
                        if serde_json::from_slice::<IgnoredAny>(framed.json).is_err() =>
                    {
                        Err(Unclassified::InvalidJson)
                    }
                    Some(Some(framed)) => classify(rule, topic, message, Some(framed.json)),
                    _ => Err(reason),
                });
            }
        },
    };
    let value = match value {
        None => return Ok(Err(Unclassified::Tombstone)),
        Some([]) if by_schema_name => return Ok(Err(Unclassified::EmptyValue)),
        Some(value) => value,
    };
    let schema = decoder.check(rule_type.as_deref(), value)?;
    Ok(match (rule_type, schema) {
        (Some(event_type), _) => Ok(event_type),
        (None, Some(schema)) => match (rule, schema.schema_type, schema.name) {
            (Rule::AvroRecord, SchemaType::Avro, Some(name))
            | (Rule::SchemaName, _, Some(name)) => {
                classify::check_name(Cow::Owned(name.to_string()))
            }
            (Rule::AvroRecord, ..) => Err(Unclassified::InvalidAvro),
            // A JSON Schema without a title names no type.
            _ => Err(Unclassified::MissingField),
        },
        (None, None) if *rule == Rule::AvroRecord => Err(Unclassified::InvalidAvro),
        (None, None) => Err(Unclassified::UnknownSchema),
    })
}

/// The message's entity key by `rule`, for the key index: None when it has none.
/// A field of an Avro value (with `[avro]` set) is read from the decoded record,
/// indexed as `event_type`.
pub(super) fn key_of<'a>(
    rule: &KeyRule,
    decoder: &Decoder,
    event_type: &str,
    topic: &'a str,
    message: &'a BorrowedMessage<'_>,
) -> Option<Cow<'a, [u8]>> {
    let headers = KafkaHeaders(rule.reads_headers().then(|| message.headers()).flatten());
    let parts = Message {
        topic,
        value: message.payload(),
        headers: &headers,
    };
    // As for the type: a header name that is not UTF-8 must not stop ingest.
    let key = catch_unwind(AssertUnwindSafe(|| rule.key_of(message.key(), &parts))).unwrap_or(None);
    if key.is_some() || !matches!(rule, KeyRule::JsonField(_)) || !decoder.checks_values() {
        return key;
    }
    // Not JSON: if it is of a format with schemas (Avro, Protobuf, framed JSON),
    // the field of the decoded value (one decode more, only for values the JSON
    // scan found no key in).
    let value = message.payload()?;
    let typed = (event_type != UNCLASSIFIED).then_some(event_type);
    let rendered = decoder.render(typed, Bytes::copy_from_slice(value)).ok()?;
    rendered.schema.as_ref()?;
    let decoded = Message {
        topic,
        value: Some(&rendered.body),
        headers: &headers,
    };
    rule.key_of(None, &decoded)
        .map(|key| Cow::Owned(key.into_owned()))
}

/// Sleeps `duration` in short steps; false if `stop` was set meanwhile.
fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(POLL_TIMEOUT.min(until.saturating_duration_since(Instant::now())));
    }
    !stop.load(Ordering::Acquire)
}

/// Header access on a Kafka message, for the header rule.
struct KafkaHeaders<'a>(Option<&'a BorrowedHeaders>);

impl<'a> Headers<'a> for KafkaHeaders<'a> {
    fn last(&self, name: &str) -> Option<Option<&'a [u8]>> {
        let headers = self.0?;
        (0..headers.count())
            .rev()
            .filter_map(|i| headers.try_get(i))
            .find(|h| h.key == name)
            .map(|h| h.value)
    }
}

/// The type of `message` by `rule`, reading `value` (its payload, or the JSON
/// inside a framed one).
fn classify<'a>(
    rule: &Rule,
    topic: &'a str,
    message: &'a BorrowedMessage<'_>,
    value: Option<&'a [u8]>,
) -> Result<Cow<'a, str>, Unclassified> {
    if !matches!(rule, Rule::Header(_)) {
        // Headers are parsed on access (an allocation and a parse per message, 16%
        // of ingest's time when read for every message): only the header rule does.
        let parts = Message {
            topic,
            value,
            headers: &KafkaHeaders(None),
        };
        return rule.classify(&parts);
    }
    let headers = KafkaHeaders(message.headers());
    let parts = Message {
        topic,
        value,
        headers: &headers,
    };
    // rdkafka panics on a header *name* that is not UTF-8; such a message is
    // hostile input, not a reason to stop ingesting.
    catch_unwind(AssertUnwindSafe(|| rule.classify(&parts)))
        .unwrap_or(Err(Unclassified::InvalidUtf8))
}
