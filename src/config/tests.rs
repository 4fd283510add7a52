//! Tests of the config module.
// figment's Jail closures must return figment::Error, a large type we do not own.
#![allow(clippy::result_large_err)]
use super::*;
use crate::classify::Rule;
use figment::Jail;

/// Loads `toml` as `analyzer.toml` and checks it as a start does: config's own
/// checks and every owner's (`startup::prepare`), each problem with its source.
fn load_in(jail: &mut Jail, toml: &str) -> Result<Settings, ConfigError> {
    jail.create_file("analyzer.toml", toml)
        .map_err(|e| ConfigError::one(e.to_string()))?;
    let settings = load(&ConfigFile::Default)?;
    crate::startup::prepare(&settings)?;
    Ok(settings)
}

#[test]
fn property_values_can_come_from_the_environment() {
    let mut kafka = KafkaSettings::default();
    kafka
        .properties
        .insert("sasl.password".into(), "${KAFKA_PASSWORD}".into());
    kafka
        .properties
        .insert("sasl.username".into(), "analyzer".into());
    kafka
        .properties
        .insert("ssl.key.password".into(), "${UNSET}".into());
    let problems = kafka
        .resolve_env_references(|name| (name == "KAFKA_PASSWORD").then(|| "s3cret".to_owned()));
    assert_eq!(kafka.properties["sasl.password"], "s3cret");
    assert_eq!(kafka.properties["sasl.username"], "analyzer");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].1.contains("UNSET"), "{problems:?}");
}

#[test]
fn an_unset_environment_reference_names_key_variable_and_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let e = load_in(
            jail,
            "[kafka.properties]\n\"sasl.password\" = \"${NOT_SET_HERE}\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sasl.password"), "{e}");
        assert!(e.contains("NOT_SET_HERE"), "{e}");
        assert!(e.contains("analyzer.toml"), "{e}");
        Ok(())
    });
}

#[test]
fn access_control_settings_are_checked_and_the_token_never_logged() {
    let mut settings = Settings::default();
    settings.http.auth_token = Some("s3cret-token".into());
    settings.http.cors_origins = vec!["https://audit.example.com".into()];
    assert!(settings.problems().is_empty());
    assert!(!settings.masked_summary().contains("s3cret-token"));
    assert!(settings.masked_summary().contains("auth_token=set"));

    settings.http.auth_token = Some(" ".into());
    settings.http.cors_origins = vec!["audit.example.com".into(), "https://x.org/".into()];
    let keys: Vec<String> = settings.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["http.auth_token", "http.cors_origins", "http.cors_origins"]
    );

    settings.http.auth_token = None;
    settings.http.cors_origins.clear();
    settings.http.protect_metrics = true;
    let keys: Vec<String> = settings.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["http.protect_metrics"]);
}

#[test]
fn defaults_apply_without_a_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let settings = load(&ConfigFile::Default).map_err(|e| e.to_string())?;
        assert_eq!(settings, Settings::default());
        assert_eq!(
            Rule::from_settings(&settings.classify),
            Rule::JsonField("type".into())
        );
        Ok(())
    });
}

#[test]
fn env_overrides_file_overrides_defaults() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ANALYZER_KAFKA__BROKERS", "env-host:9092");
        jail.set_env("ANALYZER_HTTP__BIND", "127.0.0.1:9000");
        let settings = load_in(
            jail,
            r#"
            [kafka]
            brokers = "file-host:9092"
            topics = ["a", "b"]
            [kafka.properties]
            "fetch.wait.max.ms" = 10
            [classify]
            by = "header"
            name = "item_type_name"
            [[routes]]
            path = "/bp"
            type = "blood_pressure"
            "#,
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(settings.kafka.brokers, "env-host:9092");
        assert_eq!(settings.kafka.topics, ["a", "b"]);
        assert_eq!(settings.kafka.properties["fetch.wait.max.ms"], "10");
        assert_eq!(settings.http.bind.to_string(), "127.0.0.1:9000");
        assert_eq!(
            Rule::from_settings(&settings.classify),
            Rule::Header("item_type_name".into())
        );
        assert_eq!(settings.routes[0].event_type, "blood_pressure");
        assert_eq!(settings.cache.max_bytes, 128 << 20);
        Ok(())
    });
}

#[test]
fn topics_from_env_may_be_comma_separated() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ANALYZER_KAFKA__TOPICS", "a, b");
        let settings = load(&ConfigFile::Default).map_err(|e| e.to_string())?;
        assert_eq!(settings.kafka.topics, ["a", "b"]);
        Ok(())
    });
}

