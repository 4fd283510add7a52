//! Avro values, as event-sourcing services write them: schemaless datums whose
//! schema the event type names (`[avro.types]` or a schema's full name), object
//! container files (`Obj\x01`, schema embedded), and the Confluent wire format
//! (byte 0, a 4-byte schema id, the datum; the schema from the Schema Registry,
//! [`super::registry`], found by [`super::Decoder`]).
//!
//! Our own decoder, not apache-avro: 0.22 overflows the stack on ~500 bytes of
//! `0x02` under a recursive schema, and 0.23.0-rc0 (a release candidate) bounds
//! depth and allocation with process-wide settings fixed by whoever decodes first.
//! Here every limit is a plain argument of one decode (`datum`), the JSON mapping
//! walks the writer's schema (an exact decimal needs the schema's scale), and
//! the ingest check builds nothing. Fuzzed: `tests/fuzz/fuzz_targets/avro.rs`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub mod container;
pub mod datum;
pub mod schema;

use datum::DatumError;

use super::{DecodeError, SchemaType};
use schema::{NodeId, Schemas};

/// Container-file schemas kept parsed, by their text; beyond this many distinct
/// ones (hostile input can make each value's differ) they are parsed each time.
const MAX_EMBEDDED_SCHEMAS: usize = 1024;

/// A writer schema: the set it belongs to and its root.
#[derive(Debug, Clone)]
pub struct WriterSchema {
    schemas: Arc<Schemas>,
    root: NodeId,
    name: Arc<str>,
}

impl WriterSchema {
    /// The schema rooted at `root` in `schemas`.
    pub fn new(schemas: Arc<Schemas>, root: NodeId) -> WriterSchema {
        let name = schemas.name_of(root).into();
        WriterSchema {
            schemas,
            root,
            name,
        }
    }

    /// Its full name (a named type's; else its type, like `string`).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }
}

/// How a value carries Avro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// An object container file: the first record, with the embedded schema.
    Container,
    /// A bare datum written with the local schema of its type.
    Schemaless,
    /// Confluent framing, with this registry schema id.
    Registry(u32),
}

impl From<DatumError> for DecodeError {
    fn from(e: DatumError) -> Self {
        DecodeError::Invalid(SchemaType::Avro, e.0)
    }
}

/// An Avro problem found before decoding (a container file's header or schema).
fn invalid(why: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(SchemaType::Avro, why.into())
}

/// A value decoded to JSON.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The JSON text.
    pub json: Vec<u8>,
    /// The writer schema's full name.
    pub schema: Arc<str>,
    /// The registry id, when the value was framed.
    pub schema_id: Option<u32>,
}

/// A value located: its writer schema (a local one borrowed: no reference counts
/// per event) and its datum.
pub struct Located<'s, 'v> {
    schema: Cow<'s, WriterSchema>,
    framing: Framing,
    datum: Cow<'v, [u8]>,
}

/// The configured local Avro decoding: local schemas and container files.
pub struct Avro {
    by_type: HashMap<String, WriterSchema>,
    embedded: Mutex<HashMap<Box<[u8]>, WriterSchema>>,
}

/// Where the local schemas are (the `[avro]` settings, resolved).
#[derive(Debug, Clone, Default)]
pub struct AvroSource<'a> {
    /// Directory of `*.avsc` files.
    pub schemas_dir: Option<&'a Path>,
    /// Event type -> schema full name.
    pub types: Option<&'a BTreeMap<String, String>>,
}

impl<'a> AvroSource<'a> {
    /// Where `[avro]` says the schemas are.
    pub fn of(settings: &'a crate::config::Settings) -> Self {
        AvroSource {
            schemas_dir: settings.avro.schemas_dir.as_deref(),
            types: Some(&settings.avro.types),
        }
    }
}

