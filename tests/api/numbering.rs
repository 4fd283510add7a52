//! The one numbering, on tansu with producer-set timestamps: the same index names the
//! same event in an analyzer that tailed the topic, one started mid-way and one
//! started afterwards; every index, settled flag, time seek and position lookup is
//! what the rule computed from the produced log says.

use crate::helpers::{Event, TANSU_WAIT, TestApp, broker, new_topic, produce, settings, spawn_app};
use analyzer::config::RouteSettings;
use analyzer::view::{Lookup, UNCLASSIFIED};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One produced event, where it landed and what the rule needs of it.
#[derive(Debug, Clone)]
struct Produced {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: i64,
    event_type: String,
}

/// An event's place by the rule: (clock, topic, partition, offset).
type Place = (u64, String, i32, i64);

/// The rule, computed from the log: per type, events sorted by (clock, topic name,
/// partition, offset), where the clock is the running maximum of the partition's
/// timestamps; and each partition's final clock.
fn numbering(produced: &[Produced]) -> (BTreeMap<String, Vec<Place>>, Vec<u64>) {
    let mut log = produced.to_vec();
    log.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    let mut clocks: BTreeMap<(String, i32), u64> = BTreeMap::new();
    let mut by_type: BTreeMap<String, Vec<Place>> = BTreeMap::new();
    for event in log {
        let clock = clocks
            .entry((event.topic.clone(), event.partition))
            .or_default();
        *clock = (*clock).max(event.timestamp as u64);
        by_type.entry(event.event_type).or_default().push((
            *clock,
            event.topic,
            event.partition,
            event.offset,
        ));
    }
    for places in by_type.values_mut() {
        places.sort();
    }
    (by_type, clocks.into_values().collect())
}

/// A random event of type A (half), B, or not JSON (unclassified), at `timestamp`.
fn random_event(
    rng: &mut impl Rng,
    seq: usize,
    partitions: i32,
    timestamp: i64,
) -> (Event, String) {
    let roll = rng.random_range(0..100);
    let (event, event_type) = if roll < 5 {
        (Event::raw(format!("not json {seq}")), UNCLASSIFIED)
    } else if roll < 55 {
        (Event::json("A", seq), "A")
    } else {
        (Event::json("B", seq), "B")
    };
    let event = event.on(rng.random_range(0..partitions)).at_time(timestamp);
    (event, event_type.to_owned())
}

async fn produce_recorded(
    brokers: &str,
    topic: &str,
    events: Vec<(Event, String)>,
    produced: &mut Vec<Produced>,
) {
    let (events, types): (Vec<Event>, Vec<String>) = events.into_iter().unzip();
    let positions = produce(brokers, topic, &events).await;
    for ((event, event_type), (partition, offset)) in events.iter().zip(types).zip(positions) {
        produced.push(Produced {
            topic: topic.to_owned(),
            partition,
            offset,
            timestamp: event.timestamp.unwrap(),
            event_type,
        });
    }
}

