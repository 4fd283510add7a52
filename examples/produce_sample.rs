//! Writes a sample mixed stream (blood_pressure, heart_rate, a few malformed) to a
//! topic: `cargo run --example produce_sample -- BROKERS TOPIC COUNT`.

use std::process::ExitCode;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(brokers), Some(topic)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: produce_sample BROKERS TOPIC [COUNT]");
        return ExitCode::from(2);
    };
    let count: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(1000);
    let producer: FutureProducer = match ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
    {
        Ok(producer) => producer,
        Err(e) => {
            eprintln!("cannot create producer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0;
    for seq in 0..count {
        let device = format!("device-{}", seq % 7);
        let value = match seq % 50 {
            49 => "not json: a malformed event".to_owned(),
            n if n % 5 < 2 => format!(
                r#"{{"type":"blood_pressure","device":"{device}","seq":{seq},"systolic":{},"diastolic":{}}}"#,
                110 + seq % 30,
                70 + seq % 15
            ),
            _ => format!(
                r#"{{"type":"heart_rate","device":"{device}","seq":{seq},"bpm":{}}}"#,
                60 + seq % 40
            ),
        };
        let record = FutureRecord::<(), str>::to(topic).payload(&value);
        if let Err((e, _)) = producer.send(record, Duration::from_secs(10)).await {
            eprintln!("event {seq} not delivered: {e}");
            failed += 1;
        }
    }
    println!(
        "produced {} events to {topic} ({failed} failed)",
        count - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
