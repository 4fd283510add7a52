//! What an event's value bytes are, and how they are rendered for a client.
//!
//! One seam for every message format, chosen by [`SchemaType`]: the [`Decoder`]
//! finds which format a value is (an Avro container file; a type with a local Avro
//! schema or Protobuf message; with a registry, byte 0 and a schema id, whose
//! schema says Avro, Protobuf or JSON Schema), checks it at ingest and renders it
//! as JSON at lookup. A value of none of them is JSON when it parses, else served
//! as stored.

use std::sync::Arc;

use bytes::Bytes;
use prost_reflect::MessageDescriptor;
use serde::de::IgnoredAny;

pub mod avro;
pub mod protobuf;
pub mod registry;

use avro::Avro;
use protobuf::Protobuf;
pub use registry::{Answer, Registered, Registry, Unreachable};

/// The formats a value's schema can be of, named as the registry's `schemaType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    /// Avro: local schemas, container files, or the registry.
    Avro,
    /// Protobuf: local descriptor sets, or the registry.
    Protobuf,
    /// JSON Schema framed values (the registry).
    Json,
}

impl SchemaType {
    /// The registry's name for it, as `X-Schema-Type` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

/// Why a value of a format analyzer decodes cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// It does not decode as its format says (reason `invalid_avro`,
    /// `invalid_protobuf` or, for framed JSON, `invalid_json`).
    #[error("invalid {}: {}", .0.as_str(), .1)]
    Invalid(SchemaType, String),
    /// Its registry id has no usable schema (reason `unknown_schema`).
    #[error("unknown schema: {0}")]
    UnknownSchema(String),
    /// The registry cannot be asked now: wait and retry.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// The registry was not asked for this id yet (a lookup asks it off the
    /// request thread, then decodes again).
    #[error("schema {0} is not known yet")]
    NotAsked(u32),
}

/// What a rendered value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// JSON text.
    Json,
    /// Bytes of no format analyzer knows, served as stored.
    Binary,
}

impl ValueKind {
    /// The HTTP content type of a value of this kind.
    pub fn content_type(self) -> &'static str {
        match self {
            ValueKind::Json => "application/json",
            ValueKind::Binary => "application/octet-stream",
        }
    }
}

/// The schema a value was written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSchema {
    /// Its format.
    pub schema_type: SchemaType,
    /// Its name: an Avro record's or a Protobuf message's full name, a JSON
    /// Schema's `title` (None when it has none).
    pub name: Option<Arc<str>>,
    /// The registry schema id, when the value was Confluent-framed.
    pub id: Option<u32>,
}

/// A value ready to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// What the body is.
    pub kind: ValueKind,
    /// The bytes to send.
    pub body: Bytes,
    /// The writer schema, when the value was of a format with schemas.
    pub schema: Option<ValueSchema>,
}

impl Rendered {
    /// The bytes as stored.
    pub fn raw(value: Bytes) -> Rendered {
        Rendered {
            kind: ValueKind::Binary,
            body: value,
            schema: None,
        }
    }

    /// The Avro writer schema's full name, when the value was Avro.
    pub fn avro_schema(&self) -> Option<&Arc<str>> {
        self.schema
            .as_ref()
            .filter(|s| s.schema_type == SchemaType::Avro)
            .and_then(|s| s.name.as_ref())
    }
}

/// A JSON Schema framed value, seen at ingest.
pub struct FramedJson<'v> {
    /// The JSON after the prefix.
    pub json: &'v [u8],
    /// The schema's `title`.
    pub title: Option<Arc<str>>,
}

/// A value whose format is found: what decoding it needs.
enum Located<'s, 'v> {
    Avro(avro::Located<'s, 'v>),
    Protobuf {
        message: MessageDescriptor,
        bytes: &'v [u8],
        id: Option<u32>,
    },
    /// Framed JSON: the JSON starts at byte `at`.
    Json {
        at: usize,
        title: Option<Arc<str>>,
        id: u32,
    },
}

