//! Protobuf values: the Confluent wire format (byte 0, a 4-byte schema id, the
//! message-index path, the message; the schema and the files it references from
//! the registry), and unframed messages whose type `[protobuf.types]` maps to a
//! message of local descriptor sets (`protoc --descriptor_set_out --include_imports`).
//!
//! Decoding is prost-reflect's `DynamicMessage` (prost's bounds: nesting past 100
//! levels is an error, no length is trusted past the bytes left, nothing is
//! allocated that the bytes did not pay for); rendering is proto3's canonical JSON
//! mapping, as `MessageToDict` and `JsonFormat` write it: JSON names, 64-bit
//! integers as strings, bytes as base64, enums by name, well-known types as their
//! JSON forms, and fields that hold their default value left out. Fuzzed:
//! `tests/fuzz/fuzz_targets/protobuf.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost_reflect::prost::Message as _;
use prost_reflect::prost_types::FileDescriptorProto;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage as _, SerializeOptions, Value,
};

/// Longest message-index path read: one index per level of message nesting. A
/// longer one is hostile (Confluent's own readers refuse counts past 100,000).
const MAX_PATH_LEN: usize = 64;

/// A registry Protobuf schema: its file, in a pool with every file it imports.
#[derive(Debug, Clone)]
pub struct ProtoFile {
    file: prost_reflect::FileDescriptor,
}

impl ProtoFile {
    /// Builds the schema from `files`, (import name, base64 `FileDescriptorProto`)
    /// each, the schema's own file last (its import name unused). The well-known
    /// types (`google/protobuf/*.proto`) are known without being referenced, as
    /// confluent-kafka's serializers leave them out of the references.
    pub fn from_serialized(files: &[(String, String)]) -> Result<ProtoFile, String> {
        let mut pool = DescriptorPool::global();
        let mut protos = Vec::with_capacity(files.len());
        let mut main_name = String::new();
        for (i, (import_name, encoded)) in files.iter().enumerate() {
            let bytes = BASE64.decode(encoded.trim()).map_err(|e| {
                format!("file {import_name:?} is not base64 (a registry that ignores format=serialized answers .proto text): {e}")
            })?;
            let mut proto = FileDescriptorProto::decode(bytes.as_slice())
                .map_err(|e| format!("file {import_name:?} is not a FileDescriptorProto: {e}"))?;
            if i + 1 == files.len() {
                // As confluent-kafka names it when its own name is unset.
                if proto.name().is_empty() {
                    proto.name = Some("default".to_owned());
                }
                main_name = proto.name().to_owned();
            } else {
                // Imports resolve by the name the reference gives.
                proto.name = Some(import_name.clone());
            }
            if pool.get_file_by_name(proto.name()).is_none() {
                protos.push(proto);
            }
        }
        pool.add_file_descriptor_protos(protos)
            .map_err(|e| format!("its descriptors do not resolve: {e}"))?;
        let file = pool
            .get_file_by_name(&main_name)
            .ok_or_else(|| format!("file {main_name:?} is missing from its own pool"))?;
        Ok(ProtoFile { file })
    }

    /// The message a message-index path names: the file's `path[0]`th message,
    /// then its `path[1]`th nested message, and so on.
    pub fn message(&self, path: &[usize]) -> Result<MessageDescriptor, String> {
        let mut indexes = path.iter();
        let first = indexes.next().copied().unwrap_or(0);
        let mut message = self.file.messages().nth(first).ok_or_else(|| {
            format!(
                "message index {first} is past the file's {} messages",
                self.file.messages().len()
            )
        })?;
        for &index in indexes {
            let nested = message.child_messages().nth(index).ok_or_else(|| {
                format!(
                    "message index path {path:?} names no message of {}",
                    self.file.name()
                )
            })?;
            message = nested;
        }
        Ok(message)
    }
}

/// Splits the bytes after the schema id into the message-index path and the
/// message: a zig-zag varint count, then that many zig-zag varint indexes; a count
/// of 0 (the single byte 0) is the path `[0]`, the file's first message.
pub fn read_path(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    let (count, mut rest) = read_zigzag(bytes)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= MAX_PATH_LEN)
        .ok_or_else(|| {
            format!("a message-index path of {count} indexes (at most {MAX_PATH_LEN})")
        })?;
    let mut path = Vec::with_capacity(count);
    for _ in 0..count {
        let (index, after) = read_zigzag(rest)?;
        let index =
            usize::try_from(index).map_err(|_| format!("a negative message index {index}"))?;
        path.push(index);
        rest = after;
    }
    Ok((path, rest))
}

