//! Decides an event's type from its value, a header, or its topic.
//!
//! Pure: works on bytes and names, so it is tested without Kafka. A message whose type
//! cannot be determined gets an [`Unclassified`] reason instead; nothing is dropped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

mod scan;

pub use crate::view::UNCLASSIFIED;

/// Longest accepted type name, in bytes; a longer one is treated as malformed input.
pub const MAX_TYPE_LEN: usize = 256;

/// How to find an event's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A top-level string field of the JSON value.
    JsonField(String),
    /// A string at a JSON pointer (RFC 6901) into the value, like `/meta/type`, kept
    /// as its unescaped reference tokens (`["meta", "type"]`); see [`Rule::json_pointer`].
    JsonPointer(Vec<String>),
    /// The value of a message header (the last one, if repeated).
    Header(String),
    /// The topic name.
    Topic,
    /// The full name of the Avro writer schema: decided by the Avro decoder
    /// ([`crate::decode::avro`]); alone, this rule finds no type.
    AvroRecord,
    /// The name of the writer schema of any format ([`crate::decode`]): an Avro
    /// record's or Protobuf message's full name, a JSON Schema's `title`; alone,
    /// this rule finds no type.
    SchemaName,
}

/// Why a message got no type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unclassified {
    /// Null value: a tombstone, not an event.
    Tombstone,
    /// Zero-length value.
    EmptyValue,
    /// The value is not valid JSON (or nests too deeply to parse safely).
    InvalidJson,
    /// The value is JSON but not an object (array, string, number...).
    NotAnObject,
    /// The type field or pointer target is absent.
    MissingField,
    /// The type field is present but not a string.
    NotAString,
    /// The type header is absent.
    MissingHeader,
    /// The type header is present with a null value.
    NullHeader,
    /// The value (JSON rules) or the type header is not valid UTF-8.
    InvalidUtf8,
    /// The type is the empty string.
    EmptyType,
    /// The type is longer than [`MAX_TYPE_LEN`] bytes.
    TypeTooLong,
    /// The type is the reserved name [`UNCLASSIFIED`].
    ReservedType,
    /// The position cannot be stored (partition or topic beyond the index's limits).
    PositionOutOfRange,
    /// A new type beyond `classify.max_types` distinct types.
    TooManyTypes,
    /// The value is Avro (a container file, a type with a local schema, or
    /// registry framing) but does not decode: truncated, trailing bytes, too deep,
    /// a bad union index... With `avro_record`, also a value that is not Avro.
    InvalidAvro,
    /// The registry has no usable schema for the value's schema id. With
    /// `schema_name`, also a value with no writer schema at all.
    UnknownSchema,
    /// The value is Protobuf (registry framing, or a type with a local message)
    /// but does not decode: truncated, a bad message-index path, a wrong wire
    /// type, nested too deep, no JSON form...
    InvalidProtobuf,
}

impl Unclassified {
    /// Every reason, for reports that list all of them.
    pub const ALL: [Unclassified; 17] = [
        Self::Tombstone,
        Self::EmptyValue,
        Self::InvalidJson,
        Self::NotAnObject,
        Self::MissingField,
        Self::NotAString,
        Self::MissingHeader,
        Self::NullHeader,
        Self::InvalidUtf8,
        Self::EmptyType,
        Self::TypeTooLong,
        Self::ReservedType,
        Self::PositionOutOfRange,
        Self::TooManyTypes,
        Self::InvalidAvro,
        Self::UnknownSchema,
        Self::InvalidProtobuf,
    ];

    /// Stable snake_case name, used in logs, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tombstone => "tombstone",
            Self::EmptyValue => "empty_value",
            Self::InvalidJson => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingField => "missing_field",
            Self::NotAString => "not_a_string",
            Self::MissingHeader => "missing_header",
            Self::NullHeader => "null_header",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::EmptyType => "empty_type",
            Self::TypeTooLong => "type_too_long",
            Self::ReservedType => "reserved_type",
            Self::PositionOutOfRange => "position_out_of_range",
            Self::TooManyTypes => "too_many_types",
            Self::InvalidAvro => "invalid_avro",
            Self::UnknownSchema => "unknown_schema",
            Self::InvalidProtobuf => "invalid_protobuf",
        }
    }
}

