#!/usr/bin/env bash
# Where P1's time goes, in instructions (callgrind counts are repeatable on a shared, busy machine;
# wall clock is not). Runs N1 and N2 creates (then updates) through the engine and through the raw rusqlite
# transaction, each in its own process under callgrind, and prints instructions per op as
# (Ir(N2) - Ir(N1)) / (N2 - N1), so process start, migrations and the corpus cancel out.
# Usage: crates/bench/callgrind.sh [N1 N2]   (needs a release build of deckhand-bench)
# Keeps the callgrind.out files in $OUT (default target/callgrind) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${1:-500}
N2=${2:-1500}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/deckhand-bench}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/callgrind}
mkdir -p "$OUT"
ir() { # child n [dir with a deckhand.db to start from] -> total Ir of the whole process (all threads)
  local d; d=$(mktemp -d)
  if [ -n "${3:-}" ]; then cp "$3/deckhand.db" "$d/"; fi
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$1-$2.out" "$BIN" --child "$1" "$d" "$2" >/dev/null 2>"$OUT/$1-$2.log"
  rm -rf "$d"
  grep -E '^(summary|totals):' "$OUT/$1-$2.out" | head -1 | awk '{print $2}'
}
per_op() { # what ("create"/"update") child-suffix [db dir] -> prints engine and raw per op, and the ratio
  local kind a b per_raw per_engine
  for kind in raw engine; do
    a=$(ir "p1-$kind$2" "$N1" "${3:-}"); b=$(ir "p1-$kind$2" "$N2" "${3:-}")
    eval "per_$kind=$(( (b - a) / (N2 - N1) ))"
    echo "$kind: $(( (b - a) / (N2 - N1) )) instructions per $1 (Ir $a at $N1, $b at $N2)"
  done
  awk -v e="$per_engine" -v r="$per_raw" -v w="$1" 'BEGIN { printf "%s, engine / raw: %.2fx in instructions\n", w, e / r }'
}
if [ "${SKIP_P1:-}" != "1" ]; then
  per_op create ""
  # P1 update: the same on copies of P1's 10,000 confirmed cards (built by a P1 run of the bench).
  # The engine's total then also counts its background work on the copied file (the index build,
  # the page check after open), which does not scale with N: read the update's own cost as the
  # inclusive count of `Engine::update_labelled`'s store closure (callgrind_annotate --inclusive=yes).
  UPD_DB=$(ls -d "${CARGO_TARGET_DIR:-target}"/bench-data/p1-10k-confirmed-*/ 2>/dev/null | tail -1)
  if [ -n "$UPD_DB" ]; then per_op update -update "$UPD_DB"; else echo "update: no P1 database yet (run the bench's P1 once)"; fi
fi

# P5: the server's instructions per delivered SSE event. The server runs under callgrind
# (DECKHAND_BENCH_SERVER_WRAP) with S subscribers at a slow write rate (so the profiled server
# keeps up and nothing goes through the lag/replay path); W1 and W2 writes, 3 servers each; per
# event = (median Ir(W2) - median Ir(W1)) / ((W2 - W1) * S), so startup and stream setup cancel
# (each write's own handling, about 1/S of it, stays in).
S=${P5_SUBS:-200}; W1=${P5_W1:-20}; W2=${P5_W2:-60}; RATE=${P5_RATE:-5}
p5() { # writes -> median total Ir of the 3 server processes
  rm -f "$OUT"/p5-"$1"-*.out
  DECKHAND_BENCH_P5="$S,$1,$RATE" DECKHAND_BENCH_SERVER_WRAP="valgrind --tool=callgrind --callgrind-out-file=$OUT/p5-$1-%p.out" \
    "$BIN" --only P5 --quick >"$OUT/p5-$1.log" 2>&1
  for f in "$OUT"/p5-"$1"-*.out; do grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}'; done | sort -n | sed -n 2p
}
if [ "${SKIP_P5:-}" != "1" ]; then
  a=$(p5 "$W1"); b=$(p5 "$W2")
  echo "P5 server: $(( (b - a) / ((W2 - W1) * S) )) instructions per delivered event ($S subscribers; Ir $a at $W1 writes, $b at $W2)"
  grep -h "^P5" "$OUT/p5-$W2.log" | sed 's/  */ /g' | cut -c1-400
fi
