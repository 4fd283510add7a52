//! Graceful shutdown of the real binary: SIGTERM during a request lets the request
//! finish, then the process stops ingest and exits 0, logging each step.

use crate::helpers::{Event, config_file, free_port, get_json, produce};
use rdkafka::mocking::MockCluster;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_request_finishes_it_then_exits_0() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let events = [Event::json("A", 0), Event::json("A", 1)];
    produce(&brokers, "events", &events).await;

    let port = free_port();
    let (dir, config) = config_file(
        "shutdown",
        &format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"events\"]\n\
             [kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\
             [http]\nbind = \"127.0.0.1:{port}\"\nshutdown_timeout_secs = 10\n\
             [cache]\nmax_bytes = 0\n"
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("--config")
        .arg(&config)
        .env(
            "RUST_LOG",
            "info,analyzer=debug,actix_server=trace,actix_http=debug",
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained as it comes: trace logs can fill a pipe read only after exit, and a
    // child blocked on a full pipe never exits.
    let mut stderr = child.stderr.take().unwrap();
    let draining = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = stderr.read_to_string(&mut log);
        log
    });

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let ready = client.get(format!("{base}/health/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A first uncached read warms the point-read consumer's connection.
    let warm = client.get(format!("{base}/events/A?index=1")).send().await;
    let warm = warm.unwrap();
    assert_eq!(warm.status(), 200);
    warm.bytes().await.unwrap();

    // Make the next point read slow, start it, and send SIGTERM while it runs.
    cluster
        .broker_round_trip_time(1, Duration::from_millis(700))
        .unwrap();
    let in_flight = {
        let (client, url) = (client.clone(), format!("{base}/events/A?index=0"));
        tokio::spawn(async move { client.get(url).send().await })
    };
    // In flight for sure: its cache miss (the 2nd) is counted before it reads Kafka.
    let misses = || async {
        let status = get_json(&client, &format!("{base}/status")).await;
        status["cache"]["misses"].as_u64().unwrap()
    };
    let asked = Instant::now();
    while misses().await < 2 {
        assert!(
            asked.elapsed() < Duration::from_secs(30),
            "the slow lookup never reached Kafka"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let answered = in_flight.await.unwrap();
    let stopping = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = draining.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let response = answered.unwrap_or_else(|e| panic!("in-flight request failed: {e}\n{log}"));
    assert_eq!(response.status(), 200, "{log}");
    assert_eq!(
        response.bytes().await.unwrap(),
        events[0].value.clone().unwrap()
    );
    assert_eq!(exit.code(), Some(0), "{log}");
    let mut last = 0;
    for step in [
        "SIGTERM received",
        "HTTP server stopped",
        "stopping ingest",
        "ingest stopped",
    ] {
        let at = log[last..]
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} not logged in order:\n{log}"));
        last += at;
    }
}
