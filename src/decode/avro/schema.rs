//! Avro schemas (the JSON form of the specification, 1.11), parsed into an arena
//! of nodes that a datum decoder walks: named types are nodes that references
//! point at, so recursive schemas are plain cycles of indexes.
//!
//! One [`Schemas`] holds every named type of a set of files (local schemas may
//! reference each other across files); a registry or container schema gets its own.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// An index into a [`Schemas`] arena.
pub type NodeId = usize;

/// A logical type this decoder renders specially; any other is decoded as its
/// underlying type, as the specification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// `decimal` on bytes or fixed: an exact decimal string with this scale.
    Decimal {
        /// Digits after the point.
        scale: u32,
    },
    /// `uuid` on string or fixed(16).
    Uuid,
    /// `date`: days since the epoch.
    Date,
    /// `time-millis`.
    TimeMillis,
    /// `time-micros`.
    TimeMicros,
    /// `timestamp-millis`.
    TimestampMillis,
    /// `timestamp-micros`.
    TimestampMicros,
    /// `timestamp-nanos`.
    TimestampNanos,
    /// `local-timestamp-millis`.
    LocalTimestampMillis,
    /// `local-timestamp-micros`.
    LocalTimestampMicros,
    /// `local-timestamp-nanos`.
    LocalTimestampNanos,
    /// `duration` on fixed(12).
    Duration,
}

