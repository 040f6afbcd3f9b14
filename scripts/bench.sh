#!/usr/bin/env bash
# Runs the criterion suites and the reference scenarios, and writes out/bench/bench.csv
# (events/s, pods/s, peak memory, criterion means). Compare two such files with
#   orchsim compare old/bench.csv out/bench/bench.csv --threshold events_per_s=10%
# Wall-clock numbers: run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p orchsim-benches -- --warm-up-time 1 --measurement-time 3
cargo run --release -q -- bench --criterion target/criterion --out out/bench "$@"
