"""scripts/bench_charts.py on a fake benchmark output: the charts it draws, their determinism,
its tolerance of missing benchmarks, and --check against consistent and inconsistent inputs. Also
the CSV that scripts/sizing.sh writes (its embedded Python, run without cargo) and the ratio.json
of scripts/bench_ratio.py (run for real when argon2-cffi is installed).

    .venv/bin/python -m unittest tests/bench_charts_test.py
"""
import importlib.util
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bench_charts.py"
SVG = "{http://www.w3.org/2000/svg}"

# Benchmark id -> (median, lower, upper) in ms.
CRITERION = {
    "argon2id_m19456_t2_p1/hash": (8.7, 8.5, 8.8),
    "argon2id_m19456_t2_p1_hash/argon2_rust_avx512": (7.6, 7.4, 7.9),
    "argon2id_m19456_t2_p1_hash/argon2_crate": (18.5, 17.7, 19.2),
    "handler/change_password_in_memory": (17.5, 17.2, 17.9),
    "handler/change_password_in_memory_history5": (61.25, 60.1, 62.0),
    "handler/overhead_without_argon2": (0.082, 0.077, 0.087),
}
# 30 samples whose median is 24.1 ms.
CFFI_SAMPLES = [23.0 + 0.1 * i for i in range(11)] + [24.1] * 8 + [25.0 + 0.2 * i for i in range(11)]
HAS_ARGON2_CFFI = subprocess.run([sys.executable, "-c", "import argon2"],
                                 capture_output=True).returncode == 0
SIZING = [(512, 65.13), (1024, 33.31), (1769, 18.62), (3538, 16.64)]


def estimates(median, lower, upper):
    def est(point, lo, hi):
        return {"confidence_interval": {"confidence_level": 0.95, "lower_bound": lo * 1e6,
                                        "upper_bound": hi * 1e6},
                "point_estimate": point * 1e6, "standard_error": 0.01 * point * 1e6}
    mean = est(median * 1.01, lower * 1.01, upper * 1.01)
    return {"mean": mean, "median": est(median, lower, upper),
            "median_abs_dev": est(0.1, 0.05, 0.15), "slope": mean, "std_dev": est(0.2, 0.1, 0.3)}


def write_criterion(target, bench_id, figures, with_meta=True):
    group, function = bench_id.split("/")
    new = target / "criterion" / group / function / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / "estimates.json").write_text(json.dumps(estimates(*figures)))
    if with_meta:
        (new / "benchmark.json").write_text(json.dumps({
            "group_id": group, "function_id": function, "value_str": None, "throughput": None,
            "full_id": bench_id, "directory_name": f"{group}/{function}", "title": bench_id}))


def ratio_record(samples, handler_ms, overhead_ms):
    """What scripts/bench_ratio.py writes, for these inputs."""
    cffi = statistics.median(samples)
    lines = [
        f"argon2-cffi argon2id m=19456 t=2 p=1: median {cffi:.2f} ms per hash (n=30)",
        f"handler (verify + hash + rules + in-memory write): median {handler_ms:.2f} ms",
        f"handler overhead without argon2: median {overhead_ms * 1000:.1f} us",
        f"ratio handler / (2 x argon2-cffi hash) = {handler_ms / (2 * cffi):.3f} (target <= 0.9)",
    ]
    return {
        "printed": lines,
        "argon2_cffi": {"version": "25.1.0", "memory_kib": 19456, "time_cost": 2,
                        "parallelism": 1, "hash_len": 32, "samples_ms": samples,
                        "median_ms": cffi},
        "handler": {"id": "handler/change_password_in_memory", "median_ns": handler_ms * 1e6,
                    "median_lower_ns": 17.2e6, "median_upper_ns": 17.9e6},
        "overhead": {"id": "handler/overhead_without_argon2", "median_ns": overhead_ms * 1e6,
                     "median_lower_ns": 0.077e6, "median_upper_ns": 0.087e6},
        "ratio": handler_ms / (2 * cffi),
        "target_ratio": 0.9,
    }


def sizing_script_python():
    """The Python that scripts/sizing.sh runs for each MemorySize (its heredoc)."""
    text = (ROOT / "scripts" / "sizing.sh").read_text()
    return re.search(r"<<'PY'\n(.*?)\nPY\n", text, re.S).group(1)


