#!/bin/bash
# wrk -t2 -c64 -d5s against a bare fasthttp handler, the floor (floor.go:
# the same hook.lua on fasthttp and gopher-lua alone, nothing stored) and
# `leadhost serve` in turn, each request a unique order (unique.lua),
# fresh data each round:
#   bash testdata/wrk/run.sh [ROUNDS] [serve flags, e.g. --no-fsync]
# Needs wrk (Debian: apt-get install wrk). Run from the repository's root.
set -e
rounds=${1:-3}; shift || true
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
go build -o "$dir/leadhost" ./cmd/leadhost
go build -o "$dir/bare" ./testdata/wrk/bare.go
go build -o "$dir/floor" ./testdata/wrk/floor.go
lua=testdata/wrk/unique.lua
up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done; }
for r in $(seq "$rounds"); do
	"$dir/bare" 127.0.0.1:9101 & bp=$!; up http://127.0.0.1:9101/
	b=$(wrk -t2 -c64 -d5s -s $lua http://127.0.0.1:9101 | awk '/Requests\/sec/{print $2}')
	kill $bp; wait $bp 2>/dev/null || true
	# The floor under the Go runtime's settings leadhost runs with
	# (store.Suggested*), so that the two differ by their code alone.
	GOGC=400 GOMEMLIMIT=256MiB GOMAXPROCS=$((4 * $(nproc))) \
		"$dir/floor" 127.0.0.1:9103 testdata/wrk/scripts/bench/hook.lua & fp=$!; up http://127.0.0.1:9103/
	f=$(wrk -t2 -c64 -d5s -s $lua http://127.0.0.1:9103 | awk '/Requests\/sec/{print $2}')
	kill $fp; wait $fp 2>/dev/null || true
	rm -rf "$dir/data"
	"$dir/leadhost" serve --listen 127.0.0.1:9102 --data "$dir/data" --scripts testdata/wrk/scripts "$@" >"$dir/serve.log" 2>&1 & sp=$!
	up http://127.0.0.1:9102/healthz
	out=$(wrk -t2 -c64 -d5s --latency -s $lua http://127.0.0.1:9102)
	kill -INT $sp; wait $sp 2>/dev/null || true
	l=$(echo "$out" | awk '/Requests\/sec/{print $2}')
	echo "round $r: bare $b req/s, floor $f ($(awk "BEGIN{printf \"%.1f\", 100*$f/$b}")%), leadhost $l ($(awk "BEGIN{printf \"%.1f\", 100*$l/$b}")%)," \
		"p50 $(echo "$out" | awk '$1=="50%"{print $2}') p99 $(echo "$out" | awk '$1=="99%"{print $2}')," \
		"non-2xx $(echo "$out" | awk '/Non-2xx/{n=$NF} END{print n+0}')"
done
