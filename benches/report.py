#!/usr/bin/env python3
"""Prints criterion's medians of the last `cargo bench` run as a Markdown table.

Usage: python3 benches/report.py GROUP BASELINE
  GROUP     a criterion group, such as sqlite_insert
  BASELINE  the function every other row is compared with, as a ratio of medians
Each row: the median time per iteration, the throughput when the benchmark declares one, and
BASELINE's median divided by the row's (above 1: faster than the baseline).
"""
import json
import pathlib
import sys


def median(group_dir: pathlib.Path, name: str) -> tuple[float, dict]:
    base = group_dir / name / "new"
    estimates = json.loads((base / "estimates.json").read_text())
    meta = json.loads((base / "benchmark.json").read_text())
    return estimates["median"]["point_estimate"], meta


def human_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    group, baseline = sys.argv[1], sys.argv[2]
    group_dir = pathlib.Path("target/criterion") / group
    if not group_dir.is_dir():
        sys.exit(f"no results for group {group!r} in {group_dir}: run `cargo bench` first")
    names = sorted(p.name for p in group_dir.iterdir() if (p / "new" / "estimates.json").exists())
    if baseline not in names:
        sys.exit(f"no baseline {baseline!r} in group {group!r}; have: {', '.join(names)}")
    base_ns, _ = median(group_dir, baseline)
    print(f"| {group} | median per iteration | throughput | {baseline} / this |")
    print("|---|---|---|---|")
    for name in names:
        ns, meta = median(group_dir, name)
        elements = (meta.get("throughput") or {}).get("Elements")
        rate = f"{elements / (ns / 1e9):,.0f} /s" if elements else ""
        print(f"| {name} | {human_time(ns)} | {rate} | {base_ns / ns:.2f}x |")


if __name__ == "__main__":
    main()