def write_sizing(target, rows=SIZING):
    """sizing.csv as scripts/sizing.sh writes it, through its own Python."""
    csv_path = target / "bench" / "sizing.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    header = re.search(r'echo "(memory_mb,[^"]*)"', (ROOT / "scripts" / "sizing.sh").read_text())
    csv_path.write_text(header.group(1) + "\n")
    markdown = []
    for mem, ms in rows:
        quota = mem * 100000 // 1769
        line = f"time:   [{ms * 0.99:.2f} ms {ms:.2f} ms {ms * 1.01:.2f} ms]"
        out = subprocess.run(
            [sys.executable, "-c", sizing_script_python(), str(mem), str(quota), str(ms), line,
             str(csv_path), "2026-11-28T03:20Z", "d71cc4a"],
            check=True, capture_output=True, text=True)
        markdown.append(out.stdout)
    return markdown


class BenchCharts(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_charts_"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.target = self.tmp / "target"
        self.out = self.tmp / "docs" / "bench"
        for i, (bench_id, figures) in enumerate(sorted(CRITERION.items())):
            write_criterion(self.target, bench_id, figures, with_meta=i % 2 == 0)
        self.write_ratio(ratio_record(CFFI_SAMPLES, 17.5, 0.082))
        write_sizing(self.target)

    def write_ratio(self, record):
        (self.target / "bench").mkdir(parents=True, exist_ok=True)
        (self.target / "bench" / "ratio.json").write_text(json.dumps(record, indent=2))

    def run_script(self, *args):
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--target-dir", str(self.target), "--out-dir",
             str(self.out), *args], capture_output=True, text=True)

    def draw(self, *args):
        result = self.run_script(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def svg(self, name):
        path = self.out / name
        self.assertTrue(path.exists(), f"{path} not drawn")
        root = ET.parse(path).getroot()   # valid XML, or this raises
        self.assertEqual(root.tag, f"{SVG}svg")
        return root

    @staticmethod
    def texts(root):
        return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]

    def assert_readable(self, root):
        self.assertEqual(root.get("font-family"), "sans-serif")
        self.assertTrue(root.find(f"{SVG}title").text)
        sizes = [float(t.get("font-size")) for t in root.iter(f"{SVG}text")]
        self.assertTrue(sizes and min(sizes) >= 11, sizes)
        for t in root.iter(f"{SVG}text"):
            self.assertIsNone(t.get("font-family"), "one font family, the root's")
        axis_titles = [t for t in root.iter(f"{SVG}text") if t.get("class") == "axis-title"]
        self.assertGreaterEqual(len(axis_titles), 2, "both axes titled")

    def test_hash_chart_has_every_implementation_and_its_value(self):
        self.draw("--label", "2026-11-28, commit d71cc4a")
        root = self.svg("hash-by-implementation.svg")
        self.assert_readable(root)
        texts = self.texts(root)
        joined = "\n".join(texts)
        for label, value in [("the service's pooled hasher", "8.70 ms"),
                             ("argon2-rust", "7.60 ms"),
                             ("alone, avx512 backend", "7.60 ms"),
                             ("argon2 crate", "18.50 ms"),
                             ("argon2-cffi 25.1.0 (C reference)", "24.10 ms")]:
            self.assertIn(label, joined)
            self.assertIn(value, texts)
        self.assertIn("0.36 × argon2-cffi's time", texts)   # 8.7 / 24.1
        self.assertIn("0.77 × argon2-cffi's time", texts)   # 18.5 / 24.1
        self.assertIn("2026-11-28, commit d71cc4a", texts)
        self.assertIn("time per hash (ms)", texts)
        # four bars, each with a whisker of three lines
        self.assertEqual(len([r for r in root.iter(f"{SVG}rect")]), 5)   # + background

    def test_handler_chart_history_off_and_full_against_as_many_cffi_hashes(self):
        self.draw()
        root = self.svg("handler.svg")
        self.assert_readable(root)
        texts = self.texts(root)
        joined = "\n".join(texts)
        self.assertIn("one change, history off", texts)
        self.assertIn("one change, history of 5, full (5 more verifies)", texts)
        self.assertIn("17.50 ms", texts)
        self.assertIn("61.25 ms", texts)
        self.assertIn("48.20 ms", texts)                         # 2 x 24.1
        self.assertIn("0.363 of 2 argon2-cffi hashes (as many argon2 runs)", texts)  # 17.5 / 48.2
        # A full history of 5 runs 7 argon2: against 7 hashes. 61.25 / (7 x 24.1)
        self.assertIn("0.363 of 7 argon2-cffi hashes (as many argon2 runs)", texts)
        self.assertIn("= 43.4 ms", joined)                       # 0.9 x 48.2
        self.assertNotIn("overhead", joined)

    def test_memorysize_chart_latency_and_cost(self):
        self.draw()
        root = self.svg("memorysize-latency-cost.svg")
        self.assert_readable(root)
        texts = self.texts(root)
        for mem, ms, cpu, cost in [(512, "65.1 ms", "0.29 vCPU", "$0.63"),
                                   (1024, "33.3 ms", "0.58 vCPU", "$0.64"),
                                   (1769, "18.6 ms", "1.00 vCPU", "$0.63"),
                                   (3538, "16.6 ms", "2.00 vCPU", "$0.97")]:
            for expected in (f"{mem} MB", ms, cpu, cost):
                self.assertIn(expected, texts)
        self.assertIn("MemorySize (MB)", texts)
        self.assertIn("scripts/sizing.sh run of 2026-11-28T03:20Z at commit d71cc4a",
                      texts)

    def test_same_input_same_bytes(self):
        self.draw("--label", "x")
        first = {p.name: p.read_bytes() for p in self.out.iterdir()}
        self.assertEqual(len(first), 3)
        shutil.rmtree(self.out)
        self.draw("--label", "x")
        self.assertEqual(first, {p.name: p.read_bytes() for p in self.out.iterdir()})

    def test_check_passes_on_consistent_inputs_and_charts(self):
        self.draw()
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("figures match their inputs", result.stdout)

    def test_check_fails_on_a_ratio_that_does_not_follow_from_its_inputs(self):
        record = ratio_record(CFFI_SAMPLES, 17.5, 0.082)
        record["printed"][3] = record["printed"][3].replace("= 0.363", "= 0.372")
        self.write_ratio(record)
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("handler / (2 x argon2-cffi hash) is printed '0.372'", result.stderr)

    def test_check_fails_when_the_samples_do_not_give_the_printed_median(self):
        record = ratio_record(CFFI_SAMPLES, 17.5, 0.082)
        record["argon2_cffi"]["samples_ms"] = [s * 1.1 for s in CFFI_SAMPLES]
        self.write_ratio(record)
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("argon2-cffi median (ms) is printed '24.10'", result.stderr)

    def test_check_allows_rounding_but_not_more(self):
        record = ratio_record(CFFI_SAMPLES, 17.5, 0.082)
        # 17.5 / 48.2 = 0.36307...: "0.363" is its rounding, "0.364" is not.
        record["ratio"] = 17.5 / 48.2
        self.write_ratio(record)
        self.assertEqual(self.run_script("--check", "--only", "hash").returncode, 0)
        record["printed"][3] = record["printed"][3].replace("= 0.363", "= 0.364")
        self.write_ratio(record)
        self.assertEqual(self.run_script("--check", "--only", "hash").returncode, 1)

    def test_check_accepts_nan_for_a_missing_overhead_benchmark_only(self):
        record = ratio_record(CFFI_SAMPLES, 17.5, float("nan"))
        record["overhead"] = None
        self.write_ratio(record)
        self.assertIn("median nan us", record["printed"][2])
        self.assertEqual(self.run_script("--check", "--only", "hash").returncode, 0)
        record["overhead"] = ratio_record(CFFI_SAMPLES, 17.5, 0.082)["overhead"]
        self.write_ratio(record)
        self.assertEqual(self.run_script("--check", "--only", "hash").returncode, 1)

    def test_median_interval_of_30_samples_is_the_10th_and_21st(self):
        spec = importlib.util.spec_from_file_location("bench_charts", SCRIPT)
        bench_charts = importlib.util.module_from_spec(spec)
        dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True   # no scripts/__pycache__
        try:
            spec.loader.exec_module(bench_charts)
        finally:
            sys.dont_write_bytecode = dont_write
        self.assertEqual(bench_charts.median_ci(list(range(30, 0, -1))), (10, 21))
        self.assertEqual(bench_charts.median_ci([3.0, 1.0, 2.0]), (1.0, 3.0))

    def test_check_fails_on_a_chart_older_than_its_inputs(self):
        self.draw()
        write_criterion(self.target, "argon2id_m19456_t2_p1_hash/argon2_crate", (16.3, 16.2, 16.5))
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("hash-by-implementation.svg: ms:argon2id_m19456_t2_p1_hash/argon2_crate "
                      "is printed '18.50'", result.stderr)

    def test_check_fails_on_a_chart_lacking_a_benchmark_its_inputs_hold(self):
        shutil.rmtree(self.target / "criterion" / "handler" / "change_password_in_memory_history5")
        self.draw()
        write_criterion(self.target, "handler/change_password_in_memory_history5", (61.25, 60, 62))
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("lacks ms:handler/change_password_in_memory_history5", result.stderr)

    def test_check_fails_on_a_sizing_cost_that_does_not_follow(self):
        path = self.target / "bench" / "sizing.csv"
        lines = path.read_text().splitlines()
        cells = lines[1].split(",")
        cells[6] = "0.7000"       # usd_per_million_changes at 512 MB, really 0.6343
        lines[1] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("usd_per_million_changes at 512 MB is printed '0.7000'", result.stderr)

    def test_missing_benchmarks_are_skipped_with_a_note(self):
        shutil.rmtree(self.target / "criterion" / "argon2id_m19456_t2_p1_hash")
        shutil.rmtree(self.target / "criterion" / "handler" / "change_password_in_memory_history5")
        (self.target / "bench" / "sizing.csv").unlink()
        result = self.draw()
        self.assertIn("argon2_crate", result.stderr)
        self.assertIn("argon2_rust_", result.stderr)
        self.assertIn("history off only", result.stderr)
        self.assertIn("sizing.csv", result.stderr)
        texts = self.texts(self.svg("hash-by-implementation.svg"))
        self.assertIn("8.70 ms", texts)
        self.assertNotIn("18.50 ms", texts)
        self.assertIn("17.50 ms", self.texts(self.svg("handler.svg")))
        self.assertFalse((self.out / "memorysize-latency-cost.svg").exists())
        self.assertEqual(self.run_script("--check").returncode, 0)

    def test_without_ratio_json_no_argon2_cffi_and_no_ratio(self):
        (self.target / "bench" / "ratio.json").unlink()
        result = self.draw()
        self.assertIn("no argon2-cffi figure", result.stderr)
        texts = self.texts(self.svg("hash-by-implementation.svg"))
        self.assertFalse(any("argon2-cffi" in t for t in texts if "×" in t))
        self.assertNotIn("24.10 ms", texts)

    def test_nothing_to_draw_fails(self):
        shutil.rmtree(self.target)
        result = self.run_script()
        self.assertEqual(result.returncode, 1)
        self.assertIn("no chart drawn", result.stderr)

    def test_handler_figure_stays_the_one_paired_with_argon2_cffi(self):
        # scripts/sizing.sh runs the handler benchmark again, under a CPU quota.
        write_criterion(self.target, "handler/change_password_in_memory", (16.6, 16.4, 16.9))
        result = self.draw()
        self.assertIn("bench_ratio.py read 17.50 ms", result.stderr)
        texts = self.texts(self.svg("handler.svg"))
        self.assertIn("17.50 ms", texts)
        self.assertNotIn("16.60 ms", texts)
        check = self.run_script("--check")
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn("was run again after bench_ratio.py", check.stderr)

    def test_sizing_sh_prints_its_markdown_rows_as_before(self):
        markdown = write_sizing(self.target, [(512, 65.13), (1769, 18.62)])
        self.assertEqual(markdown, ["| 512 MB | 0.29 CPU | 65.1 ms | 0.0326 | $0.63 |\n",
                                    "| 1769 MB | 1.00 CPU | 18.6 ms | 0.0322 | $0.63 |\n"])
        rows = (self.target / "bench" / "sizing.csv").read_text().splitlines()
        self.assertEqual(rows[0].split(",")[:3], ["memory_mb", "cpu_quota", "change_ms"])
        self.assertEqual(rows[1], "512,0.28942,65.13,64.48,65.78,0.032565,0.6342,1.33334e-05,"
                                  "0.2,2026-11-28T03:20Z,d71cc4a")

    def test_sizing_sh_reads_criterion_units(self):
        csv_path = self.target / "bench" / "sizing.csv"
        csv_path.write_text("")
        subprocess.run([sys.executable, "-c", sizing_script_python(), "3538", "200000", "0.9901",
                        "time:   [990.10 µs 990.10 µs 1.0100 ms]", str(csv_path), "t", "c"],
                       check=True, capture_output=True, text=True)
        self.assertTrue(csv_path.read_text().startswith("3538,2.00000,0.9901,0.9901,1.01,"))

    @unittest.skipUnless(HAS_ARGON2_CFFI, "argon2-cffi not installed (make venv)")
    def test_bench_ratio_writes_what_check_accepts(self):
        env = dict(os.environ, CARGO_TARGET_DIR=str(self.target))
        (self.target / "bench" / "ratio.json").unlink()
        out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ratio.py")],
                             env=env, capture_output=True, text=True, check=True)
        record = json.loads((self.target / "bench" / "ratio.json").read_text())
        self.assertEqual(out.stdout, "\n".join(record["printed"]) + "\n")
        self.assertEqual(len(record["argon2_cffi"]["samples_ms"]), 30)
        self.assertEqual(record["handler"]["median_ns"], 17.5e6)
        self.assertRegex(out.stdout, r"^argon2-cffi argon2id m=19456 t=2 p=1: median \d+\.\d\d ms "
                                     r"per hash \(n=30\)\nhandler \(verify \+ hash \+ rules \+ "
                                     r"in-memory write\): median 17\.50 ms\nhandler overhead "
                                     r"without argon2: median 82\.0 us\nratio handler / \(2 x "
                                     r"argon2-cffi hash\) = \d\.\d{3} \(target <= 0\.9\)\n$")
        result = self.run_script("--check")
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