impl Avro {
    /// Loads the local schemas. Problems come as (settings key, what is wrong),
    /// every one found.
    pub fn load(source: &AvroSource<'_>) -> Result<Avro, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut by_type = HashMap::new();
        if let Some(dir) = source.schemas_dir {
            match load_dir(dir) {
                Ok(schemas) => {
                    let schemas = Arc::new(schemas);
                    for name in schemas.names() {
                        if let Some(root) = schemas.named(name) {
                            let schema = WriterSchema::new(Arc::clone(&schemas), root);
                            by_type.insert(name.to_owned(), schema);
                        }
                    }
                    for (event_type, name) in source.types.into_iter().flatten() {
                        match schemas.named(name) {
                            Some(root) => {
                                let schema = WriterSchema::new(Arc::clone(&schemas), root);
                                by_type.insert(event_type.clone(), schema);
                            }
                            None => problems.push((
                                "avro.types".to_owned(),
                                format!(
                                    "{event_type:?} maps to schema {name:?}, which no file in {} defines (it has: {})",
                                    dir.display(),
                                    schemas.names().join(", ")
                                ),
                            )),
                        }
                    }
                }
                Err(problem) => problems.push(("avro.schemas_dir".to_owned(), problem)),
            }
        } else if source.types.is_some_and(|t| !t.is_empty()) {
            problems.push((
                "avro.types".to_owned(),
                "maps types to local schemas, but avro.schemas_dir is not set".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Avro {
            by_type,
            embedded: Mutex::new(HashMap::new()),
        })
    }

    /// Checks that `value` (an event of `event_type`, if the rule gave one)
    /// decodes when it is local Avro, building nothing; its writer schema's name.
    /// Ok(None): it is not.
    pub fn check(
        &self,
        event_type: Option<&str>,
        value: &[u8],
    ) -> Result<Option<Arc<str>>, DecodeError> {
        let Some(located) = self.locate(event_type, value)? else {
            return Ok(None);
        };
        located.decode(None)?;
        Ok(Some(Arc::clone(located.name())))
    }

    /// `value` as JSON when it is local Avro (Ok(None): it is not).
    pub fn to_json(
        &self,
        event_type: Option<&str>,
        value: &[u8],
    ) -> Result<Option<Decoded>, DecodeError> {
        let Some(located) = self.locate(event_type, value)? else {
            return Ok(None);
        };
        let mut json = Vec::with_capacity(value.len() * 2);
        located.decode(Some(&mut json))?;
        Ok(Some(Decoded {
            json,
            schema: Arc::clone(located.name()),
            schema_id: located.schema_id(),
        }))
    }

    /// Which bytes are local Avro, in the order the README gives: a container
    /// file; a type with a local schema. (Registry framing is the decoder's.)
    pub fn locate<'v>(
        &self,
        event_type: Option<&str>,
        value: &'v [u8],
    ) -> Result<Option<Located<'_, 'v>>, DecodeError> {
        if value.starts_with(container::MAGIC) {
            let file = container::read(value)?;
            let schema = self.embedded_schema(file.schema)?;
            return Ok(Some(Located {
                schema: Cow::Owned(schema),
                framing: Framing::Container,
                datum: file.records,
            }));
        }
        if let Some(schema) = event_type.and_then(|t| self.by_type.get(t)) {
            return Ok(Some(Located {
                schema: Cow::Borrowed(schema),
                framing: Framing::Schemaless,
                datum: Cow::Borrowed(value),
            }));
        }
        Ok(None)
    }

    fn embedded_schema(&self, text: &[u8]) -> Result<WriterSchema, DecodeError> {
        let mut embedded = self.embedded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(schema) = embedded.get(text) {
            return Ok(schema.clone());
        }
        let parsed = std::str::from_utf8(text)
            .map_err(|_| invalid("container schema is not UTF-8"))
            .and_then(|text| {
                Schemas::parse_one(text).map_err(|e| invalid(format!("container schema: {e}")))
            })?;
        let schema = WriterSchema::new(Arc::new(parsed.0), parsed.1);
        if embedded.len() < MAX_EMBEDDED_SCHEMAS {
            embedded.insert(text.into(), schema.clone());
        }
        Ok(schema)
    }
}

impl<'v> Located<'static, 'v> {
    /// A Confluent-framed datum of registry schema `id`.
    pub fn framed(schema: WriterSchema, id: u32, datum: &'v [u8]) -> Self {
        Located {
            schema: Cow::Owned(schema),
            framing: Framing::Registry(id),
            datum: Cow::Borrowed(datum),
        }
    }
}

impl Located<'_, '_> {
    /// The writer schema's full name.
    pub fn name(&self) -> &Arc<str> {
        self.schema.name()
    }

    /// The registry schema id, when the value was framed.
    pub fn schema_id(&self) -> Option<u32> {
        match self.framing {
            Framing::Registry(id) => Some(id),
            Framing::Container | Framing::Schemaless => None,
        }
    }

    /// Decodes the datum: exactly, or for a container file its first record.
    pub fn decode(&self, out: Option<&mut Vec<u8>>) -> Result<(), DatumError> {
        let WriterSchema { schemas, root, .. } = self.schema.as_ref();
        match self.framing {
            Framing::Container => datum::decode_prefix(schemas, *root, &self.datum, out).map(drop),
            Framing::Schemaless | Framing::Registry(_) => {
                datum::decode(schemas, *root, &self.datum, out)
            }
        }
    }
}

/// Every `*.avsc` file of `dir`, parsed as one set (named types may refer to each
/// other across files); the problem names the file.
fn load_dir(dir: &Path) -> Result<Schemas, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "avsc"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{} holds no *.avsc file", dir.display()));
    }
    let mut schemas = Schemas::default();
    let mut ranges = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let start = schemas.len();
        schemas
            .add(&text)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        ranges.push((file, start..schemas.len()));
    }
    for (file, range) in ranges {
        schemas
            .resolve_range(range)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(schemas)
}

#[cfg(test)]
mod tests;
