"""Import public collection-point (bin) files into one dataset, data/bins/bins.csv.

Run from the repository root:

    python -m scripts.import_bins --raw ../shared/data/bins/raw --out data/bins/bins.csv

--raw defaults to that directory and --out to data/bins/bins.csv. scripts/bin_sources.toml
lists every raw file with its bin type, publisher, district bounding box and coordinate
origin. The importer reads columns by name, never by position, because the files disagree
on names and order (some list 경도 before 위도). Rows without usable coordinates or outside
their district's box are dropped and counted, duplicates are collapsed, and a per-file
report is printed and written as Markdown. Only the standard library is used, so the
script runs without the service's dependencies.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import enum
import hashlib
import io
import json
import math
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW_DIR = REPO_ROOT.parent / "shared" / "data" / "bins" / "raw"
DEFAULT_OUT_PATH = REPO_ROOT / "data" / "bins" / "bins.csv"
DEFAULT_SOURCES_PATH = Path(__file__).resolve().parent / "bin_sources.toml"
REPORT_FILE_NAME = "IMPORT_REPORT.md"

# Bin types in output order. The API and data/rules/collection.toml use these keys.
BIN_TYPES = ("clothing_bin", "street_bin_general", "street_bin_recycling", "battery_box", "e_waste_box")
ORIGINS = ("official", "geocoded")
OUTPUT_COLUMNS = ("id", "bin_type", "name", "address", "district", "lat", "lon", "source", "reference_date", "origin")
DEFAULT_PORTAL = "공공데이터포털"

# Column names as they appear in the raw files, compared without spaces and case.
# For address and date, the first name that has a value in a row wins.
LATITUDE_COLUMNS = ("위도", "latitude", "lat")
LONGITUDE_COLUMNS = ("경도", "longitude", "lng", "lon")
ADDRESS_COLUMNS = (
    "소재지도로명주소", "도로명주소", "설치장소(도로명주소)", "설치장소(도로명)", "주소", "수거장소(주소)",
    "location", "설치장소", "위치", "소재지지번주소", "지번주소", "설치장소(지번주소)",
)  # fmt: skip
REFERENCE_DATE_COLUMNS = ("데이터기준일자", "데이터기준일", "기준일자", "기준일")

COORDINATE_DECIMALS = 7  # 1e-7° is about 1 cm, below the real accuracy of any bin position
DUPLICATE_DECIMALS = 5  # 1e-5° is about 1.1 m north-south and 0.9 m east-west in Korea
NEAR_DUPLICATE_RADIUS_M = 15.0  # two sources' bins of one type this close are one bin
DUPLICATE_SOURCE_MATCH_RADIUS_M = 10.0
EARTH_RADIUS_M = 6_371_000.0
ID_HEX_DIGITS = 12

# Leading address tokens with these endings are administrative units (서울특별시, 창원시, 의창구).
ADMIN_UNIT_SUFFIXES = ("특별시", "광역시", "특별자치시", "특별자치도", "도", "시", "군", "구")
DATE_PATTERN = re.compile(r"(\d{4})[-./]?(\d{1,2})[-./]?(\d{1,2})\.?")
FILE_NAME_DATE_PATTERN = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)")


class DropReason(str, enum.Enum):
    EMPTY_ROW = "empty_row"  # every field blank, as spreadsheet exports pad files
    NO_COORDINATE_COLUMNS = "no_coordinate_columns"  # the file has no latitude/longitude columns
    MISSING_COORDINATES = "missing_coordinates"  # blank, null, or the placeholder 0
    INVALID_COORDINATES = "invalid_coordinates"  # not a finite number
    OUTSIDE_BBOX = "outside_bbox"  # outside the bounding box of the row's district
    UNKNOWN_BIN_TYPE = "unknown_bin_type"  # the kind column contains a value the source table does not map
    UNKNOWN_DISTRICT = "unknown_district"  # the district column names no district with a box
    DUPLICATE_SOURCE = "duplicate_source"  # the whole file repeats a preferred source
    DUPLICATE_POINT = "duplicate_point"  # same type, same point to about 1 m, same address
    NEAR_DUPLICATE = "near_duplicate"  # another source has a bin of this type within 15 m


class BinImportError(Exception):
    """Base class for errors that stop an import."""


class SourceTableError(BinImportError):
    """The source table (bin_sources.toml) is invalid."""


class RawFileError(BinImportError):
    """A raw file is missing or cannot be decoded."""


@dataclass(frozen=True)
class BoundingBox:
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


@dataclass(frozen=True)
class SourceSpec:
    """One raw file and how to read it. The header of bin_sources.toml describes each field."""

    key: str
    path: str
    publisher: str
    origin: str
    bin_type: str | None = None
    bin_type_column: str | None = None
    bin_type_values: dict[str, str] = field(default_factory=dict)
    portal: str = DEFAULT_PORTAL
    source_label: str | None = None
    district: str | None = None
    district_column: str | None = None
    district_prefix: str = ""
    name_columns: tuple[str, ...] = ()
    detail_columns: tuple[str, ...] = ()
    reference_date: str | None = None
    duplicate_of: str | None = None
    note: str = ""

    def display_source(self) -> str:
        return self.source_label or f"{self.portal} · {self.publisher}"


@dataclass(frozen=True)
class SourceTable:
    districts: dict[str, BoundingBox]
    sources: tuple[SourceSpec, ...]


@dataclass(frozen=True)
class BinPoint:
    bin_type: str
    name: str
    address: str
    district: str
    lat: float
    lon: float
    source: str
    reference_date: str
    origin: str
    source_key: str


@dataclass
class FileReport:
    key: str
    path: str
    bin_types: str
    origin: str
    encoding: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    drops: Counter[DropReason] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    points: list[BinPoint]
    reports: list[FileReport]
    unlisted_files: list[str]


# --- the source table -------------------------------------------------------------------


def load_source_table(path: Path) -> SourceTable:
    """Load and check the source table, failing on the first invalid entry."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SourceTableError(f"cannot read the source table {path}: {err}") from err

    districts = {name: _parse_bbox(name, entry.get("bbox")) for name, entry in raw.get("districts", {}).items()}
    sources: list[SourceSpec] = []
    for entry in raw.get("sources", []):
        spec = _parse_source(entry)
        _check_source(spec, districts, seen_keys={s.key for s in sources})
        sources.append(spec)
    if not sources:
        raise SourceTableError(f"{path} must list at least one [[sources]] entry")
    return SourceTable(districts=districts, sources=tuple(sources))


