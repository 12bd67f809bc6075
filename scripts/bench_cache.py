"""Measure the near-duplicate result cache on real photos and phone-style copies of them.

    python -m scripts.bench_cache [--photos DIR] [--sample 240] [--entries 100000] [--compare]

The photos are a sample of TrashNet spread evenly over its classes, plus the three
NAVER photos in tests/fixtures. Each photo gets the copies a phone makes when it is
sent again. They are re-encoded at JPEG quality 60-95, resized to 50-200 %, rotated
with an EXIF orientation tag that turns them upright again, made 10 % brighter or
darker, and cropped by 1-3 %. Every image is decoded the way the worker decodes an upload.

Printed figures:
- Recall: the share of copies that find their own original in a Redis index of
  `--entries` fingerprints, the real photos plus random ones.
- False hits: pairs of distinct photos of the sample within both thresholds, split
  into same-class and different-class pairs. Byte-identical files that the data set
  lists under two classes are counted apart, since no fingerprint can separate them.
- Lookup latency p50/p99 in that index, and the time to fingerprint one image.

With --compare it also prints each imagehash type used alone, other thresholds, false
hits over every TrashNet photo and the lookup latency of other bandings: the
measurements behind the defaults. That adds several minutes. Every Redis-compatible
server it uses is its own, started on a free port and stopped afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import redis
from PIL import Image, ImageEnhance

from jobs.imaging import MAX_LONG_EDGE_PX, open_upright, reduce_to
from jobs.similarity import (
    DEFAULT_BAND_COUNT,
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MAX_GRADIENT_DISTANCE,
    HASH_BITS,
    Fingerprint,
    SimilarIndex,
    compute_fingerprint,
    hash_source,
)
from scripts.local_services import REPO_ROOT, free_port, start_redis

DEFAULT_PHOTOS_DIR = REPO_ROOT.parent / "shared" / "data" / "photos"
FIXTURE_PHOTOS_DIR = REPO_ROOT / "tests" / "fixtures" / "photos" / "naver"
MAX_PIXELS = 50_000_000
ORIENTATION_TAG = 0x0112
CONTEXT = "bench-catalogue-v1|bench-vision|bench-feedback|ko"
WARMUP_LOOKUPS = 200

TARGET_RECALL = 0.95
TARGET_FALSE_HIT_RATE = 0.001
TARGET_LOOKUP_P99_MS = 2.0


@dataclass(frozen=True)
class SourcePhoto:
    name: str
    label: str
    data: bytes
    sha256: str

    @classmethod
    def read(cls, path: Path, name: str, label: str) -> SourcePhoto:
        data = path.read_bytes()
        return cls(name, label, data, hashlib.sha256(data).hexdigest())


@dataclass
class Fingerprinted:
    photo: SourcePhoto
    fingerprint: Fingerprint
    variants: dict[str, Fingerprint]
    # With --compare: hash type -> "original" or variant name -> hash value.
    other_hashes: dict[str, dict[str, int]]


# The imagehash types compared with --compare, each used alone.
HASH_TYPES: dict[str, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash (DCT)": imagehash.phash,
    "dhash (gradient)": imagehash.dhash,
    "average_hash": imagehash.average_hash,
    "whash (Haar)": imagehash.whash,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench_cache", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS_DIR,
                        help="folder with trashnet/<class>/*.jpg (default: %(default)s)")
    parser.add_argument("--sample", type=int, default=240,
                        help="TrashNet photos to use, spread evenly over the classes (default: %(default)s)")
    parser.add_argument("--entries", type=int, default=100_000,
                        help="fingerprints in the Redis index while timing lookups (default: %(default)s)")
    parser.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE,
                        help="DCT hash threshold T in bits (default: %(default)s)")
    parser.add_argument("--max-gradient-distance", type=int, default=DEFAULT_MAX_GRADIENT_DISTANCE,
                        help="gradient hash threshold in bits (default: %(default)s)")
    parser.add_argument("--bands", type=int, default=DEFAULT_BAND_COUNT,
                        help="bands of the DCT hash in the index (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample and the random entries")
    parser.add_argument("--compare", action="store_true",
                        help="also measure other hash types, thresholds and bandings (adds several minutes)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when recall, false hits or lookup p99 miss their targets")
    return parser.parse_args(argv)


def load_photos(photos_dir: Path, sample: int, seed: int) -> list[SourcePhoto]:
    trashnet = photos_dir / "trashnet"
    class_dirs = sorted(path for path in trashnet.iterdir() if path.is_dir()) if trashnet.is_dir() else []
    if not class_dirs:
        raise SystemExit(f"error: no class folders found under {trashnet}. Pass the photo folder with --photos.")

    rng = random.Random(seed)
    per_class = max(1, sample // len(class_dirs))
    photos = []
    for class_dir in class_dirs:
        paths = sorted(class_dir.glob("*.jpg"))
        for path in sorted(rng.sample(paths, min(per_class, len(paths)))):
            photos.append(SourcePhoto.read(path, f"{class_dir.name}/{path.name}", class_dir.name))
    # Each NAVER photo is a scene of its own, so it gets a class of its own.
    for path in sorted(FIXTURE_PHOTOS_DIR.glob("*.jpg")):
        photos.append(SourcePhoto.read(path, f"naver/{path.name}", f"naver/{path.stem}"))
    return photos


def worker_image(data: bytes) -> Image.Image:
    """Decode an upload the way the worker's preprocess stage does."""
    image, _, _ = open_upright(data, MAX_PIXELS, MAX_LONG_EDGE_PX)
    return reduce_to(image, MAX_LONG_EDGE_PX)