impl fmt::Display for Unclassified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header access for the header rule, so the classifier needs no Kafka types.
pub trait Headers<'a> {
    /// The value of the last header called `name`: `None` if absent, `Some(None)` if null.
    fn last(&self, name: &str) -> Option<Option<&'a [u8]>>;
}

impl<'a> Headers<'a> for [(&str, Option<&'a [u8]>)] {
    fn last(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The parts of a message the rules look at.
pub struct Message<'a, 'h, H: Headers<'a> + ?Sized> {
    /// Topic name.
    pub topic: &'a str,
    /// Value bytes; `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Headers, if any.
    pub headers: &'h H,
}

impl Rule {
    /// The rule `[classify]` describes.
    pub fn from_settings(settings: &crate::config::ClassifySettings) -> Rule {
        use crate::config::ClassifyBy;
        match settings.by {
            ClassifyBy::JsonField if settings.name.starts_with('/') => {
                Rule::json_pointer(&settings.name)
            }
            ClassifyBy::JsonField => Rule::JsonField(settings.name.clone()),
            ClassifyBy::Header => Rule::Header(settings.name.clone()),
            ClassifyBy::Topic => Rule::Topic,
            ClassifyBy::AvroRecord => Rule::AvroRecord,
            ClassifyBy::SchemaName => Rule::SchemaName,
        }
    }

    /// The rule in words, stable: part of what a snapshot records of how its
    /// events were typed.
    pub fn describe(&self) -> String {
        match self {
            Rule::JsonField(field) => format!("json_field {field:?}"),
            Rule::JsonPointer(tokens) => format!("json_pointer {tokens:?}"),
            Rule::Header(name) => format!("header {name:?}"),
            Rule::Topic => "topic".to_owned(),
            Rule::AvroRecord => "avro_record".to_owned(),
            Rule::SchemaName => "schema_name".to_owned(),
        }
    }

    /// The rule for a JSON pointer like `/meta/type` (`~1` is `/`, `~0` is `~`).
    pub fn json_pointer(pointer: &str) -> Rule {
        Rule::JsonPointer(pointer_tokens(pointer))
    }

    /// The event type of `message`, or why it has none.
    pub fn classify<'a, H: Headers<'a> + ?Sized>(
        &self,
        message: &Message<'a, '_, H>,
    ) -> Result<Cow<'a, str>, Unclassified> {
        let value = message.value.ok_or(Unclassified::Tombstone)?;
        let event_type = match self {
            Rule::Topic => Cow::Borrowed(message.topic),
            Rule::Header(name) => {
                let raw = message
                    .headers
                    .last(name)
                    .ok_or(Unclassified::MissingHeader)?
                    .ok_or(Unclassified::NullHeader)?;
                Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| Unclassified::InvalidUtf8)?)
            }
            Rule::JsonField(field) => string_at(value, std::slice::from_ref(field))?,
            Rule::JsonPointer(tokens) => string_at(value, tokens)?,
            Rule::AvroRecord => return Err(Unclassified::InvalidAvro),
            Rule::SchemaName => return Err(Unclassified::UnknownSchema),
        };
        check_name(event_type)
    }
}

/// How to find an event's entity key, for the key index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRule {
    /// The Kafka record key.
    KafkaKey,
    /// A string at a path into the JSON value (one token: a top-level field).
    JsonField(Vec<String>),
    /// The value of a message header (the last one, if repeated).
    Header(String),
}

impl KeyRule {
    /// The rule `[keys]` describes; None when the key index is off.
    pub fn from_settings(settings: &crate::config::KeysSettings) -> Option<KeyRule> {
        use crate::config::KeysBy;
        match settings.by {
            KeysBy::None => None,
            KeysBy::KafkaKey => Some(KeyRule::KafkaKey),
            KeysBy::JsonField if settings.name.starts_with('/') => {
                Some(KeyRule::JsonField(pointer_tokens(&settings.name)))
            }
            KeysBy::JsonField => Some(KeyRule::JsonField(vec![settings.name.clone()])),
            KeysBy::Header => Some(KeyRule::Header(settings.name.clone())),
        }
    }

    /// The rule in words, stable: what a snapshot's key index records, so that one
    /// made with other keys is not taken for this one.
    pub fn describe(&self) -> String {
        match self {
            KeyRule::KafkaKey => "kafka_key".to_owned(),
            KeyRule::JsonField(path) => format!("json_field:{path:?}"),
            KeyRule::Header(name) => format!("header:{name:?}"),
        }
    }

