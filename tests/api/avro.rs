//! Avro end to end on tansu: values produced by the real Python libraries
//! (fastavro's schemaless datums and container files, confluent-kafka's
//! AvroSerializer with RecordNameStrategy) are counted, decoded to the documented
//! JSON field by field, served raw byte for byte, and hostile ones are counted
//! under their reason. The registry is the stand-in ./scripts/test.sh starts,
//! reached only by its URL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use analyzer::config::ClassifyBy;
use analyzer::config::RouteSettings;

use crate::helpers::{
    self, Binary, KillOnDrop, TANSU_WAIT, broker, free_port, from_hex, new_topic, python_producer,
    registry, repo, settings, spawn_app,
};

/// One produced event and what analyzer must make of it.
#[derive(Debug, serde::Deserialize)]
struct Produced {
    #[serde(rename = "type")]
    event_type: String,
    value_hex: String,
    json: Option<serde_json::Value>,
    schema: Option<String>,
    schema_id: Option<u32>,
    reason: Option<String>,
}

impl Produced {
    fn value(&self) -> Vec<u8> {
        from_hex(&self.value_hex)
    }
}

fn schemas_dir() -> PathBuf {
    repo().join("tests/avro/schemas")
}

/// Runs tests/avro/producer.py in `mode` against `topic`; what it produced.
async fn produce(mode: &str, topic: &str, count: usize) -> Vec<Produced> {
    let schemas = schemas_dir().display().to_string();
    python_producer("tests/avro/producer.py", mode, topic, count, &[schemas]).await
}

/// Events per type, in the order produced (one partition: the numbering's order).
fn by_type(produced: &[Produced]) -> BTreeMap<&str, Vec<&Produced>> {
    helpers::by_type(produced, |event| &event.event_type)
}

