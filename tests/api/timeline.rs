//! `/events/{type}/histogram`: counts by clock over equal spans, equal to what the
//! events' own timestamps give, for a type and for `unclassified`.

use crate::helpers::{Event, MOCK_WAIT, mock_cluster, produce, settings, spawn_app};

#[tokio::test]
async fn a_histogram_counts_each_span_as_the_events_timestamps_say() {
    let cluster = mock_cluster("events", 2);
    let brokers = cluster.bootstrap_servers();
    // 300 events a second apart from t0, spread over two partitions, types A and B
    // and some that are not JSON; partition 1's clock runs 30 s behind.
    let t0: i64 = 1_795_435_200_000;
    let events: Vec<Event> = (0..300)
        .map(|i| {
            let event = match i % 7 {
                6 => Event::raw(*b"not json"),
                k if k % 2 == 0 => Event::json("A", i),
                _ => Event::json("B", i),
            };
            let partition = (i % 2) as i32;
            let lag = if partition == 1 { 30_000 } else { 0 };
            event.on(partition).at_time(t0 + i as i64 * 1_000 - lag)
        })
        .collect();
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(300, MOCK_WAIT).await;
    // Each event's clock: the running maximum of its partition's timestamps.
    let kind = |i: usize| match i % 7 {
        6 => "unclassified",
        k if k % 2 == 0 => "A",
        _ => "B",
    };
    for event_type in ["A", "B", "unclassified"] {
        let clocks: Vec<u64> = events
            .iter()
            .enumerate()
            .filter(|(i, _)| kind(*i) == event_type)
            .map(|(_, e)| e.timestamp.unwrap() as u64)
            .collect();
        // The default span: the type's first clock to just past its last.
        let (status, body) = app
            .json(&format!("/events/{event_type}/histogram?buckets=7"))
            .await;
        assert_eq!(status, 200, "{body}");
        let from = body["from"].as_u64().unwrap();
        let to = body["to"].as_u64().unwrap();
        assert_eq!(from, *clocks.iter().min().unwrap(), "{body}");
        assert_eq!(to, clocks.iter().max().unwrap() + 1, "{body}");
        let counts: Vec<u64> = serde_json::from_value(body["counts"].clone()).unwrap();
        assert_eq!(counts.len(), 7);
        assert_eq!(counts.iter().sum::<u64>(), clocks.len() as u64, "{body}");
        let width = body["bucket_ms"].as_u64().unwrap();
        for (i, count) in counts.iter().enumerate() {
            let (start, end) = (
                from + width * i as u64,
                (from + width * (i as u64 + 1)).min(to),
            );
            let inside = clocks.iter().filter(|c| **c >= start && **c < end).count();
            assert_eq!(*count, inside as u64, "{event_type} span {i}: {body}");
        }
        let tentative: Vec<u64> = serde_json::from_value(body["tentative"].clone()).unwrap();
        assert!(tentative.iter().zip(&counts).all(|(t, c)| t <= c), "{body}");
    }
    // An explicit span in RFC 3339, and the answers it refuses.
    let (status, body) = app
        .json("/events/A/histogram?from=2026-11-24T00:00:00Z&to=2026-11-24T00:01:00Z&buckets=1")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["from"], 1_795_478_400_000u64);
    assert_eq!(body["bucket_ms"], 60_000);
    for (query, code) in [
        ("buckets=0", "invalid_query"),
        ("buckets=1001", "invalid_query"),
        ("from=10&to=5", "invalid_query"),
        ("from=yesterday", "invalid_query"),
    ] {
        let (status, body) = app.json(&format!("/events/A/histogram?{query}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    let (status, body) = app.json("/events/nothing/histogram").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_type")));
}
