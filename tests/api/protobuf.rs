//! Protobuf and JSON Schema end to end on tansu: values produced by
//! confluent-kafka's ProtobufSerializer and JSONSerializer (Python, message
//! classes built from FileDescriptorProtos in tests/protobuf/shop.py), registered
//! in the registry stand-in with their references, are typed, counted, and
//! decoded to what `MessageToDict` makes of the produced message, field by field;
//! hostile ones are counted under their reason and served as their bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use analyzer::config::ClassifyBy;

use crate::helpers::{
    self, KillOnDrop, TANSU_WAIT, TestApp, broker, free_port, from_hex, new_topic, python_producer,
    registry, repo, settings, spawn_app,
};

/// One produced event and what analyzer must make of it.
#[derive(Debug, serde::Deserialize)]
struct Produced {
    #[serde(rename = "type")]
    event_type: String,
    value_hex: String,
    json: Option<serde_json::Value>,
    schema_type: Option<String>,
    schema: Option<String>,
    schema_id: Option<u32>,
    reason: Option<String>,
}

fn shop_desc() -> PathBuf {
    repo().join("examples/protobuf/shop.desc")
}

/// Runs tests/protobuf/producer.py in `mode` against `topic`; what it produced.
async fn produce(mode: &str, topic: &str, count: usize) -> Vec<Produced> {
    python_producer("tests/protobuf/producer.py", mode, topic, count, &[]).await
}

/// Settings reading `topic` with the registry stand-in.
fn with_registry(brokers: &str, topic: &str) -> analyzer::config::Settings {
    let (url, user, password) = registry();
    let mut settings = settings(brokers, &[topic]);
    settings.registry.url = Some(url);
    settings.registry.username = Some(user);
    settings.registry.password = Some(password);
    settings
}

/// Events per type, in the order produced (one partition: the numbering's order).
fn by_type(produced: &[Produced]) -> BTreeMap<&str, Vec<&Produced>> {
    helpers::by_type(produced, |event| &event.event_type)
}

/// Waits for every event, then checks each type's count and every event's
/// lookup: its JSON (as MessageToDict wrote it) with `X-Schema-Type` and
/// `X-Schema-Id` and no Avro header, or its bytes; and `format=raw`.
async fn check_all(app: &TestApp, produced: &[Produced]) {
    app.wait_for_total(produced.len() as u64, TANSU_WAIT).await;
    app.wait_caught_up(TANSU_WAIT).await;
    let types = by_type(produced);
    let stats = app.stats().await;
    for (event_type, events) in types.iter().filter(|(t, _)| **t != "unclassified") {
        assert_eq!(
            stats.get(*event_type),
            Some(&(events.len() as u64)),
            "{event_type}"
        );
    }
    for (event_type, events) in &types {
        for (index, event) in events.iter().enumerate() {
            let path = format!("/events/{event_type}?index={index}");
            let response = app
                .client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let header =
                |name: &str| (response.headers().get(name)).map(|v| v.to_str().unwrap().to_owned());
            let (schema_type, schema_id) = (header("x-schema-type"), header("x-schema-id"));
            assert_eq!(header("x-avro-schema"), None, "{path}");
            let content_type = header("content-type").unwrap();
            let body = response.bytes().await.unwrap();
            match &event.json {
                Some(expected) => {
                    assert_eq!(content_type, "application/json", "{path}");
                    let decoded: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(&decoded, expected, "{path}");
                    assert_eq!(schema_type, event.schema_type, "{path}");
                    assert_eq!(
                        schema_id,
                        event.schema_id.map(|id| id.to_string()),
                        "{path}"
                    );
                }
                None => {
                    assert_eq!(body.as_ref(), from_hex(&event.value_hex), "{path}");
                    assert_eq!(schema_type, None, "{path}");
                }
            }
            let raw = app.event(&format!("{path}&format=raw")).await;
            assert_eq!(raw.bytes, from_hex(&event.value_hex), "{path}&format=raw");
        }
        // A page of the type: the same JSON, with the schema's type and name.
        let (_, page) = app
            .json(&format!("/events/{event_type}/range?limit=1000"))
            .await;
        let items = page["events"].as_array().unwrap();
        assert_eq!(items.len(), events.len(), "{event_type}");
        for (item, event) in items.iter().zip(events) {
            if let Some(expected) = &event.json {
                assert_eq!(&item["value"], expected, "{item}");
            }
            assert_eq!(
                item["schema_type"].as_str(),
                event.schema_type.as_deref(),
                "{item}"
            );
            assert_eq!(item["schema"].as_str(), event.schema.as_deref(), "{item}");
            assert!(item.get("avro_schema").is_none(), "{item}");
        }
    }
}

