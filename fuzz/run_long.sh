#!/usr/bin/env bash
# Long fuzzing run of one target, time-boxed, at low priority; restarts after a finding so the
# whole box is used, and logs CPU seconds and executions per run.
#   fuzz/run_long.sh <target> <seconds> [bin_dir]      e.g. fuzz/run_long.sh http 3600
# Corpus: fuzz/out/corpus/<target> (seeded from fuzz/corpus/<target>); findings:
# fuzz/out/artifacts/<target>-*; log: fuzz/out/<target>.log; totals: fuzz/out/<target>.stats.
set -u
cd "$(dirname "$0")/.."
t=$1
box=$2
bin=${3:-build/fuzz}
out=fuzz/out
mkdir -p "$out/corpus/$t" "$out/artifacts"
end=$(( $(date +%s) + box ))
while :; do
  left=$(( end - $(date +%s) ))
  [ "$left" -le 5 ] && break
  /usr/bin/time -f "cpu_s %U %S" -a -o "$out/$t.stats" \
    nice -n ${NICE:-10} "$bin/${t}_fuzz" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "fuzz/corpus/$t" \
      >>"$out/$t.log" 2>&1
  echo "exit $?" >>"$out/$t.stats"
  grep -h "stat::number_of_executed_units" "$out/$t.log" | tail -1 >>"$out/$t.stats"
done
