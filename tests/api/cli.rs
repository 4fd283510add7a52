//! The binary's contract for bad configuration: exit code 2 and a message that
//! names the key and where the value came from.

use std::process::Command;

fn analyzer() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_analyzer"));
    command.current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars() {
        if key.starts_with("ANALYZER_") {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn bad_env_value_exits_2_naming_key_and_variable() {
    let output = analyzer()
        .env("ANALYZER_CACHE__MAX_BYTES", "-5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cache.max_bytes"), "{stderr}");
    assert!(stderr.contains("ANALYZER_CACHE__MAX_BYTES"), "{stderr}");
}

#[test]
fn missing_explicit_config_file_exits_2() {
    let output = analyzer()
        .args(["--config", "/nonexistent/analyzer.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/analyzer.toml"), "{stderr}");
}

#[test]
fn unknown_key_in_file_exits_2_naming_key_and_file() {
    let dir = std::env::temp_dir().join(format!("analyzer-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[http]\nport = 80\n").unwrap();
    let output = analyzer().arg("--config").arg(&file).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("http.port"), "{stderr}");
    assert!(stderr.contains("bad.toml"), "{stderr}");
}

#[test]
fn bad_avro_settings_exit_2_naming_the_key_the_file_and_the_schema_file() {
    let dir = std::env::temp_dir().join(format!("analyzer-cli-avro-{}", std::process::id()));
    let schemas = dir.join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    std::fs::write(
        schemas.join("good.avsc"),
        r#"{"type":"enum","name":"a.Kind","symbols":["X"]}"#,
    )
    .unwrap();
    std::fs::write(
        schemas.join("broken.avsc"),
        r#"{"type":"record","name":"a.B","fields":[{"name":"k","type":"a.Missing"}]}"#,
    )
    .unwrap();
    let file = dir.join("avro.toml");
    std::fs::write(
        &file,
        format!(
            "[classify]\nby = \"header\"\nname = \"item_type_name\"\n[avro]\nschemas_dir = {:?}\nschema_registry_url = \"registry:8081\"\nschema_registry_username = \"${{ANALYZER_TEST_UNSET_USER}}\"\nschema_registry_password = \"p\"\n[avro.types]\n\"delivery.events.X\" = \"a.Nope\"\n",
            schemas.display().to_string()
        ),
    )
    .unwrap();
    let run = || analyzer().arg("--config").arg(&file).output().unwrap();
    let output = run();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "avro.schemas_dir",
        "broken.avsc",
        "unknown type \"a.Missing\"",
        "avro.schema_registry_url",
        "avro.schema_registry_username",
        "ANALYZER_TEST_UNSET_USER",
        "avro.toml",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // With the file fixed, the mapping to a schema no file defines is named.
    std::fs::remove_file(schemas.join("broken.avsc")).unwrap();
    let output = run();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("avro.types") && stderr.contains("\"a.Nope\""),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_kafka_property_librdkafka_refuses_exits_2_naming_the_key_and_the_file() {
    let dir = std::env::temp_dir().join(format!("analyzer-cli-kafka-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tls.toml");
    std::fs::write(
        &file,
        "[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"fetch.wait.max.ms\" = \"soon\"\n",
    )
    .unwrap();
    let output = analyzer().arg("--config").arg(&file).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // librdkafka's own words, the key, and where it came from.
    assert!(
        stderr.contains("kafka.properties.fetch.wait.max.ms: Invalid value")
            && stderr.contains("tls.toml"),
        "{stderr}"
    );
}