/// One schema node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int`, maybe with a logical type.
    Int(Option<Logical>),
    /// `long`, maybe with a logical type.
    Long(Option<Logical>),
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bytes`, maybe with a logical type.
    Bytes(Option<Logical>),
    /// `string`, maybe with a logical type.
    String(Option<Logical>),
    /// A record: its full name and its fields in order.
    Record {
        /// Full name.
        name: Arc<str>,
        /// (field name, field schema), in order.
        fields: Vec<(String, NodeId)>,
    },
    /// An enum: its full name and symbols.
    Enum {
        /// Full name.
        name: Arc<str>,
        /// Symbols, by index.
        symbols: Vec<String>,
    },
    /// A fixed: its full name and size.
    Fixed {
        /// Full name.
        name: Arc<str>,
        /// Size in bytes.
        size: usize,
        /// Logical type, if any.
        logical: Option<Logical>,
    },
    /// An array of items.
    Array(NodeId),
    /// A map with string keys.
    Map(NodeId),
    /// A union of branches.
    Union(Vec<NodeId>),
    /// A reference to a named type, resolved when every file is parsed.
    Ref(NodeId),
    /// A reference still to resolve: the candidate full names, best first.
    Unresolved(Vec<String>),
}

/// A set of parsed schemas.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
}

/// Why a schema does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError(message.into()))
}

/// How deeply a schema's JSON may nest (a schema is input too: registry and
/// container schemas come from the wire).
const MAX_SCHEMA_DEPTH: usize = 64;

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

impl Schemas {
    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The named type with this full name.
    pub fn named(&self, full_name: &str) -> Option<NodeId> {
        self.names.get(full_name).copied()
    }

    /// The full names of every named type, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The name a schema is known by: a named type's full name, else its type.
    pub fn name_of(&self, id: NodeId) -> &str {
        match self.node(self.follow(id)) {
            Node::Record { name, .. } | Node::Enum { name, .. } | Node::Fixed { name, .. } => name,
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int(_) => "int",
            Node::Long(_) => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes(_) => "bytes",
            Node::String(_) => "string",
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
            Node::Ref(_) | Node::Unresolved(_) => "reference",
        }
    }

    /// The node a reference points at (itself when it is not one).
    pub fn follow(&self, mut id: NodeId) -> NodeId {
        // References point at named definitions, never at references.
        if let Node::Ref(target) = self.node(id) {
            id = *target;
        }
        id
    }

    /// Parses one schema given as JSON text alone; returns its root.
    pub fn parse_one(text: &str) -> Result<(Schemas, NodeId), SchemaError> {
        let mut schemas = Schemas::default();
        let root = schemas.add(text)?;
        schemas.resolve()?;
        Ok((schemas, root))
    }

    /// Adds a schema (JSON text) to the set; references are resolved by
    /// [`Schemas::resolve`] once every schema is added. Returns its root.
    pub fn add(&mut self, text: &str) -> Result<NodeId, SchemaError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| SchemaError(format!("not JSON: {e}")))?;
        self.parse(&json, "", 0)
    }

    /// How many nodes the set holds (a schema added next starts here).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Resolves every reference; an unknown name is an error naming it.
    pub fn resolve(&mut self) -> Result<(), SchemaError> {
        self.resolve_range(0..self.nodes.len())
    }

    /// Resolves the references among nodes `range` (one file's), against every
    /// name defined so far.
    pub fn resolve_range(&mut self, range: std::ops::Range<usize>) -> Result<(), SchemaError> {
        for i in range {
            if let Node::Unresolved(candidates) = &self.nodes[i] {
                let target = candidates
                    .iter()
                    .find_map(|c| self.names.get(c).copied())
                    .ok_or_else(|| {
                        SchemaError(format!(
                            "unknown type {:?}",
                            candidates.first().map_or("", String::as_str)
                        ))
                    })?;
                self.nodes[i] = Node::Ref(target);
            }
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn parse(
        &mut self,
        json: &Value,
        namespace: &str,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return err(format!("nests deeper than {MAX_SCHEMA_DEPTH} levels"));
        }
        match json {
            Value::String(name) => self.parse_name(name, namespace),
            Value::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                for branch in branches {
                    ids.push(self.parse(branch, namespace, depth + 1)?);
                }
                Ok(self.push(Node::Union(ids)))
            }
            Value::Object(object) => self.parse_object(object, namespace, depth),
            other => err(format!("{other} is not a schema")),
        }
    }

    fn parse_name(&mut self, name: &str, namespace: &str) -> Result<NodeId, SchemaError> {
        if let Some(node) = primitive(name, None) {
            return Ok(self.push(node));
        }
        if name.is_empty() {
            return err("an empty type name");
        }
        let mut candidates = Vec::new();
        if !name.contains('.') && !namespace.is_empty() {
            candidates.push(format!("{namespace}.{name}"));
        }
        candidates.push(name.to_owned());
        Ok(self.push(Node::Unresolved(candidates)))
    }

    fn parse_object(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            // `{"type": {...}}` or `{"type": [...]}`: the inner schema.
            Some(inner @ (Value::Object(_) | Value::Array(_))) => {
                return self.parse(inner, namespace, depth + 1);
            }
            _ => return err("an object schema without a \"type\""),
        };
        let logical = object.get("logicalType").and_then(Value::as_str);
        match kind {
            "record" | "error" => self.parse_record(object, namespace, depth),
            "enum" => {
                let name = self.define_name(object, namespace)?;
                let symbols = object
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or_else(|| SchemaError(format!("enum {name} has no \"symbols\" array")))?
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| SchemaError(format!("enum {name}: a symbol is not a string")))?;
                let id = self.push(Node::Enum {
                    name: name.clone().into(),
                    symbols,
                });
                self.register(name, id)
            }
            "fixed" => {
                let name = self.define_name(object, namespace)?;
                let size = object
                    .get("size")
                    .and_then(Value::as_u64)
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| SchemaError(format!("fixed {name} has no valid \"size\"")))?;
                let logical = match logical {
                    Some("decimal") => decimal(object, Some(size)),
                    Some("uuid") if size == 16 => Some(Logical::Uuid),
                    Some("duration") if size == 12 => Some(Logical::Duration),
                    _ => None,
                };
                let id = self.push(Node::Fixed {
                    name: name.clone().into(),
                    size,
                    logical,
                });
                self.register(name, id)
            }
            "array" => {
                let items = object
                    .get("items")
                    .ok_or_else(|| SchemaError("an array without \"items\"".into()))?;
                let items = self.parse(items, namespace, depth + 1)?;
                Ok(self.push(Node::Array(items)))
            }
            "map" => {
                let values = object
                    .get("values")
                    .ok_or_else(|| SchemaError("a map without \"values\"".into()))?;
                let values = self.parse(values, namespace, depth + 1)?;
                Ok(self.push(Node::Map(values)))
            }
            _ => match primitive(kind, logical.map(|l| (l, object))) {
                Some(node) => Ok(self.push(node)),
                None => self.parse_name(kind, namespace),
            },
        }
    }

    fn parse_record(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        depth: usize,
    ) -> Result<NodeId, SchemaError> {
        let name = self.define_name(object, namespace)?;
        let inner_namespace = name.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
        // Registered before its fields, which may refer to it.
        let id = self.push(Node::Record {
            name: name.clone().into(),
            fields: Vec::new(),
        });
        self.register(name.clone(), id)?;
        let Some(fields_json) = object.get("fields").and_then(Value::as_array) else {
            return err(format!("record {name} has no \"fields\" array"));
        };
        let mut fields: Vec<(String, NodeId)> = Vec::with_capacity(fields_json.len());
        for field in fields_json {
            let field_name = field
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| SchemaError(format!("record {name}: a field has no \"name\"")))?;
            if fields.iter().any(|(n, _)| n == field_name) {
                return err(format!(
                    "record {name}: field {field_name:?} is declared twice"
                ));
            }
            let schema = field.get("type").ok_or_else(|| {
                SchemaError(format!(
                    "record {name}: field {field_name:?} has no \"type\""
                ))
            })?;
            let field_id = self.parse(schema, &inner_namespace, depth + 1)?;
            fields.push((field_name.to_owned(), field_id));
        }
        if let Node::Record { fields: slot, .. } = &mut self.nodes[id] {
            *slot = fields;
        }
        Ok(id)
    }

    /// The full name a named type's definition gives (`name` with dots, or with
    /// its `namespace`, or with the enclosing one).
    fn define_name(
        &self,
        object: &Map<String, Value>,
        namespace: &str,
    ) -> Result<String, SchemaError> {
        let Some(name) = object.get("name").and_then(Value::as_str) else {
            return err("a named type without a \"name\"");
        };
        let valid = |part: &str| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let full = if name.contains('.') {
            name.to_owned()
        } else {
            match object.get("namespace").and_then(Value::as_str) {
                Some("") => name.to_owned(),
                Some(ns) => format!("{ns}.{name}"),
                None if namespace.is_empty() => name.to_owned(),
                None => format!("{namespace}.{name}"),
            }
        };
        if !full.split('.').all(valid) {
            return err(format!("{full:?} is not a valid Avro name"));
        }
        if PRIMITIVES.contains(&full.as_str()) {
            return err(format!("{full:?} is a primitive type's name"));
        }
        Ok(full)
    }

    fn register(&mut self, name: String, id: NodeId) -> Result<NodeId, SchemaError> {
        if self.names.contains_key(&name) {
            return err(format!("type {name} is defined twice"));
        }
        self.names.insert(name, id);
        Ok(id)
    }
}

/// A primitive type's node, with its logical type when this decoder knows it
/// (and its parameters are valid; otherwise the underlying type, as the spec says).
fn primitive(kind: &str, logical: Option<(&str, &Map<String, Value>)>) -> Option<Node> {
    let logical_name = logical.map(|(l, _)| l);
    Some(match kind {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int(match logical_name {
            Some("date") => Some(Logical::Date),
            Some("time-millis") => Some(Logical::TimeMillis),
            _ => None,
        }),
        "long" => Node::Long(match logical_name {
            Some("time-micros") => Some(Logical::TimeMicros),
            Some("timestamp-millis") => Some(Logical::TimestampMillis),
            Some("timestamp-micros") => Some(Logical::TimestampMicros),
            Some("timestamp-nanos") => Some(Logical::TimestampNanos),
            Some("local-timestamp-millis") => Some(Logical::LocalTimestampMillis),
            Some("local-timestamp-micros") => Some(Logical::LocalTimestampMicros),
            Some("local-timestamp-nanos") => Some(Logical::LocalTimestampNanos),
            _ => None,
        }),
        "float" => Node::Float,
        "double" => Node::Double,
        "bytes" => Node::Bytes(match logical {
            Some(("decimal", object)) => decimal(object, None),
            _ => None,
        }),
        "string" => Node::String(match logical_name {
            Some("uuid") => Some(Logical::Uuid),
            _ => None,
        }),
        _ => return None,
    })
}

/// A valid `decimal` (precision > 0, 0 <= scale <= precision, and for a fixed,
/// precision within what its size holds), else None: decoded as its underlying type.
fn decimal(object: &Map<String, Value>, fixed_size: Option<usize>) -> Option<Logical> {
    let precision = object.get("precision").and_then(Value::as_u64)?;
    let scale = match object.get("scale") {
        None => 0,
        Some(scale) => scale.as_u64()?,
    };
    if precision == 0 || scale > precision {
        return None;
    }
    if let Some(size) = fixed_size {
        // floor(log10(2^(8n-1) - 1)) digits fit in n bytes.
        let max_digits = ((8.0 * size as f64 - 1.0) * std::f64::consts::LOG10_2).floor();
        if precision as f64 > max_digits {
            return None;
        }
    }
    Some(Logical::Decimal {
        scale: u32::try_from(scale).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_through_namespaces_and_across_schemas() {
        let mut schemas = Schemas::default();
        let a = schemas
            .add(
                r#"{"type":"record","name":"Outer","namespace":"a.b","fields":[
                {"name":"inner","type":"Inner"},
                {"name":"shared","type":"common.Money"},
                {"name":"self","type":["null","Outer"]}]}"#,
            )
            .unwrap();
        schemas
            .add(r#"{"type":"record","name":"Inner","namespace":"a.b","fields":[{"name":"x","type":"int"}]}"#)
            .unwrap();
        schemas
            .add(r#"{"type":"fixed","name":"common.Money","size":8,"logicalType":"decimal","precision":10,"scale":2}"#)
            .unwrap();
        schemas.resolve().unwrap();
        assert_eq!(schemas.name_of(a), "a.b.Outer");
        assert_eq!(
            schemas.names(),
            vec!["a.b.Inner", "a.b.Outer", "common.Money"]
        );
        let Node::Record { fields, .. } = schemas.node(a) else {
            panic!("not a record")
        };
        assert_eq!(schemas.name_of(fields[0].1), "a.b.Inner");
        assert!(matches!(
            schemas.node(schemas.follow(fields[1].1)),
            Node::Fixed {
                logical: Some(Logical::Decimal { scale: 2 }),
                ..
            }
        ));
    }

    #[test]
    fn bad_schemas_say_why() {
        for (text, why) in [
            ("{", "not JSON"),
            (r#"{"type":"record","name":"R"}"#, "no \"fields\""),
            (
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]}"#,
                "unknown type \"Nope\"",
            ),
            (
                r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
                "declared twice",
            ),
            (
                r#"[{"type":"enum","name":"E","symbols":["A"]},{"type":"enum","name":"E","symbols":["B"]}]"#,
                "defined twice",
            ),
            (r#"{"type":"fixed","name":"F"}"#, "size"),
            (
                r#"{"type":"record","name":"1bad","fields":[]}"#,
                "not a valid Avro name",
            ),
            ("42", "not a schema"),
        ] {
            let error = Schemas::parse_one(text).unwrap_err().0;
            assert!(error.contains(why), "{text}: {error}");
        }
        let deep = format!("{}\"int\"{}", "[".repeat(100), "]".repeat(100));
        assert!(Schemas::parse_one(&deep).unwrap_err().0.contains("deeper"));
    }

    #[test]
    fn invalid_logical_parameters_fall_back_to_the_underlying_type() {
        let (s, root) = Schemas::parse_one(
            r#"{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}"#,
        )
        .unwrap();
        assert_eq!(s.node(root), &Node::Bytes(None));
        let (s, root) = Schemas::parse_one(r#"{"type":"long","logicalType":"whatever"}"#).unwrap();
        assert_eq!(s.node(root), &Node::Long(None));
    }
}