def encode_jpeg(image: Image.Image, quality: int, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    if exif is None:
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def resized(scale: float) -> Callable[[Image.Image], bytes]:
    def build(image: Image.Image) -> bytes:
        size = (round(image.width * scale), round(image.height * scale))
        return encode_jpeg(image.resize(size, Image.Resampling.LANCZOS), 85)

    return build


def exif_rotated(orientation: int) -> Callable[[Image.Image], bytes]:
    # Store the pixels turned the other way, so a viewer that applies the tag shows
    # the original upright image again.
    stored_turn = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }[orientation]

    def build(image: Image.Image) -> bytes:
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        return encode_jpeg(image.transpose(stored_turn), 90, exif)

    return build


def brightened(factor: float) -> Callable[[Image.Image], bytes]:
    return lambda image: encode_jpeg(ImageEnhance.Brightness(image).enhance(factor), 90)


def cropped_image(image: Image.Image, fraction: float, centred: bool) -> Image.Image:
    cut_x, cut_y = round(image.width * fraction), round(image.height * fraction)
    if centred:
        return image.crop((cut_x // 2, cut_y // 2, image.width - (cut_x - cut_x // 2), image.height - (cut_y - cut_y // 2)))
    return image.crop((cut_x, cut_y, image.width, image.height))


def cropped(fraction: float, centred: bool) -> Callable[[Image.Image], bytes]:
    return lambda image: encode_jpeg(cropped_image(image, fraction, centred), 90)


def resent_by_phone(image: Image.Image) -> bytes:
    """Several edits at once: a 60 % copy, 2 % cut from one corner, 8 % brighter, quality 70."""
    small = image.resize((round(image.width * 0.6), round(image.height * 0.6)), Image.Resampling.BILINEAR)
    edited = ImageEnhance.Brightness(cropped_image(small, 0.02, centred=False)).enhance(1.08)
    return encode_jpeg(edited, 70)


VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg q60": lambda image: encode_jpeg(image, 60),
    "jpeg q75": lambda image: encode_jpeg(image, 75),
    "jpeg q95": lambda image: encode_jpeg(image, 95),
    "resize 50%": resized(0.5),
    "resize 75%": resized(0.75),
    "resize 150%": resized(1.5),
    "resize 200%": resized(2.0),
    "exif rotate 180": exif_rotated(3),
    "exif rotate 90 cw": exif_rotated(6),
    "exif rotate 90 ccw": exif_rotated(8),
    "brightness 90%": brightened(0.9),
    "brightness 110%": brightened(1.1),
    "crop 1% centred": cropped(0.01, centred=True),
    "crop 3% centred": cropped(0.03, centred=True),
    "crop 3% corner": cropped(0.03, centred=False),
    "phone re-send": resent_by_phone,
}


def fingerprint_photos(photos: list[SourcePhoto], compare: bool) -> tuple[list[Fingerprinted], list[float]]:
    """Fingerprint every photo and its variants, and return the time each fingerprint took."""
    results = []
    fingerprint_ms = []
    for photo in photos:
        upright, _, _ = open_upright(photo.data, MAX_PIXELS, 10**6)
        original = worker_image(photo.data)
        started = time.perf_counter()
        original_print = compute_fingerprint(original)
        fingerprint_ms.append((time.perf_counter() - started) * 1000)
        item = Fingerprinted(photo, original_print, {}, {})
        if compare:
            add_other_hashes(item, "original", original)

        for name, build in VARIANTS.items():
            variant = worker_image(build(upright))
            if name.startswith("exif") and variant.size != original.size:
                raise AssertionError(f"{photo.name}: {name} decodes to {variant.size}, expected {original.size}")
            started = time.perf_counter()
            item.variants[name] = compute_fingerprint(variant)
            fingerprint_ms.append((time.perf_counter() - started) * 1000)
            if compare:
                add_other_hashes(item, name, variant)
        results.append(item)
    return results, fingerprint_ms


def add_other_hashes(item: Fingerprinted, image_name: str, image: Image.Image) -> None:
    source = hash_source(image)
    for hash_name, hash_type in HASH_TYPES.items():
        item.other_hashes.setdefault(hash_name, {})[image_name] = int(str(hash_type(source)), 16)


def distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_table(title: str, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [header] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                               for column, (cell, width) in enumerate(zip(row, widths))))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def report_variants(items: list[Fingerprinted], max_distance: int, max_gradient: int) -> None:
    rows = []
    for name in VARIANTS:
        dct = [distance(item.fingerprint.perceptual, item.variants[name].perceptual) for item in items]
        gradient = [distance(item.fingerprint.gradient, item.variants[name].gradient) for item in items]
        found = sum(d <= max_distance and g <= max_gradient for d, g in zip(dct, gradient))
        rows.append([name, percentile(dct, 0.5), percentile(dct, 0.95), max(dct),
                     percentile(gradient, 0.5), percentile(gradient, 0.95), max(gradient),
                     f"{found / len(items):.1%}"])
    print_table(
        f"Distance from each variant to its original (in memory, T={max_distance}, gradient <= {max_gradient})",
        ["variant", "DCT p50", "p95", "max", "gradient p50", "p95", "max", "within both"],
        rows,
    )


