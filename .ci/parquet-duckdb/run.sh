#!/usr/bin/env bash
# Proves that another tool reads `akidb export`'s Parquet: builds a small
# data directory (mkdata), exports it with the real binary, and queries the
# file with DuckDB through its Node.js client (check.mjs). Run by
# `make test-parquet-duckdb`, which `make test` (and so CI) runs.
#
# Usage: .ci/parquet-duckdb/run.sh PATH/TO/akidb
#
# The npm packages (pinned by package-lock.json here) are installed once
# into a cache outside the repository, $AKIDB_DUCKDB_CACHE or
# ~/.cache/akidb/duckdb-node/<hash of the lock file>; a fresh machine needs
# the npm registry. Nothing is skipped: a missing node, npm, package or
# check fails the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:?usage: run.sh PATH/TO/akidb}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "test-parquet-duckdb: $bin is not an executable akidb binary" >&2; exit 1; }
for tool in node npm sha256sum; do
  command -v "$tool" >/dev/null || { echo "test-parquet-duckdb: $tool is missing (Node.js 20 and npm are needed to read the export with DuckDB)" >&2; exit 1; }
done

lockhash="$(sha256sum "$here/package-lock.json" | cut -c1-16)"
cache="${AKIDB_DUCKDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/akidb/duckdb-node}/$lockhash"
if [ ! -f "$cache/.installed" ]; then
  echo "test-parquet-duckdb: installing @duckdb/node-api into $cache"
  rm -rf "$cache.tmp"
  mkdir -p "$cache.tmp"
  cp "$here/package.json" "$here/package-lock.json" "$cache.tmp/"
  (cd "$cache.tmp" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$cache.tmp/.installed"
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi
# Node resolves packages from the script's own directory.
cp "$here/check.mjs" "$cache/check.mjs"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$root" && go run ./.ci/parquet-duckdb/mkdata -data-dir "$work/data" -expect "$work/expect.json")
"$bin" export --collection docs --format parquet --out "$work/docs.parquet" --data-dir "$work/data"
node "$cache/check.mjs" "$work/docs.parquet" "$work/expect.json"