/// Waits until `app` has read everything and settled up to `watermark`.
async fn wait_settled(app: &TestApp, total: u64, watermark: u64) {
    app.wait_for_total(total, TANSU_WAIT).await;
    let start = Instant::now();
    while app.view.watermark() < watermark {
        assert!(
            start.elapsed() < TANSU_WAIT,
            "watermark {} never reached {watermark}",
            app.view.watermark()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.view.watermark(), watermark, "watermark past the rule's");
}

/// Every index of every type in `app` is the model's event, settled as the rule says.
fn assert_numbering(
    app: &TestApp,
    topics: &[&str],
    model: &BTreeMap<String, Vec<Place>>,
    watermark: u64,
) {
    for (event_type, places) in model {
        let index = app.view.type_index(event_type).unwrap();
        assert_eq!(index.len(), places.len() as u64, "{event_type}");
        for (i, (clock, topic, partition, offset)) in places.iter().enumerate() {
            let Lookup::Found(found) = app.view.get(event_type, i as u64) else {
                panic!("{event_type}#{i} not found");
            };
            let position = found.position;
            assert_eq!(
                (
                    topics[usize::from(position.topic.0)],
                    position.partition,
                    position.offset
                ),
                (topic.as_str(), *partition, *offset),
                "{event_type}#{i}"
            );
            assert_eq!(found.clock, *clock, "{event_type}#{i}");
            assert_eq!(
                found.settled,
                *clock < watermark,
                "{event_type}#{i} settled"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_analyzers_number_a_three_partition_topic_alike() {
    let brokers = broker();
    let topic = new_topic(&brokers, "numbering", 3).await;
    let mut config = settings(&brokers, &[&topic]);
    config.routes.push(RouteSettings {
        path: "/a".into(),
        event_type: "A".into(),
        stats_key: None,
    });
    let tailing = spawn_app(&config).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let base = 1_790_000_000_000i64;
    let mut produced = Vec::new();
    let mut midway = None;
    for burst in 0..3 {
        // Timestamps out of order within a burst, and across partitions.
        let events = (0..2_000)
            .map(|i| {
                let timestamp = base + burst * 10_000 + rng.random_range(0..8_000);
                random_event(&mut rng, burst as usize * 2_000 + i, 3, timestamp)
            })
            .collect();
        produce_recorded(&brokers, &topic, events, &mut produced).await;
        if burst == 0 {
            midway = Some(spawn_app(&config).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let afterwards = spawn_app(&config).await;
    let (model, final_clocks) = numbering(&produced);
    // Every partition at its end, within max_lateness of the others: the lowest.
    let watermark = final_clocks.iter().copied().min().unwrap();
    let apps = [&tailing, midway.as_ref().unwrap(), &afterwards];
    for app in apps {
        wait_settled(app, produced.len() as u64, watermark).await;
        assert_numbering(app, &[&topic], &model, watermark);
    }
    let tentative: usize = model
        .values()
        .map(|places| places.iter().filter(|p| p.0 >= watermark).count())
        .sum();
    assert!(tentative > 0, "some events are above the watermark");
    let (_, status) = afterwards.json("/status").await;
    assert_eq!(status["order"]["tentative"], tentative);
    assert_eq!(status["order"]["watermark_ms"], watermark);
    for (event_type, places) in &model {
        let section = if event_type == UNCLASSIFIED {
            &status["unclassified"]
        } else {
            &status["types"][event_type]
        };
        let settled = places.iter().filter(|p| p.0 < watermark).count();
        assert_eq!(section["settled"], settled, "{event_type}");
    }

    // Over HTTP: 200 time seeks and 200 positions, each as the model says.
    let (low, high) = (base - 100, base + 30_100);
    for probe in 0..200 {
        let event_type = ["A", "B", UNCLASSIFIED][probe % 3];
        let places = &model[event_type];
        let time = rng.random_range(low..high);
        let expected = places.iter().position(|p| p.0 >= time as u64);
        // Aliases take ?time= too; RFC 3339 and epoch ms name the same instant.
        let path = match probe % 4 {
            0 if event_type == "A" => format!("/a?time={time}"),
            1 => {
                let rfc3339 =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time) * 1_000_000)
                        .unwrap()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap();
                format!("/events/{event_type}?time={}", rfc3339.replace('+', "%2B"))
            }
            _ => format!("/events/{event_type}?time={time}"),
        };
        match expected {
            Some(index) => {
                let fetched = afterwards.event(&path).await;
                let (clock, _, partition, offset) = &places[index];
                assert_eq!(fetched.index, index as u64, "{path}");
                assert_eq!(
                    (fetched.partition, fetched.offset),
                    (*partition, *offset),
                    "{path}"
                );
                assert_eq!(fetched.settled, *clock < watermark, "{path}");
            }
            None => {
                let message = afterwards.error_message(&path, 404).await;
                assert!(message.contains("no event at or after"), "{message}");
            }
        }
    }
    for _ in 0..200 {
        let event = &produced[rng.random_range(0..produced.len())];
        let places = &model[&event.event_type];
        let index = places
            .iter()
            .position(|p| (p.2, p.3) == (event.partition, event.offset))
            .unwrap();
        let path = format!("/positions/{topic}/{}/{}", event.partition, event.offset);
        let (status, body) = afterwards.json(&path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body,
            serde_json::json!({
                "type": event.event_type,
                "index": index,
                "settled": places[index].0 < watermark,
            }),
            "{path}"
        );
    }
    let past_end = format!("/positions/{topic}/0/{}", produced.len());
    let (status, body) = afterwards.json(&past_end).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("position_not_indexed"))
    );
    let (status, body) = afterwards.json("/positions/no-such-topic/0/0").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("position_not_indexed"))
    );
    let (status, body) = afterwards.json(&format!("/positions/{topic}/x/0")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, body) = afterwards.json("/events/A?index=0&time=0").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_partition_keeps_topic_order_whatever_the_timestamps() {
    let brokers = broker();
    let topic = new_topic(&brokers, "numbering1", 1).await;
    // The seed topic [A, B, A, A, B], its timestamps going backwards.
    let events: Vec<Event> = ["A", "B", "A", "A", "B"]
        .iter()
        .enumerate()
        .map(|(i, t)| Event::json(t, i).at_time(1_790_000_000_500 - 100 * i as i64))
        .collect();
    produce(&brokers, &topic, &events).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_for_total(5, TANSU_WAIT).await;
    app.wait_caught_up(TANSU_WAIT).await;
    let a2 = app.event("/events/A?index=2").await;
    assert_eq!((a2.offset, a2.index), (3, 2));
    let b1 = app.event("/events/B?index=1").await;
    assert_eq!(b1.offset, 4);
    // Every clock is 500 (the running maximum), which the watermark reaches but is
    // not below: by the rule, tentative.
    assert!(!a2.settled && !b1.settled);
    // Epoch ms at the first timestamp: the first event of each type.
    let a0 = app.event("/events/A?time=1790000000500").await;
    assert_eq!((a0.offset, a0.index), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_topics_listed_in_either_order_number_alike() {
    let brokers = broker();
    // Name order ("numbering-x" < "numbering-y") differs from one configuration's order.
    let x = new_topic(&brokers, "numbering-x", 2).await;
    let y = new_topic(&brokers, "numbering-y", 2).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(29);
    let base = 1_790_000_000_000i64;
    let mut produced = Vec::new();
    for topic in [&x, &y] {
        // Coarse timestamps: many equal clocks across topics and partitions, which
        // the topic name and then the partition decide.
        let events = (0..1_000)
            .map(|i| {
                let timestamp = base + 10 * rng.random_range(0..30);
                random_event(&mut rng, i, 2, timestamp)
            })
            .collect();
        produce_recorded(&brokers, topic, events, &mut produced).await;
    }
    let (model, final_clocks) = numbering(&produced);
    let watermark = final_clocks.iter().copied().min().unwrap();
    let x_first = spawn_app(&settings(&brokers, &[&x, &y])).await;
    let y_first = spawn_app(&settings(&brokers, &[&y, &x])).await;
    wait_settled(&x_first, produced.len() as u64, watermark).await;
    wait_settled(&y_first, produced.len() as u64, watermark).await;
    assert_numbering(&x_first, &[&x, &y], &model, watermark);
    assert_numbering(&y_first, &[&y, &x], &model, watermark);
}
