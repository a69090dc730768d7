#!/usr/bin/env bash
# go-test-sharded.sh: every Go test under the race detector, as `go test -race ./...`
# would run them, but with the api package (by far the longest: about 15 minutes alone)
# split into SHARDS (4) shards, every fourth test in each, that run beside each other and
# beside the other packages. Its tests spend much of their time waiting (on PostgreSQL,
# MinIO, the queue), so the shards use the machine's idle time. Every test runs once; the exit status is
# non-zero if any shard failed. Run it under bin/testrig (make test does).
set -u
GO=${GO:-go}
FLAGS=(-race -count=1 -timeout 20m)
api=github.com/unionportal/unionportal/api

others=$($GO list ./... | grep -vx "$api") || exit 1
# The api package's tests, listed from its race-built test binary (cached for the runs).
names=$($GO test -race -list '.*' ./api | grep -E '^(Test|Fuzz|Example)') || { echo "go-test-sharded: cannot list the api tests" >&2; exit 1; }
if [ "$(echo "$names" | wc -l)" -lt 20 ]; then
	echo "go-test-sharded: only $(echo "$names" | wc -l) api tests listed; refusing to run a partial suite" >&2
	exit 1
fi
SHARDS=${SHARDS:-4}
shard() { # every SHARDS-th name, from the $1-th
	echo "$names" | awk -v n="$SHARDS" -v k="$1" 'NR % n == k % n' | paste -sd '|'
}

run() { # label, go test arguments...
	local label=$1
	shift
	(set -o pipefail; $GO test "${FLAGS[@]}" "$@" 2>&1 | sed -u "s|^|[$label] |")
}
pids=()
run packages $others &
pids+=($!)
for k in $(seq 1 "$SHARDS"); do
	run "api $k/$SHARDS" -run "^($(shard "$k"))\$" ./api &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
if [ "$status" -ne 0 ]; then
	echo "go-test-sharded: some Go tests failed (see the lines marked FAIL above)" >&2
fi
exit "$status"
