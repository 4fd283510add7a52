//! analyzer as a drop-in for the original audit service: the real binary, started on
//! `examples/seed-dropin.toml` against tansu, passes schemathesis run against that
//! service's own contract (`../shared/seed-contract/openapi.yaml`, or its checked-in
//! copy in a clone without it), not ours.

use crate::helpers::{Binary, Event, broker, new_topic, produce, schemathesis};
use std::path::Path;
use std::time::{Duration, Instant};

/// The original service's contract: `../shared/seed-contract/openapi.yaml` from the
/// project root where that exists (and then the checked-in copy must equal it), else
/// the copy, `tests/contract/seed-openapi.yaml`, so a clone on its own still runs this.
fn contract(root: &Path) -> std::path::PathBuf {
    let copy = root.join("tests/contract/seed-openapi.yaml");
    let shared = root.join("../shared/seed-contract/openapi.yaml");
    if shared.is_file() {
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            std::fs::read_to_string(&shared).unwrap(),
            "tests/contract/seed-openapi.yaml differs from {}; copy it again",
            shared.display()
        );
        return shared;
    }
    println!("{} absent: using the checked-in copy", shared.display());
    copy
}

/// A reading shaped as the contract's `BloodPressureReading` or `HeartRateReading`,
/// with the `type` field the example configuration classifies by.
fn reading(seq: usize) -> Event {
    let patient = format!("3fa85f64-5717-4562-b3fc-{seq:012x}");
    let timestamp = format!("2026-11-30T10:{:02}:{:02}Z", seq / 60 % 60, seq % 60);
    let value = if seq.is_multiple_of(2) {
        serde_json::json!({
            "type": "blood_pressure", "patient_id": patient, "device_id": format!("bp-{}", seq % 7),
            "blood_pressure": {"systolic": 110 + seq % 30, "diastolic": 70 + seq % 20},
            "timestamp": timestamp,
        })
    } else {
        serde_json::json!({
            "type": "heart_rate", "patient_id": patient, "device_id": format!("hr-{}", seq % 5),
            "heart_rate": 60 + seq % 40, "timestamp": timestamp,
        })
    };
    Event::raw(value.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_contract_holds_under_schemathesis_with_the_example_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contract = contract(root);
    let brokers = broker();
    let topic = new_topic(&brokers, "dropin", 1).await;
    let readings: Vec<Event> = (0..300).map(reading).collect();
    produce(&brokers, &topic, &readings).await;

    // The example file as shipped; only where the broker and port are comes from the
    // environment, as a deployment would set them.
    let example = root.join("examples/seed-dropin.toml");
    let binary = Binary::start(
        &["--config".as_ref(), example.as_os_str()],
        &[
            ("ANALYZER_KAFKA__BROKERS", brokers.clone()),
            ("ANALYZER_KAFKA__TOPICS", topic.clone()),
        ],
    )
    .await;
    let base = binary.base.clone();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let stats = loop {
        if let Ok(response) = client.get(format!("{base}/stats")).send().await
            && let Ok(stats) = response.json::<serde_json::Value>().await
            && stats == serde_json::json!({"num_bp": 150, "num_hr": 150})
        {
            break stats;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not indexed in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("/stats: {stats}");

    // The contract leaves `index` optional and unbounded; analyzer answers a missing,
    // negative or out-of-range index with 400, a status the contract lists for invalid
    // requests. positive_data_acceptance expects a 2xx for every schema-valid request,
    // so it is the one check left out.
    let extra = [
        "--url",
        &base,
        "--exclude-checks",
        "positive_data_acceptance",
    ];
    schemathesis(
        contract.display().to_string(),
        extra.map(str::to_owned).to_vec(),
    )
    .await;

    // The same answers an audit UI of the old service reads.
    let first: serde_json::Value = client
        .get(format!("{base}/heart_rate?index=0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["heart_rate"], 61);
}
