"""Worker CPU per photo for the image work of a job (no AI): decode, orientation,
hashing, resizing and re-encoding, on a 12-megapixel JPEG of the size phones send.

    python -m scripts.bench_pipeline [--repeat 15]

The test photo is made from a real one (tests/fixtures/photos/naver/2.jpg):
upscaled to 4000x3000 with Lanczos, Gaussian noise (sigma 6) added as fine
detail so that it compresses like a camera photo, saved at JPEG quality 92 with
EXIF orientation 6 and GPS tags. The naive path decodes at full size and
resizes once with Lanczos; the product path is the worker's own code.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps

from jobs.imaging import prepare_photo
from jobs.similarity import compute_fingerprint
from scripts.local_services import REPO_ROOT

SOURCE = REPO_ROOT / "tests" / "fixtures" / "photos" / "naver" / "2.jpg"
MAX_PIXELS = 50_000_000


def make_phone_photo(source: Path = SOURCE) -> bytes:
    image = Image.open(source).convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(7).normal(0.0, 6.0, pixels.shape)
    detailed = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 33.0, 59.4), 3: "E", 4: (126.0, 58.0, 40.8)})
    buffer = io.BytesIO()
    detailed.save(buffer, format="JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def naive_path(data: bytes) -> bytes:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    hashlib.sha256(data).hexdigest()
    imagehash.phash(image)
    image.thumbnail((1568, 1568), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def product_path(data: bytes) -> bytes:
    hashlib.sha256(data).hexdigest()
    photo = prepare_photo(data, MAX_PIXELS)
    compute_fingerprint(photo.image)
    return photo.jpeg


def cpu_ms(function: Callable[[bytes], bytes], data: bytes, repeat: int) -> list[float]:
    function(data)  # warm-up: codecs, caches
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        function(data)
        samples.append((time.process_time() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure worker CPU per 12-megapixel photo.")
    parser.add_argument("--repeat", type=int, default=15, help="measured runs per path (default: %(default)s)")
    args = parser.parse_args()

    data = make_phone_photo()
    width, height = Image.open(io.BytesIO(data)).size
    print(f"test photo: {width}x{height} = {width * height / 1e6:.1f} MP, {len(data) / 1e6:.2f} MB JPEG")
    print(f"{'path':<10} {'median ms':>10} {'min ms':>8}")
    for name, function in (("naive", naive_path), ("product", product_path)):
        samples = cpu_ms(function, data, args.repeat)
        print(f"{name:<10} {statistics.median(samples):>10.1f} {min(samples):>8.1f}")


if __name__ == "__main__":
    main()
