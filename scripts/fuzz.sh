#!/usr/bin/env bash
# Fuzzes a target of carecascade's readers for a time, keeping the inputs
# that crash (a panic, a stack overflow, an allocation failure) or hang it
# in fuzz/crashes/TARGET/. Stable Rust only; see fuzz/src/lib.rs.
#
#   scripts/fuzz.sh TARGET SECONDS [carecascade-fuzz options...]
#
# TARGET is equation, native, xmile, vensim, scenario, or all (the time is
# shared between them). Options: --seed X (a campaign is a function of its
# seed), --inputs N, --timeout S (a hang, 10 s by default), --memory MB (a
# worker's cap, 2048 by default), --crashes DIR. Replay a saved input with
#   target/release/carecascade-fuzz replay TARGET FILE
# and, once fixed, keep it in fuzz/regressions/TARGET/ (a test runs them).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    echo "usage: scripts/fuzz.sh TARGET|all SECONDS [options]" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2
if [ "$target" = all ]; then
    targets=(equation native xmile vensim scenario)
else
    targets=("$target")
fi
each=$(awk -v s="$seconds" -v n="${#targets[@]}" 'BEGIN { printf "%.1f", s / n }')

cargo build --release --quiet -p carecascade-fuzz
status=0
for t in "${targets[@]}"; do
    target/release/carecascade-fuzz "$t" --seconds "$each" "$@" || status=1
done
exit $status