#[test]
fn kubernetes_service_variables_are_ignored_but_nested_typos_are_not() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ANALYZER_PORT", "tcp://10.0.0.1:8110");
        jail.set_env("ANALYZER_SERVICE_HOST", "10.0.0.1");
        jail.set_env("ANALYZER_PORT_8110_TCP_ADDR", "10.0.0.1");
        load(&ConfigFile::Default).map_err(|e| e.to_string())?;
        jail.set_env("ANALYZER_KAFKAA__BROKERS", "x:9092");
        let err = load(&ConfigFile::Default).unwrap_err().to_string();
        assert!(err.contains("kafkaa"), "{err}");
        Ok(())
    });
}

#[test]
fn unknown_key_is_rejected_naming_key_and_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load_in(jail, "[kafka]\nbrokerz = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka.brokerz"), "{err}");
        assert!(err.contains("analyzer.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn bad_value_names_key_and_env_var() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ANALYZER_CACHE__MAX_BYTES", "lots");
        let err = load(&ConfigFile::Default).unwrap_err().to_string();
        assert!(err.contains("cache.max_bytes"), "{err}");
        assert!(err.contains("ANALYZER_CACHE__MAX_BYTES"), "{err}");
        Ok(())
    });
}

#[test]
fn bad_value_in_file_names_key_and_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load_in(jail, "[http]\nbind = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.bind"), "{err}");
        assert!(err.contains("analyzer.toml"), "{err}");
        let err = load_in(jail, "[classify]\nby = \"magic\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("classify.by") && err.contains("json_field"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn max_types_leaves_room_for_the_declared_types() {
    let mut settings = Settings::default();
    for (i, t) in ["a", "b", "a"].iter().enumerate() {
        settings.routes.push(RouteSettings {
            path: format!("/{i}"),
            event_type: (*t).into(),
            stats_key: None,
        });
    }
    settings.classify.max_types = 2;
    assert!(settings.problems().is_empty());
    settings.classify.max_types = 1;
    let keys: Vec<String> = settings.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["classify.max_types"]);
    settings.routes.clear();
    settings.classify.max_types = 0;
    assert_eq!(settings.problems().len(), 1);
}

#[test]
fn the_key_index_needs_a_name_for_a_field_or_header_and_room_for_a_key() {
    Jail::expect_with(|jail| {
        let settings = load_in(jail, "[keys]\nby = \"kafka_key\"\n").unwrap();
        assert!(settings.problems().is_empty());
        assert_eq!(settings.keys.max_keys, 2_000_000);
        for by in ["json_field", "header"] {
            let mut settings = settings.clone();
            settings.keys.by = serde_json::from_value(serde_json::json!(by)).unwrap();
            let keys: Vec<String> = settings.problems().into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, ["keys.name"], "{by}");
        }
        let mut settings = settings.clone();
        settings.keys.max_keys = 0;
        let keys: Vec<String> = settings.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["keys.max_keys"]);
        let error = load_in(jail, "[keys]\nby = \"uuid\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("keys.by"), "{error}");
        Ok(())
    });
}

#[test]
fn stats_keys_must_be_unique_and_not_a_type_name() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let route = |path: &str, event_type: &str, key: &str| {
            format!(
                "[[routes]]\npath = \"{path}\"\ntype = \"{event_type}\"\nstats_key = \"{key}\"\n"
            )
        };
        let fine = [
            route("/blood_pressure", "blood_pressure", "num_bp"),
            route("/bp", "blood_pressure", "num_bp"),
            route("/heart_rate", "heart_rate", "heart_rate"),
        ]
        .concat();
        let settings = load_in(jail, &fine).map_err(|e| e.to_string())?;
        assert_eq!(settings.routes[0].stats_key.as_deref(), Some("num_bp"));

        let clashing = [
            route("/blood_pressure", "blood_pressure", "num"),
            route("/heart_rate", "heart_rate", "num"),
            route("/glucose", "glucose", "heart_rate"),
            route("/bp", "blood_pressure", "bp"),
        ]
        .concat();
        let err = load_in(jail, &clashing).unwrap_err().to_string();
        for expected in [
            "routes.1.stats_key: \"num\" is also the stats_key of routes.0 (type \"blood_pressure\")",
            "routes.2.stats_key: \"heart_rate\" is the name of the type routes.1 serves",
            "routes.3.stats_key: type \"blood_pressure\" already has stats_key \"num\" in routes.0",
            "analyzer.toml",
        ] {
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
        Ok(())
    });
}

