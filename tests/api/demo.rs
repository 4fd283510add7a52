//! `analyzer demo`, the README's first command: the real binary, with its embedded
//! Kafka and producer, indexes a growing stream and serves lookups.

use crate::helpers::{KillOnDrop, free_port, get_json};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn demo_indexes_a_growing_stream_and_serves_lookups() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["demo", "--port", &port.to_string(), "--rate", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let first = every_type_indexed(&client, &base).await;
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["blood_pressure", "heart_rate"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = stats(&client, &base).await.unwrap();
    assert!(
        later.values().sum::<u64>() > first.values().sum::<u64>(),
        "{first:?} then {later:?}"
    );

    for (path, event_type) in [
        ("/events/blood_pressure?index=0", "blood_pressure"),
        ("/heart_rate?index=1", "heart_rate"),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let event: serde_json::Value = response.json().await.unwrap();
        assert_eq!(event["type"], event_type, "{event}");
    }
    let status = get_json(&client, &format!("{base}/status")).await;
    assert!(status["unclassified"]["count"].as_u64().is_some());
    // The key index is on, by patient: the printed key has a history across types.
    let started = Instant::now();
    let patient = loop {
        let patient = get_json(&client, &format!("{base}/keys/p-0007")).await;
        if patient["types"]["blood_pressure"].as_u64() > Some(0)
            && patient["types"]["heart_rate"].as_u64() > Some(0)
        {
            break patient;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{patient}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let page = get_json(&client, &format!("{base}/keys/p-0007/events?limit=5")).await;
    assert!(
        page["total"].as_u64() >= patient["total"].as_u64(),
        "{page}"
    );
    for event in page["events"].as_array().unwrap() {
        assert_eq!(event["value"]["patient"], "p-0007", "{event}");
    }

    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.starts_with(&format!(
            "analyzer demo, the audit page: http://localhost:{port}/"
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("curl http://localhost:{port}/stats")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("curl http://localhost:{port}/keys/p-0007")),
        "{printed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_demo_serves_decoded_delivery_events() {
    let (_demo, base, client) = demo_with("--avro");
    let created = "delivery.events.DeliveryCreatedV2";
    let stats = every_type_indexed(&client, &base).await;
    assert_eq!(
        stats.keys().collect::<Vec<_>>(),
        [created, "delivery.events.DeliveryOnHoldV6"]
    );
    let response = client
        .get(format!("{base}/events/{created}?index=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-avro-schema"], created);
    let event: serde_json::Value = response.json().await.unwrap();
    assert!(event["deliver_to"]["city"].is_string(), "{event}");
    assert!(event["items"][0]["price"].is_string(), "{event}");
    let raw = client
        .get(format!("{base}/delivery_on_hold?index=0&format=raw"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"], "application/octet-stream");
}

#[tokio::test(flavor = "multi_thread")]
async fn protobuf_demo_serves_orders_as_proto3_json() {
    let (_demo, base, client) = demo_with("--protobuf");
    let stats = every_type_indexed(&client, &base).await;
    assert_eq!(
        stats.keys().collect::<Vec<_>>(),
        ["order_placed", "order_shipped"]
    );
    let response = client
        .get(format!("{base}/events/order_placed?index=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-schema-type"], "PROTOBUF");
    let event: serde_json::Value = response.json().await.unwrap();
    // proto3 JSON: JSON names, int64 as a string, the enum by name, a Timestamp.
    assert!(event["orderId"].is_string(), "{event}");
    assert!(event["sequence"].is_string(), "{event}");
    assert!(event["total"]["units"].is_string(), "{event}");
    assert!(
        ["PLACED", "PAID", "CANCELLED"].contains(&event["status"].as_str().unwrap_or("")),
        "{event}"
    );
    assert!(
        event["placedAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{event}"
    );
    let shipped = get_json(&client, &format!("{base}/order_shipped?index=0")).await;
    assert!(
        shipped["transit"]
            .as_str()
            .is_some_and(|d| d.ends_with('s')),
        "{shipped}"
    );
}

/// `analyzer demo` with `flag`, at 500 events/s on a free port: the process
/// (killed when dropped), its base URL and a client.
fn demo_with(flag: &str) -> (KillOnDrop, String, reqwest::Client) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["demo", flag, "--port", &port.to_string(), "--rate", "500"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    (KillOnDrop(child), base, reqwest::Client::new())
}

/// `/stats`, once the demo answers.
async fn stats(client: &reqwest::Client, base: &str) -> Option<BTreeMap<String, u64>> {
    let response = client.get(format!("{base}/stats")).send().await.ok()?;
    response.json().await.ok()
}

/// `/stats` once every type has an event (the demo just started: waits up to 30 s).
async fn every_type_indexed(client: &reqwest::Client, base: &str) -> BTreeMap<String, u64> {
    let start = Instant::now();
    loop {
        if let Some(stats) = stats(client, base).await
            && stats.values().all(|n| *n > 0)
        {
            return stats;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no events indexed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