@dataclass
class PairCounts:
    pairs: int = 0
    same_class: int = 0
    different_class: int = 0
    identical_files: int = 0


def count_false_hits(items: list[Fingerprinted], max_distance: int, max_gradient: int) -> tuple[PairCounts, list[str]]:
    counts = PairCounts()
    listed = []
    for first, second in itertools.combinations(items, 2):
        if first.photo.sha256 == second.photo.sha256:
            counts.identical_files += 1
            listed.append(f"{first.photo.name} = {second.photo.name}: identical files, not counted")
            continue
        counts.pairs += 1
        dct = distance(first.fingerprint.perceptual, second.fingerprint.perceptual)
        gradient = distance(first.fingerprint.gradient, second.fingerprint.gradient)
        if dct > max_distance or gradient > max_gradient:
            continue
        if first.photo.label == second.photo.label:
            counts.same_class += 1
            kind = "same class"
        else:
            counts.different_class += 1
            kind = "DIFFERENT CLASS"
        listed.append(f"{first.photo.name} ~ {second.photo.name}: DCT {dct}, gradient {gradient} ({kind})")
    return counts, listed


def report_thresholds(items: list[Fingerprinted]) -> None:
    """Print recall and false hits for nearby thresholds, with and without the gradient check."""
    rows = []
    for max_distance in (4, 6, 8, 10, 12, 14):
        for max_gradient in (HASH_BITS, 8, 10, 12):
            recall = sum(
                distance(item.fingerprint.perceptual, variant.perceptual) <= max_distance
                and distance(item.fingerprint.gradient, variant.gradient) <= max_gradient
                for item in items for variant in item.variants.values()
            ) / (len(items) * len(VARIANTS))
            counts, _ = count_false_hits(items, max_distance, max_gradient)
            rows.append([max_distance, "off" if max_gradient == HASH_BITS else max_gradient, f"{recall:.2%}",
                         f"{(counts.same_class + counts.different_class) / counts.pairs:.3%}",
                         counts.same_class, counts.different_class])
    print_table("Thresholds (in memory, over all variants and all pairs of distinct photos)",
                ["DCT T", "gradient", "recall", "false hits", "same class", "different class"], rows)


