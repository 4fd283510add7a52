//! `[avro]`, `[protobuf]` and `[registry]`: how values are decoded, and the Schema Registry every
//! registry-framed format is read with. `[avro]`'s `schema_registry_url`,
//! `schema_registry_username` and `schema_registry_password` are the registry's
//! old names: still read, each an alias of its `[registry]` key; both set is a
//! problem naming both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ClassifyBy, Settings, resolve_env, source_of};

/// `[avro]`: decoding Avro values. On when `schemas_dir` or the registry is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvroSettings {
    /// A directory of `*.avsc` files; named types may refer to each other across
    /// files. A type whose name is a schema's full name (or that `types` maps) is
    /// schemaless Avro written with that schema.
    pub schemas_dir: Option<PathBuf>,
    /// The old name of `registry.url`.
    pub schema_registry_url: Option<String>,
    /// The old name of `registry.username`.
    pub schema_registry_username: Option<String>,
    /// The old name of `registry.password`.
    pub schema_registry_password: Option<String>,
    /// Event type -> schema full name, when they differ
    /// (`"delivery.events.DeliveryOnHoldV6" = "DeliveryOnHoldV6"`).
    pub types: BTreeMap<String, String>,
}

/// `[protobuf]`: unframed Protobuf values, typed by the rule. On when
/// `descriptor_sets` is set (registry-framed Protobuf needs only `[registry]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtobufSettings {
    /// `FileDescriptorSet` files, as `protoc --descriptor_set_out=FILE
    /// --include_imports` writes them (comma-separated paths accepted too, for an
    /// environment variable). A type whose name is a message's full name (or that
    /// `types` maps) is an unframed message of it.
    #[serde(deserialize_with = "paths_or_csv")]
    pub descriptor_sets: Vec<PathBuf>,
    /// Event type -> message full name, when they differ
    /// (`"order_placed" = "shop.OrderPlaced"`).
    pub types: BTreeMap<String, String>,
}

/// `[registry]`: a Confluent Schema Registry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// Its URL, like `http://registry:8081`: values starting with byte 0 and a
    /// 4-byte schema id are decoded with the schema it serves for that id (Avro,
    /// Protobuf or JSON Schema).
    pub url: Option<String>,
    /// Basic-auth user; `${NAME}` reads environment variable NAME.
    pub username: Option<String>,
    /// Basic-auth password; `${NAME}` reads environment variable NAME.
    pub password: Option<String>,
}

/// A list of paths, or one string of comma-separated paths.
fn paths_or_csv<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PathBuf>, D::Error> {
    Ok(super::list_or_csv(deserializer)?
        .into_iter()
        .map(PathBuf::from)
        .collect())
}

/// Replaces each value written `${NAME}` by environment variable NAME. Returns a
/// (key, problem) per unset one.
fn resolve_all(
    values: [(&str, &mut Option<String>); 2],
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (key, value) in values {
        if let Some(Err(name)) = value.as_mut().map(|v| resolve_env(v, &lookup)) {
            problems.push((
                key.to_owned(),
                format!("refers to environment variable {name}, which is not set"),
            ));
        }
    }
    problems
}

impl AvroSettings {
    /// Replaces a registry user or password written `${NAME}` (old names) by
    /// environment variable NAME. Returns a (key, problem) per unset one.
    pub fn resolve_env_references(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        resolve_all(
            [
                (
                    "avro.schema_registry_username",
                    &mut self.schema_registry_username,
                ),
                (
                    "avro.schema_registry_password",
                    &mut self.schema_registry_password,
                ),
            ],
            lookup,
        )
    }
}

impl RegistrySettings {
    /// Replaces a user or password written `${NAME}` by environment variable NAME.
    /// Returns a (key, problem) per unset one.
    pub fn resolve_env_references(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        resolve_all(
            [
                ("registry.username", &mut self.username),
                ("registry.password", &mut self.password),
            ],
            lookup,
        )
    }
}

