"""Nearby collection points from the Redis GEO index.

Which bin types accept a waste category is data (data/rules/collection.toml),
kept next to the rules catalogue.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import msgspec
import redis

from jobs import keys
from jobs.catalogue import RULES_DIR, LocalizedText
from jobs.documents import Bin, Locale
from jobs.messages import Messages

DATASET_PATH = Path(__file__).resolve().parent.parent / "data" / "bins" / "bins.csv"
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
    def __init__(self, connection: redis.Redis, rules: CollectionRules, messages: Messages) -> None:
        self._connection = connection
        self._rules = rules
        self._messages = messages

    @classmethod
    def load(cls, connection: redis.Redis, messages: Messages) -> BinFinder:
        return cls(connection, CollectionRules.load(), messages)

    def search(
        self,
        category: str,
        lat: float,
        lon: float,
        locale: Locale,
        radius_m: int = DEFAULT_RADIUS_M,
        limit: int = DEFAULT_LIMIT,
    ) -> NearbyAnswer:
        """Nearby bins for `category` with the note the phone shows beside them."""
        category_note = self.category_note(category, locale)
        found = self.nearby(category, lat, lon, radius_m, limit)
        if found is None:
            return NearbyAnswer(bins=[], note=self._messages.bins_note(locale, "no_index"))
        if not found and not self.bin_types_for(category):
            return NearbyAnswer(bins=[], note=category_note)
        if not found:
            return NearbyAnswer(bins=[], note=self._messages.bins_note(locale, "none_nearby"))
        return NearbyAnswer(bins=found, note=category_note)

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


def read_dataset(path: Path) -> list[BinRecord]:
    """Read the committed dataset (data/bins/bins.csv) into records."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            BinRecord(
                id=row["id"],
                bin_type=row["bin_type"],
                name=row["name"],
                address=row["address"],
                district=row["district"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                source=row["source"],
                reference_date=row["reference_date"],
                origin=row["origin"],
            )
            for row in csv.DictReader(handle)
        ]


def load_index(connection: redis.Redis, records: list[BinRecord], version: str) -> dict[str, int]:
    """Replace the index with `records` atomically; returns the count per bin type.

    The new GEO sets and info hash are built under temporary keys, then one
    MULTI/EXEC renames them over the live keys, so a reader sees either the old
    index or the new one, never a half-filled one.
    """
    encoder = msgspec.json.Encoder()
    by_type: dict[str, list[BinRecord]] = {}
    for record in records:
        by_type.setdefault(record.bin_type, []).append(record)
    suffix = f":loading:{version}"
    info_temp = keys.BINS_INFO_KEY + suffix

    with connection.pipeline(transaction=False) as pipe:
        for bin_type, group in by_type.items():
            temp = keys.bins_geo_key(bin_type) + suffix
            pipe.delete(temp)
            for start in range(0, len(group), 1000):
                chunk = group[start : start + 1000]
                values: list[float | str] = []
                for record in chunk:
                    values.extend((record.lon, record.lat, record.id))
                pipe.geoadd(temp, values)
        pipe.delete(info_temp)
        for start in range(0, len(records), 1000):
            pipe.hset(info_temp, mapping={r.id: encoder.encode(r) for r in records[start : start + 1000]})
        pipe.execute()

    stale_types = {
        key.decode().removeprefix(keys.bins_geo_key(""))
        for key in connection.scan_iter(match=keys.bins_geo_key("*"), count=100)
        if b":loading:" not in key
    } - set(by_type)
    with connection.pipeline(transaction=True) as pipe:
        for bin_type in by_type:
            pipe.rename(keys.bins_geo_key(bin_type) + suffix, keys.bins_geo_key(bin_type))
        for bin_type in stale_types:
            pipe.delete(keys.bins_geo_key(bin_type))
        pipe.rename(info_temp, keys.BINS_INFO_KEY)
        pipe.set(keys.BINS_VERSION_KEY, version)
        pipe.execute()
    return {bin_type: len(group) for bin_type, group in sorted(by_type.items())}
