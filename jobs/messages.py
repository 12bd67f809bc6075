"""User-visible text, one TOML catalogue per locale under data/messages/."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from jobs.documents import Locale

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "data" / "messages"
LOCALES: tuple[Locale, ...] = ("ko", "en")


class LocaleCatalogue(msgspec.Struct, forbid_unknown_fields=True):
    stages: dict[str, str]
    bins_notes: dict[str, str]
    labels: dict[str, str]
    errors: dict[str, str]


class Messages:
    """Looks up stage messages, notes and error messages by locale."""

    def __init__(self, catalogues: dict[Locale, LocaleCatalogue]) -> None:
        self._catalogues = catalogues

    @classmethod
    def load(cls, directory: Path = MESSAGES_DIR) -> Messages:
        catalogues: dict[Locale, LocaleCatalogue] = {}
        for locale in LOCALES:
            raw = tomllib.loads((directory / f"{locale}.toml").read_text(encoding="utf-8"))
            catalogues[locale] = msgspec.convert(raw, LocaleCatalogue)
        return cls(catalogues)

    def stage(self, locale: Locale, key: str) -> str:
        return self._catalogues[locale].stages[key]

    def bins_note(self, locale: Locale, key: str) -> str:
        return self._catalogues[locale].bins_notes[key]

    def label(self, locale: Locale, key: str) -> str:
        return self._catalogues[locale].labels[key]

    def error(self, locale: Locale, code: str, **values: object) -> str:
        template = self._catalogues[locale].errors.get(code) or self._catalogues[locale].errors["internal_error"]
        try:
            return template.format(**values)
        except (KeyError, IndexError):
            # A message rendered without one of its values still says what failed.
            return template