#[test]
fn cross_field_problems_name_their_source() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ANALYZER_KAFKA__TOPICS", "[]");
        let err = load_in(
            jail,
            r#"
            [kafka.properties]
            "enable.auto.commit" = "true"
            [[routes]]
            path = "/stats"
            type = "x"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("kafka.topics") && err.contains("ANALYZER_KAFKA__TOPICS"),
            "{err}"
        );
        assert!(err.contains("enable.auto.commit"), "{err}");
        assert!(
            err.contains("routes.0") && err.contains("used by the API"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn explicit_missing_file_is_an_error() {
    let err = load(&ConfigFile::Explicit("/nonexistent/analyzer.toml".into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/analyzer.toml"), "{err}");
}

#[test]
fn secrets_are_masked_in_the_summary() {
    let mut settings = Settings::default();
    for (k, v) in [
        ("sasl.password", "hunter2"),
        ("ssl.key.pem", "PEM"),
        ("sasl.oauthbearer.token", "t0k"),
        ("client.secret", "s3"),
        ("fetch.wait.max.ms", "10"),
    ] {
        settings.kafka.properties.insert(k.into(), v.into());
    }
    let summary = settings.masked_summary();
    for secret in ["hunter2", "PEM", "t0k", "s3"] {
        assert!(!summary.contains(secret), "{summary}");
    }
    assert!(summary.contains("fetch.wait.max.ms=10"), "{summary}");
}

#[test]
fn example_config_file_is_valid() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_FILE);
        let settings = load(&ConfigFile::Explicit(path)).map_err(|e| e.to_string())?;
        assert_eq!(settings.routes[0].event_type, "blood_pressure");
        Ok(())
    });
}

#[test]
fn snapshot_settings_are_checked_and_object_storage_needs_its_credentials() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let settings = load_in(jail, "[snapshot]\ndir = \"/var/lib/analyzer\"\n").unwrap();
        assert_eq!(
            settings.snapshot.dir,
            Some(PathBuf::from("/var/lib/analyzer"))
        );
        assert_eq!(settings.snapshot.interval_secs, 60);
        assert!(settings.snapshot.write);
        // No credentials anywhere: not in the environment, and no instance
        // metadata to fall back on (as the AWS SDKs would).
        jail.set_env("AWS_EC2_METADATA_DISABLED", "true");
        let e = load_in(
            jail,
            "[snapshot]\nurl = \"s3://bucket/prefix\"\ninterval_secs = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("snapshot.url") && e.contains("needs AWS credentials"),
            "{e}"
        );
        assert!(
            e.contains("snapshot.interval_secs") && e.contains("analyzer.toml"),
            "{e}"
        );
        Ok(())
    });
}

#[test]
fn avro_credentials_come_from_the_environment_in_pairs() {
    let mut avro = AvroSettings {
        schema_registry_username: Some("${SR_USER}".into()),
        schema_registry_password: Some("${SR_UNSET}".into()),
        ..AvroSettings::default()
    };
    let problems = avro.resolve_env_references(|name| (name == "SR_USER").then(|| "u".into()));
    assert_eq!(avro.schema_registry_username.as_deref(), Some("u"));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "avro.schema_registry_password");
    assert!(problems[0].1.contains("SR_UNSET"));
    Jail::expect_with(|jail| {
        jail.clear_env();
        let e = load_in(
            jail,
            "[classify]\nby = \"avro_record\"\n[avro]\nschema_registry_username = \"u\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("classify.by") && e.contains("needs [registry] url"),
            "{e}"
        );
        assert!(e.contains("go together"), "{e}");
        Ok(())
    });
}