/// GETs `url` and checks the answer against what was produced: decoded JSON with
/// the schema headers for Avro, the bytes for anything else; and `format=raw`.
async fn check_event(client: &reqwest::Client, url: &str, event: &Produced) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let content_type = header("content-type").unwrap();
    let schema = header("x-avro-schema");
    let schema_id = header("x-avro-schema-id").map(|id| id.parse::<u32>().unwrap());
    let body = response.bytes().await.unwrap();
    match &event.json {
        Some(expected) => {
            assert_eq!(content_type, "application/json", "{url}");
            let decoded: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(&decoded, expected, "{url}");
            assert_eq!(schema, event.schema, "{url}");
            assert_eq!(schema_id, event.schema_id, "{url}");
        }
        None => {
            assert_eq!(content_type, "application/octet-stream", "{url}");
            assert_eq!(body.as_ref(), event.value(), "{url}");
            assert_eq!(schema, None, "{url}");
        }
    }
    let raw_url = format!("{url}&format=raw");
    let raw = client.get(&raw_url).send().await.unwrap();
    assert_eq!(raw.status(), 200, "{raw_url}");
    assert_eq!(
        raw.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream"
    );
    assert!(raw.headers().get("x-avro-schema").is_none());
    assert_eq!(
        raw.bytes().await.unwrap().as_ref(),
        event.value(),
        "{raw_url}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_typed_avro_decodes_to_what_fastavro_and_the_serializer_wrote() {
    let brokers = broker();
    let topic = new_topic(&brokers, "avro-header", 1).await;
    let produced = produce("header", &topic, 300).await;
    let (url, user, password) = registry();
    let mut settings = settings(&brokers, &[&topic]);
    settings.classify.by = ClassifyBy::Header;
    settings.classify.name = "item_type_name".into();
    settings.avro.schemas_dir = Some(schemas_dir());
    settings.avro.schema_registry_url = Some(url);
    settings.avro.schema_registry_username = Some(user);
    settings.avro.schema_registry_password = Some(password);
    settings.avro.types = BTreeMap::from([(
        "delivery.events.DeliveryOnHoldV6".to_owned(),
        "DeliveryOnHoldV6".to_owned(),
    )]);
    settings.routes.push(RouteSettings {
        path: "/on_hold".into(),
        event_type: "delivery.events.DeliveryOnHoldV6".into(),
        stats_key: None,
    });
    // The key index reads a field of the decoded record.
    settings.keys.by = analyzer::config::KeysBy::JsonField;
    settings.keys.name = "delivery_id".into();
    let app = spawn_app(&settings).await;
    app.wait_for_total(produced.len() as u64, TANSU_WAIT).await;
    app.wait_caught_up(TANSU_WAIT).await;

    // Every count exact, hostile values under their reasons.
    let types = by_type(&produced);
    let stats = app.stats().await;
    for (event_type, events) in types.iter().filter(|(t, _)| **t != "unclassified") {
        assert_eq!(
            stats.get(*event_type),
            Some(&(events.len() as u64)),
            "{event_type}"
        );
    }
    let (_, status) = app.json("/status").await;
    let reasons = &status["unclassified"]["by_reason"];
    assert_eq!(reasons["invalid_avro"], 7, "{reasons}");
    assert_eq!(reasons["unknown_schema"], 1, "{reasons}");
    let unclassified = &types["unclassified"];
    assert_eq!(unclassified.len(), 8);

    // Every event: decoded JSON field by field, or its bytes; and format=raw.
    let mut lookups = 0;
    for (event_type, events) in &types {
        for (index, event) in events.iter().enumerate() {
            let url = format!("{}/events/{event_type}?index={index}", app.base);
            check_event(&app.client, &url, event).await;
            lookups += usize::from(event.json.is_some());
        }
    }
    assert!(lookups >= 200, "{lookups} decoded lookups");
    // What did not decode stays readable: the bytes, not an error.
    for (index, event) in unclassified.iter().enumerate() {
        assert!(event.reason.is_some());
        let fetched = app
            .event(&format!("/events/unclassified?index={index}"))
            .await;
        assert_eq!(fetched.bytes, event.value());
    }
    // Aliases take the parameter too.
    let on_hold = &types["delivery.events.DeliveryOnHoldV6"];
    check_event(
        &app.client,
        &format!("{}/on_hold?index=3", app.base),
        on_hold[3],
    )
    .await;
    let (status_code, body) = app.json("/on_hold?index=0&format=xml").await;
    assert_eq!(status_code, 400, "{body}");
    assert_eq!(body["code"], "invalid_query");
    // A page carries the decoded value and the schema's name.
    let (_, page) = app
        .json("/events/payments.PaymentCaptured/range?from=0&limit=5")
        .await;
    let payments = &types["payments.PaymentCaptured"];
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), payments.len().min(5), "{page}");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(Some(&event["value"]), payments[i].json.as_ref());
        assert_eq!(event["avro_schema"], "payments.PaymentCaptured");
    }
    // Every decoded event with a delivery id is in that key's history.
    let keyed: Vec<(&str, &str)> = produced
        .iter()
        .filter_map(|e| {
            Some((
                e.json.as_ref()?["delivery_id"].as_str()?,
                e.event_type.as_str(),
            ))
        })
        .collect();
    assert!(keyed.len() >= 100, "{}", keyed.len());
    assert_eq!(
        status["keys"]["events"],
        keyed.len() as u64,
        "{}",
        status["keys"]
    );
    for (delivery_id, event_type) in keyed.iter().take(20) {
        let (code, history) = app.json(&format!("/keys/{delivery_id}/events")).await;
        assert_eq!(code, 200, "{history}");
        let events = history["events"].as_array().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e["type"] == *event_type && e["value"]["delivery_id"] == *delivery_id),
            "{history}"
        );
    }
    let (live, _) = app.json("/health/live").await;
    assert_eq!(live, 200);
}

