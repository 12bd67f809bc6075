"""Classify photos with the on-device waste classifier.

    python -m scripts.classify PHOTO...

Prints one line per photo: path, category and confidence (3 decimals), separated by
tabs. A missing or unreadable photo is reported on stderr, the other photos are still
classified, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pi_heif
from PIL import Image, UnidentifiedImageError

from jobs.classifier import DEFAULT_MODEL_DIR, LocalClassifier

EXIT_UNREADABLE_PHOTO = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.classify", description="Classify waste photos on the CPU.")
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="JPEG, PNG, WebP or HEIC photo")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR,
                        help="folder with model.onnx and labels.json (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="confidence in [0, 1] below which the category is 'unknown' (default: from labels.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pi_heif.register_heif_opener()
    classifier = LocalClassifier.load(args.model_dir, threshold=args.threshold)

    exit_status = 0
    for path in args.photos:
        if not path.is_file():
            print(f"error: {path} not found", file=sys.stderr)
            exit_status = EXIT_UNREADABLE_PHOTO
            continue
        try:
            with Image.open(path) as image:
                result = classifier.classify(image)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as err:
            print(f"error: cannot read {path} as an image: {err}", file=sys.stderr)
            exit_status = EXIT_UNREADABLE_PHOTO
            continue
        print(f"{path}\t{result.category}\t{result.confidence:.3f}", flush=True)
    return exit_status


if __name__ == "__main__":
    sys.exit(main())
