"""Nearby collection points from the Redis GEO index.

Which bin types accept a waste category is data (data/rules/collection.toml),
kept next to the rules catalogue.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import redis

from jobs import keys
from jobs.catalogue import RULES_DIR, LocalizedText
from jobs.documents import Bin, Locale

DEFAULT_RADIUS_M = 1000
MAX_RADIUS_M = 5000
DEFAULT_LIMIT = 5
MAX_LIMIT = 50


class CategoryCollection(msgspec.Struct, forbid_unknown_fields=True):
    bin_types: list[str]
    note: LocalizedText


class BinTypeInfo(msgspec.Struct, forbid_unknown_fields=True):
    label: LocalizedText


class CollectionRules(msgspec.Struct, forbid_unknown_fields=True):
    categories: dict[str, CategoryCollection]
    bin_types: dict[str, BinTypeInfo] = {}

    @classmethod
    def load(cls, path: Path = RULES_DIR / "collection.toml") -> CollectionRules:
        if not path.exists():
            return cls(categories={})
        return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), cls)


class BinRecord(msgspec.Struct, kw_only=True):
    """One collection point as the index stores it."""

    id: str
    bin_type: str
    name: str
    address: str
    district: str
    lat: float
    lon: float
    source: str
    reference_date: str
    origin: str


_record_decoder = msgspec.json.Decoder(BinRecord)


class NearbyAnswer(msgspec.Struct, kw_only=True):
    bins: list[Bin]
    note: str | None


class BinFinder:
    def __init__(self, connection: redis.Redis, rules: CollectionRules) -> None:
        self._connection = connection
        self._rules = rules

    @classmethod
    def load(cls, connection: redis.Redis) -> BinFinder:
        return cls(connection, CollectionRules.load())

    def bin_types_for(self, category: str) -> list[str]:
        entry = self._rules.categories.get(category)
        return list(entry.bin_types) if entry else []

    def category_note(self, category: str, locale: Locale) -> str | None:
        entry = self._rules.categories.get(category)
        return entry.note.text(locale) if entry else None

    def nearby(
        self,
        category: str,
        lat: float,
        lon: float,
        radius_m: int = DEFAULT_RADIUS_M,
        limit: int = DEFAULT_LIMIT,
    ) -> list[Bin] | None:
        """Return the nearest bins that accept `category`, nearest first; None if the index is empty."""
        bin_types = self.bin_types_for(category)
        if not bin_types:
            return []
        with self._connection.pipeline(transaction=False) as pipe:
            for bin_type in bin_types:
                pipe.geosearch(
                    keys.bins_geo_key(bin_type),
                    longitude=lon,
                    latitude=lat,
                    radius=radius_m,
                    unit="m",
                    sort="ASC",
                    count=limit,
                    withdist=True,
                )
            pipe.exists(keys.BINS_INFO_KEY)
            replies = pipe.execute()
        if not replies[-1]:
            return None
        found = sorted(
            ((float(distance), member) for reply in replies[:-1] for member, distance in reply),
            key=lambda pair: pair[0],
        )[:limit]
        if not found:
            return []
        records = self._connection.hmget(keys.BINS_INFO_KEY, [member for _, member in found])
        bins = []
        for (distance, _), raw in zip(found, records, strict=True):
            if raw is None:
                continue
            record = _record_decoder.decode(raw)
            bins.append(
                Bin(
                    id=record.id,
                    name=record.name,
                    category=record.bin_type,
                    address=record.address,
                    lat=record.lat,
                    lon=record.lon,
                    distance_m=round(distance),
                    source=record.source,
                    reference_date=record.reference_date,
                )
            )
        return bins