/// The analyzer binary reading `topic` by writer schema name, its registry
/// credentials from `${NAME}` references.
async fn record_named_binary(topic: &str, registry_url: &str) -> Binary {
    let (_, user, password) = registry();
    let toml = format!(
        "[kafka]\nbrokers = {:?}\ntopics = [{topic:?}]\n[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\
         [classify]\nby = \"avro_record\"\n\
         [avro]\nschema_registry_url = {registry_url:?}\n\
         schema_registry_username = \"${{SR_USER}}\"\nschema_registry_password = \"${{SR_PASSWORD}}\"\n",
        broker()
    );
    let (_dir, file) = crate::helpers::config_file(&format!("avro-record-{}", free_port()), &toml);
    Binary::start(
        &["--config".as_ref(), file.as_os_str()],
        &[("SR_USER", user), ("SR_PASSWORD", password)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_by_writer_schema_wait_for_a_registry_that_starts_late() {
    let topic = new_topic(&broker(), "avro-record", 1).await;
    let produced = produce("record", &topic, 150).await;
    let (shared_url, user, password) = registry();
    let late_port = free_port();
    let late_url = format!("http://127.0.0.1:{late_port}");
    let analyzer = record_named_binary(&topic, &late_url).await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{}{path}", analyzer.base);
        let client = client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    // The first event is framed: ingest waits, says why, misclassifies nothing.
    let start = Instant::now();
    let ready = loop {
        let (code, ready) = get("/health/ready").await;
        if ready.get("waiting_for").is_some() {
            assert_eq!(code, 503);
            break ready;
        }
        assert!(start.elapsed() < TANSU_WAIT, "never waited: {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let why = ready["waiting_for"].as_str().unwrap();
    assert!(
        why.contains("schema registry") && why.contains(&late_url),
        "{why}"
    );
    let (_, status) = get("/status").await;
    assert!(status["waiting_for"].is_string(), "{status}");
    assert_eq!(status["unclassified"]["count"], 0, "{status}");

    // The registry appears, with the ids the producer's registry gave.
    let standin = std::process::Command::new("python3")
        .arg(repo().join("scripts/registry_standin.py"))
        .args([
            "--port",
            &late_port.to_string(),
            "--user",
            &user,
            "--password",
            &password,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _standin = KillOnDrop(standin);
    let ids: std::collections::BTreeSet<u32> =
        produced.iter().filter_map(|p| p.schema_id).collect();
    for id in ids {
        let schema: serde_json::Value = client
            .get(format!("{shared_url}/schemas/ids/{id}"))
            .basic_auth(&user, Some(&password))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let start = Instant::now();
        while client
            .post(format!("{late_url}/subjects/imported/versions"))
            .basic_auth(&user, Some(&password))
            .json(&serde_json::json!({"schema": schema["schema"], "id": id}))
            .send()
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "stand-in never started"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let start = Instant::now();
    loop {
        let (code, ready) = get("/health/ready").await;
        if code == 200 {
            assert!(ready.get("waiting_for").is_none(), "{ready}");
            break;
        }
        assert!(start.elapsed() < TANSU_WAIT, "never ready: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Counts exact, nothing unclassified, every event decoded.
    let (_, stats) = get("/stats").await;
    let types = by_type(&produced);
    assert_eq!(types.len(), 3, "{:?}", types.keys());
    for (event_type, events) in &types {
        assert_eq!(
            stats[*event_type],
            events.len() as u64,
            "{event_type}: {stats}"
        );
    }
    let (_, status) = get("/status").await;
    assert_eq!(status["unclassified"]["count"], 0, "{status}");
    assert!(status.get("waiting_for").is_none(), "{status}");
    for (event_type, events) in &types {
        for (index, event) in events.iter().enumerate() {
            let url = format!("{}/events/{event_type}?index={index}", analyzer.base);
            check_event(&client, &url, event).await;
        }
        // An export renders on its own threads (asking the registry there): each
        // line carries the decoded value and the writer schema's name.
        let url = format!("{}/events/{event_type}/export", analyzer.base);
        let body = client.get(url).send().await.unwrap().text().await.unwrap();
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), events.len(), "{event_type}");
        for (line, event) in lines.iter().zip(events) {
            assert_eq!(Some(&line["value"]), event.json.as_ref(), "{line}");
            assert_eq!(line["avro_schema"], **event_type, "{line}");
        }
    }
}
