//! What an event's value bytes are, and how they are rendered for a client.
//!
//! One seam for every message format: a [`Format`] recognizes its values and
//! renders them; the [`Decoder`] tries the configured formats in order and serves
//! bytes that none of them takes as they are. JSON is the one format today.

use bytes::Bytes;

pub mod avro;

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
}

/// A message format: recognizes its values and renders them.
pub trait Format: Send + Sync {
    /// The rendered value, or None when `value` is not of this format.
    fn render(&self, value: &Bytes) -> Option<Rendered>;
}

/// JSON values, served as stored once they parse.
#[derive(Debug, Default, Clone, Copy)]
pub struct Json;

impl Format for Json {
    fn render(&self, value: &Bytes) -> Option<Rendered> {
        serde_json::from_slice::<serde::de::IgnoredAny>(value)
            .is_ok()
            .then(|| Rendered {
                kind: ValueKind::Json,
                body: value.clone(),
            })
    }
}

/// The configured formats, tried in order.
pub struct Decoder {
    formats: Vec<Box<dyn Format>>,
}

impl Default for Decoder {
    /// JSON only.
    fn default() -> Self {
        Decoder {
            formats: vec![Box::new(Json)],
        }
    }
}

impl Decoder {
    /// The value rendered by the first format that takes it, else as stored.
    pub fn render(&self, value: Bytes) -> Rendered {
        self.formats
            .iter()
            .find_map(|format| format.render(&value))
            .unwrap_or(Rendered {
                kind: ValueKind::Binary,
                body: value,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_served_as_json_and_anything_else_as_stored_bytes() {
        let decoder = Decoder::default();
        let json = decoder.render(Bytes::from_static(br#"{"type":"A"}"#));
        assert_eq!(json.kind, ValueKind::Json);
        assert_eq!(json.body, Bytes::from_static(br#"{"type":"A"}"#));
        for raw in [&b"not json"[..], b"", b"\xff\xfe{", b"{\"a\":1} trailing"] {
            let rendered = decoder.render(Bytes::copy_from_slice(raw));
            assert_eq!(rendered.kind, ValueKind::Binary, "{raw:?}");
            assert_eq!(rendered.body, raw);
        }
        assert_eq!(ValueKind::Binary.content_type(), "application/octet-stream");
    }
}
