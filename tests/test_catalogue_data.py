"""Shape and content checks for the disposal-rules catalogue in data/rules/catalogue.toml."""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "data" / "rules" / "catalogue.toml"

# The app and the prompt look categories up by these keys, and users see these Korean labels.
EXPECTED_KO_LABELS = {
    "pet_bottle": "투명 페트병",
    "plastic": "플라스틱",
    "vinyl": "비닐류",
    "paper": "종이",
    "paper_pack": "종이팩",
    "glass_bottle": "유리병",
    "can_metal": "캔·고철",
    "styrofoam": "스티로폼",
    "clothing": "의류",
    "battery": "폐건전지",
    "fluorescent_lamp": "폐형광등",
    "food": "음식물",
    "general": "일반쓰레기 (종량제 봉투)",
    "bulky": "대형폐기물",
    "e_waste": "폐가전",
    "unknown": "판별 불가",
}

# Categories whose advice has no look-alike items to point elsewhere.
CATEGORIES_WITHOUT_CONFUSIONS = {"unknown"}

# The minimum number of entries per list. Confusions may be empty only in the categories above.
MIN_LIST_LENGTHS = {"steps": 2, "cautions": 1, "confusions": 1}

# Longer Korean strings wrap badly on a phone screen.
MAX_KO_STRING_CHARS = 120

HANGUL_SYLLABLE = re.compile("[\uac00-\ud7a3]")


def load_catalogue() -> dict[str, Any]:
    with CATALOGUE_PATH.open("rb") as catalogue_file:
        return tomllib.load(catalogue_file)


def category_params() -> list[Any]:
    return [pytest.param(key, id=key) for key in EXPECTED_KO_LABELS]


def assert_korean_string(text: Any, where: str) -> None:
    assert isinstance(text, str), f"{where} must be a string, got {type(text).__name__}"
    assert text.strip(), f"{where} must not be empty"
    assert HANGUL_SYLLABLE.search(text), f"{where} must contain Hangul, got {text!r}"
    assert len(text) <= MAX_KO_STRING_CHARS, (
        f"{where} must be at most {MAX_KO_STRING_CHARS} characters, got {len(text)}"
    )


def assert_english_string(text: Any, where: str) -> None:
    assert isinstance(text, str), f"{where} must be a string, got {type(text).__name__}"
    assert text.strip(), f"{where} must not be empty"


def test_catalogue_version_is_iso_date() -> None:
    version = load_catalogue()["version"]

    assert isinstance(version, str)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version), f"version must be YYYY-MM-DD, got {version!r}"


def test_principles_pair_korean_and_english() -> None:
    principles = load_catalogue()["principles"]

    assert len(principles["ko"]) >= 5, "principles must list the four habits and the 종량제 rule"
    assert len(principles["ko"]) == len(principles["en"])
    for index, text in enumerate(principles["ko"]):
        assert_korean_string(text, f"principles.ko[{index}]")
    for index, text in enumerate(principles["en"]):
        assert_english_string(text, f"principles.en[{index}]")


def test_catalogue_has_exactly_expected_categories() -> None:
    categories = load_catalogue()["categories"]

    assert set(categories) == set(EXPECTED_KO_LABELS)


@pytest.mark.parametrize("key", category_params())
def test_category_label_and_summary(key: str) -> None:
    category = load_catalogue()["categories"][key]

    assert category["label"]["ko"] == EXPECTED_KO_LABELS[key], (
        f"{key}.label.ko must be {EXPECTED_KO_LABELS[key]!r}, got {category['label']['ko']!r}"
    )
    assert_korean_string(category["label"]["ko"], f"{key}.label.ko")
    assert_english_string(category["label"]["en"], f"{key}.label.en")
    assert_korean_string(category["summary"]["ko"], f"{key}.summary.ko")
    assert_english_string(category["summary"]["en"], f"{key}.summary.en")


@pytest.mark.parametrize("key", category_params())
@pytest.mark.parametrize("field", ["steps", "cautions", "confusions"])
def test_category_lists_pair_korean_and_english(key: str, field: str) -> None:
    entries = load_catalogue()["categories"][key][field]
    korean, english = entries["ko"], entries["en"]

    assert isinstance(korean, list), f"{key}.{field}.ko must be a list"
    assert isinstance(english, list), f"{key}.{field}.en must be a list"
    assert len(korean) == len(english), (
        f"{key}.{field} must have as many English as Korean entries, "
        f"got {len(korean)} Korean and {len(english)} English"
    )
    min_length = MIN_LIST_LENGTHS[field]
    if field == "confusions" and key in CATEGORIES_WITHOUT_CONFUSIONS:
        min_length = 0
    assert len(korean) >= min_length, (
        f"{key}.{field} must have at least {min_length} entries, got {len(korean)}"
    )
    for index, text in enumerate(korean):
        assert_korean_string(text, f"{key}.{field}.ko[{index}]")
    for index, text in enumerate(english):
        assert_english_string(text, f"{key}.{field}.en[{index}]")