impl Located<'_, '_> {
    fn schema(&self) -> ValueSchema {
        match self {
            Located::Avro(located) => ValueSchema {
                schema_type: SchemaType::Avro,
                name: Some(Arc::clone(located.name())),
                id: located.schema_id(),
            },
            Located::Protobuf { message, id, .. } => ValueSchema {
                schema_type: SchemaType::Protobuf,
                name: Some(message.full_name().into()),
                id: *id,
            },
            Located::Json { title, id, .. } => ValueSchema {
                schema_type: SchemaType::Json,
                name: title.clone(),
                id: Some(*id),
            },
        }
    }

    /// Decodes `value` (the whole value this was found in), into `out` as JSON
    /// when given.
    fn decode(&self, value: &[u8], out: Option<&mut Vec<u8>>) -> Result<(), DecodeError> {
        match self {
            Located::Avro(located) => located
                .decode(out)
                .map_err(|e| DecodeError::Invalid(SchemaType::Avro, e.0)),
            Located::Protobuf { message, bytes, .. } => protobuf::decode(message, bytes, out)
                .map_err(|why| DecodeError::Invalid(SchemaType::Protobuf, why)),
            Located::Json { at, .. } => serde_json::from_slice::<IgnoredAny>(&value[*at..])
                .map(drop)
                .map_err(|e| DecodeError::Invalid(SchemaType::Json, e.to_string())),
        }
    }
}

/// The configured formats.
#[derive(Default)]
pub struct Decoder {
    avro: Option<Avro>,
    protobuf: Option<Protobuf>,
    registry: Option<Registry>,
    /// The rule types events by schema name: a type is never a key to local schemas.
    by_schema_name: bool,
    /// The formats' settings in words (see [`Decoder::describe`]).
    described: String,
}

impl Decoder {
    /// Decodes with the local Avro schemas and container files (`avro`), the
    /// local Protobuf messages (`protobuf`) and the registry's schemas
    /// (`registry`); `by_schema_name`: the rule is `schema_name` or `avro_record`.
    pub fn new(
        avro: Option<Avro>,
        protobuf: Option<Protobuf>,
        registry: Option<Registry>,
        by_schema_name: bool,
    ) -> Decoder {
        Decoder {
            avro,
            protobuf,
            registry,
            by_schema_name,
            described: String::new(),
        }
    }

    /// The value formats' settings in words, the schema files by a checksum of
    /// their bytes: what a snapshot records (with the rule) of how its events were
    /// typed, as one that changes may type events otherwise. The registry is by
    /// its URL: its schemas are immutable by id.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// The decoder `settings` configure: `[avro]`, `[protobuf]`, `[registry]` and
    /// whether `[classify]` types by schema name. Problems come as (settings key,
    /// what is wrong), every one found.
    pub fn load(settings: &crate::config::Settings) -> Result<Decoder, Vec<(String, String)>> {
        use crate::config::ClassifyBy;
        let mut problems = Vec::new();
        let avro = match settings.avro_enabled() {
            true => Avro::load(&avro::AvroSource::of(settings))
                .map(Some)
                .unwrap_or_else(|found| {
                    problems.extend(found);
                    None
                }),
            false => None,
        };
        let protobuf = &settings.protobuf;
        let protobuf = match settings.protobuf_enabled() {
            true => Protobuf::load(&protobuf.descriptor_sets, &protobuf.types)
                .map(Some)
                .unwrap_or_else(|found| {
                    problems.extend(found);
                    None
                }),
            false => None,
        };
        let registry =
            settings
                .registry_url()
                .and_then(|(url, key)| match registry::url_problem(url) {
                    Some(problem) => {
                        problems.push((key.to_owned(), problem));
                        None
                    }
                    None => Some(Registry::new(url, settings.registry_credentials())),
                });
        let by_schema_name = matches!(
            settings.classify.by,
            ClassifyBy::SchemaName | ClassifyBy::AvroRecord
        );
        match problems.is_empty() {
            true => Ok(Decoder {
                described: described(settings),
                ..Decoder::new(avro, protobuf, registry, by_schema_name)
            }),
            false => Err(problems),
        }
    }

