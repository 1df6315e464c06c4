#!/usr/bin/env bash
# Latency of a password change against the CPU share Lambda gives each MemorySize (one vCPU at
# 1769 MB), measured by running the criterion handler benchmark (in-memory store, default argon2)
# inside a cgroup-v1 CFS quota of MemorySize/1769 CPUs, as Lambda's own throttling works.
# Needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
cg=/sys/fs/cgroup/cpu/change-password-sizing
cargo bench --no-run --bench core >/dev/null 2>&1
echo "| MemorySize | CPU quota | change, no history (median) | GB-s per change | cost of 1 M changes |"
echo "|---|---|---|---|---|"
for mem in ${SIZES:-512 1024 1769 3538}; do
  mkdir -p "$cg"
  quota=$(( mem * 100000 / 1769 ))
  echo 100000 > "$cg/cpu.cfs_period_us"
  echo "$quota" > "$cg/cpu.cfs_quota_us"
  ms=$(bash -c "echo \$\$ > $cg/tasks; exec cargo bench --bench core -- --measurement-time 8 handler/change_password_in_memory" 2>/dev/null \
       | grep -A1 '^handler/change_password_in_memory' | grep -oE 'time: +\[[^]]*\]' | awk '{v=$4; u=$5; if (u ~ /µs/) v=v/1000; if (u ~ /^s/) v=v*1000; print v}')
  python3 - "$mem" "$quota" "$ms" <<'PY'
import sys
mem, quota, ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
gbs = mem / 1024 * ms / 1000
cost = gbs * 0.0000133334 * 1e6 + 0.20
print(f"| {mem} MB | {quota/100000:.2f} CPU | {ms:.1f} ms | {gbs:.4f} | ${cost:.2f} |")
PY
  rmdir "$cg" 2>/dev/null || true
done
