"""The rules catalogue: how each waste category is disposed of in Korea, as data.

The text lives in data/rules/catalogue.toml. It is the offline advice and the
grounding for the LLM prompt; its `version` is part of every cache key, so
changing the rules invalidates cached answers.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

import msgspec

from jobs.documents import Locale, WasteCategory

RULES_DIR = Path(__file__).resolve().parent.parent / "data" / "rules"
CATEGORIES: tuple[str, ...] = get_args(WasteCategory)


class LocalizedText(msgspec.Struct, forbid_unknown_fields=True):
    ko: str
    en: str

    def text(self, locale: Locale) -> str:
        return self.ko if locale == "ko" else self.en


class LocalizedList(msgspec.Struct, forbid_unknown_fields=True):
    ko: list[str]
    en: list[str]

    def items(self, locale: Locale) -> list[str]:
        return list(self.ko if locale == "ko" else self.en)


class CategoryRules(msgspec.Struct, forbid_unknown_fields=True):
    label: LocalizedText
    summary: LocalizedText
    steps: LocalizedList
    cautions: LocalizedList
    confusions: LocalizedList


class Catalogue(msgspec.Struct, forbid_unknown_fields=True):
    version: str
    principles: LocalizedList
    categories: dict[str, CategoryRules]

    @classmethod
    def load(cls, path: Path = RULES_DIR / "catalogue.toml") -> Catalogue:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        catalogue = msgspec.convert(raw, cls)
        missing = [key for key in CATEGORIES if key not in catalogue.categories]
        if missing:
            raise ValueError(f"{path} must define every waste category, missing: {', '.join(missing)}")
        return catalogue

    def rules(self, category: str) -> CategoryRules:
        return self.categories.get(category) or self.categories["unknown"]

    def label(self, category: str, locale: Locale) -> str:
        return self.rules(category).label.text(locale)
