"""The on-device classifier against the exported model and three held-out TrashNet photos."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from jobs.classifier import DEFAULT_MODEL_DIR, UNKNOWN_CATEGORY, Classification, LocalClassifier

REPO_ROOT = Path(__file__).resolve().parent.parent
PHOTO_DIR = Path(__file__).resolve().parent / "fixtures" / "photos" / "trashnet"
# Photos from the test split: numbered above every photo the model was trained on.
GLASS_PHOTO = PHOTO_DIR / "glass225.jpg"
METAL_PHOTO = PHOTO_DIR / "metal180.jpg"
CARDBOARD_PHOTO = PHOTO_DIR / "cardboard174.jpg"
EXIF_ORIENTATION_TAG = 0x0112


@pytest.fixture(scope="module")
def classifier() -> LocalClassifier:
    return LocalClassifier.load(DEFAULT_MODEL_DIR)


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        pytest.param(GLASS_PHOTO, "glass_bottle", id="glass"),
        pytest.param(METAL_PHOTO, "can_metal", id="metal-can"),
        pytest.param(CARDBOARD_PHOTO, "paper", id="cardboard"),
    ],
)
def test_classify_held_out_photo(classifier: LocalClassifier, photo: Path, expected: str) -> None:
    with Image.open(photo) as image:
        result = classifier.classify(image)

    assert result.category == expected
    assert classifier.threshold <= result.confidence <= 1.0
    assert result.confidence == max(result.scores.values())


def test_classify_returns_scores_per_category(classifier: LocalClassifier) -> None:
    with Image.open(GLASS_PHOTO) as image:
        result = classifier.classify(image)

    assert isinstance(result, Classification)
    assert list(result.scores) == classifier.spec.categories
    assert all(0.0 <= score <= 1.0 for score in result.scores.values())
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.model == "efficientnet-lite0-trashnet"


def test_classify_grey_image_is_unknown(classifier: LocalClassifier) -> None:
    grey = Image.new("RGB", (640, 480), (128, 128, 128))

    result = classifier.classify(grey)

    assert result.category == UNKNOWN_CATEGORY
    assert 0.0 <= result.confidence < classifier.threshold


def test_classify_threshold_argument_overrides_default() -> None:
    always_sure = LocalClassifier.load(DEFAULT_MODEL_DIR, threshold=0.0)
    grey = Image.new("RGB", (224, 224), (128, 128, 128))

    result = always_sure.classify(grey)

    assert always_sure.threshold == 0.0
    assert result.category != UNKNOWN_CATEGORY


def test_classify_rejects_threshold_outside_unit_range(classifier: LocalClassifier) -> None:
    with pytest.raises(ValueError, match="threshold must be between 0 and 1, got 1.5"):
        LocalClassifier(classifier.session, classifier.spec, threshold=1.5)


def test_load_reports_missing_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="labels.json not found"):
        LocalClassifier.load(tmp_path)


def test_classify_same_for_decoded_and_lazy_jpeg(classifier: LocalClassifier) -> None:
    with Image.open(METAL_PHOTO) as lazy:
        from_lazy = classifier.classify(lazy)
    with Image.open(METAL_PHOTO) as image:
        image.load()
        from_decoded = classifier.classify(image.convert("RGB"))

    assert from_lazy.category == from_decoded.category
    assert from_lazy.confidence == pytest.approx(from_decoded.confidence, abs=1e-5)


def test_classify_large_jpeg_decodes_reduced(classifier: LocalClassifier) -> None:
    with Image.open(CARDBOARD_PHOTO) as image:
        upright = image.convert("RGB")
    encoded = io.BytesIO()
    upright.resize((upright.width * 8, upright.height * 8), Image.Resampling.BICUBIC).save(encoded, "JPEG", quality=92)

    with Image.open(encoded) as large:
        result = classifier.classify(large)
        decoded_size = large.size

    # 1/8 scale is the largest reduction that stays at or above 224x224.
    assert decoded_size == upright.size
    assert result.category == "paper"


def test_classify_turns_jpeg_upright_from_exif(classifier: LocalClassifier) -> None:
    with Image.open(GLASS_PHOTO) as image:
        upright = image.convert("RGB")
    # Stored turned a quarter to the left. Orientation 6 means a viewer turns it a quarter to the right.
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    encoded = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(encoded, "JPEG", quality=95, exif=exif)

    with Image.open(encoded) as stored:
        from_stored = classifier.classify(stored)
    from_upright = classifier.classify(upright)

    assert from_stored.category == from_upright.category
    assert from_stored.confidence == pytest.approx(from_upright.confidence, abs=0.05)


def run_classify_script(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.classify", *arguments],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def test_classify_script_prints_tsv_line() -> None:
    completed = run_classify_script(str(GLASS_PHOTO), str(CARDBOARD_PHOTO))

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"{re.escape(str(GLASS_PHOTO))}\tglass_bottle\t(0|1)\.\d{{3}}", lines[0])
    assert re.fullmatch(rf"{re.escape(str(CARDBOARD_PHOTO))}\tpaper\t(0|1)\.\d{{3}}", lines[1])


def test_classify_script_exits_2_for_missing_photo(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"

    completed = run_classify_script(str(GLASS_PHOTO), str(missing))

    assert completed.returncode == 2
    assert f"error: {missing} not found" in completed.stderr
    assert completed.stdout.startswith(f"{GLASS_PHOTO}\tglass_bottle\t")


def test_classify_script_exits_2_for_unreadable_photo(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a JPEG")

    completed = run_classify_script(str(not_an_image))

    assert completed.returncode == 2
    assert f"error: cannot read {not_an_image} as an image" in completed.stderr
    assert completed.stdout == ""