/// A registry setting in effect: its value and the key it was set under.
pub type Keyed<'a> = Option<(&'a str, &'static str)>;

/// Each registry key with its old name in `[avro]`.
const REGISTRY_ALIASES: [(&str, &str); 3] = [
    ("registry.url", "avro.schema_registry_url"),
    ("registry.username", "avro.schema_registry_username"),
    ("registry.password", "avro.schema_registry_password"),
];

impl Settings {
    /// `[registry]`'s values with their `[avro]` old names, in `REGISTRY_ALIASES`' order.
    fn registry_pairs(&self) -> [(&Option<String>, &Option<String>); 3] {
        let (registry, avro) = (&self.registry, &self.avro);
        [
            (&registry.url, &avro.schema_registry_url),
            (&registry.username, &avro.schema_registry_username),
            (&registry.password, &avro.schema_registry_password),
        ]
    }

    /// Registry setting `i` in effect: the `[registry]` key, else its old name.
    fn registry_setting(&self, i: usize) -> Keyed<'_> {
        let (new, old) = self.registry_pairs()[i];
        let (new_key, old_key) = REGISTRY_ALIASES[i];
        match (new, old) {
            (Some(value), _) => Some((value.as_str(), new_key)),
            (None, Some(value)) => Some((value.as_str(), old_key)),
            (None, None) => None,
        }
    }

    /// The registry's URL, and the key that set it.
    pub fn registry_url(&self) -> Keyed<'_> {
        self.registry_setting(0)
    }

    /// The registry's basic-auth user and password, when both are set.
    pub fn registry_credentials(&self) -> Option<(&str, &str)> {
        let user = self.registry_setting(1)?.0;
        Some((user, self.registry_setting(2)?.0))
    }

    /// Whether Avro decoding is on: local schemas, or a registry.
    pub fn avro_enabled(&self) -> bool {
        self.avro.schemas_dir.is_some() || self.registry_url().is_some()
    }

    /// Whether Protobuf decoding of unframed values is on (local descriptor sets).
    pub fn protobuf_enabled(&self) -> bool {
        !self.protobuf.descriptor_sets.is_empty()
    }

    /// What is wrong with `[avro]`, `[protobuf]` and `[registry]` and how
    /// `[classify]` uses them (the schemas themselves are checked as they load, in
    /// `decode`).
    pub(super) fn format_problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.classify.by == ClassifyBy::AvroRecord && !self.avro_enabled() {
            problems.push((
                "classify.by".to_owned(),
                "\"avro_record\" needs [registry] url or [avro] schemas_dir".to_owned(),
            ));
        }
        if self.classify.by == ClassifyBy::SchemaName
            && !self.avro_enabled()
            && !self.protobuf_enabled()
        {
            problems.push((
                "classify.by".to_owned(),
                "\"schema_name\" needs [registry] url, [avro] schemas_dir or [protobuf] descriptor_sets"
                    .to_owned(),
            ));
        }
        if !self.protobuf.types.is_empty() && !self.protobuf_enabled() {
            problems.push((
                "protobuf.types".to_owned(),
                "maps types to messages, but protobuf.descriptor_sets is not set".to_owned(),
            ));
        }
        for (i, (new, old)) in self.registry_pairs().into_iter().enumerate() {
            let (new_key, old_key) = REGISTRY_ALIASES[i];
            if new.is_some() && old.is_some() {
                let old_from = match &self.sources.layers {
                    Some(figment) => source_of(figment, old_key),
                    None => String::new(),
                };
                problems.push((
                    new_key.to_owned(),
                    format!("is set, and so is its old name {old_key}{old_from}: keep one"),
                ));
            }
        }
        let (user, password) = (self.registry_setting(1), self.registry_setting(2));
        if let (Some((_, key)), None) | (None, Some((_, key))) = (user, password) {
            problems.push((
                key.to_owned(),
                "the registry's username and password go together".to_owned(),
            ));
        }
        problems
    }
}
