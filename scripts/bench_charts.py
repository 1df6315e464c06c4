#!/usr/bin/env python3
"""Draws the charts of BENCHMARKS.md from the benchmark output, and checks the figures stated.

Inputs (under $CARGO_TARGET_DIR, else ./target):
  criterion/<group>/<bench>/new/estimates.json   `cargo bench` (criterion 0.8): the median and
                                                 its 95 % confidence interval, in nanoseconds
  bench/ratio.json                               scripts/bench_ratio.py: argon2-cffi's samples and
                                                 the handler figure it paired them with
  bench/sizing.csv                               scripts/sizing.sh: latency and cost by MemorySize

Outputs (docs/bench/, or --out-dir), each drawn only when its inputs exist:
  hash-by-implementation.svg    one argon2id hash (m=19456 t=2 p=1) by implementation
  handler.svg                   one change by the handler, history off and with a full history,
                                against two argon2-cffi hashes and the 0.9 target
  memorysize-latency-cost.svg   latency and cost of 1 M changes by MemorySize

  scripts/bench_charts.py [--label "2026-11-28, commit d71cc4a"] [--only hash|handler|memorysize]
  scripts/bench_charts.py --check

--check draws nothing: it recomputes every figure that bench_ratio.py printed (ratio.json), that
sizing.sh wrote (sizing.csv) and that the charts already in --out-dir show, from the raw inputs,
and exits 1 if one of them does not match within its rounding. Same inputs, same bytes out.
Standard library only.
"""
import argparse
import csv
import json
import math
import os
import pathlib
import re
import statistics
import sys
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from typing import NamedTuple, Optional
from xml.sax.saxutils import escape, quoteattr

ROOT = pathlib.Path(__file__).resolve().parent.parent
POOLED = "argon2id_m19456_t2_p1/hash"
RUST_PREFIX = "argon2id_m19456_t2_p1_hash/argon2_rust_"
CRATE = "argon2id_m19456_t2_p1_hash/argon2_crate"
HANDLER = "handler/change_password_in_memory"
CFFI = "argon2-cffi"
TWO_CFFI = "2x argon2-cffi"
CHARTS = {
    "hash": "hash-by-implementation.svg",
    "handler": "handler.svg",
    "memorysize": "memorysize-latency-cost.svg",
}
FONT = "sans-serif"
INK, MUTED, GRID = "#111827", "#4b5563", "#e5e7eb"
BLUE, GREY, AMBER, GREEN = "#2563eb", "#94a3b8", "#d97706", "#059669"


def note(message):
    print(f"bench_charts: {message}", file=sys.stderr)


class Est(NamedTuple):
    """A median and its 95 % confidence interval, in milliseconds."""
    median: float
    lower: float
    upper: float


# ---------------------------------------------------------------------------------------------
# Inputs


def load_criterion(root: pathlib.Path) -> dict:
    """Benchmark id -> median estimate, from every <id>/new/estimates.json under root."""
    found = {}
    for path in sorted(root.glob("**/new/estimates.json")):
        bench_dir = path.parent.parent
        bench_id = bench_dir.relative_to(root).as_posix()
        meta = path.parent / "benchmark.json"
        try:
            if meta.exists():
                bench_id = json.loads(meta.read_text())["full_id"]
            median = json.loads(path.read_text())["median"]
            ci = median["confidence_interval"]
            found[bench_id] = Est(median["point_estimate"] / 1e6,
                                  ci["lower_bound"] / 1e6, ci["upper_bound"] / 1e6)
        except (OSError, ValueError, KeyError, TypeError) as e:
            note(f"skipping {path}: {e!r}")
    return found


def median_ci(samples, level=0.95):
    """Distribution-free confidence interval of the median: the order statistics x(k), x(n-k+1)
    with the largest k whose binomial tail P(B(n, 1/2) < k) stays within (1 - level) / 2."""
    xs = sorted(samples)
    n, tail, k = len(xs), 0.0, 0
    for j in range(n + 1):
        p = math.comb(n, j) / 2 ** n
        if tail + p > (1 - level) / 2:
            break
        tail, k = tail + p, j + 1
    k = max(k, 1)
    return xs[k - 1], xs[n - k]