    /// Whether the rule reads headers (parsing them costs ingest time).
    pub fn reads_headers(&self) -> bool {
        matches!(self, KeyRule::Header(_))
    }

    /// The key of a message with this Kafka `key`, or None: no key, field missing or
    /// not a string, header absent or null. A JSON field's key is its text.
    pub fn key_of<'a, H: Headers<'a> + ?Sized>(
        &self,
        key: Option<&'a [u8]>,
        message: &Message<'a, '_, H>,
    ) -> Option<Cow<'a, [u8]>> {
        match self {
            KeyRule::KafkaKey => key.map(Cow::Borrowed),
            KeyRule::Header(name) => message.headers.last(name).flatten().map(Cow::Borrowed),
            KeyRule::JsonField(path) => match string_at(message.value?, path).ok()? {
                Cow::Borrowed(text) => Some(Cow::Borrowed(text.as_bytes())),
                Cow::Owned(text) => Some(Cow::Owned(text.into_bytes())),
            },
        }
    }
}

/// A JSON pointer's unescaped reference tokens (`~1` is `/`, `~0` is `~`).
fn pointer_tokens(pointer: &str) -> Vec<String> {
    let tokens = pointer.strip_prefix('/').unwrap_or(pointer).split('/');
    tokens
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The name as a type, or why it cannot be one (empty, too long, reserved).
pub fn check_name(name: Cow<'_, str>) -> Result<Cow<'_, str>, Unclassified> {
    if name.is_empty() {
        Err(Unclassified::EmptyType)
    } else if name.len() > MAX_TYPE_LEN {
        Err(Unclassified::TypeTooLong)
    } else if name == UNCLASSIFIED {
        Err(Unclassified::ReservedType)
    } else {
        Ok(name)
    }
}

/// What the top-level scan found for the wanted field.
enum Field<'a> {
    Missing,
    NotAString,
    String(Cow<'a, str>),
}

/// The string at `path` (object keys, or array indexes as in RFC 6901) in the JSON
/// object `value`, or why there is none: [`scan`]'s fast path when it is sure, else
/// [`serde_string_at`], whose answer it always equals.
pub fn string_at<'a>(value: &'a [u8], path: &[String]) -> Result<Cow<'a, str>, Unclassified> {
    match scan::plain_string_at(value, path) {
        Some(found) => Ok(Cow::Borrowed(found)),
        None => serde_string_at(value, path),
    }
}

/// [`string_at`] by serde_json alone, the reference: scans the value once,
/// skipping everything but the path without building it; the whole document is
/// still validated, and must be an object. Duplicate keys: the last wins, as in
/// `serde_json::Value`. One pass and no allocation: 6x faster than looking the
/// pointer up in a parsed `Value` (benches/classify.rs).
pub fn serde_string_at<'a>(value: &'a [u8], path: &[String]) -> Result<Cow<'a, str>, Unclassified> {
    if value.is_empty() {
        return Err(Unclassified::EmptyValue);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(value);
    let found = PathSeed { path, top: true }
        .deserialize(&mut deserializer)
        .map_err(|e| {
            if e.is_data() {
                Unclassified::NotAnObject
            } else {
                unparsable(value)
            }
        })?;
    deserializer.end().map_err(|_| unparsable(value))?;
    match found {
        Field::Missing => Err(Unclassified::MissingField),
        Field::NotAString => Err(Unclassified::NotAString),
        Field::String(s) => Ok(s),
    }
}

/// Finds what is at `path` inside the value it deserializes: at the end of the
/// path, a string or something else; before it, an object key or an array index
/// to descend into (anything else: nothing there).
struct PathSeed<'p> {
    path: &'p [String],
    /// The document itself, which must be an object.
    top: bool,
}

