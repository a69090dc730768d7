#!/usr/bin/env bash
# go-test-sharded.sh: every Go test under the race detector, as `go test -race ./...`
# would run them, but with the api package (by far the longest: about 15 minutes alone)
# split into two shards that run beside each other and beside the other packages. Its
# tests spend much of their time waiting (on PostgreSQL, MinIO, the queue), so two
# shards use the machine's second core. Every test runs once; the exit status is
# non-zero if any shard failed. Run it under bin/testrig (make test does).
set -u
GO=${GO:-go}
FLAGS=(-race -count=1 -timeout 20m)
api=github.com/unionportal/unionportal/api

others=$($GO list ./... | grep -vx "$api") || exit 1
# The api package's tests, listed from its race-built test binary (cached for the runs).
names=$($GO test -race -list '.*' ./api | grep -E '^(Test|Fuzz|Example)') || { echo "go-test-sharded: cannot list the api tests" >&2; exit 1; }
shard() { # every second name, from $1
	echo "$names" | awk -v k="$1" 'NR % 2 == k' | paste -sd '|'
}
a=$(shard 1)
b=$(shard 0)

run() { # label, go test arguments...
	local label=$1
	shift
	(set -o pipefail; $GO test "${FLAGS[@]}" "$@" 2>&1 | sed -u "s|^|[$label] |")
}
run packages $others &
p0=$!
run "api 1/2" -run "^($a)\$" ./api &
p1=$!
run "api 2/2" -run "^($b)\$" ./api &
p2=$!
status=0
for p in $p0 $p1 $p2; do
	wait "$p" || status=1
done
if [ "$status" -ne 0 ]; then
	echo "go-test-sharded: some Go tests failed (see the lines marked FAIL above)" >&2
fi
exit "$status"
