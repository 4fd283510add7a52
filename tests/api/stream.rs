//! `/events/{type}/stream`: a live tail as Server-Sent Events. Every event once,
//! live as produced (a lagging partition's too), resumed by `Last-Event-ID`, never
//! compressed, bounded in number, heartbeats while idle, and `event: overflow` for
//! a client that reads slower than events come.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::helpers::{Event, MOCK_WAIT, TestApp, mock_cluster, produce, settings, spawn_app};

/// An open stream and what was read of it.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

/// One message: its id, event name and data (comments kept as `comment`).
#[derive(Debug, Default)]
struct Message {
    id: Option<u64>,
    event: Option<String>,
    data: String,
    comment: Option<String>,
}

impl Sse {
    async fn open(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = app.client.get(format!("{}{path}", app.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// The next message, waiting at most `within`.
    async fn next(&mut self, within: Duration) -> Option<Message> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut message = Message::default();
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        message.comment = Some(comment.trim().to_owned());
                    } else if let Some(id) = line.strip_prefix("id: ") {
                        message.id = id.parse().ok();
                    } else if let Some(event) = line.strip_prefix("event: ") {
                        message.event = Some(event.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        message.data.push_str(data);
                    }
                }
                return Some(message);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next `n` events (comments skipped), as (id, item).
    async fn events(&mut self, n: usize) -> Vec<(u64, serde_json::Value)> {
        let mut events = Vec::new();
        while events.len() < n {
            let message = self
                .next(MOCK_WAIT)
                .await
                .unwrap_or_else(|| panic!("{} of {n} events came", events.len()));
            if let Some(id) = message.id {
                events.push((id, serde_json::from_str(&message.data).unwrap()));
            }
        }
        events
    }
}

fn at(partition: i32, t: i64) -> Event {
    Event::json("A", t as usize)
        .on(partition)
        .at_time(1_795_435_200_000 + t * 1_000)
}

#[tokio::test]
async fn a_tail_sends_every_event_once_live_and_resumes_after_its_last_id() {
    let cluster = mock_cluster("tailed", 2);
    let brokers = cluster.bootstrap_servers();
    let first: Vec<Event> = (0..20).map(|t| at((t % 2) as i32, t)).collect();
    produce(&brokers, "tailed", &first).await;
    let app = spawn_app(&settings(&brokers, &["tailed"])).await;
    app.wait_for_total(20, MOCK_WAIT).await;

    // Asked for gzip, it is not compressed: an event must not wait in a buffer.
    let response = Sse::open(
        &app,
        "/events/A/stream?from=0",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(
        response
            .headers()
            .get("content-encoding")
            .is_none_or(|e| e != "gzip")
    );
    let mut sse = Sse {
        response,
        buffer: String::new(),
    };
    let sent = sse.events(20).await;
    let ids: Vec<u64> = sent.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    for (id, item) in &sent {
        assert_eq!(item["index"], *id, "{item}");
    }
    // Live: partition 0 runs ahead, then partition 1 brings earlier events, which
    // take places before tentative ones. Each is sent once, when it arrives.
    let ahead: Vec<Event> = (40..45).map(|t| at(0, t)).collect();
    produce(&brokers, "tailed", &ahead).await;
    let lagging: Vec<Event> = (30..35).map(|t| at(1, t)).collect();
    produce(&brokers, "tailed", &lagging).await;
    let live = sse.events(10).await;
    let mut positions = BTreeSet::new();
    for (_, item) in sent.iter().chain(&live) {
        let position = (
            item["partition"].as_i64().unwrap(),
            item["offset"].as_i64().unwrap(),
        );
        assert!(positions.insert(position), "sent twice: {item}");
    }
    assert_eq!(positions.len(), 30);
    // Nothing more.
    let more = sse.next(Duration::from_millis(500)).await;
    assert!(more.as_ref().is_none_or(|m| m.id.is_none()), "{more:?}");
    drop(sse);

    // Resumed after the last id a client saw.
    let response = Sse::open(&app, "/events/A/stream", &[("Last-Event-ID", "24")]).await;
    let mut sse = Sse {
        response,
        buffer: String::new(),
    };
    let resumed = sse.events(5).await;
    assert_eq!(
        resumed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [25, 26, 27, 28, 29]
    );
    let (status, body) = app.json("/events/A/stream?from=x").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, body) = app.json("/events/Nope/stream").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_type")));
}

#[tokio::test]
async fn tails_are_bounded_beat_while_idle_and_overflow_when_too_slow() {
    let cluster = mock_cluster("bounded", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "bounded", &[at(0, 0)]).await;
    let mut settings = settings(&brokers, &["bounded"]);
    settings.http.max_streams = 1;
    settings.http.stream_heartbeat_secs = 1;
    settings.http.stream_max_lag = 50;
    let app = spawn_app(&settings).await;
    app.wait_for_total(1, MOCK_WAIT).await;

    let response = Sse::open(&app, "/events/A/stream", &[]).await;
    let mut idle = Sse {
        response,
        buffer: String::new(),
    };
    // One open already: the next is refused.
    let (status, body) = app.json("/events/A/stream").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("too_many_streams")),
        "{body}"
    );
    // An idle tail beats.
    let started = Instant::now();
    loop {
        let message = idle
            .next(Duration::from_secs(5))
            .await
            .expect("a heartbeat");
        if message.comment.as_deref() == Some("heartbeat") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    // It stops reading while events keep coming faster than it reads: overflow.
    for wave in 0..4 {
        let events: Vec<Event> = (0..5_000).map(|t| at(0, 10 + wave * 5_000 + t)).collect();
        produce(&brokers, "bounded", &events).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let started = Instant::now();
    let overflowed = loop {
        match idle.next(Duration::from_secs(10)).await {
            Some(message) if message.event.as_deref() == Some("overflow") => break message,
            Some(_) => assert!(started.elapsed() < MOCK_WAIT, "no overflow"),
            None => panic!("closed without overflow"),
        }
    };
    assert!(overflowed.data.contains("stream_max_lag"), "{overflowed:?}");
    assert!(
        idle.next(Duration::from_secs(5)).await.is_none(),
        "not closed after overflow"
    );
    drop(idle);
    // Its place is free again.
    let started = Instant::now();
    loop {
        let response = Sse::open(&app, "/events/A/stream", &[]).await;
        if response.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `/keys/{key}/stream`: the key's events across types, each once with its type
/// and its place in the key's history as id, live (a lagging partition's too),
/// other keys' events left out, resumed by `Last-Event-ID`.
#[tokio::test]
async fn a_key_tail_sends_the_keys_events_across_types_once() {
    let cluster = mock_cluster("keytail", 2);
    let brokers = cluster.bootstrap_servers();
    let keyed = |event_type: &str, partition: i32, t: i64, key: &[u8]| {
        Event::json(event_type, t as usize)
            .on(partition)
            .at_time(1_795_435_200_000 + t * 1_000)
            .with_key(key)
    };
    let first: Vec<Event> = (0..12)
        .map(|t| {
            let event_type = if t % 3 == 0 { "B" } else { "A" };
            let key: &[u8] = if t % 2 == 0 { b"p-1" } else { b"p-2" };
            keyed(event_type, (t % 2) as i32, t, key)
        })
        .collect();
    produce(&brokers, "keytail", &first).await;
    let mut settings = settings(&brokers, &["keytail"]);
    settings.keys.by = analyzer::config::KeysBy::KafkaKey;
    let app = spawn_app(&settings).await;
    app.wait_for_total(12, MOCK_WAIT).await;

    let response = Sse::open(&app, "/keys/p-1/stream?from=0", &[]).await;
    assert_eq!(response.status(), 200);
    let mut sse = Sse {
        response,
        buffer: String::new(),
    };
    let sent = sse.events(6).await;
    assert_eq!(
        sent.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    let (_, history) = app.json("/keys/p-1/events?limit=1000").await;
    for ((_, item), listed) in sent.iter().zip(history["events"].as_array().unwrap()) {
        assert_eq!(
            item, listed,
            "the stream sends what /keys/{{key}}/events lists"
        );
    }
    assert!(sent.iter().any(|(_, item)| item["type"] == "B"));

    // Live: partition 0 runs ahead, partition 1 brings earlier events; another
    // key's events are not sent.
    let ahead: Vec<Event> = (40..44).map(|t| keyed("A", 0, t, b"p-1")).collect();
    produce(&brokers, "keytail", &ahead).await;
    let lagging: Vec<Event> = (20..23)
        .map(|t| keyed("B", 1, t, b"p-1"))
        .chain((20..23).map(|t| keyed("A", 1, t, b"p-2")))
        .collect();
    produce(&brokers, "keytail", &lagging).await;
    let live = sse.events(7).await;
    let mut positions = BTreeSet::new();
    for (_, item) in sent.iter().chain(&live) {
        assert_eq!(item["key"], "p-1", "{item}");
        let position = (
            item["partition"].as_i64().unwrap(),
            item["offset"].as_i64().unwrap(),
        );
        assert!(positions.insert(position), "sent twice: {item}");
    }
    assert_eq!(positions.len(), 13);
    let more = sse.next(Duration::from_millis(500)).await;
    assert!(more.as_ref().is_none_or(|m| m.id.is_none()), "{more:?}");
    drop(sse);

    // Resumed after the last id a client saw: the rest of the history, in order.
    let response = Sse::open(&app, "/keys/p-1/stream", &[("Last-Event-ID", "9")]).await;
    let mut sse = Sse {
        response,
        buffer: String::new(),
    };
    let resumed = sse.events(3).await;
    assert_eq!(
        resumed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    let (_, history) = app.json("/keys/p-1/events?from=10").await;
    for ((_, item), listed) in resumed.iter().zip(history["events"].as_array().unwrap()) {
        assert_eq!(item, listed);
    }
    let (status, body) = app.json("/keys/nobody/stream").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_such_key")));
}
