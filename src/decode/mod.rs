//! What an event's value bytes are, and how they are rendered for a client.
//!
//! One seam for every message format: a [`Format`] recognizes its values and
//! renders them; the [`Decoder`] tries the configured formats in order (Avro, when
//! `[avro]` is set, then JSON) and serves bytes that none of them takes as they are.

use std::sync::Arc;

use bytes::Bytes;

pub mod avro;

use avro::{Avro, Unreachable};

/// Why a value of a format analyzer decodes cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// It does not decode (reason `invalid_avro`).
    #[error("invalid Avro: {0}")]
    Invalid(String),
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

/// A value ready to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// What the body is.
    pub kind: ValueKind,
    /// The bytes to send.
    pub body: Bytes,
    /// The Avro writer schema's full name, when the value was Avro.
    pub avro_schema: Option<Arc<str>>,
    /// The registry schema id, when the value was Confluent-framed Avro.
    pub avro_schema_id: Option<u32>,
}

impl Rendered {
    /// The bytes as stored.
    pub fn raw(value: Bytes) -> Rendered {
        Rendered {
            kind: ValueKind::Binary,
            body: value,
            avro_schema: None,
            avro_schema_id: None,
        }
    }
}

/// A message format: recognizes its values and renders them.
pub trait Format: Send + Sync {
    /// The rendered value of an event of `event_type` (None: the rule gives types
    /// by other means, or the event has none), Ok(None) when `value` is not of this
    /// format, an error when it is but cannot be rendered.
    fn render(
        &self,
        event_type: Option<&str>,
        value: &Bytes,
    ) -> Result<Option<Rendered>, DecodeError>;
}

/// JSON values, served as stored once they parse.
#[derive(Debug, Default, Clone, Copy)]
pub struct Json;

impl Format for Json {
    fn render(&self, _: Option<&str>, value: &Bytes) -> Result<Option<Rendered>, DecodeError> {
        let parses = serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok();
        Ok(parses.then(|| Rendered {
            kind: ValueKind::Json,
            ..Rendered::raw(value.clone())
        }))
    }
}

/// Avro values, decoded to JSON (see [`avro`]). Never asks the registry: an id
/// not fetched yet is [`DecodeError::NotAsked`], for the caller to ask off its thread.
pub struct AvroFormat {
    avro: Arc<Avro>,
    /// `classify.by = "avro_record"`: the type is the schema's name, not a key to
    /// a local schema.
    by_record_name: bool,
}

impl Format for AvroFormat {
    fn render(
        &self,
        event_type: Option<&str>,
        value: &Bytes,
    ) -> Result<Option<Rendered>, DecodeError> {
        let event_type = event_type.filter(|_| !self.by_record_name);
        Ok(self
            .avro
            .to_json(event_type, value, false)?
            .map(|decoded| Rendered {
                kind: ValueKind::Json,
                body: Bytes::from(decoded.json),
                avro_schema: Some(decoded.schema),
                avro_schema_id: decoded.schema_id,
            }))
    }
}

/// The configured formats, tried in order.
pub struct Decoder {
    formats: Vec<Box<dyn Format>>,
    avro: Option<Arc<Avro>>,
}

impl Default for Decoder {
    /// JSON only.
    fn default() -> Self {
        Decoder {
            formats: vec![Box::new(Json)],
            avro: None,
        }
    }
}

impl Decoder {
    /// Avro first when configured (`by_record_name`: the rule is `avro_record`),
    /// then JSON.
    pub fn new(avro: Option<Arc<Avro>>, by_record_name: bool) -> Decoder {
        let mut formats: Vec<Box<dyn Format>> = Vec::new();
        if let Some(avro) = &avro {
            formats.push(Box::new(AvroFormat {
                avro: Arc::clone(avro),
                by_record_name,
            }));
        }
        formats.push(Box::new(Json));
        Decoder { formats, avro }
    }

    /// Whether values are checked by decoding at ingest (a format that can fail
    /// is configured: Avro), so that what does not decode goes to `unclassified`.
    pub fn checks_values(&self) -> bool {
        self.avro.is_some()
    }

    /// At ingest: checks that `value` (an event of `rule_type`, if the rule gave
    /// one) decodes, building nothing; the writer schema's name when it is of a
    /// format with schemas, Ok(None) when it is of none. Asks the registry for an
    /// id it does not know yet (blocking).
    pub fn check(
        &self,
        rule_type: Option<&str>,
        value: &[u8],
    ) -> Result<Option<Arc<str>>, DecodeError> {
        match &self.avro {
            Some(avro) => avro.check(rule_type, value),
            None => Ok(None),
        }
    }

    /// At lookup, after [`DecodeError::NotAsked`]: asks the registry for schema
    /// `id` (blocking: call it off the request thread); rendering again then finds it.
    pub fn ask_registry(&self, id: u32) -> Result<(), Unreachable> {
        match self.avro.as_ref().and_then(|avro| avro.registry()) {
            Some(registry) => registry.get(id).map(drop),
            None => Ok(()),
        }
    }

    /// The value of an event of `event_type`, rendered by the first format that
    /// takes it, else as stored.
    pub fn render(&self, event_type: Option<&str>, value: Bytes) -> Result<Rendered, DecodeError> {
        for format in &self.formats {
            if let Some(rendered) = format.render(event_type, &value)? {
                return Ok(rendered);
            }
        }
        Ok(Rendered::raw(value))
    }
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
}
