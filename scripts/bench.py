"""`make bench`: every benchmark in one go, each in its own process, with a time budget.

    python -m scripts.bench [--quick]

Runs, in order: worker CPU per 12-megapixel photo, nearby-query latency,
on-device classifier latency and memory, near-duplicate cache recall and lookup
latency, then the load benchmark (poll micro-benchmark, phone scenario with 3
API copies behind nginx, kill test). Each part prints its own table; the load
table is also written to bench-output/load.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from scripts.local_services import REPO_ROOT

# The classifier's latency is measured over real photos: all of TrashNet's glass
# class when the shared data sits beside the checkout, else the bundled demo photos.
SHARED_GLASS = REPO_ROOT.parent / "shared" / "data" / "photos" / "trashnet" / "glass"
CLASSIFIER_PHOTOS = ["--photos", str(SHARED_GLASS if SHARED_GLASS.is_dir() else REPO_ROOT / "data" / "demo")]

PARTS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("pipeline CPU per photo", ["scripts.bench_pipeline"], ["--repeat", "5"]),
    ("nearby collection points", ["scripts.bench_bins"], ["--queries", "2000"]),
    ("on-device classifier", ["scripts.bench_classifier", *CLASSIFIER_PHOTOS], ["--photos", "data/demo"]),
    ("near-duplicate cache", ["scripts.bench_cache", "--sample", "160"], ["--sample", "40", "--entries", "20000"]),
    ("load: polls and phones", ["scripts.bench_load"], ["--quick"]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark and print its figures.")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test of the benchmarks")
    args = parser.parse_args()

    failures = []
    began = time.monotonic()
    for title, command, quick_arguments in PARTS:
        module, *arguments = command
        if args.quick:
            arguments = quick_arguments
        print(f"\n=== {title} ({module}) ===", flush=True)
        started = time.monotonic()
        completed = subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO_ROOT, check=False)
        print(f"--- {title}: {time.monotonic() - started:.0f} s, exit code {completed.returncode}", flush=True)
        if completed.returncode != 0:
            failures.append(title)
    print(f"\nall benchmarks: {time.monotonic() - began:.0f} s", flush=True)
    if failures:
        print(f"failed parts: {', '.join(failures)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
