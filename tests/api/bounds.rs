//! Bounded whatever producers do: the real binary on a topic of 200,000 events of
//! 200,000 distinct types (a type rule that picks a unique id), with
//! `classify.max_types = 1500`. Every event is accounted for, memory and every
//! response stay bounded, and the process stays up and ready.

use crate::helpers::{Binary, Event, TANSU_WAIT, broker, get_json, new_topic, produce};
use std::time::{Duration, Instant};

const EVENTS: usize = 200_000;
const MAX_TYPES: u64 = 1_500;
/// RSS the process stays under with the payload cache off: measured at 63 MiB (the
/// debug build, librdkafka's buffers, 1,500 small types and 198,500 unclassified
/// positions), so twice that is a regression, not noise.
const RSS_BOUND: u64 = 120 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_thousand_types_cannot_take_analyzer_or_its_scrapers_down() {
    let brokers = broker();
    let topic = new_topic(&brokers, "types", 3).await;
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| Event::json(&format!("id-{i:07}"), i).on((i % 3) as i32))
        .collect();
    produce(&brokers, &topic, &events).await;

    let binary = Binary::start(
        &[],
        &[
            ("ANALYZER_KAFKA__BROKERS", brokers.clone()),
            ("ANALYZER_KAFKA__TOPICS", topic.clone()),
            ("ANALYZER_CLASSIFY__MAX_TYPES", MAX_TYPES.to_string()),
            ("ANALYZER_CACHE__MAX_BYTES", "0".into()),
        ],
    )
    .await;
    let base = binary.base.clone();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let status = loop {
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await
            && response.status() == 200
        {
            let status = get_json(&client, &format!("{base}/status")).await;
            let refused = status["unclassified"]["by_reason"]["too_many_types"].as_u64();
            if refused == Some(EVENTS as u64 - MAX_TYPES) {
                break status;
            }
        }
        assert!(started.elapsed() < TANSU_WAIT, "not indexed in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Exact accounting: the first 1,500 types indexed, every later one kept as
    // unclassified (readable by position), nothing lost.
    let stats = get_json(&client, &format!("{base}/stats")).await;
    let stats = stats.as_object().unwrap();
    assert_eq!(stats.len() as u64, MAX_TYPES);
    let indexed: u64 = stats.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(indexed, MAX_TYPES);
    assert_eq!(status["unclassified"]["count"], EVENTS as u64 - MAX_TYPES);
    let response = client
        .get(format!("{base}/events/unclassified?index=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // /status lists the 1,000 largest types and says how many it left out.
    assert_eq!(status["types"].as_object().unwrap().len(), 1_000);
    assert_eq!(status["types_left_out"], MAX_TYPES - 1_000);
    let all = get_json(&client, &format!("{base}/status?types=all")).await;
    assert_eq!(all["types"].as_object().unwrap().len() as u64, MAX_TYPES);
    assert_eq!(all["types_left_out"], 0);

    // One scrape stays small: 500 type series and _other, summing to /stats.
    let scrape = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(scrape.len() < 100_000, "/metrics is {} bytes", scrape.len());
    let type_series: Vec<u64> = scrape
        .lines()
        .filter(|l| l.starts_with("analyzer_events_indexed_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(type_series.len(), 501);
    assert_eq!(type_series.iter().sum::<u64>(), indexed);
    assert!(scrape.contains(r#"analyzer_events_indexed_total{type="_other"} 1000"#));
    assert!(scrape.contains(&format!("analyzer_types {MAX_TYPES}")));

    let rss = binary.rss_bytes();
    println!(
        "RSS {} MiB, /metrics {} bytes, /status {} bytes",
        rss >> 20,
        scrape.len(),
        status.to_string().len()
    );
    assert!(rss < RSS_BOUND, "RSS {} MiB", rss >> 20);
    let live = client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    drop(binary);
}