    /// Whether values are checked by decoding at ingest (a format that can fail
    /// is configured), so that what does not decode goes to `unclassified`.
    pub fn checks_values(&self) -> bool {
        self.avro.is_some() || self.protobuf.is_some() || self.registry.is_some()
    }

    /// At ingest: checks that `value` (an event of `rule_type`, if the rule gave
    /// one) decodes; its writer schema when it is of a format with schemas,
    /// Ok(None) when it is of none. Asks the registry for an id it does not know
    /// yet (blocking).
    pub fn check(
        &self,
        rule_type: Option<&str>,
        value: &[u8],
    ) -> Result<Option<ValueSchema>, DecodeError> {
        let Some(located) = self.locate(rule_type, value, true)? else {
            return Ok(None);
        };
        located.decode(value, None)?;
        Ok(Some(located.schema()))
    }

    /// At ingest, before the rule: when `value` is JSON Schema framed, the JSON
    /// after the prefix and the schema's title (the rule reads the JSON as if it
    /// were unframed). Asks the registry for an id it does not know yet (blocking).
    pub fn framed_json<'v>(&self, value: &'v [u8]) -> Result<Option<FramedJson<'v>>, DecodeError> {
        match self.framed(value, true)? {
            Some((_, Registered::Json { title }, at)) => Ok(Some(FramedJson {
                json: &value[at..],
                title,
            })),
            _ => Ok(None),
        }
    }

    /// At lookup, after [`DecodeError::NotAsked`]: asks the registry for schema
    /// `id` (blocking: call it off the request thread); rendering again then finds it.
    pub fn ask_registry(&self, id: u32) -> Result<(), Unreachable> {
        match &self.registry {
            Some(registry) => registry.get(id).map(drop),
            None => Ok(()),
        }
    }

    /// The value of an event of `event_type`, decoded to JSON when it is of a
    /// format with schemas, else JSON as stored when it parses, else its bytes.
    pub fn render(&self, event_type: Option<&str>, value: Bytes) -> Result<Rendered, DecodeError> {
        if let Some(located) = self.locate(event_type, &value, false)? {
            let schema = Some(located.schema());
            let body = match &located {
                Located::Json { at, .. } => {
                    located.decode(&value, None)?;
                    value.slice(*at..)
                }
                _ => {
                    let mut json = Vec::with_capacity(value.len() * 2);
                    located.decode(&value, Some(&mut json))?;
                    Bytes::from(json)
                }
            };
            return Ok(Rendered {
                kind: ValueKind::Json,
                body,
                schema,
            });
        }
        let parses = serde_json::from_slice::<IgnoredAny>(&value).is_ok();
        Ok(match parses {
            true => Rendered {
                kind: ValueKind::Json,
                ..Rendered::raw(value)
            },
            false => Rendered::raw(value),
        })
    }

    /// Which format `value` is, in the order the README's formats table gives:
    /// an Avro container file; a type with a local Avro schema, then one with a
    /// local Protobuf message; with a registry, byte 0 and a schema id. Without
    /// `ask`, an id not fetched yet is [`DecodeError::NotAsked`].
    fn locate<'v>(
        &self,
        event_type: Option<&str>,
        value: &'v [u8],
        ask: bool,
    ) -> Result<Option<Located<'_, 'v>>, DecodeError> {
        let typed = event_type.filter(|_| !self.by_schema_name);
        if let Some(avro) = &self.avro
            && let Some(located) = avro.locate(typed, value)?
        {
            return Ok(Some(Located::Avro(located)));
        }
        if let Some(message) = typed
            .zip(self.protobuf.as_ref())
            .and_then(|(t, protobuf)| protobuf.message_of(t))
        {
            return Ok(Some(Located::Protobuf {
                message: message.clone(),
                bytes: value,
                id: None,
            }));
        }
        let Some((id, registered, at)) = self.framed(value, ask)? else {
            return Ok(None);
        };
        let rest = &value[at..];
        Ok(Some(match registered {
            Registered::Avro(schema) => Located::Avro(avro::Located::framed(schema, id, rest)),
            Registered::Protobuf(file) => {
                let invalid = |why| DecodeError::Invalid(SchemaType::Protobuf, why);
                let (path, bytes) = protobuf::read_path(rest).map_err(invalid)?;
                Located::Protobuf {
                    message: file.message(&path).map_err(invalid)?,
                    bytes,
                    id: Some(id),
                }
            }
            Registered::Json { title } => Located::Json { at, title, id },
        }))
    }

    /// With a registry, a value framed as byte 0 and a 4-byte schema id: the id,
    /// its schema, and where the bytes after the id start.
    fn framed(
        &self,
        value: &[u8],
        ask: bool,
    ) -> Result<Option<(u32, Registered, usize)>, DecodeError> {
        let (Some(registry), [0, a, b, c, d, ..]) = (&self.registry, value) else {
            return Ok(None);
        };
        let id = u32::from_be_bytes([*a, *b, *c, *d]);
        let answer = match registry.cached(id) {
            Some(answer) => answer,
            None if ask => registry.get(id)?,
            None => return Err(DecodeError::NotAsked(id)),
        };
        match answer {
            Answer::Schema(registered) => Ok(Some((id, registered, 5))),
            Answer::Unknown(why) => Err(DecodeError::UnknownSchema(format!("id {id}: {why}"))),
        }
    }
}