impl PathSeed<'_> {
    /// What a value other than a string, object or array means here.
    fn scalar<'de>(&self) -> Field<'de> {
        if self.path.is_empty() {
            Field::NotAString
        } else {
            Field::Missing
        }
    }

    fn string<'de>(&self, s: impl FnOnce() -> Cow<'de, str>) -> Field<'de> {
        if self.path.is_empty() {
            Field::String(s())
        } else {
            Field::Missing
        }
    }
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_> {
    type Value = Field<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        if self.top {
            deserializer.deserialize_map(self)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for PathSeed<'_> {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((wanted, rest)) = self.path.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Field::NotAString);
        };
        let mut found = Field::Missing;
        while let Some(is_wanted) = map.next_key_seed(KeyIs(wanted))? {
            if is_wanted {
                found = map.next_value_seed(PathSeed {
                    path: rest,
                    top: false,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some((wanted, rest)) = self.path.split_first() else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Field::NotAString);
        };
        let wanted = array_index(wanted);
        let mut found = Field::Missing;
        for i in 0.. {
            if wanted == Some(i) {
                let seed = PathSeed {
                    path: rest,
                    top: false,
                };
                match seq.next_element_seed(seed)? {
                    Some(field) => found = field,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
        }
        Ok(found)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.string(|| Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.string(|| Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(self.string(|| Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.scalar())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.scalar())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.scalar())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.scalar())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.scalar())
    }
}

/// An RFC 6901 array index: digits, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// Deserializes a map key into whether it equals the wanted name, comparing the
/// parser's borrowed or unescaped text in place: serde's `Cow<str>` would allocate
/// every key (measured: a third of the classifier's time).
struct KeyIs<'f>(&'f str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// The reason for a value serde_json could not parse: bad UTF-8 or bad JSON.
fn unparsable(value: &[u8]) -> Unclassified {
    if std::str::from_utf8(value).is_err() {
        Unclassified::InvalidUtf8
    } else {
        Unclassified::InvalidJson
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type NoHeaders = [(&'static str, Option<&'static [u8]>)];
    const NONE: &NoHeaders = &[];

    fn json(rule: &Rule, value: &[u8]) -> Result<String, Unclassified> {
        rule.classify(&Message {
            topic: "events",
            value: Some(value),
            headers: NONE,
        })
        .map(Cow::into_owned)
    }

    fn field() -> Rule {
        Rule::JsonField("type".into())
    }

    #[test]
    fn top_level_field_found_anywhere_in_the_object() {
        assert_eq!(json(&field(), br#"{"type":"a","v":1}"#), Ok("a".into()));
        assert_eq!(
            json(&field(), br#"{"v":[1,{"type":"x"}],"type":"b"}"#),
            Ok("b".into())
        );
        // Escapes are decoded.
        assert_eq!(
            json(&field(), br#"{"type":"bl\u006f\"od"}"#),
            Ok("blo\"od".into())
        );
        // Duplicate keys: the last wins, as in serde_json::Value.
        assert_eq!(
            json(&field(), br#"{"type":"a","type":"b"}"#),
            Ok("b".into())
        );
    }

    #[test]
    fn every_malformed_json_case_has_its_reason() {
        let cases: &[(&[u8], Unclassified)] = &[
            (b"", Unclassified::EmptyValue),
            (b"not json", Unclassified::InvalidJson),
            (br#"{"type":"a""#, Unclassified::InvalidJson),
            (br#"{"type":"a"} trailing"#, Unclassified::InvalidJson),
            (b"\xff\xfe", Unclassified::InvalidUtf8),
            (b"{\"type\":\"\xff\"}", Unclassified::InvalidUtf8),
            (br#"[{"type":"a"}]"#, Unclassified::NotAnObject),
            (br#""a""#, Unclassified::NotAnObject),
            (b"42", Unclassified::NotAnObject),
            (b"null", Unclassified::NotAnObject),
            (br#"{"kind":"a"}"#, Unclassified::MissingField),
            (br#"{"type":null}"#, Unclassified::NotAString),
            (br#"{"type":7}"#, Unclassified::NotAString),
            (br#"{"type":{"a":"b"}}"#, Unclassified::NotAString),
            (br#"{"type":["a"]}"#, Unclassified::NotAString),
            (br#"{"type":""}"#, Unclassified::EmptyType),
            (br#"{"type":"unclassified"}"#, Unclassified::ReservedType),
        ];
        for (value, reason) in cases {
            assert_eq!(
                json(&field(), value),
                Err(*reason),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(MAX_TYPE_LEN + 1));
        assert_eq!(
            json(&field(), long.as_bytes()),
            Err(Unclassified::TypeTooLong)
        );
        let longest = format!(r#"{{"type":"{}"}}"#, "x".repeat(MAX_TYPE_LEN));
        assert!(json(&field(), longest.as_bytes()).is_ok());
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack() {
        let deep = format!(
            r#"{{"type":"a","x":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        // Other values are skipped iteratively: valid JSON, classified.
        assert_eq!(json(&field(), deep.as_bytes()), Ok("a".into()));
        assert_eq!(
            json(&Rule::json_pointer("/type"), deep.as_bytes()),
            Ok("a".into())
        );
        // Nesting along the path itself stops at serde_json's recursion limit.
        let path = format!("{}\"a\"{}", r#"{"x":"#.repeat(200), "}".repeat(200));
        let pointer = Rule::json_pointer(&"/x".repeat(200));
        assert_eq!(
            json(&pointer, path.as_bytes()),
            Err(Unclassified::InvalidJson)
        );
    }

    #[test]
    fn tombstone_is_unclassified_under_every_rule() {
        for rule in [field(), Rule::Topic, Rule::Header("t".into())] {
            let message = Message {
                topic: "events",
                value: None,
                headers: NONE,
            };
            assert_eq!(rule.classify(&message), Err(Unclassified::Tombstone));
        }
    }

    #[test]
    fn json_pointer_reaches_nested_fields() {
        let rule = Rule::json_pointer("/meta/type");
        assert_eq!(json(&rule, br#"{"meta":{"type":"a"}}"#), Ok("a".into()));
        assert_eq!(
            json(&rule, br#"{"meta":{}}"#),
            Err(Unclassified::MissingField)
        );
        assert_eq!(
            json(&rule, br#"{"meta":{"type":1}}"#),
            Err(Unclassified::NotAString)
        );
        assert_eq!(json(&rule, b"[1]"), Err(Unclassified::NotAnObject));
        assert_eq!(json(&rule, b"{"), Err(Unclassified::InvalidJson));
        // Found, but the rest of the document is broken: still invalid.
        assert_eq!(
            json(&rule, br#"{"meta":{"type":"a"},"x":}"#),
            Err(Unclassified::InvalidJson)
        );
    }

    #[test]
    fn json_pointer_agrees_with_serde_json_value_pointer() {
        let documents: &[&[u8]] = &[
            br#"{"meta":{"type":"a","type":"b"},"list":[{"type":"c"},"d",["e"]]}"#,
            br#"{"a/b":{"m~n":"f"},"":{"":"g"},"list":[],"meta":3}"#,
            br#"{"list":{"0":"h","01":"i"},"meta":{"type":null}}"#,
        ];
        let pointers = [
            "/meta/type",
            "/list/0/type",
            "/list/1",
            "/list/2/0",
            "/list/3",
            "/list/01",
            "/list/-",
            "/list/+1",
            "/list/0",
            "/a~1b/m~0n",
            "//",
            "/meta/type/x",
            "/",
        ];
        for document in documents {
            let parsed: serde_json::Value = serde_json::from_slice(document).unwrap();
            for pointer in pointers {
                let expected = match parsed.pointer(pointer) {
                    None => Err(Unclassified::MissingField),
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err(Unclassified::NotAString),
                };
                let got = json(&Rule::json_pointer(pointer), document);
                let doc = String::from_utf8_lossy(document);
                assert_eq!(got, expected, "{pointer} in {doc}");
            }
        }
    }

    #[test]
    fn header_rule_uses_the_last_header_of_that_name() {
        let rule = Rule::Header("item_type_name".into());
        let classify = |headers: &NoHeaders| {
            rule.classify(&Message {
                topic: "events",
                value: Some(b"not json is fine here"),
                headers,
            })
            .map(Cow::into_owned)
        };
        assert_eq!(
            classify(&[
                ("item_type_name", Some(b"a")),
                ("item_type_name", Some(b"b"))
            ]),
            Ok("b".into())
        );
        assert_eq!(
            classify(&[("other", Some(b"a"))]),
            Err(Unclassified::MissingHeader)
        );
        assert_eq!(
            classify(&[("item_type_name", None)]),
            Err(Unclassified::NullHeader)
        );
        assert_eq!(
            classify(&[("item_type_name", Some(b"\xff"))]),
            Err(Unclassified::InvalidUtf8)
        );
        assert_eq!(
            classify(&[("item_type_name", Some(b""))]),
            Err(Unclassified::EmptyType)
        );
    }

    #[test]
    fn topic_rule_names_the_type_after_the_topic() {
        let message = Message {
            topic: "blood_pressure",
            value: Some(b"anything"),
            headers: NONE,
        };
        assert_eq!(Rule::Topic.classify(&message).unwrap(), "blood_pressure");
    }
}
