#!/usr/bin/env bash
# Runs BenchmarkApplyRetail (jobs/postgres/bench_test.go): a whole tierflow
# apply of the retail example against a throwaway PostgreSQL, beside a
# hand-written SQL UPDATE doing the same reclassification. Prints the
# machine, the load average around each run, the benchmark's figures
# (peak RSS of the apply included) and, with PROFILE set, the top of a CPU
# profile of the timed applies. docs/benchmarks.md records the results.
#
# Usage:
#   scripts/bench-apply.sh [CUSTOMERS...]    default: 1000000
#   BENCH=ApplyRetailSeparateSource BENCHTIME=1x scripts/bench-apply.sh 100000 1000000
#
# Environment:
#   BENCH       go test -bench, default 'ApplyRetail$' (facts and state in
#               one database); 'ApplyRetailSeparateSource' reads the facts
#               from another database and from a CSV file, 'ApplyRetail'
#               runs both
#   BENCHTIME   go test -benchtime, default 3x (iterations per size)
#   COUNT       go test -count, default 1 (each count repeats the setup)
#   PROFILE     a directory: write a CPU profile of the timed applies there
#               and print the top of it
#   TEST_DATABASE_URL, TIERFLOW_PGTEST_SKIP: as for the tests (internal/pgtest)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench=${BENCH:-'ApplyRetail$'}
benchtime=${BENCHTIME:-3x}
count=${COUNT:-1}
sizes=("$@")
((${#sizes[@]})) || sizes=(1000000)

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/postgres.test" ./jobs/postgres/

echo "== machine"
echo "cpus: $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sort -u | head -1))"
echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MB"}')"
go version
echo "(the PostgreSQL version is in the benchmark's log below)"

for n in "${sizes[@]}"; do
	echo
	echo "== $n customers, -bench '$bench' -benchtime $benchtime -count $count"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	profile=()
	if [[ -n "${PROFILE:-}" ]]; then
		mkdir -p "$PROFILE"
		profile=(env "TIERFLOW_BENCH_CPUPROFILE=$(realpath "$PROFILE")/apply-$n.pprof")
	fi
	start=$SECONDS
	# The test binary runs in the package directory, as go test would.
	(cd jobs/postgres && TIERFLOW_BENCH_CUSTOMERS=$n "${profile[@]}" \
		"$bin/postgres.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" \
		-test.count "$count" -test.timeout 0 -test.v)
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); took $((SECONDS - start))s"
	if [[ -n "${PROFILE:-}" ]]; then
		# apply-N.pprof for the co-located source, apply-N-database.pprof
		# and apply-N-csv.pprof for the separate ones.
		for p in "$PROFILE/apply-$n.pprof" "$PROFILE/apply-$n-database.pprof" "$PROFILE/apply-$n-csv.pprof"; do
			[[ -f "$p" ]] || continue
			echo "== profile $p"
			go tool pprof -top -nodecount 25 "$bin/postgres.test" "$p" 2>/dev/null | sed -n '1,35p'
		done
	fi
done