def _parse_bbox(name: str, values: object) -> BoundingBox:
    if not (isinstance(values, list) and len(values) == 4 and all(isinstance(v, int | float) for v in values)):
        raise SourceTableError(f"district `{name}`: bbox must be [lat_min, lat_max, lon_min, lon_max], got {values!r}")
    box = BoundingBox(*(float(v) for v in values))
    if not (box.lat_min < box.lat_max and box.lon_min < box.lon_max):
        raise SourceTableError(f"district `{name}`: bbox minimums must be below maximums, got {values!r}")
    return box


def _parse_source(entry: dict[str, object]) -> SourceSpec:
    where = f"source {entry.get('key', '?')!r}"
    unknown = sorted(set(entry) - set(SourceSpec.__dataclass_fields__))
    if unknown:
        raise SourceTableError(f"{where}: unknown fields {', '.join(unknown)}")

    values = dict(entry)
    for name, value in entry.items():
        if name in ("name_columns", "detail_columns"):
            if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise SourceTableError(f"{where}: {name} must be a list of column names, got {value!r}")
            values[name] = tuple(value)
        elif name == "bin_type_values":
            if not (isinstance(value, dict) and all(isinstance(item, str) for item in value.values())):
                raise SourceTableError(f"{where}: bin_type_values must map column values to bin types, got {value!r}")
        elif not isinstance(value, str):
            raise SourceTableError(f"{where}: {name} must be a string, got {value!r}")
    try:
        return SourceSpec(**values)  # type: ignore[arg-type]
    except TypeError as err:
        raise SourceTableError(f"{where}: {err}, so add the missing field") from err


def _check_source(spec: SourceSpec, districts: dict[str, BoundingBox], seen_keys: set[str]) -> None:
    where = f"source `{spec.key}`"
    if spec.key in seen_keys:
        raise SourceTableError(f"{where}: key is listed twice")
    if spec.origin not in ORIGINS:
        raise SourceTableError(f"{where}: origin must be one of {', '.join(ORIGINS)}, got {spec.origin!r}")
    if (spec.bin_type is None) == (spec.bin_type_column is None):
        raise SourceTableError(f"{where}: set exactly one of bin_type and bin_type_column")
    bin_types = [spec.bin_type] if spec.bin_type else list(spec.bin_type_values.values())
    bad_types = [t for t in bin_types if t not in BIN_TYPES]
    if bad_types or not bin_types:
        raise SourceTableError(f"{where}: bin types must be among {', '.join(BIN_TYPES)}, got {bin_types!r}")
    if spec.district_column is None and (spec.district or spec.publisher) not in districts:
        raise SourceTableError(
            f"{where}: district {spec.district or spec.publisher!r} has no [districts] entry, so add one with its bbox"
        )
    if spec.reference_date is not None and parse_date(spec.reference_date) is None:
        raise SourceTableError(f"{where}: reference_date must be an ISO date, got {spec.reference_date!r}")
    if spec.duplicate_of is not None and spec.duplicate_of not in seen_keys:
        raise SourceTableError(f"{where}: duplicate_of must name an earlier source, got {spec.duplicate_of!r}")