def crate_versions(lock: pathlib.Path) -> dict:
    try:
        packages = tomllib.loads(lock.read_text()).get("package", [])
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {p["name"]: p["version"] for p in packages if "name" in p and "version" in p}


def est_from_record(record) -> Est:
    return Est(record["median_ns"] / 1e6, record["median_lower_ns"] / 1e6,
               record["median_upper_ns"] / 1e6)


def same(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


class Inputs:
    def __init__(self, target: pathlib.Path, cargo_lock: pathlib.Path, quiet=False):
        self.target = target
        self.criterion = load_criterion(target / "criterion")
        self.versions = crate_versions(cargo_lock)
        self.ratio_path = target / "bench" / "ratio.json"
        self.sizing_path = target / "bench" / "sizing.csv"
        self.ratio = None
        if self.ratio_path.exists():
            try:
                self.ratio = json.loads(self.ratio_path.read_text())
            except ValueError as e:
                note(f"{self.ratio_path} is not JSON ({e}); argon2-cffi left out")
        self.cffi = None
        self.cffi_samples = []
        if self.ratio:
            self.cffi_samples = list(self.ratio.get("argon2_cffi", {}).get("samples_ms") or [])
            if self.cffi_samples:
                lower, upper = median_ci(self.cffi_samples)
                self.cffi = Est(statistics.median(self.cffi_samples), lower, upper)
        # bench_ratio.py paired argon2-cffi with the handler figure of the same run. A later
        # criterion run of that benchmark (scripts/sizing.sh runs it under a CPU quota) replaces
        # target/criterion/handler/change_password_in_memory/new; the pair stays as recorded.
        record = (self.ratio or {}).get("handler")
        if record:
            recorded = est_from_record(record)
            current = self.criterion.get(HANDLER)
            if current is not None and not same(current.median, recorded.median) and not quiet:
                note(f"criterion's {HANDLER} now reads {current.median:.2f} ms, "
                     f"bench_ratio.py read {recorded.median:.2f} ms (a later run, e.g. "
                     f"scripts/sizing.sh, replaced it): the charts use the figure bench_ratio.py "
                     f"paired with argon2-cffi; run scripts/bench_ratio.py again to pair the new one")
            self.criterion[HANDLER] = recorded
        self.sizing = self._load_sizing()

    def _load_sizing(self):
        if not self.sizing_path.exists():
            return None
        with self.sizing_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return sorted(rows, key=lambda r: int(r["memory_mb"])) or None


# ---------------------------------------------------------------------------------------------
# SVG


def num(v: float) -> str:
    """A coordinate: one decimal at most, no negative zero."""
    s = f"{v:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def figure(key: str, printed: str) -> str:
    """A stated figure: --check finds it by data-figure and reads the number it prints."""
    return f"<tspan data-figure={quoteattr(key)}>{escape(printed)}</tspan>"


class Svg:
    def __init__(self, width: int, height: float, title: str, desc: str):
        self.width, self.height, self.title, self.desc = width, height, title, desc
        self.items = []

    def rect(self, x, y, w, h, fill, **attrs):
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        self.items.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" '
                          f'height="{num(h)}" fill="{fill}"{extra}/>')

    def line(self, x1, y1, x2, y2, stroke=INK, width=1.0, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
                          f'stroke="{stroke}" stroke-width="{width}"{d}/>')

    def text(self, x, y, content, size=13, anchor="start", fill=INK, bold=False, cls=None,
             rotate=False, markup=False):
        """content is escaped unless markup (then it is built with escape() and figure())."""
        assert size >= 11
        attrs = f'x="{num(x)}" y="{num(y)}" font-size="{size}" fill="{fill}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if bold:
            attrs += ' font-weight="bold"'
        if cls:
            attrs += f' class="{cls}"'
        if rotate:
            attrs += f' transform="rotate(-90 {num(x)} {num(y)})"'
        body = content if markup else escape(content)
        self.items.append(f"<text {attrs}>{body}</text>")

    def render(self) -> str:
        w, h = self.width, math.ceil(self.height)
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" font-family="{FONT}" role="img" '
                f'aria-labelledby="title desc">\n'
                f'<title id="title">{escape(self.title)}</title>\n'
                f'<desc id="desc">{escape(self.desc)}</desc>\n'
                f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>\n')
        return head + "\n".join(self.items) + "\n</svg>\n"


