"""Measure the on-device classifier: start-up time, memory and latency per photo on one core.

    python -m scripts.bench_classifier [--photos DIR] [--count 100] [--photo-size 4032x3024]

Each timed call opens the encoded photo from memory, decodes, resizes and runs the
model, so disk reads are left out and decoding is included. With --photo-size the
photos are first re-encoded at that size, as a phone would send them. The printed RSS
is the resident memory of this process, which also contains the encoded photos, so the
memory the model adds is printed on its own line.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
from pathlib import Path

import numpy as np

TARGET_LATENCY_MS = 40.0
TARGET_RSS_MB = 250.0
DEFAULT_PHOTO_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "photos" / "trashnet"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTO_DIR,
                        help="folder searched recursively for *.jpg (default: the test fixtures)")
    parser.add_argument("--count", type=int, default=100, help="timed classifications (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed classifications first (default: %(default)s)")
    parser.add_argument("--photo-size", default=None, metavar="WIDTHxHEIGHT",
                        help="re-encode every photo as a JPEG of this size before timing, e.g. 4032x3024")
    parser.add_argument("--model-dir", type=Path, default=None, help="folder with model.onnx and labels.json")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when p50 latency exceeds {TARGET_LATENCY_MS:.0f} ms or RSS {TARGET_RSS_MB:.0f} MB")
    return parser.parse_args(argv)


def resident_memory_mb() -> float:
    """Return the current resident set size from /proc (Linux only)."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


def encoded_photos(photo_dir: Path, count: int, photo_size: str | None) -> list[bytes]:
    from PIL import Image

    paths = sorted(photo_dir.rglob("*.jpg"))
    if not paths:
        raise SystemExit(f"error: no *.jpg under {photo_dir}; pass a photo folder with --photos")
    # Spread the sample over all classes, repeating photos when the folder has fewer than `count`.
    chosen = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, num=min(count, len(paths)))]
    photos = [path.read_bytes() for path in chosen]
    if photo_size is not None:
        width, height = (int(side) for side in photo_size.lower().split("x"))
        resized = []
        for data in photos:
            with Image.open(io.BytesIO(data)) as image:
                output = io.BytesIO()
                image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(output, "JPEG", quality=90)
                resized.append(output.getvalue())
        photos = resized
    return [photos[i % len(photos)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    photos = encoded_photos(args.photos, args.count, args.photo_size)
    rss_before_mb = resident_memory_mb()

    started = time.perf_counter()
    from PIL import Image

    from jobs.classifier import DEFAULT_MODEL_DIR, LocalClassifier
    import_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    classifier = LocalClassifier.load(args.model_dir or DEFAULT_MODEL_DIR)
    load_ms = (time.perf_counter() - started) * 1000
    rss_loaded_mb = resident_memory_mb()

    for data in photos[: args.warmup]:
        with Image.open(io.BytesIO(data)) as image:
            classifier.classify(image)

    latencies_ms = []
    for data in photos:
        started = time.perf_counter()
        with Image.open(io.BytesIO(data)) as image:
            classifier.classify(image)
        latencies_ms.append((time.perf_counter() - started) * 1000)
    rss_after_mb = resident_memory_mb()

    with Image.open(io.BytesIO(photos[0])) as image:
        size = image.size
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    print(f"photos: {len(photos)} timed after {args.warmup} warm-up, {size[0]}x{size[1]} JPEG")
    print(f"import_ms: {import_ms:.0f} (jobs.classifier and onnxruntime; numpy and Pillow were loaded before)")
    print(f"session_load_ms: {load_ms:.0f}")
    print(f"latency_ms_p50: {p50:.1f}")
    print(f"latency_ms_p99: {p99:.1f}")
    print(f"rss_mb_before_import: {rss_before_mb:.0f}")
    print(f"rss_mb_after_load: {rss_loaded_mb:.0f}")
    print(f"rss_mb_added_by_model: {rss_loaded_mb - rss_before_mb:.0f}")
    print(f"rss_mb_after_run: {rss_after_mb:.0f}")

    if args.check and (p50 > TARGET_LATENCY_MS or rss_after_mb > TARGET_RSS_MB):
        print(f"error: over target ({TARGET_LATENCY_MS:.0f} ms p50, {TARGET_RSS_MB:.0f} MB RSS)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