/// [`Decoder::describe`] of `settings`.
fn described(settings: &crate::config::Settings) -> String {
    let mut parts = Vec::new();
    if let Some(dir) = &settings.avro.schemas_dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|path| path.extension().is_some_and(|ext| ext == "avsc"));
        files.sort();
        parts.push(format!(
            "avro {:08x} {:?}",
            checksum(&files),
            settings.avro.types
        ));
    }
    if settings.protobuf_enabled() {
        parts.push(format!(
            "protobuf {:08x} {:?}",
            checksum(&settings.protobuf.descriptor_sets),
            settings.protobuf.types
        ));
    }
    if let Some((url, _)) = settings.registry_url() {
        parts.push(format!("registry {url}"));
    }
    match parts.is_empty() {
        true => "no value formats".to_owned(),
        false => parts.join(", "),
    }
}

/// CRC-32 of each file's name and bytes, in order (one that cannot be read counts
/// by its name alone: loading it has failed the start already).
fn checksum(files: &[std::path::PathBuf]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    for file in files {
        crc.update(file.to_string_lossy().as_bytes());
        crc.update(&std::fs::read(file).unwrap_or_default());
    }
    crc.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_served_as_json_and_anything_else_as_stored_bytes() {
        let decoder = Decoder::default();
        let json = decoder
            .render(Some("A"), Bytes::from_static(br#"{"type":"A"}"#))
            .unwrap();
        assert_eq!(json.kind, ValueKind::Json);
        assert_eq!(json.body, Bytes::from_static(br#"{"type":"A"}"#));
        for raw in [&b"not json"[..], b"", b"\xff\xfe{", b"{\"a\":1} trailing"] {
            let rendered = decoder.render(None, Bytes::copy_from_slice(raw)).unwrap();
            assert_eq!(rendered.kind, ValueKind::Binary, "{raw:?}");
            assert_eq!(rendered.body, raw);
        }
        assert_eq!(ValueKind::Binary.content_type(), "application/octet-stream");
    }

    #[test]
    fn framed_values_wait_for_a_registry_that_cannot_be_reached() {
        let registry = Registry::new("http://127.0.0.1:1", None);
        let decoder = Decoder::new(None, None, Some(registry), false);
        let framed = [0, 0, 0, 0, 7, 2];
        assert!(matches!(
            decoder.check(Some("t"), &framed),
            Err(DecodeError::Unreachable(_))
        ));
        assert!(matches!(
            decoder.framed_json(&framed),
            Err(DecodeError::Unreachable(_))
        ));
        assert!(matches!(
            decoder.render(Some("t"), Bytes::copy_from_slice(&framed)),
            Err(DecodeError::NotAsked(7))
        ));
        // Too short or another magic byte: not framed, not of a format with schemas.
        for value in [&[0, 0, 0, 7][..], &[1, 0, 0, 0, 7, 2], b"{}"] {
            assert!(decoder.check(Some("t"), value).unwrap().is_none());
        }
    }
}
