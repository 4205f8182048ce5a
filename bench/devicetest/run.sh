#!/usr/bin/env bash
# Device test (issue 19). Phase 1 (no limit): akidb serve on a fresh data dir on disk, a 384-d cosine
# int8 + disk collection loaded over REST by devicetest (embedding-like data, see main.go), checkpointed,
# stopped. Phase 2: akidb serve restarted under GOMEMLIMIT=200MiB inside a memory cgroup (v1) limited
# to LIMIT (page cache charged too); RSS split sampled every second; devicetest queries with recall
# against exact neighbours it computes itself.
# Usage: bench/devicetest/run.sh AKIDB_BINARY OUTPUT_DIR   (root: it makes a memory cgroup, v1)
# Env: N (records, 500000), LIMIT (cgroup limit, 256M; -1 for none), PHASE (1 load, 2 query; 12),
# DATA (data directory on a disk, not a tmpfs), EFS, SECS (timed seconds per ef), QN (recall queries).
set -u
BIN=$1; OUT=$2; N=${N:-500000}; LIMIT=${LIMIT:-256M}; PHASE=${PHASE:-12}
DATA=${DATA:-/var/tmp/akidb-device}
mkdir -p $OUT
TOOL=$OUT/devicetest
go build -o $TOOL "$(dirname "$0")" || exit 1
CG=/sys/fs/cgroup/memory/akidb-device-test
read REST GRPC < <(python3 -c 'import socket
a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])')
URL=http://127.0.0.1:$REST
sample() {
  while kill -0 $1 2>/dev/null; do
    echo "$(date +%s) $(awk '/^VmRSS|^VmHWM|^RssAnon|^RssFile/{printf "%s%s ", $1, $2}' /proc/$1/status 2>/dev/null) cg=$(( $(cat $CG/memory.usage_in_bytes) / 1024 ))kB" >> $2
    sleep 1
  done
}
waitready() { for i in $(seq 1 1800); do curl -sf $URL/readyz >/dev/null && break; sleep 1; done; echo "$(date +%T) ready after ${i}s" >> $OUT/progress.log; }
if [[ $PHASE == *1* ]]; then
  rm -rf $DATA; mkdir -p $DATA
  $BIN config set --data-dir $DATA --rate-limiting=false >> $OUT/progress.log 2>&1
  echo "$(date +%T) phase 1 (load $(cut -d' ' -f1-3 /proc/loadavg))" >> $OUT/progress.log
  $BIN serve --data-dir $DATA --auth=false --rest-addr 127.0.0.1:$REST --grpc-addr 127.0.0.1:$GRPC --fsync interval --log-level info 2> $OUT/serve-load.err &
  SPID=$!; waitready
  $TOOL load -url $URL -n $N >> $OUT/load.txt 2>&1
  echo "$(date +%T) loaded" >> $OUT/progress.log
  for i in $(seq 1 600); do curl -s $URL/api/v1/collections/device > $OUT/collection-load.json; grep -q '"state":"ready"' $OUT/collection-load.json && break; sleep 2; done
  curl -s -X POST $URL/admin/collections/device/checkpoint >> $OUT/progress.log; echo >> $OUT/progress.log
  curl -s $URL/api/v1/collections/device > $OUT/collection-load.json
  kill -TERM $SPID; wait $SPID
  echo "$(date +%T) phase 1 done; data $(du -sh $DATA | cut -f1)" >> $OUT/progress.log
fi
if [[ $PHASE == *2* ]]; then
  mkdir -p $CG; echo $LIMIT > $CG/memory.limit_in_bytes; echo 0 > $CG/memory.max_usage_in_bytes 2>/dev/null
  sync; echo 1 > /proc/sys/vm/drop_caches
  echo "$(date +%T) phase 2: cgroup limit $LIMIT (load $(cut -d' ' -f1-3 /proc/loadavg))" >> $OUT/progress.log
  bash -c "echo \$\$ > $CG/cgroup.procs; exec env GOMEMLIMIT=200MiB $BIN serve --data-dir $DATA --auth=false --rest-addr 127.0.0.1:$REST --grpc-addr 127.0.0.1:$GRPC --fsync interval --log-level info" 2> $OUT/serve-query.err &
  SPID=$!
  sample $SPID $OUT/rss.log &
  waitready
  for i in $(seq 1 900); do curl -s $URL/api/v1/collections/device > $OUT/collection-start.json; grep -q '"state":"ready"' $OUT/collection-start.json && break; sleep 2; done
  echo "$(date +%T) collection ready; queries" >> $OUT/progress.log
  $TOOL query -url $URL -n $N -ef ${EFS:-32,64,128} -seconds ${SECS:-30} -queries ${QN:-200} -truth $OUT/truth-$N.json >> $OUT/query.txt 2>&1
  curl -s $URL/api/v1/collections/device > $OUT/collection-end.json
  echo "cgroup max usage $(( $(cat $CG/memory.max_usage_in_bytes) / 1024 / 1024 )) MiB, failcnt $(cat $CG/memory.failcnt)" >> $OUT/progress.log
  grep -E "^total_rss |^total_cache |^total_mapped_file " $CG/memory.stat >> $OUT/progress.log
  kill -TERM $SPID; wait $SPID
  echo "$(date +%T) done" >> $OUT/progress.log
fi