def nice_axis(vmax: float, ticks=5):
    """(top, step, decimals): a 1-2-2.5-5 step and a top that is a multiple of it."""
    vmax = max(vmax, 1e-9)
    raw = vmax / ticks
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if raw <= m * mag * (1 + 1e-12))
    top = step * math.ceil(vmax / step - 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if not same(round(step, decimals), step):
        decimals += 1
    return top, step, decimals


def text_width(s: str, size: float) -> float:
    """A generous estimate of a sans-serif string's width (no font metrics here)."""
    return len(s) * size * 0.56


def wrap(lines, width, size=11):
    """Caption lines folded to fit `width` pixels."""
    chars = int(width / (size * 0.56))
    return [part for line in lines for part in textwrap.wrap(line, chars) or [""]]


class Row(NamedTuple):
    key: str            # figure key of its value
    label: str
    sub: str            # where the figure comes from
    est: Est
    color: str
    value_text: str     # printed at the bar, e.g. "8.70" (+ " ms")
    ratio: Optional[tuple] = None   # (figure key, value, decimals, text after)


def hbar_chart(title, subtitle, rows, x_title, y_title, captions, reference=None) -> str:
    """Horizontal bars with CI whiskers, the value and an optional ratio at each bar, and an
    optional dashed reference line (key, value_ms, text before, text after)."""
    width, left, row_h, bar_h = 880, 36, 50, 22
    captions = wrap(captions, width - 2 * (left - 18))
    label_w = min(360, max(max(text_width(r.label, 13), text_width(r.sub, 11)) for r in rows))
    x0 = left + label_w + 14
    x1 = width - 170
    top = 76 + (18 if reference else 0)
    bottom = top + row_h * len(rows)
    vmax = max(max(r.est.upper, r.est.median) for r in rows)
    if reference:
        vmax = max(vmax, reference[1])
    axis_top, step, decimals = nice_axis(vmax)

    def sx(v):
        return x0 + (x1 - x0) * v / axis_top

    height = bottom + 66 + 16 * len(captions)
    desc = "; ".join(f"{r.label}: {r.value_text} ms (95 % CI {r.est.lower:.2f}-{r.est.upper:.2f})"
                     for r in rows)
    svg = Svg(width, height, title, f"{subtitle}. {desc}.")
    svg.text(left - 18, 28, title, size=17, bold=True, cls="title")
    svg.text(left - 18, 50, subtitle, size=12, fill=MUTED)

    n_ticks = int(round(axis_top / step))
    for i in range(n_ticks + 1):
        v = i * step
        svg.line(sx(v), top, sx(v), bottom, stroke=GRID)
        svg.text(sx(v), bottom + 17, f"{v:.{decimals}f}", size=11, anchor="middle", fill=MUTED)
    svg.line(x0, bottom, x1, bottom, stroke=INK)
    svg.line(x0, top, x0, bottom, stroke=INK)
    svg.text((x0 + x1) / 2, bottom + 40, x_title, size=13, anchor="middle", cls="axis-title")
    svg.text(14, (top + bottom) / 2, y_title, size=13, anchor="middle", cls="axis-title",
             rotate=True)

    for i, r in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        svg.text(left, cy - 3, r.label, size=13, cls="label")
        svg.text(left, cy + 13, r.sub, size=11, fill=MUTED)
        svg.rect(x0, cy - bar_h / 2, sx(r.est.median) - x0, bar_h, r.color)
        lo, hi = sx(r.est.lower), sx(r.est.upper)
        svg.line(lo, cy, hi, cy, width=1.5)
        svg.line(lo, cy - 6, lo, cy + 6, width=1.5)
        svg.line(hi, cy - 6, hi, cy + 6, width=1.5)
        tx = max(hi, sx(r.est.median)) + 8
        svg.text(tx, cy - 1 if r.ratio else cy + 5, figure(f"ms:{r.key}", r.value_text) + " ms",
                 size=13, bold=True, markup=True, cls="value")
        if r.ratio:
            key, value, places, after = r.ratio
            svg.text(tx, cy + 14, figure(key, f"{value:.{places}f}") + escape(after), size=11,
                     fill=MUTED, markup=True, cls="ratio")
    if reference:
        key, value, before, after = reference
        x = sx(value)
        svg.line(x, top - 14, x, bottom, stroke=AMBER, width=1.5, dash="5 4")
        anchor = "end" if x > (x0 + x1) / 2 else "start"
        svg.text(x + (-5 if anchor == "end" else 5), top - 4,
                 escape(before) + figure(key, f"{value:.1f}") + escape(after), size=11,
                 anchor=anchor, fill=AMBER, markup=True, cls="reference")
    for i, caption in enumerate(captions):
        svg.text(left - 18, bottom + 64 + 16 * i, caption, size=11, fill=MUTED, cls="caption")
    return svg.render()


def vbar_panels(title, subtitle, categories, panels, x_title, captions) -> str:
    """Side-by-side panels of vertical bars over the same categories [(label, sublabel)]. Each
    panel: (panel title, y title, [(key, value, lower, upper, printed)], color, prefix, suffix)."""
    width, plot_h, gap, left = 880, 240, 100, 84
    captions = wrap(captions, width - 36)
    panel_w = (width - left - gap - 24) / len(panels)
    top = 96
    bottom = top + plot_h
    height = bottom + 86 + 16 * len(captions)
    desc = "; ".join(
        f"{p[0]}: " + ", ".join(f"{c[0]} {p[4]}{b[4]}{p[5]}" for c, b in zip(categories, p[2]))
        for p in panels)
    svg = Svg(width, height, title, f"{subtitle}. {desc}.")
    svg.text(18, 28, title, size=17, bold=True, cls="title")
    svg.text(18, 50, subtitle, size=12, fill=MUTED)
    for pi, (ptitle, ytitle, bars, color, prefix, suffix) in enumerate(panels):
        x0 = left + pi * (panel_w + gap)
        x1 = x0 + panel_w
        axis_top, step, decimals = nice_axis(max(max(b[1], b[3] or 0) for b in bars))

        def sy(v):
            return bottom - plot_h * v / axis_top

        svg.text(x0, top - 16, ptitle, size=13, bold=True)
        for i in range(int(round(axis_top / step)) + 1):
            v = i * step
            svg.line(x0, sy(v), x1, sy(v), stroke=GRID)
            places = max(decimals, 2) if prefix == "$" else decimals
            svg.text(x0 - 6, sy(v) + 4, f"{prefix}{v:.{places}f}", size=11, anchor="end",
                     fill=MUTED)
        svg.line(x0, bottom, x1, bottom, stroke=INK)
        svg.line(x0, top, x0, bottom, stroke=INK)
        svg.text(x0 - 58, (top + bottom) / 2, ytitle, size=13, anchor="middle",
                 cls="axis-title", rotate=True)
        svg.text((x0 + x1) / 2, bottom + 56, x_title, size=13, anchor="middle",
                 cls="axis-title")
        band = panel_w / len(categories)
        for ci, ((clabel, csub), (key, value, lower, upper, printed)) in enumerate(
                zip(categories, bars)):
            cx = x0 + band * (ci + 0.5)
            bw = min(56, band * 0.6)
            svg.rect(cx - bw / 2, sy(value), bw, bottom - sy(value), color)
            peak = value
            if lower is not None and upper is not None:
                svg.line(cx, sy(lower), cx, sy(upper), width=1.5)
                svg.line(cx - 6, sy(lower), cx + 6, sy(lower), width=1.5)
                svg.line(cx - 6, sy(upper), cx + 6, sy(upper), width=1.5)
                peak = max(value, upper)
            svg.text(cx, sy(peak) - 6, escape(prefix) + figure(key, printed) + escape(suffix),
                     size=12, anchor="middle", bold=True, markup=True, cls="value")
            svg.text(cx, bottom + 17, clabel, size=12, anchor="middle", cls="label")
            svg.text(cx, bottom + 32, csub, size=11, anchor="middle", fill=MUTED,
                     markup=True)
    for i, caption in enumerate(captions):
        svg.text(18, bottom + 84 + 16 * i, caption, size=11, fill=MUTED, cls="caption")
    return svg.render()


# ---------------------------------------------------------------------------------------------
# The charts: each returns (svg, {figure key: exact value}) or None when it has nothing to draw.


def versioned(name, version):
    return f"{name} {version}" if version else name


def cffi_label(inp):
    version = ((inp.ratio or {}).get("argon2_cffi") or {}).get("version")
    return f"{versioned('argon2-cffi', version)} (C reference)"


def hash_chart(inp: Inputs, label):
    crit = inp.criterion
    rust = versioned("argon2-rust", inp.versions.get("argon2-rust"))
    entries = []   # (key, label, sub, est, color)
    if POOLED in crit:
        entries.append((POOLED, f"the service's pooled hasher ({rust})",
                        POOLED, crit[POOLED], BLUE))
    else:
        note(f"hash chart: no criterion result for {POOLED} (cargo bench --bench core)")
    rust_ids = sorted(k for k in crit if k.startswith(RUST_PREFIX))
    for k in rust_ids:
        backend = k[len(RUST_PREFIX):]
        entries.append((k, f"{rust} alone, {backend} backend", k,
                        crit[k], GREY))
    if not rust_ids:
        note(f"hash chart: no criterion result for {RUST_PREFIX}* (cargo bench --bench argon2_hash)")
    if CRATE in crit:
        entries.append((CRATE, f"{versioned('argon2 crate', inp.versions.get('argon2'))} (RustCrypto)",
                        CRATE, crit[CRATE], GREY))
    else:
        note(f"hash chart: no criterion result for {CRATE} (cargo bench --bench argon2_hash)")
    if inp.cffi:
        entries.append((CFFI, cffi_label(inp),
                        f"scripts/bench_ratio.py, n={len(inp.cffi_samples)}", inp.cffi, AMBER))
    else:
        note(f"hash chart: no argon2-cffi figure ({inp.ratio_path}: run scripts/bench_ratio.py)")
    if not entries:
        note("hash chart: nothing to draw")
        return None
    figures, rows = {}, []
    for key, lab, sub, est, color in entries:
        figures[f"ms:{key}"] = est.median
        ratio = None
        if inp.cffi and key != CFFI:
            value = est.median / inp.cffi.median
            figures[f"ratio:{key}/{CFFI}"] = value
            ratio = (f"ratio:{key}/{CFFI}", value, 2, " × argon2-cffi's time")
        rows.append(Row(key, lab, sub, est, color, f"{est.median:.2f}", ratio))
    captions = ["Medians of one run; whiskers: 95 % confidence interval of the median "
                "(criterion's bootstrap; argon2-cffi: order statistics of its 30 samples).",
                "Reproduce: make bench (cargo bench --bench core --bench argon2_hash, then "
                "scripts/bench_ratio.py), then scripts/bench_charts.py."]
    if label:
        captions.insert(0, label)
    svg = hbar_chart("One argon2id hash, m=19456 KiB t=2 p=1, by implementation",
                     "time per hash (shorter is faster); same machine, same run",
                     rows, "time per hash (ms)", "implementation", captions)
    return svg, figures


def history_of(bench_id):
    m = re.search(r"history_?(\d+)", bench_id)
    return int(m.group(1)) if m else None


def is_change(bench_id):
    """A whole change through the handler: handler/change_password* (not the overhead ones),
    and the default configuration's group defaults_history<N>_full/*."""
    return bench_id.startswith("handler/change_password") or bench_id.startswith("defaults_history")


def handler_chart(inp: Inputs, label):
    crit = inp.criterion
    ids = [k for k in crit if is_change(k)]
    if HANDLER not in ids:
        note(f"handler chart: no criterion result for {HANDLER} (cargo bench --bench core)")
    if not ids:
        return None
    if not any(history_of(k) is not None for k in ids):
        note(f"handler chart: no handler/change_password*history<N> result; history off only")
    ids.sort(key=lambda k: (k != HANDLER, history_of(k) is None, history_of(k) or 0, k))
    figures, rows = {}, []
    for k in ids:
        n = history_of(k)
        if k == HANDLER:
            lab = "one change, history off"
        elif n is not None and k.startswith("defaults_history"):
            variant = k.partition("/")[2].replace("_", " ").replace("hibp", "breached check")
            lab = f"defaults: history of {n}, full; {variant}"
        elif n is not None:
            lab = f"one change, history of {n}, full ({n} more verifies)"
        else:
            lab = f"one change, {k.partition('/')[2].replace('_', ' ')}"
        est = crit[k]
        figures[f"ms:{k}"] = est.median
        ratio = None
        if inp.cffi:
            # Against as many argon2-cffi hashes as the change runs argon2 (2, plus one per
            # stored hash of a full history), so that both sides do the same work.
            runs = 2 + (n or 0)
            value = est.median / (runs * inp.cffi.median)
            key = f"ratio:{k}/{TWO_CFFI}" if runs == 2 else f"ratio:{k}/{runs}x argon2-cffi"
            figures[key] = value
            ratio = (key, value, 3, f" of {runs} argon2-cffi hashes (as many argon2 runs)")
        rows.append(Row(k, lab, k, est, BLUE, f"{est.median:.2f}", ratio))
    reference = None
    if inp.cffi:
        two = Est(2 * inp.cffi.median, 2 * inp.cffi.lower, 2 * inp.cffi.upper)
        figures[f"ms:{TWO_CFFI}"] = two.median
        rows.append(Row(TWO_CFFI, "2 argon2-cffi hashes (what the target is stated against)",
                        f"2 × {cffi_label(inp)}, scripts/bench_ratio.py", two, AMBER,
                        f"{two.median:.2f}"))
        target = float((inp.ratio or {}).get("target_ratio", 0.9))
        figures["target_ms"] = target * two.median
        reference = ("target_ms", target * two.median,
                     f"target: handler ≤ {target:g} × 2 argon2-cffi hashes = ", " ms")
    else:
        note(f"handler chart: no argon2-cffi figure ({inp.ratio_path}), so no ratio or target")
    captions = ["In-memory store: parse, principal, read, rules (zxcvbn), verify, hash, "
                "conditional write; history: one more verify per stored hash.",
                "Medians of one run; whiskers: 95 % confidence interval of the median. "
                "Reproduce: make bench, then scripts/bench_charts.py."]
    if label:
        captions.insert(0, label)
    svg = hbar_chart("The handler: one password change, argon2id m=19456 KiB t=2 p=1",
                     "time per change (shorter is faster); same machine, same run",
                     rows, "time per change (ms)", "benchmark", captions, reference)
    return svg, figures


def sizing_figures(row):
    """The exact values behind a sizing.csv row, from its raw columns."""
    mem, ms = int(row["memory_mb"]), float(row["change_ms"])
    gbs = mem / 1024 * ms / 1000
    return {
        "cpu_quota": mem * 100000 // 1769 / 100000,
        "gb_s_per_change": gbs,
        "usd_per_million_changes":
            gbs * float(row["usd_per_gb_s"]) * 1e6 + float(row["usd_per_million_requests"]),
    }


def memorysize_chart(inp: Inputs, label):
    rows = inp.sizing
    if not rows:
        note(f"memorysize chart: no {inp.sizing_path} (run scripts/sizing.sh as root)")
        return None
    figures, categories, latency, cost = {}, [], [], []
    for row in rows:
        mem = int(row["memory_mb"])
        exact = sizing_figures(row)
        ms = float(row["change_ms"])
        lower = float(row["change_ms_lower"]) if row.get("change_ms_lower") else None
        upper = float(row["change_ms_upper"]) if row.get("change_ms_upper") else None
        figures[f"cpu_quota:{mem}"] = exact["cpu_quota"]
        figures[f"ms:{mem}"] = ms
        figures[f"usd_per_million_changes:{mem}"] = exact["usd_per_million_changes"]
        categories.append((f"{mem} MB", figure(f"cpu_quota:{mem}", f"{exact['cpu_quota']:.2f}")
                           + " vCPU"))
        latency.append((f"ms:{mem}", ms, lower, upper, f"{ms:.1f}"))
        cost.append((f"usd_per_million_changes:{mem}", exact["usd_per_million_changes"],
                     None, None, f"{exact['usd_per_million_changes']:.2f}"))
    first = rows[0]
    provenance = "scripts/sizing.sh run" + "".join(
        f" {word} {first[k]}" for k, word in (("measured_utc", "of"), ("commit", "at commit"))
        if first.get(k))
    captions = [
        "Criterion's handler benchmark (in-memory store, no history) in a CFS quota of "
        "MemorySize/1769 vCPU; the estimate criterion prints (slope or mean, not the median), "
        "whiskers: its 95 % CI.",
        f"Cost: arm64 ${float(first['usd_per_gb_s']):.12f}".rstrip("0") + " per GB-s + "
        f"${float(first['usd_per_million_requests']):.2f} per 1 M requests (us-east-1); "
        "no DynamoDB time. Reproduce: scripts/sizing.sh, then scripts/bench_charts.py.",
    ]
    if first.get("measured_utc") or first.get("commit"):
        captions.insert(0, provenance)
    elif label:
        captions.insert(0, label)
    svg = vbar_panels(
        "Latency and cost of a password change by MemorySize",
        "Lambda's CPU share grows with MemorySize (1 vCPU at 1769 MB); x86_64 here, not Graviton",
        categories,
        [("latency of one change", "time per change (ms)", latency, BLUE, "", " ms"),
         ("cost of 1 M changes", "USD per 1 M changes", cost, GREEN, "$", "")],
        "MemorySize (MB)", captions)
    return svg, figures


BUILDERS = {"hash": hash_chart, "handler": handler_chart, "memorysize": memorysize_chart}


# ---------------------------------------------------------------------------------------------
# --check


def within_rounding(printed: str, exact: float) -> bool:
    """True when `printed` is `exact` rounded to the decimals printed."""
    printed = printed.strip()
    if not re.fullmatch(r"-?\d+(\.\d+)?", printed):
        return False
    decimals = len(printed.partition(".")[2])
    return abs(float(printed) - exact) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12


class Checker:
    def __init__(self):
        self.errors, self.checked = [], 0

    def figure(self, where, what, printed, exact):
        self.checked += 1
        if exact is None or not within_rounding(printed, exact):
            shown = "no input" if exact is None else f"{exact:.6g}"
            self.errors.append(f"{where}: {what} is printed {printed!r}, its inputs give {shown}")


def check_ratio(inp: Inputs, c: Checker):
    r = inp.ratio
    where = str(inp.ratio_path)
    samples = inp.cffi_samples
    handler = r.get("handler")
    overhead = r.get("overhead")
    lines = r.get("printed") or []
    if not samples or not handler or len(lines) != 4:
        c.errors.append(f"{where}: incomplete (samples, handler and 4 printed lines expected)")
        return
    cffi = statistics.median(samples)
    handler_ms = handler["median_ns"] / 1e6
    patterns = [
        (r"median (\S+) ms per hash \(n=(\d+)\)", "argon2-cffi median (ms)", cffi),
        (r"write\): median (\S+) ms$", "handler median (ms)", handler_ms),
        (r"without argon2: median (\S+) us$", "handler overhead without argon2 (us)",
         overhead["median_ns"] / 1e3 if overhead else None),
        (r"= (\S+) \(target <= (\S+)\)$", "handler / (2 x argon2-cffi hash)",
         handler_ms / (2 * cffi)),
    ]
    for line, (pattern, what, exact) in zip(lines, patterns):
        m = re.search(pattern, line)
        if not m:
            c.errors.append(f"{where}: printed line not understood: {line!r}")
            continue
        if exact is None and m.group(1) == "nan":
            c.checked += 1
            continue
        c.figure(where, what, m.group(1), exact)
        if what.startswith("argon2-cffi") and int(m.group(2)) != len(samples):
            c.errors.append(f"{where}: printed n={m.group(2)}, {len(samples)} samples recorded")
    for field, exact in (("ratio", handler_ms / (2 * cffi)),
                         ("median_ms", cffi)):
        stated = r.get(field) if field == "ratio" else r.get("argon2_cffi", {}).get(field)
        c.checked += 1
        if not isinstance(stated, (int, float)) or not same(stated, exact):
            c.errors.append(f"{where}: {field} is {stated!r}, its inputs give {exact!r}")


def check_sizing(inp: Inputs, c: Checker):
    where = str(inp.sizing_path)
    for row in inp.sizing:
        try:
            exact = sizing_figures(row)
        except (KeyError, ValueError) as e:
            c.errors.append(f"{where}: row {row} unreadable: {e!r}")
            continue
        mem = row["memory_mb"]
        for column in ("cpu_quota", "gb_s_per_change", "usd_per_million_changes"):
            c.figure(where, f"{column} at {mem} MB", row.get(column) or "", exact[column])
        lower, upper = row.get("change_ms_lower"), row.get("change_ms_upper")
        if lower and upper and not float(lower) <= float(row["change_ms"]) <= float(upper):
            note(f"{where}: at {mem} MB the estimate {row['change_ms']} ms lies outside its "
                 f"interval {lower}-{upper}")


def check_chart(path: pathlib.Path, figures: dict, c: Checker):
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        c.errors.append(f"{path}: not valid XML: {e}")
        return
    shown = set()
    for el in tree.iter():
        key = el.get("data-figure")
        if key is None:
            continue
        shown.add(key)
        c.figure(str(path), key, el.text or "", figures.get(key))
    for key in sorted(set(figures) - shown):
        c.errors.append(f"{path}: lacks {key} ({figures[key]:.6g}), which its inputs hold: redraw")


def run_check(inp: Inputs, out_dir: pathlib.Path, only) -> int:
    c = Checker()
    if inp.ratio is not None:
        check_ratio(inp, c)
        current = load_criterion(inp.target / "criterion").get(HANDLER)
        recorded = inp.criterion.get(HANDLER)
        if current and recorded and not same(current.median, recorded.median):
            note(f"note: {HANDLER} was run again after bench_ratio.py ({current.median:.2f} ms "
                 f"now, {recorded.median:.2f} ms paired with argon2-cffi); ratio.json and the "
                 f"charts stand for the run bench_ratio.py saw")
    else:
        note(f"no {inp.ratio_path} to check")
    if inp.sizing:
        check_sizing(inp, c)
    else:
        note(f"no {inp.sizing_path} to check")
    for name in only:
        path = out_dir / CHARTS[name]
        if not path.exists():
            note(f"no {path} to check")
            continue
        built = BUILDERS[name](inp, None)
        if built is None:
            note(f"{path} not checked: its inputs are absent")
            continue
        check_chart(path, built[1], c)
    for error in c.errors:
        print(f"MISMATCH {error}", file=sys.stderr)
    if c.errors:
        print(f"bench_charts --check: {len(c.errors)} of {c.checked} figures do not match "
              f"their inputs", file=sys.stderr)
        return 1
    if c.checked == 0:
        print("bench_charts --check: nothing to check (no ratio.json, sizing.csv or chart)",
              file=sys.stderr)
        return 1
    print(f"bench_charts --check: {c.checked} figures match their inputs")
    return 0


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target-dir", type=pathlib.Path,
                   default=pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")),
                   help="cargo's target directory ($CARGO_TARGET_DIR, else ./target)")
    p.add_argument("--out-dir", type=pathlib.Path, default=ROOT / "docs" / "bench")
    p.add_argument("--cargo-lock", type=pathlib.Path, default=ROOT / "Cargo.lock",
                   help="read for the crates' versions in the labels")
    p.add_argument("--label", help="a caption line, e.g. the date and commit of the run")
    p.add_argument("--only", action="append", choices=sorted(CHARTS),
                   help="draw (or check) only this chart; repeatable")
    p.add_argument("--check", action="store_true",
                   help="draw nothing; fail if a stated figure does not match its inputs")
    args = p.parse_args(argv)
    only = [name for name in CHARTS if name in (args.only or CHARTS)]
    inp = Inputs(args.target_dir, args.cargo_lock, quiet=args.check)
    if args.check:
        return run_check(inp, args.out_dir, only)
    drawn = 0
    for name in only:
        built = BUILDERS[name](inp, args.label)
        if built is None:
            note(f"{CHARTS[name]} not drawn")
            continue
        args.out_dir.mkdir(parents=True, exist_ok=True)
        path = args.out_dir / CHARTS[name]
        with path.open("w", encoding="utf-8", newline="\n") as f:
            f.write(built[0])
        print(f"wrote {path}")
        drawn += 1
    if not drawn:
        note("no chart drawn: no benchmark output under " + str(args.target_dir))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
