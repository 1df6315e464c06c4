#!/usr/bin/env python3
"""Prints the handler's time (criterion, measured just before by `cargo bench`) against the time
of two argon2id hashes by argon2-cffi (the C reference) with the same parameters, measured now,
in the same run: the ratio the performance target is stated in."""
import json, os, pathlib, statistics, sys, time
from argon2.low_level import Type, hash_secret_raw

target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path(__file__).resolve().parent.parent / "target"))
estimates = target / "criterion" / "handler" / "change_password_in_memory" / "new" / "estimates.json"
overhead = target / "criterion" / "handler" / "overhead_without_argon2" / "new" / "estimates.json"
if not estimates.exists():
    sys.exit(f"no criterion result at {estimates}: run `cargo bench --bench core` first")
handler_ms = json.loads(estimates.read_text())["median"]["point_estimate"] / 1e6
overhead_ms = json.loads(overhead.read_text())["median"]["point_estimate"] / 1e6 if overhead.exists() else float("nan")

samples = []
for i in range(30):
    salt = os.urandom(16)
    began = time.perf_counter()
    hash_secret_raw(b"correct horse battery staple", salt, time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)
    samples.append((time.perf_counter() - began) * 1000)
cffi_ms = statistics.median(samples)
print(f"argon2-cffi argon2id m=19456 t=2 p=1: median {cffi_ms:.2f} ms per hash (n=30)")
print(f"handler (verify + hash + rules + in-memory write): median {handler_ms:.2f} ms")
print(f"handler overhead without argon2: median {overhead_ms * 1000:.1f} us")
print(f"ratio handler / (2 x argon2-cffi hash) = {handler_ms / (2 * cffi_ms):.3f} (target <= 0.9)")
