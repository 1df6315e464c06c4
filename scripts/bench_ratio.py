#!/usr/bin/env python3
"""Prints the handler's time (criterion, measured just before by `cargo bench`) against the time
of two argon2id hashes by argon2-cffi (the C reference) with the same parameters, measured now,
in the same run: the ratio the performance target is stated in. Also writes its figures, the
criterion estimates they come from and the argon2-cffi samples to target/bench/ratio.json (read,
and checked, by scripts/bench_charts.py)."""
import json, os, pathlib, statistics, sys, time
from argon2.low_level import Type, hash_secret_raw

target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path(__file__).resolve().parent.parent / "target"))
estimates = target / "criterion" / "handler" / "change_password_in_memory" / "new" / "estimates.json"
overhead = target / "criterion" / "handler" / "overhead_without_argon2" / "new" / "estimates.json"
if not estimates.exists():
    sys.exit(f"no criterion result at {estimates}: run `cargo bench --bench core` first")
handler_median = json.loads(estimates.read_text())["median"]
handler_ms = handler_median["point_estimate"] / 1e6
overhead_median = json.loads(overhead.read_text())["median"] if overhead.exists() else None
overhead_ms = overhead_median["point_estimate"] / 1e6 if overhead_median else float("nan")

samples = []
for i in range(30):
    salt = os.urandom(16)
    began = time.perf_counter()
    hash_secret_raw(b"correct horse battery staple", salt, time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)
    samples.append((time.perf_counter() - began) * 1000)
cffi_ms = statistics.median(samples)
lines = [
    f"argon2-cffi argon2id m=19456 t=2 p=1: median {cffi_ms:.2f} ms per hash (n=30)",
    f"handler (verify + hash + rules + in-memory write): median {handler_ms:.2f} ms",
    f"handler overhead without argon2: median {overhead_ms * 1000:.1f} us",
    f"ratio handler / (2 x argon2-cffi hash) = {handler_ms / (2 * cffi_ms):.3f} (target <= 0.9)",
]
for line in lines:
    print(line)


def criterion(bench_id, median):
    if median is None:
        return None
    ci = median["confidence_interval"]
    return {"id": bench_id, "median_ns": median["point_estimate"],
            "median_lower_ns": ci["lower_bound"], "median_upper_ns": ci["upper_bound"]}


try:
    from importlib.metadata import version
    cffi_version = version("argon2-cffi")
except Exception:
    cffi_version = None
record = {
    "printed": lines,
    "argon2_cffi": {"version": cffi_version, "memory_kib": 19456, "time_cost": 2, "parallelism": 1,
                    "hash_len": 32, "samples_ms": samples, "median_ms": cffi_ms},
    "handler": criterion("handler/change_password_in_memory", handler_median),
    "overhead": criterion("handler/overhead_without_argon2", overhead_median),
    "ratio": handler_ms / (2 * cffi_ms),
    "target_ratio": 0.9,
}
(target / "bench").mkdir(parents=True, exist_ok=True)
(target / "bench" / "ratio.json").write_text(json.dumps(record, indent=2) + "\n")