def report_hash_types(items: list[Fingerprinted]) -> None:
    """Print recall and false hits of each imagehash type used alone, at a few thresholds."""
    rows = []
    for hash_name in HASH_TYPES:
        for max_distance in (4, 8, 12):
            found = sum(
                distance(item.other_hashes[hash_name]["original"], item.other_hashes[hash_name][variant]) <= max_distance
                for item in items for variant in VARIANTS
            )
            same = different = pairs = 0
            for first, second in itertools.combinations(items, 2):
                if first.photo.sha256 == second.photo.sha256:
                    continue
                pairs += 1
                first_hash = first.other_hashes[hash_name]["original"]
                second_hash = second.other_hashes[hash_name]["original"]
                if distance(first_hash, second_hash) <= max_distance:
                    same += first.photo.label == second.photo.label
                    different += first.photo.label != second.photo.label
            rows.append([hash_name, max_distance, f"{found / (len(items) * len(VARIANTS)):.2%}",
                         f"{(same + different) / pairs:.3%}", same, different])
    print_table("Hash types used alone (in memory)",
                ["hash", "T", "recall", "false hits", "same class", "different class"], rows)


def random_fingerprint(rng: random.Random) -> Fingerprint:
    # Shaped like a DCT hash: the first bit (the DC term) is set in every TrashNet
    # photo, and half of the bits are ones because imagehash.phash compares with the median.
    ones = rng.sample(range(HASH_BITS - 1), HASH_BITS // 2 - 1)
    perceptual = 1 << (HASH_BITS - 1)
    for position in ones:
        perceptual |= 1 << position
    return Fingerprint(perceptual, rng.getrandbits(HASH_BITS))


def fill_index(index: SimilarIndex, items: list[Fingerprinted], entries: int, rng: random.Random) -> float:
    """Store the real photos and random fingerprints up to `entries`, and return the seconds taken."""
    started = time.perf_counter()
    index.add_many(CONTEXT, [(item.photo.sha256, item.fingerprint) for item in items])
    batch = []
    for _ in range(max(0, entries - len(items))):
        batch.append((f"{rng.getrandbits(256):064x}", random_fingerprint(rng)))
        if len(batch) == 2000:
            index.add_many(CONTEXT, batch)
            batch.clear()
    if batch:
        index.add_many(CONTEXT, batch)
    return time.perf_counter() - started


@dataclass
class LookupResult:
    found_own: int = 0
    found_other: int = 0
    missed: int = 0
    variant_ms: list[float] = field(default_factory=list)
    absent_ms: list[float] = field(default_factory=list)
    # (variant, photo name, entry id found) for copies that found another entry.
    wrong_matches: list[tuple[str, str, str]] = field(default_factory=list)
    # Mean server time of one ZUNION from INFO commandstats, without the round trip.
    server_zunion_us: float = 0.0
    load_average: float = 0.0


def time_lookups(index: SimilarIndex, connection: redis.Redis, items: list[Fingerprinted], absent_lookups: int,
                 rng: random.Random) -> LookupResult:
    """Look up every variant and `absent_lookups` random fingerprints, in random order."""
    probes: list[tuple[Fingerprinted | None, str, Fingerprint]] = [
        (item, name, variant) for item in items for name, variant in item.variants.items()
    ]
    probes.extend((None, "absent", random_fingerprint(rng)) for _ in range(absent_lookups))
    rng.shuffle(probes)
    for _, _, fingerprint in probes[:WARMUP_LOOKUPS]:
        index.lookup(CONTEXT, fingerprint)
    connection.config_resetstat()

    result = LookupResult()
    for item, variant_name, fingerprint in probes:
        started = time.perf_counter()
        match = index.lookup(CONTEXT, fingerprint)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if item is None:
            result.absent_ms.append(elapsed_ms)
            continue
        result.variant_ms.append(elapsed_ms)
        if match is None:
            result.missed += 1
        elif match.entry_id == item.photo.sha256:
            result.found_own += 1
        else:
            result.found_other += 1
            result.wrong_matches.append((variant_name, item.photo.name, match.entry_id))
    result.server_zunion_us = float(connection.info("commandstats")["cmdstat_zunion"]["usec_per_call"])
    result.load_average = os.getloadavg()[0]
    return result


def used_memory_bytes(connection: redis.Redis) -> int:
    return int(connection.info("memory")["used_memory"])


# (T, band count) pairs timed with --compare, the chosen defaults among them.
BANDINGS = ((6, 3), (6, 4), (6, 5), (6, 7), (8, 3), (8, 4), (8, 5))


def measure_index(items: list[Fingerprinted], args: argparse.Namespace, max_distance: int, band_count: int,
                  absent_lookups: int, sample_every: int) -> tuple[SimilarIndex, float, float, LookupResult]:
    """Fill a fresh server with `args.entries` fingerprints and time lookups of variants and absent photos.

    Return the index, the fill time in seconds, Redis memory per entry in bytes and the lookups.
    """
    port = free_port()
    server = start_redis(port)
    try:
        connection = redis.Redis(host="127.0.0.1", port=port)
        index = SimilarIndex(connection, ttl_s=3600, max_distance=max_distance, band_count=band_count,
                             max_gradient_distance=args.max_gradient_distance)
        rng = random.Random(args.seed)
        memory_before = used_memory_bytes(connection)
        fill_s = fill_index(index, items, args.entries, rng)
        memory_per_entry = (used_memory_bytes(connection) - memory_before) / max(args.entries, len(items))
        lookups = time_lookups(index, connection, items[::sample_every], absent_lookups, rng)
    finally:
        server.stop()
    return index, fill_s, memory_per_entry, lookups


def compare_bandings(items: list[Fingerprinted], args: argparse.Namespace) -> None:
    rows = []
    for max_distance, band_count in BANDINGS:
        index, _, memory_per_entry, lookups = measure_index(
            items, args, max_distance, band_count, absent_lookups=300, sample_every=max(1, len(items) // 40)
        )
        timings = lookups.variant_ms + lookups.absent_ms
        rows.append([max_distance, band_count, index.probe_radius, index.probed_key_count,
                     f"{percentile(timings, 0.5):.2f}", f"{percentile(timings, 0.99):.2f}",
                     f"{lookups.server_zunion_us:.0f}", f"{memory_per_entry:.0f}"])
    print_table(f"Bandings with {args.entries} entries (lookups of variants and absent photos)",
                ["DCT T", "bands", "probe radius", "keys per lookup", "p50 ms", "p99 ms", "ZUNION µs",
                 "bytes per entry"], rows)


def report_all_pairs(photos_dir: Path, max_distance: int, max_gradient: int) -> None:
    """Count false hits over every pair of TrashNet photos, originals only."""
    items = []
    for path in sorted((photos_dir / "trashnet").glob("*/*.jpg")):
        photo = SourcePhoto.read(path, f"{path.parent.name}/{path.name}", path.parent.name)
        items.append(Fingerprinted(photo, compute_fingerprint(worker_image(photo.data)), {}, {}))
    counts, listed = count_false_hits(items, max_distance, max_gradient)
    print(f"\nAll {len(items)} TrashNet photos, {counts.pairs} pairs, T={max_distance}, gradient <= {max_gradient}: "
          f"{counts.same_class} same class, {counts.different_class} different class, "
          f"{counts.identical_files} pairs of identical files not counted")
    for line in listed:
        print(f"  {line}")


def print_summary(rows: Sequence[tuple[str, object]]) -> None:
    print("\nSummary")
    label_width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(label_width)}  {value}")


def print_listings(items: list[Fingerprinted], listed: list[str], lookups: LookupResult) -> None:
    if listed:
        print("\nPairs of distinct photos within both thresholds:")
        for line in listed:
            print(f"  {line}")
    if lookups.wrong_matches:
        names = {item.photo.sha256: item.photo.name for item in items}
        print("\nCopies that found another photo:")
        for variant_name, photo_name, entry_id in lookups.wrong_matches:
            print(f"  {variant_name} of {photo_name} -> {names.get(entry_id, 'a random entry')}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_started = time.perf_counter()

    photos = load_photos(args.photos, args.sample, args.seed)
    print(f"{len(photos)} photos, {len(VARIANTS)} variants each; decoding and fingerprinting ...", flush=True)
    items, fingerprint_ms = fingerprint_photos(photos, args.compare)

    report_variants(items, args.max_distance, args.max_gradient_distance)
    if args.compare:
        report_thresholds(items)
        report_hash_types(items)

    counts, listed = count_false_hits(items, args.max_distance, args.max_gradient_distance)
    false_hit_rate = (counts.same_class + counts.different_class) / counts.pairs
    if args.compare:
        report_all_pairs(args.photos, args.max_distance, args.max_gradient_distance)
        compare_bandings(items, args)

    index, fill_s, memory_per_entry, lookups = measure_index(
        items, args, args.max_distance, args.bands, absent_lookups=1000, sample_every=1
    )

    variant_count = len(items) * len(VARIANTS)
    recall = lookups.found_own / variant_count
    all_ms = lookups.variant_ms + lookups.absent_ms
    lookup_p99 = percentile(all_ms, 0.99)
    rows: list[tuple[str, object]] = [
        ("fingerprint", "DCT hash (imagehash.phash) indexed, gradient hash (imagehash.dhash) checked"),
        ("thresholds", f"DCT <= {args.max_distance} bits, gradient <= {args.max_gradient_distance} bits"),
        ("index", f"{args.bands} bands, probe radius {index.probe_radius}, {index.probed_key_count} keys per lookup"),
        ("photos / variants", f"{len(items)} / {variant_count}"),
        ("recall (copy finds its original in Redis)", f"{recall:.2%} (target >= {TARGET_RECALL:.0%})"),
        ("  copies matched to another photo", lookups.found_other),
        ("  copies missed", lookups.missed),
        ("pairs of distinct photos", counts.pairs),
        ("false hits", f"{false_hit_rate:.3%} (target <= {TARGET_FALSE_HIT_RATE:.1%})"),
        ("  same class", counts.same_class),
        ("  different class", f"{counts.different_class} (target 0)"),
        ("  identical files (not counted)", counts.identical_files),
        ("entries in Redis", max(args.entries, len(items))),
        ("fill time", f"{fill_s:.1f} s"),
        ("Redis memory per entry", f"{memory_per_entry:.0f} bytes"),
        ("lookup p50 / p99 (hits and misses)",
         f"{percentile(all_ms, 0.5):.2f} / {lookup_p99:.2f} ms (target p99 <= {TARGET_LOOKUP_P99_MS} ms)"),
        ("  copies of stored photos p50 / p99",
         f"{percentile(lookups.variant_ms, 0.5):.2f} / {percentile(lookups.variant_ms, 0.99):.2f} ms"),
        ("  random absent photos p50 / p99",
         f"{percentile(lookups.absent_ms, 0.5):.2f} / {percentile(lookups.absent_ms, 0.99):.2f} ms"),
        ("  server time of one ZUNION (mean)", f"{lookups.server_zunion_us:.0f} µs"),
        ("  1-minute load average after timing", f"{lookups.load_average:.1f} on {os.cpu_count()} CPUs"),
        ("fingerprint of a decoded image p50 / p99",
         f"{statistics.median(fingerprint_ms):.2f} / {percentile(fingerprint_ms, 0.99):.2f} ms"),
        ("run time", f"{time.perf_counter() - run_started:.0f} s"),
    ]
    print_summary(rows)
    print_listings(items, listed, lookups)

    met = recall >= TARGET_RECALL and false_hit_rate <= TARGET_FALSE_HIT_RATE and counts.different_class == 0
    met = met and lookup_p99 <= TARGET_LOOKUP_P99_MS
    if args.check and not met:
        print("\nerror: at least one target was missed, see the summary above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
