#!/usr/bin/env bash
# Run `npm test` RUNS times in a row (default 5) on the current tree while two
# CPU-burning processes run beside it: the suite must stay green on a busy
# machine. The burners are killed at the end, on failure and on Ctrl-C too.
# Each run's output goes to a log file in the temp dir (kept only if a run
# failed); the last line is "N passed, N failed"
# (counting runs). Then, beside the same burners, the heavy scenarios
# (GRPC_DNS_WATCH_HEAVY=1, harness/heavy.ts: test/liveness-heavy.test.ts's
# 5,000 names behind a lossy server and 4,000 slow names beside fast ones,
# test/dnsmasq.cache.test.ts's cache taken away, and
# test/dnsmasq.demotion-channel.test.ts's AAAA added to a demoted name
# reaching a grpc-js channel in real time; too long for npm test, which runs
# their lighter versions) run once, counted as one more run. Exit status 0
# only if every run passed.
#
#   scripts/stress-test.sh            # 5 runs
#   RUNS=2 scripts/stress-test.sh     # fewer
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
BURNERS="${BURNERS:-2}"
# Each burner also stops by itself after this long, should the trap never run.
BURN_LIMIT_S="${BURN_LIMIT_S:-3600}"
LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/grpc-dns-watch-stress-XXXXXX")"

burner_pids=()
stop_burners() {
  for pid in "${burner_pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${burner_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  burner_pids=()
}
trap stop_burners EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 "$BURNERS"); do
  # A busy loop with nothing to wait on: one core's worth of load each.
  timeout "$BURN_LIMIT_S" node -e 'for (;;) {}' &
  burner_pids+=("$!")
done
echo "stress: ${RUNS} runs of npm test beside ${BURNERS} CPU burners (pids ${burner_pids[*]}); logs in ${LOG_DIR}"

passed=0
failed=0
interrupted=0
for run in $(seq 1 "$RUNS"); do
  log="${LOG_DIR}/run-${run}.log"
  started=$(date +%s)
  npm test >"$log" 2>&1
  status=$?
  if [ "$status" -eq 130 ] || [ "$status" -eq 143 ]; then
    echo "run ${run}/${RUNS}: interrupted"
    failed=$((failed + 1))
    interrupted=1
    break
  elif [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    verdict=passed
  else
    failed=$((failed + 1))
    verdict="FAILED (see ${log})"
  fi
  echo "run ${run}/${RUNS}: ${verdict} in $(($(date +%s) - started)) s"
  if [ "$verdict" != passed ]; then
    # The failing tests' names, so the summary says where without opening the log.
    grep -E '(FAIL|×) ' "$log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u | head -20 | sed 's/^/  /'
  fi
done

if [ "$interrupted" -eq 0 ]; then
  log="${LOG_DIR}/heavy.log"
  started=$(date +%s)
  GRPC_DNS_WATCH_HEAVY=1 npx vitest run test/liveness-heavy.test.ts test/dnsmasq.cache.test.ts test/dnsmasq.demotion-channel.test.ts >"$log" 2>&1
  if [ $? -eq 0 ]; then
    passed=$((passed + 1))
    echo "heavy tests: passed in $(($(date +%s) - started)) s"
  else
    failed=$((failed + 1))
    echo "heavy tests: FAILED (see ${log})"
    grep -E '(FAIL|×) ' "$log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u | head -20 | sed 's/^/  /'
  fi
fi

stop_burners
# Logs are kept only when a run failed.
if [ "$failed" -eq 0 ]; then rm -rf "$LOG_DIR"; fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