/// The unclassified counts by reason, as `/status` gives them.
async fn reasons(app: &TestApp) -> serde_json::Value {
    let (_, status) = app.json("/status").await;
    status["unclassified"]["by_reason"].clone()
}

/// Expected counts of each reason among `produced`.
fn expected_reasons(produced: &[Produced]) -> BTreeMap<&str, u64> {
    let mut reasons = BTreeMap::new();
    for reason in produced.iter().filter_map(|e| e.reason.as_deref()) {
        *reasons.entry(reason).or_default() += 1;
    }
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_protobuf_and_json_schema_are_typed_by_schema_name_and_decode_as_message_to_dict()
{
    let brokers = broker();
    let topic = new_topic(&brokers, "protobuf-framed", 1).await;
    let produced = produce("schema_name", &topic, 90).await;
    let mut settings = with_registry(&brokers, &topic);
    settings.classify.by = ClassifyBy::SchemaName;
    let app = spawn_app(&settings).await;
    check_all(&app, &produced).await;

    // The three messages of one file under one id, told apart by their paths.
    let types = by_type(&produced);
    for name in [
        "shop.OrderPlaced",
        "shop.OrderShipped",
        "shop.OrderShipped.Parcel",
        "shop.RefundIssued",
    ] {
        assert!(types[name].len() >= 20, "{name}");
    }
    let ids: Vec<_> = ["shop.OrderPlaced", "shop.OrderShipped.Parcel"]
        .iter()
        .map(|t| types[t][0].schema_id)
        .collect();
    assert_eq!(ids[0], ids[1], "one file, one schema id");
    let reasons = reasons(&app).await;
    for (reason, count) in expected_reasons(&produced) {
        assert_eq!(reasons[reason], count, "{reason}: {reasons}");
    }
    assert_eq!(reasons["invalid_protobuf"], 7, "{reasons}");

    // Pages and exports carry the same JSON, and the schema's type and name.
    let placed = &types["shop.OrderPlaced"];
    let (_, page) = app
        .json("/events/shop.OrderPlaced/range?from=0&limit=10")
        .await;
    for (i, event) in page["events"].as_array().unwrap().iter().enumerate() {
        assert_eq!(Some(&event["value"]), placed[i].json.as_ref(), "{event}");
        assert_eq!(event["schema_type"], "PROTOBUF");
        assert_eq!(event["schema"], "shop.OrderPlaced");
        assert!(event.get("avro_schema").is_none(), "{event}");
    }
    let export = app
        .client
        .get(format!("{}/events/shop.RefundIssued/export", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refunds = &types["shop.RefundIssued"];
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), refunds.len());
    for (line, refund) in lines.iter().zip(refunds) {
        assert_eq!(Some(&line["value"]), refund.json.as_ref(), "{line}");
        assert_eq!(line["schema_type"], "JSON");
        assert_eq!(line["schema"], "shop.RefundIssued");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_protobuf_waits_for_a_registry_that_starts_late() {
    let brokers = broker();
    let topic = new_topic(&brokers, "protobuf-late", 1).await;
    let produced = produce("schema_name", &topic, 30).await;
    let (shared_url, _, _) = registry();
    let late_port = free_port();
    let mut settings = with_registry(&brokers, &topic);
    settings.registry.url = Some(format!("http://127.0.0.1:{late_port}"));
    settings.classify.by = ClassifyBy::SchemaName;
    let app = spawn_app(&settings).await;

    // Nothing answers at the registry's address: ingest waits, says why, and
    // misclassifies nothing.
    let start = std::time::Instant::now();
    let ready = loop {
        let (code, ready) = app.json("/health/ready").await;
        if ready.get("waiting_for").is_some() {
            assert_eq!(code, 503);
            break ready;
        }
        assert!(start.elapsed() < TANSU_WAIT, "never waited: {ready}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        ready["waiting_for"]
            .as_str()
            .unwrap()
            .contains("schema registry"),
        "{ready}"
    );
    let (_, status) = app.json("/status").await;
    assert_eq!(status["unclassified"]["count"], 0, "{status}");
    let stats = app.stats().await;
    assert!(stats.values().all(|count| *count == 0), "{stats:?}");

    // The registry comes up at that address (socat forwards it to the stand-in):
    // every event is typed and decoded as if it had always been there.
    let shared_port = shared_url.rsplit(':').next().unwrap().trim_end_matches('/');
    let forward = std::process::Command::new("socat")
        .args([
            format!("TCP-LISTEN:{late_port},bind=127.0.0.1,fork,reuseaddr"),
            format!("TCP:127.0.0.1:{shared_port}"),
        ])
        .spawn()
        .expect("socat runs (./scripts/test.sh installs it)");
    let _forward = KillOnDrop(forward);
    check_all(&app, &produced).await;
    let reasons = reasons(&app).await;
    for (reason, count) in expected_reasons(&produced) {
        assert_eq!(reasons[reason], count, "{reason}: {reasons}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unframed_protobuf_typed_by_a_header_decodes_with_local_descriptor_sets() {
    let brokers = broker();
    let topic = new_topic(&brokers, "protobuf-header", 1).await;
    let produced = produce("header", &topic, 60).await;
    let mut settings = with_registry(&brokers, &topic);
    settings.classify.by = ClassifyBy::Header;
    settings.classify.name = "item_type_name".into();
    settings.protobuf.descriptor_sets = vec![shop_desc()];
    settings.protobuf.types =
        BTreeMap::from([("order_placed".to_owned(), "shop.OrderPlaced".to_owned())]);
    // The key index reads a field of the decoded message (its JSON name).
    settings.keys.by = analyzer::config::KeysBy::JsonField;
    settings.keys.name = "orderId".into();
    let app = spawn_app(&settings).await;
    check_all(&app, &produced).await;
    let reasons = reasons(&app).await;
    assert_eq!(reasons["invalid_protobuf"], 3, "{reasons}");
    let (code, history) = app.json("/keys/o-7/events").await;
    assert_eq!(code, 200, "{history}");
    assert_eq!(history["events"][0]["type"], "order_placed", "{history}");
    assert_eq!(history["events"][0]["value"]["orderId"], "o-7", "{history}");

    // The page shows an event's schema beside its provenance, and its JSON.
    let browser = crate::browser::browser().await;
    let types = by_type(&produced);
    let refund = types["refund_issued"][0];
    for (path, schema, field) in [
        (
            "order_placed/0",
            "PROTOBUF shop.OrderPlaced".to_owned(),
            "\"orderId\": \"o-0\"",
        ),
        (
            "refund_issued/0",
            format!(
                "JSON shop.RefundIssued (registry id {})",
                refund.schema_id.unwrap()
            ),
            "\"order_id\": \"o-0\"",
        ),
    ] {
        browser
            .client
            .goto(&format!("{}/#/events/{path}", app.base))
            .await
            .unwrap();
        // This event's view, not the one before it.
        crate::browser::wait_for_heading(&browser, &path.replace('/', " #")).await;
        let shown = crate::browser::wait_for(&browser, "#schema")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(shown, schema, "{path}");
        let value = crate::browser::wait_for(&browser, "#value")
            .await
            .text()
            .await
            .unwrap();
        assert!(value.contains(field), "{path}: {value}");
        browser
            .screenshot(&format!("page-event-{}", path.replace('/', "-")))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framed_json_schema_value_classifies_like_the_same_json_unframed() {
    let brokers = broker();
    let topic = new_topic(&brokers, "json-schema", 1).await;
    let produced = produce("json_field", &topic, 40).await;
    let mut settings = with_registry(&brokers, &topic);
    settings.classify.name = "type".into();
    // Keys by a JSON field: read from the framed JSON as from the plain.
    settings.keys.by = analyzer::config::KeysBy::JsonField;
    settings.keys.name = "order_id".into();
    let app = spawn_app(&settings).await;
    check_all(&app, &produced).await;
    let stats = app.stats().await;
    assert_eq!(stats["refund_issued"], 40, "{stats:?}");
    assert_eq!(stats["refund_reversed"], 40, "{stats:?}");
    let reasons = reasons(&app).await;
    assert_eq!(reasons["missing_field"], 1, "{reasons}");
    let (code, history) = app.json("/keys/o-3/events").await;
    assert_eq!(code, 200, "{history}");
    let events = history["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        2,
        "the framed one and the plain one: {history}"
    );
    assert_eq!(events[0]["schema_type"], "JSON", "{history}");
    assert!(events[1].get("schema_type").is_none(), "{history}");
    assert_eq!(events[0]["value"], events[1]["value"], "{history}");
}