# --- reading raw files ------------------------------------------------------------------


def decode_raw(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a raw file as UTF-8 with or without a BOM, or as cp949, and return (text, encoding name)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949"), "cp949"
    except UnicodeDecodeError as err:
        raise RawFileError(f"{path}: not valid UTF-8 or cp949 ({err}), so re-save the file as UTF-8") from err


def read_records(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    """Read a CSV or JSON file into (column names, rows of stripped strings, encoding)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RawFileError(f"cannot read raw file {path}: {err}") from err
    text, encoding = decode_raw(data, path)
    if path.suffix.lower() == ".json":
        columns, rows = _json_records(text, path)
    else:
        columns, rows = _csv_records(text, path)
    return columns, rows, encoding


def _csv_records(text: str, path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines:
        raise RawFileError(f"{path}: the file is empty, expected a header row")
    columns = [name.strip() for name in lines[0]]
    rows = []
    for values in lines[1:]:
        padded = [v.strip() for v in values] + [""] * (len(columns) - len(values))
        rows.append(dict(zip(columns, padded, strict=False)))
    return columns, rows


def _json_records(text: str, path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise RawFileError(f"{path}: invalid JSON: {err}") from err
    # A list of objects at the top, or under one key such as the portal API's "data".
    items = document
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        items = lists[0] if len(lists) == 1 else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RawFileError(f"{path}: expected a JSON list of objects, or an object containing one such list")

    columns: list[str] = []
    for item in items:
        columns.extend(name for name in item if name not in columns)
    rows = [{name: _json_cell(item.get(name)) for name in columns} for item in items]
    return columns, rows


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _normalize_column(name: str) -> str:
    return "".join(name.split()).lower()


def find_column(columns: Sequence[str], candidates: Iterable[str]) -> str | None:
    """Return the first column whose name matches a candidate, ignoring spaces and case."""
    by_normalized = {_normalize_column(name): name for name in reversed(columns)}
    for candidate in candidates:
        match = by_normalized.get(_normalize_column(candidate))
        if match is not None:
            return match
    return None


def find_columns(columns: Sequence[str], candidates: Iterable[str]) -> list[str]:
    """Return every column that matches a candidate, in the candidates' order."""
    found = (find_column(columns, [candidate]) for candidate in candidates)
    return list(dict.fromkeys(name for name in found if name is not None))


def first_value(row: dict[str, str], columns: Iterable[str]) -> str:
    for name in columns:
        value = " ".join(row.get(name, "").split())
        if value:
            return value
    return ""


# --- turning rows into points -----------------------------------------------------------


def parse_coordinate(text: str) -> float | None:
    """Parse a degree value, returning None for blank or 0, which files use for "unknown"."""
    if not text.strip():
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"coordinate must be finite, got {text!r}")
    return None if value == 0 else value


def parse_date(text: str) -> str | None:
    """Return an ISO date for 2024-06-07, 20240607, 2024.06.07 or 2024/6/7, or None."""
    match = DATE_PATTERN.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None


def file_name_date(path: str) -> str | None:
    match = FILE_NAME_DATE_PATTERN.search(Path(path).name)
    return parse_date("".join(match.groups())) if match else None


def complete_address(address: str, district: str) -> str:
    """Prefix the district's names when a file omits them ("천호대로 517" → "서울특별시 광진구 천호대로 517")."""
    if not address:
        return ""
    units = district.split()
    if units[-1] in address:
        if address.startswith(units[-1]) and len(units) > 1:
            return f"{' '.join(units[:-1])} {address}"
        return address
    return f"{district} {address}"


def short_address(address: str) -> str:
    """Drop up to three leading administrative units ("서울특별시 강남구 테헤란로 1" → "테헤란로 1")."""
    tokens = address.split()
    dropped = 0
    while len(tokens) > 1 and dropped < 3 and tokens[0].endswith(ADMIN_UNIT_SUFFIXES):
        tokens.pop(0)
        dropped += 1
    return " ".join(tokens)


def bin_label(row: dict[str, str], spec: SourceSpec, address: str, district: str) -> str:
    place = first_value(row, spec.name_columns) or short_address(address) or district
    detail = first_value(row, spec.detail_columns)
    if detail and detail not in place:
        return f"{place} ({detail})"
    return place


def rows_to_points(
    spec: SourceSpec, columns: list[str], rows: list[dict[str, str]], table: SourceTable, report: FileReport
) -> list[BinPoint]:
    """Validate each row, build its point and count every dropped row in the report."""
    lat_column = find_column(columns, LATITUDE_COLUMNS)
    lon_column = find_column(columns, LONGITUDE_COLUMNS)
    address_columns = find_columns(columns, ADDRESS_COLUMNS)
    date_columns = find_columns(columns, REFERENCE_DATE_COLUMNS)
    file_date = spec.reference_date or file_name_date(spec.path) or ""

    points = []
    for row in rows:
        report.rows_read += 1
        if not any(row.values()):
            report.drops[DropReason.EMPTY_ROW] += 1
            continue
        if lat_column is None or lon_column is None:
            report.drops[DropReason.NO_COORDINATE_COLUMNS] += 1
            continue

        bin_type = spec.bin_type or spec.bin_type_values.get(row.get(spec.bin_type_column or "", ""))
        if bin_type is None:
            report.drops[DropReason.UNKNOWN_BIN_TYPE] += 1
            continue
        if spec.district_column is None:
            district = spec.district or spec.publisher
        else:
            district = " ".join(f"{spec.district_prefix} {row.get(spec.district_column, '')}".split())
        bbox = table.districts.get(district)
        if bbox is None:
            report.drops[DropReason.UNKNOWN_DISTRICT] += 1
            continue

        try:
            lat = parse_coordinate(row[lat_column])
            lon = parse_coordinate(row[lon_column])
        except ValueError:
            report.drops[DropReason.INVALID_COORDINATES] += 1
            continue
        if lat is None or lon is None:
            report.drops[DropReason.MISSING_COORDINATES] += 1
            continue
        if not bbox.contains(lat, lon):
            report.drops[DropReason.OUTSIDE_BBOX] += 1
            continue

        address = complete_address(first_value(row, address_columns), district)
        row_date = parse_date(first_value(row, date_columns))
        points.append(
            BinPoint(
                bin_type=bin_type,
                name=bin_label(row, spec, address, district),
                address=address,
                district=district,
                lat=round(lat, COORDINATE_DECIMALS),
                lon=round(lon, COORDINATE_DECIMALS),
                source=spec.display_source(),
                reference_date=row_date or file_date,
                origin=spec.origin,
                source_key=spec.key,
            )
        )
    return points


# --- duplicates -------------------------------------------------------------------------


def distance_m(a: BinPoint, b: BinPoint) -> float:
    """Equirectangular distance, accurate to well under 1% at the few-metre scale used here."""
    mean_lat = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(b.lon - a.lon) * math.cos(mean_lat)
    dy = math.radians(b.lat - a.lat)
    return EARTH_RADIUS_M * math.hypot(dx, dy)


class PointIndex:
    """A grid of points for "is there a bin of this type within r metres" queries."""

    def __init__(self, radius_m: float) -> None:
        self.radius_m = radius_m
        # One degree of longitude is at least 80 km up to latitude 44°, so a cell of
        # radius/80 km degrees is at least radius wide and the 3×3 block around a point
        # contains every neighbour within radius.
        self._cell_deg = radius_m / 80_000
        self._cells: dict[tuple[str, int, int], list[BinPoint]] = {}

    def _cell(self, point: BinPoint) -> tuple[str, int, int]:
        return point.bin_type, math.floor(point.lat / self._cell_deg), math.floor(point.lon / self._cell_deg)

    def add(self, point: BinPoint) -> None:
        self._cells.setdefault(self._cell(point), []).append(point)

    def neighbours(self, point: BinPoint) -> list[BinPoint]:
        bin_type, row, col = self._cell(point)
        nearby = []
        for d_row in (-1, 0, 1):
            for d_col in (-1, 0, 1):
                for other in self._cells.get((bin_type, row + d_row, col + d_col), []):
                    if distance_m(point, other) <= self.radius_m:
                        nearby.append(other)
        return nearby


def drop_duplicates(points: list[BinPoint], reports: dict[str, FileReport]) -> list[BinPoint]:
    """Keep the first of each duplicate, in source-table order, and count the rest."""
    seen: set[tuple[str, float, float, str]] = set()
    index = PointIndex(NEAR_DUPLICATE_RADIUS_M)
    unique_points = []
    for point in points:
        key = (
            point.bin_type,
            round(point.lat, DUPLICATE_DECIMALS),
            round(point.lon, DUPLICATE_DECIMALS),
            point.address,
        )
        if key in seen:
            reports[point.source_key].drops[DropReason.DUPLICATE_POINT] += 1
            continue
        # Within one source, bins a few metres apart with different addresses are separate bins.
        if any(other.source_key != point.source_key for other in index.neighbours(point)):
            reports[point.source_key].drops[DropReason.NEAR_DUPLICATE] += 1
            continue
        seen.add(key)
        index.add(point)
        unique_points.append(point)
    return unique_points


def count_matches(points: list[BinPoint], preferred: list[BinPoint], radius_m: float) -> int:
    index = PointIndex(radius_m)
    for point in preferred:
        index.add(point)
    return sum(1 for point in points if index.neighbours(point))


# --- the import -------------------------------------------------------------------------


def import_bins(raw_dir: Path, table: SourceTable) -> ImportResult:
    """Read every listed file under raw_dir and return the deduplicated points with reports."""
    reports: dict[str, FileReport] = {}
    points_by_source: dict[str, list[BinPoint]] = {}
    for spec in table.sources:
        path = raw_dir / spec.path
        if not path.is_file():
            raise RawFileError(
                f"source `{spec.key}`: raw file {path} not found, so check --raw or the path in the table"
            )
        columns, rows, encoding = read_records(path)
        report = FileReport(
            key=spec.key,
            path=spec.path,
            bin_types=spec.bin_type or " / ".join(dict.fromkeys(spec.bin_type_values.values())),
            origin=spec.origin,
            encoding=encoding,
        )
        if spec.note:
            report.notes.append(spec.note)
        reports[spec.key] = report
        points = rows_to_points(spec, columns, rows, table, report)

        if spec.duplicate_of is not None:
            matched = count_matches(points, points_by_source[spec.duplicate_of], DUPLICATE_SOURCE_MATCH_RADIUS_M)
            report.notes.append(
                f"{matched} of {len(points)} valid rows lie within {DUPLICATE_SOURCE_MATCH_RADIUS_M:g} m "
                f"of a `{spec.duplicate_of}` point, and none are kept."
            )
            report.drops[DropReason.DUPLICATE_SOURCE] += len(points)
            points = []
        points_by_source[spec.key] = points

    candidates = [point for spec in table.sources for point in points_by_source[spec.key]]
    kept = sort_points(drop_duplicates(candidates, reports))
    for point in kept:
        reports[point.source_key].rows_kept += 1
    return ImportResult(points=kept, reports=list(reports.values()), unlisted_files=_unlisted_files(raw_dir, table))


def _unlisted_files(raw_dir: Path, table: SourceTable) -> list[str]:
    listed = {spec.path for spec in table.sources}
    found = (p.relative_to(raw_dir).as_posix() for p in raw_dir.rglob("*") if p.suffix.lower() in {".csv", ".json"})
    return sorted(path for path in found if path not in listed and path != "MANIFEST.csv")


def sort_points(points: list[BinPoint]) -> list[BinPoint]:
    type_order = {bin_type: i for i, bin_type in enumerate(BIN_TYPES)}
    return sorted(points, key=lambda p: (type_order[p.bin_type], p.district, p.address, p.lat, p.lon, p.name))


def format_coordinate(value: float) -> str:
    return f"{value:.{COORDINATE_DECIMALS}f}".rstrip("0").rstrip(".")


def point_id(point: BinPoint) -> str:
    """Hash type, coordinates and address into a short id that stays the same across runs."""
    text = f"{point.bin_type}|{format_coordinate(point.lat)}|{format_coordinate(point.lon)}|{point.address}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:ID_HEX_DIGITS]


def write_points(points: list[BinPoint], out_path: Path) -> None:
    ids = [point_id(point) for point in points]
    collisions = [item for item, count in Counter(ids).items() if count > 1]
    if collisions:
        raise BinImportError(f"point ids must be unique, got repeats {collisions[:5]}, so raise ID_HEX_DIGITS")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        for point_key, point in zip(ids, points, strict=True):
            writer.writerow(
                (
                    point_key,
                    point.bin_type,
                    point.name,
                    point.address,
                    point.district,
                    format_coordinate(point.lat),
                    format_coordinate(point.lon),
                    point.source,
                    point.reference_date,
                    point.origin,
                )
            )


# --- the report -------------------------------------------------------------------------

DROP_REASON_HELP = {
    DropReason.EMPTY_ROW: "every field is blank",
    DropReason.NO_COORDINATE_COLUMNS: "the file has no latitude/longitude columns, so it is reported, not geocoded",
    DropReason.MISSING_COORDINATES: "latitude or longitude is blank, null or 0",
    DropReason.INVALID_COORDINATES: "latitude or longitude is not a number",
    DropReason.OUTSIDE_BBOX: "the point lies outside the bounding box of its district or city",
    DropReason.UNKNOWN_BIN_TYPE: "the kind column contains a value the source table does not map",
    DropReason.UNKNOWN_DISTRICT: "the district column names a district without a bounding box",
    DropReason.DUPLICATE_SOURCE: "the file repeats a preferred source, so none of its rows are kept",
    DropReason.DUPLICATE_POINT: f"an earlier row has the same type, the same point to {DUPLICATE_DECIMALS} "
    "decimals (about 1 m) and the same address",
    DropReason.NEAR_DUPLICATE: f"an earlier source has a bin of the same type within {NEAR_DUPLICATE_RADIUS_M:g} m",
}


def render_report(result: ImportResult) -> str:
    lines = [
        "# Collection-point import report",
        "",
        "Written by `python -m scripts.import_bins`. Each row of the first table is one raw file, in the",
        "order of scripts/bin_sources.toml. When two files list the same bin, the earlier file keeps it.",
        "",
        "| Source | File | Encoding | Bin type | Origin | Read | Kept | Dropped by reason |",
        "|---|---|---|---|---|---:|---:|---|",
    ]
    for report in result.reports:
        drops = "; ".join(f"{reason.value} {count}" for reason, count in sorted(report.drops.items()) if count)
        lines.append(
            f"| {report.key} | {report.path} | {report.encoding} | {report.bin_types} | {report.origin} "
            f"| {report.rows_read} | {report.rows_kept} | {drops or '-'} |"
        )
    total_read = sum(r.rows_read for r in result.reports)
    lines.append(f"| **Total** | | | | | {total_read} | {len(result.points)} | |")

    totals = Counter(point.bin_type for point in result.points)
    lines += ["", "## Points per bin type", "", "| Bin type | Points |", "|---|---:|"]
    lines += [f"| {bin_type} | {totals[bin_type]} |" for bin_type in BIN_TYPES]
    lines.append(f"| **Total** | {len(result.points)} |")

    origins = Counter(point.origin for point in result.points)
    lines += ["", "## Points per origin", "", "| Origin | Points |", "|---|---:|"]
    lines += [f"| {origin} | {origins[origin]} |" for origin in ORIGINS]

    all_drops: Counter[DropReason] = Counter()
    for report in result.reports:
        all_drops.update(report.drops)
    lines += ["", "## Drop reasons", "", "| Reason | Rows | Meaning |", "|---|---:|---|"]
    lines += [f"| {reason.value} | {all_drops[reason]} | {DROP_REASON_HELP[reason]} |" for reason in DropReason]

    notes = [f"- `{report.key}`: {note}" for report in result.reports for note in report.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    if result.unlisted_files:
        lines += ["", "## Files not in the source table (not imported)", ""]
        lines += [f"- {path}" for path in result.unlisted_files]
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.import_bins",
        description="Import public collection-point files into one CSV and write an import report.",
    )
    parser.add_argument(
        "--raw", type=Path, default=DEFAULT_RAW_DIR, help="directory of raw files (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_PATH, help="output CSV path (default: %(default)s)")
    parser.add_argument(
        "--sources", type=Path, default=DEFAULT_SOURCES_PATH, help="source table, TOML (default: %(default)s)"
    )
    parser.add_argument(
        "--report", type=Path, default=None, help=f"Markdown report path (default: {REPORT_FILE_NAME} next to --out)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report_path: Path = args.report or args.out.parent / REPORT_FILE_NAME
    try:
        table = load_source_table(args.sources)
        result = import_bins(args.raw, table)
        write_points(result.points, args.out)
    except BinImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    report = render_report(result)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report, encoding="utf-8")
    print(report, end="")
    print(f"Wrote {len(result.points)} points to {args.out} and the report to {report_path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
