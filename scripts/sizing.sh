#!/usr/bin/env bash
# Latency of a password change against the CPU share Lambda gives each MemorySize (one vCPU at
# 1769 MB), measured by running the criterion handler benchmark (in-memory store, default argon2)
# inside a cgroup-v1 CFS quota of MemorySize/1769 CPUs, as Lambda's own throttling works.
# Needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu. Prints a Markdown table,
# and writes the same rows as CSV to target/bench/sizing.csv (for scripts/bench_charts.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cg=/sys/fs/cgroup/cpu/change-password-sizing
csv=${CARGO_TARGET_DIR:-target}/bench/sizing.csv
measured=$(date -u +%Y-%m-%dT%H:%MZ)
commit=$(git -c safe.directory="$PWD" rev-parse --short HEAD 2>/dev/null || echo unknown)
cargo bench --no-run --bench core >/dev/null 2>&1
mkdir -p "$(dirname "$csv")"
echo "memory_mb,cpu_quota,change_ms,change_ms_lower,change_ms_upper,gb_s_per_change,usd_per_million_changes,usd_per_gb_s,usd_per_million_requests,measured_utc,commit" > "$csv"
echo "| MemorySize | CPU quota | change, no history (median) | GB-s per change | cost of 1 M changes |"
echo "|---|---|---|---|---|"
for mem in ${SIZES:-512 1024 1769 3538}; do
  mkdir -p "$cg"
  quota=$(( mem * 100000 / 1769 ))
  echo 100000 > "$cg/cpu.cfs_period_us"
  echo "$quota" > "$cg/cpu.cfs_quota_us"
  line=$(bash -c "echo \$\$ > $cg/tasks; exec cargo bench --bench core -- --measurement-time 8 --exact handler/change_password_in_memory" 2>/dev/null \
       | grep -A1 '^handler/change_password_in_memory' | grep -oE 'time: +\[[^]]*\]')
  ms=$(echo "$line" | awk '{v=$4; u=$5; if (u ~ /µs/) v=v/1000; if (u ~ /^s/) v=v*1000; print v}')
  python3 - "$mem" "$quota" "$ms" "$line" "$csv" "$measured" "$commit" <<'PY'
import re, sys
mem, quota, ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
usd_per_gb_s, usd_per_million_requests = 0.0000133334, 0.20
gbs = mem / 1024 * ms / 1000
cost = gbs * usd_per_gb_s * 1e6 + usd_per_million_requests
print(f"| {mem} MB | {quota/100000:.2f} CPU | {ms:.1f} ms | {gbs:.4f} | ${cost:.2f} |")
# criterion's line reads `time: [lower point upper]`, each with its unit.
unit = {"ps": 1e-9, "ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
bounds = [float(v) * unit[u] for v, u in re.findall(r"([0-9.]+)\s*(ps|ns|µs|us|ms|s)\b", sys.argv[4])]
lower, upper = (f"{bounds[0]:.6g}", f"{bounds[2]:.6g}") if len(bounds) == 3 else ("", "")
with open(sys.argv[5], "a", encoding="utf-8") as out:
    out.write(f"{mem},{quota/100000:.5f},{ms!r},{lower},{upper},{gbs:.6f},{cost:.4f},"
              f"{usd_per_gb_s},{usd_per_million_requests},{sys.argv[6]},{sys.argv[7]}\n")
PY
  rmdir "$cg" 2>/dev/null || true
done