#[test]
fn protobuf_and_schema_name_settings_name_what_is_missing() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let e = load_in(
            jail,
            "[classify]\nby = \"schema_name\"\n[protobuf.types]\norder = \"shop.Order\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("classify.by") && e.contains("\"schema_name\" needs [registry] url"),
            "{e}"
        );
        assert!(
            e.contains("protobuf.types") && e.contains("descriptor_sets is not set"),
            "{e}"
        );
        // A set that cannot be read, and a type mapped to a message it lacks.
        let desc = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/protobuf/shop.desc");
        let e = load_in(
            jail,
            &format!(
                "[protobuf]\ndescriptor_sets = [\"{desc}\", \"missing.desc\"]\n[protobuf.types]\norder = \"shop.Nope\"\n"
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("protobuf.descriptor_sets") && e.contains("cannot read missing.desc"),
            "{e}"
        );
        assert!(e.contains("\"shop.Nope\""), "{e}");
        let settings = load_in(
            jail,
            &format!(
                "[classify]\nby = \"schema_name\"\n[protobuf]\ndescriptor_sets = [\"{desc}\"]\n[protobuf.types]\norder = \"shop.OrderPlaced\"\n"
            ),
        ).map_err(|e| e.to_string())?;
        assert_eq!(Rule::from_settings(&settings.classify), Rule::SchemaName);
        // From the environment: comma-separated paths.
        jail.set_env(
            "ANALYZER_PROTOBUF__DESCRIPTOR_SETS",
            format!("{desc},{desc}"),
        );
        let settings = load_in(jail, "").map_err(|e| e.to_string())?;
        assert_eq!(settings.protobuf.descriptor_sets.len(), 2);
        Ok(())
    });
}

#[test]
fn every_connection_snippet_in_the_docs_loads() {
    let section = include_str!("../../docs/connecting.md");
    let snippets: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert_eq!(snippets.len(), 8, "one a cluster kind");
    Jail::expect_with(|jail| {
        jail.clear_env();
        // Every ${NAME} a snippet reads, and credentials for MSK IAM's chain.
        for snippet in &snippets {
            for part in snippet.split("${").skip(1) {
                if let Some((name, _)) = part.split_once('}') {
                    jail.set_env(name, "from-a-secret");
                }
            }
        }
        jail.set_env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        jail.set_env("AWS_SECRET_ACCESS_KEY", "secret");
        // The mounted files, as real PEM: librdkafka loads them when it checks.
        let dir = jail.directory().to_path_buf();
        let mut ca =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).map_err(|e| e.to_string())?;
        let client_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let client = rcgen::CertificateParams::new(vec!["analyzer".to_owned()])
            .and_then(|p| p.signed_by(&client_key, &ca))
            .map_err(|e| e.to_string())?;
        for (file, pem) in [
            ("ca.crt", ca.pem()),
            ("client.crt", client.pem()),
            ("client.key", client_key.serialize_pem()),
            ("user.crt", client.pem()),
            ("user.key", client_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(file), pem).map_err(|e| e.to_string())?;
        }
        for snippet in &snippets {
            let toml = snippet.replace("/etc/kafka/tls/", &format!("{}/", dir.display()));
            let settings = load_in(jail, &toml).map_err(|e| format!("{snippet}\n{e}"))?;
            assert!(!settings.kafka.brokers.contains("localhost"), "{snippet}");
        }
        Ok(())
    });
}

#[test]
fn the_registry_is_configured_under_registry_or_its_old_names_but_not_both() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("SR_PASSWORD", "secret");
        let base = "[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n";
        let new = load_in(
            jail,
            &format!(
                "{base}[registry]\nurl = \"http://registry:8081\"\nusername = \"u\"\npassword = \"${{SR_PASSWORD}}\"\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(
            new.registry_url(),
            Some(("http://registry:8081", "registry.url"))
        );
        assert_eq!(new.registry_credentials(), Some(("u", "secret")));
        assert!(new.avro_enabled());
        // The old names still work, each for its own key.
        let old = load_in(
            jail,
            &format!(
                "{base}[avro]\nschema_registry_url = \"http://old:8081\"\nschema_registry_username = \"u\"\nschema_registry_password = \"p\"\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(
            old.registry_url(),
            Some(("http://old:8081", "avro.schema_registry_url"))
        );
        assert_eq!(old.registry_credentials(), Some(("u", "p")));
        // Both at once: an error naming both, each with where it came from.
        jail.set_env("ANALYZER_AVRO__SCHEMA_REGISTRY_URL", "http://old:8081");
        let e = load_in(
            jail,
            &format!("{base}[registry]\nurl = \"http://registry:8081\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("registry.url: is set, and so is its old name avro.schema_registry_url")
                && e.contains("ANALYZER_AVRO__SCHEMA_REGISTRY_URL")
                && e.contains("analyzer.toml"),
            "{e}"
        );
        jail.set_env("ANALYZER_AVRO__SCHEMA_REGISTRY_URL", "");
        // A URL that does not parse is named under the key the user wrote.
        let e = load_in(
            jail,
            &format!("{base}[registry]\nurl = \"registry:8081\"\nusername = \"u\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("registry.url"), "{e}");
        assert!(
            e.contains("registry.username: the registry's username and password go together"),
            "{e}"
        );
        Ok(())
    });
}