/// One zig-zag varint (at most 10 bytes) and the bytes after it.
fn read_zigzag(bytes: &[u8]) -> Result<(i64, &[u8]), String> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((crate::varint::unzigzag(value), &bytes[i + 1..]));
        }
    }
    Err("the message-index path is cut short or overlong".to_owned())
}

/// Decodes `bytes` as a `message` and, into `out` when given, renders it as
/// proto3 JSON. Without `out` (the ingest check) the mapping's only failures are
/// still found, so a message that passes always renders: they are all in
/// well-known types (an `Any` of a type the pool lacks, a `Timestamp` or
/// `Duration` out of range, a non-finite `Value`, a `FieldMask` path), so each
/// well-known sub-message is mapped into nothing, the rest walked (decoding is 2.8
/// µs of a 142-byte order, mapping all of it 3.6 µs more: BENCHMARKS.md).
pub fn decode(
    message: &MessageDescriptor,
    bytes: &[u8],
    out: Option<&mut Vec<u8>>,
) -> Result<(), String> {
    let decoded = DynamicMessage::decode(message.clone(), bytes)
        .map_err(|e| format!("not a {}: {e}", message.full_name()))?;
    let options = SerializeOptions::new();
    let written = match out {
        Some(out) => {
            decoded.serialize_with_options(&mut serde_json::Serializer::new(out), &options)
        }
        None => check_json_form(&decoded, &options),
    };
    written.map_err(|e| format!("a {} with no JSON form: {e}", message.full_name()))
}

/// Whether `message` has a JSON form: its well-known sub-messages are mapped
/// (into nothing), everything else walked.
fn check_json_form(
    message: &DynamicMessage,
    options: &SerializeOptions,
) -> Result<(), serde_json::Error> {
    if message
        .descriptor()
        .full_name()
        .starts_with("google.protobuf.")
    {
        return message
            .serialize_with_options(&mut serde_json::Serializer::new(std::io::sink()), options);
    }
    message
        .fields()
        .try_for_each(|(_, value)| check_value(value, options))
}

fn check_value(value: &Value, options: &SerializeOptions) -> Result<(), serde_json::Error> {
    match value {
        Value::Message(message) => check_json_form(message, options),
        Value::List(values) => values.iter().try_for_each(|v| check_value(v, options)),
        Value::Map(entries) => entries.values().try_for_each(|v| check_value(v, options)),
        _ => Ok(()),
    }
}

/// Local descriptor sets and the types they decode (`[protobuf]`).
#[derive(Debug)]
pub struct Protobuf {
    by_type: HashMap<String, MessageDescriptor>,
}

impl Protobuf {
    /// Loads `descriptor_sets` (each a `FileDescriptorSet`) into one pool; a type
    /// named like a message's full name, or mapped to one by `types`, is that
    /// message. Problems come as (settings key, what is wrong), every one found.
    pub fn load(
        descriptor_sets: &[PathBuf],
        types: &BTreeMap<String, String>,
    ) -> Result<Protobuf, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut pool = DescriptorPool::global();
        for path in descriptor_sets {
            let added = std::fs::read(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|bytes| {
                    pool.decode_file_descriptor_set(bytes.as_slice())
                        .map_err(|e| format!("{} is not a usable descriptor set (protoc --descriptor_set_out --include_imports): {e}", path.display()))
                });
            if let Err(problem) = added {
                problems.push(("protobuf.descriptor_sets".to_owned(), problem));
            }
        }
        let mut by_type: HashMap<String, MessageDescriptor> = HashMap::new();
        if descriptor_sets.is_empty() && !types.is_empty() {
            problems.push((
                "protobuf.types".to_owned(),
                "maps types to messages, but protobuf.descriptor_sets is not set".to_owned(),
            ));
        }
        for message in pool.all_messages() {
            if !message.parent_file().name().starts_with("google/protobuf/") {
                by_type.insert(message.full_name().to_owned(), message);
            }
        }
        for (event_type, name) in types {
            match pool.get_message_by_name(name) {
                Some(message) => {
                    by_type.insert(event_type.clone(), message);
                }
                None if !descriptor_sets.is_empty() => problems.push((
                    "protobuf.types".to_owned(),
                    format!(
                        "{event_type:?} maps to message {name:?}, which no descriptor set defines"
                    ),
                )),
                None => {}
            }
        }
        match problems.is_empty() {
            true => Ok(Protobuf { by_type }),
            false => Err(problems),
        }
    }

    /// The message events of `event_type` are, if they are Protobuf.
    pub fn message_of(&self, event_type: &str) -> Option<&MessageDescriptor> {
        self.by_type.get(event_type)
    }
}

#[cfg(test)]
mod tests;
