"""Tests of scripts/import_bins.py on small raw files, and checks of the committed bin data."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

from scripts import import_bins
from scripts.import_bins import DropReason, ImportResult, SourceTable

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMITTED_BINS = REPO_ROOT / "data" / "bins" / "bins.csv"
COLLECTION_RULES = REPO_ROOT / "data" / "rules" / "collection.toml"

WASTE_CATEGORIES = (
    "pet_bottle", "plastic", "vinyl", "paper", "paper_pack", "glass_bottle", "can_metal", "styrofoam",
    "clothing", "battery", "fluorescent_lamp", "food", "general", "bulky", "e_waste", "unknown",
)  # fmt: skip

DISTRICTS_TOML = """
[districts."서울특별시 강남구"]
bbox = [37.455, 37.536, 127.013, 127.125]
[districts."서울특별시 종로구"]
bbox = [37.563, 37.634, 126.948, 127.026]
"""

# A point well inside 강남구 and one well inside 종로구.
GANGNAM = (37.5000001, 127.05)
JONGNO = (37.59, 126.99)


def source_entry(key: str, path: str, **fields: object) -> str:
    """Render one [[sources]] entry. The defaults describe an official 강남구 clothing-bin file."""
    values: dict[str, object] = {
        "key": key,
        "path": path,
        "bin_type": "clothing_bin",
        "publisher": "서울특별시 강남구",
        "origin": "official",
    }
    values.update(fields)
    lines = ["[[sources]]"]
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            pairs = ", ".join(
                f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()
            )
            lines.append(f"{name} = {{ {pairs} }}")
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def load_table(tmp_path: Path, *entries: str) -> SourceTable:
    table_path = tmp_path / "sources.toml"
    table_path.write_text(DISTRICTS_TOML + "\n".join(entries), encoding="utf-8")
    return import_bins.load_source_table(table_path)


def write_csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> Path:
    lines = [",".join(header)] + [",".join(str(value) for value in row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def run_import(tmp_path: Path, *entries: str) -> ImportResult:
    return import_bins.import_bins(tmp_path / "raw", load_table(tmp_path, *entries))


def report_for(result: ImportResult, key: str) -> import_bins.FileReport:
    return next(report for report in result.reports if report.key == key)


# --- encodings and column names ---------------------------------------------------------


def test_cp949_file_is_decoded(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "raw" / "gangnam.csv",
        ["연번", "도로명주소", "위도", "경도"],
        [[1, "서울특별시 강남구 테헤란로 1", *GANGNAM]],
        encoding="cp949",
    )

    result = run_import(tmp_path, source_entry("gangnam", "gangnam.csv"))

    assert report_for(result, "gangnam").encoding == "cp949"
    assert [point.address for point in result.points] == ["서울특별시 강남구 테헤란로 1"]


def test_utf8_bom_does_not_hide_first_column(tmp_path: Path) -> None:
    write_csv(tmp_path / "raw" / "bom.csv", ["위도", "경도", "주소"], [[*GANGNAM, "테헤란로 1"]], encoding="utf-8-sig")

    result = run_import(tmp_path, source_entry("bom", "bom.csv"))

    assert report_for(result, "bom").encoding == "utf-8-sig"
    assert len(result.points) == 1
    assert result.points[0].lat == GANGNAM[0]


def test_longitude_before_latitude_read_by_name(tmp_path: Path) -> None:
    write_csv(tmp_path / "raw" / "swapped.csv", ["순번", "설치장소", "경도", "위도"], [[1, "테헤란로 1", 127.05, 37.5]])

    result = run_import(tmp_path, source_entry("swapped", "swapped.csv"))

    point = result.points[0]
    assert point.lat == 37.5
    assert point.lon == 127.05


def test_english_column_names_are_found(tmp_path: Path) -> None:
    write_csv(tmp_path / "raw" / "english.csv", ["Latitude", "Longitude", "도로명 주소"], [[*GANGNAM, "테헤란로 1"]])

    result = run_import(tmp_path, source_entry("english", "english.csv"))

    assert len(result.points) == 1


def test_json_list_with_null_coordinates(tmp_path: Path) -> None:
    records = [
        {"location": "서울특별시 강남구 테헤란로 1", "lat": GANGNAM[0], "lng": GANGNAM[1]},
        {"location": "서울특별시 강남구 테헤란로 2", "lat": None, "lng": None},
    ]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "boxes.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")

    result = run_import(tmp_path, source_entry("boxes", "boxes.json", bin_type="battery_box"))

    report = report_for(result, "boxes")
    assert report.rows_read == 2
    assert report.drops[DropReason.MISSING_COORDINATES] == 1
    assert [(p.bin_type, p.address) for p in result.points] == [("battery_box", "서울특별시 강남구 테헤란로 1")]


def test_json_object_containing_data_list(tmp_path: Path) -> None:
    document = {"currentCount": 1, "data": [{"주소": "테헤란로 1", "위도": str(GANGNAM[0]), "경도": str(GANGNAM[1])}]}
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "api.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    result = run_import(tmp_path, source_entry("api", "api.json"))

    assert len(result.points) == 1


# --- dropped rows -----------------------------------------------------------------------


def test_rows_outside_bbox_are_dropped(tmp_path: Path) -> None:
    rows = [
        [1, "가락동 118-9", 35.2027057, 128.8896917],  # 경상남도, a bad published point
        [2, "오금동 110-2", *JONGNO],  # inside Seoul but in another district
        [3, "테헤란로 1", *GANGNAM],
        [4, "테헤란로 2", 27.07, 127.07],  # a digit lost in the source
    ]
    write_csv(tmp_path / "raw" / "songpa.csv", ["연번", "설치장소", "위도", "경도"], rows)

    result = run_import(tmp_path, source_entry("far", "songpa.csv"))

    report = report_for(result, "far")
    assert report.drops[DropReason.OUTSIDE_BBOX] == 3
    assert report.rows_kept == 1


def test_missing_and_invalid_coordinates_are_counted(tmp_path: Path) -> None:
    rows = [
        [1, "테헤란로 1", "", ""],
        [2, "테헤란로 2", 0, 0],
        [3, "테헤란로 3", "37.520832359678?", 127.05],
        [4, "테헤란로 4", GANGNAM[0], ""],
        ["", "", "", ""],
        [6, "테헤란로 6", *GANGNAM],
    ]
    write_csv(tmp_path / "raw" / "gaps.csv", ["연번", "주소", "위도", "경도"], rows)

    result = run_import(tmp_path, source_entry("gaps", "gaps.csv"))

    report = report_for(result, "gaps")
    assert report.rows_read == 6
    assert report.drops[DropReason.MISSING_COORDINATES] == 3
    assert report.drops[DropReason.INVALID_COORDINATES] == 1
    assert report.drops[DropReason.EMPTY_ROW] == 1
    assert report.rows_kept == 1


def test_file_without_coordinate_columns_is_reported(tmp_path: Path) -> None:
    rows = [[1, "개봉1동", "서울특별시 강남구 테헤란로 1", "2024-06-07"], ["", "", "", ""]]
    write_csv(tmp_path / "raw" / "no_coords.csv", ["연번", "행정동", "주소", "데이터기준일자"], rows, encoding="cp949")

    result = run_import(tmp_path, source_entry("no_coords", "no_coords.csv"))

    report = report_for(result, "no_coords")
    assert report.drops[DropReason.NO_COORDINATE_COLUMNS] == 1
    assert report.drops[DropReason.EMPTY_ROW] == 1
    assert report.rows_kept == 0
    assert result.points == []


# --- duplicates -------------------------------------------------------------------------


def test_exact_duplicates_collapse(tmp_path: Path) -> None:
    rows = [
        [1, "테헤란로 1", 37.5000001, 127.05],
        [2, "테헤란로 1", 37.5000002, 127.05],  # same address, a few centimetres away
        [3, "테헤란로 3", 37.5000001, 127.05],  # same point, another address
    ]
    write_csv(tmp_path / "raw" / "dups.csv", ["연번", "주소", "위도", "경도"], rows)

    result = run_import(tmp_path, source_entry("dups", "dups.csv"))

    report = report_for(result, "dups")
    assert report.drops[DropReason.DUPLICATE_POINT] == 1
    assert sorted(point.address for point in result.points) == [
        "서울특별시 강남구 테헤란로 1",
        "서울특별시 강남구 테헤란로 3",
    ]


def test_same_point_of_another_type_is_kept(tmp_path: Path) -> None:
    rows = [[1, "종로구", "사직로 125", "일반쓰레기", *JONGNO], [2, "종로구", "사직로 125", "재활용쓰레기", *JONGNO]]
    write_csv(
        tmp_path / "raw" / "street.csv",
        ["연번", "구", "도로명 주소", "수거 쓰레기 종류", "Latitude", "Longitude"],
        rows,
    )
    entry = source_entry(
        "street",
        "street.csv",
        bin_type=None,
        bin_type_column="수거 쓰레기 종류",
        bin_type_values={"일반쓰레기": "street_bin_general", "재활용쓰레기": "street_bin_recycling"},
        publisher="서울특별시",
        district_column="구",
        district_prefix="서울특별시",
    )

    result = run_import(tmp_path, entry)

    assert sorted(point.bin_type for point in result.points) == ["street_bin_general", "street_bin_recycling"]


def test_duplicate_source_is_read_but_not_kept(tmp_path: Path) -> None:
    header = ["연번", "주소", "위도", "경도"]
    write_csv(
        tmp_path / "raw" / "csv_copy.csv", header, [[1, "테헤란로 1", 37.5, 127.05], [2, "테헤란로 2", 37.51, 127.06]]
    )
    json_rows = [
        {"location": "서울특별시 강남구 테헤란로 1", "lat": 37.5000005, "lng": 127.0500005},  # under 1 m away
        {"location": "서울특별시 강남구 테헤란로 9", "lat": 37.52, "lng": 127.08},  # not in the CSV
    ]
    (tmp_path / "raw" / "json_copy.json").write_text(json.dumps(json_rows, ensure_ascii=False), encoding="utf-8")

    result = run_import(
        tmp_path,
        source_entry("csv_copy", "csv_copy.csv"),
        source_entry("json_copy", "json_copy.json", duplicate_of="csv_copy"),
    )

    report = report_for(result, "json_copy")
    assert report.drops[DropReason.DUPLICATE_SOURCE] == 2
    assert report.rows_kept == 0
    assert any(note.startswith("1 of 2 valid rows") for note in report.notes), report.notes
    assert {point.source_key for point in result.points} == {"csv_copy"}


def test_near_duplicate_from_other_source_is_dropped(tmp_path: Path) -> None:
    header = ["주소", "위도", "경도"]
    write_csv(tmp_path / "raw" / "first.csv", header, [["사직로 125", 37.59, 126.99]])
    second_rows = [
        ["사직동 1-1", 37.59004, 126.99],  # about 4 m north of the first source's bin
        ["사직동 9-9", 37.591, 126.99],  # about 110 m north
    ]
    write_csv(tmp_path / "raw" / "second.csv", header, second_rows)
    write_csv(tmp_path / "raw" / "third.csv", header, [["사직로 130", 37.59, 126.99004]])  # another type
    jongno = {"publisher": "서울특별시 종로구", "bin_type": "street_bin_general", "origin": "geocoded"}

    result = run_import(
        tmp_path,
        source_entry("first", "first.csv", **jongno),
        source_entry("second", "second.csv", **jongno),
        source_entry("third", "third.csv", **{**jongno, "bin_type": "street_bin_recycling"}),
    )

    assert report_for(result, "second").drops[DropReason.NEAR_DUPLICATE] == 1
    assert report_for(result, "second").rows_kept == 1
    assert report_for(result, "third").rows_kept == 1


def test_close_bins_in_one_source_are_kept(tmp_path: Path) -> None:
    rows = [["테헤란로 1", 37.5, 127.05], ["테헤란로 1-1", 37.50003, 127.05]]  # about 3 m apart
    write_csv(tmp_path / "raw" / "close.csv", ["주소", "위도", "경도"], rows)

    result = run_import(tmp_path, source_entry("close", "close.csv"))

    assert len(result.points) == 2


# --- row fields -------------------------------------------------------------------------


def test_bin_type_and_district_from_columns(tmp_path: Path) -> None:
    rows = [
        [1, "종로구", "사직로 125", "경복궁역 4번출구", "일반쓰레기", *JONGNO],
        [2, "종로구", "사직로 130", "", "재활용쓰레기", 37.591, 126.99],
        [3, "종로구", "사직로 135", "", "음식물", 37.592, 126.99],
        [4, "없는구", "사직로 140", "", "일반쓰레기", 37.593, 126.99],
    ]
    header = ["연번", "구", "도로명 주소", "세부 위치", "수거 쓰레기 종류", "Latitude", "Longitude"]
    write_csv(tmp_path / "raw" / "street.csv", header, rows)
    entry = source_entry(
        "street",
        "street.csv",
        bin_type=None,
        bin_type_column="수거 쓰레기 종류",
        bin_type_values={"일반쓰레기": "street_bin_general", "재활용쓰레기": "street_bin_recycling"},
        publisher="서울특별시",
        district_column="구",
        district_prefix="서울특별시",
        name_columns=["세부 위치"],
        origin="geocoded",
    )

    result = run_import(tmp_path, entry)

    report = report_for(result, "street")
    assert report.drops[DropReason.UNKNOWN_BIN_TYPE] == 1
    assert report.drops[DropReason.UNKNOWN_DISTRICT] == 1
    by_type = {point.bin_type: point for point in result.points}
    general = by_type["street_bin_general"]
    assert general.district == "서울특별시 종로구"
    assert general.address == "서울특별시 종로구 사직로 125"
    assert general.name == "경복궁역 4번출구"
    assert general.source == "공공데이터포털 · 서울특별시"
    assert general.origin == "geocoded"
    assert by_type["street_bin_recycling"].name == "사직로 130"


def test_reference_date_prefers_row_column(tmp_path: Path) -> None:
    rows = [
        ["테헤란로 1", *GANGNAM, "2024-12-12"],
        ["테헤란로 2", 37.51, 127.06, ""],
        ["테헤란로 3", 37.52, 127.07, "미상"],
    ]
    write_csv(
        tmp_path / "raw" / "서울특별시 강남구_의류수거함_20240311.csv", ["주소", "위도", "경도", "데이터기준일자"], rows
    )

    result = run_import(tmp_path, source_entry("dated", "서울특별시 강남구_의류수거함_20240311.csv"))

    dates = {point.address: point.reference_date for point in result.points}
    assert dates["서울특별시 강남구 테헤란로 1"] == "2024-12-12"
    assert dates["서울특별시 강남구 테헤란로 2"] == "2024-03-11"
    assert dates["서울특별시 강남구 테헤란로 3"] == "2024-03-11"


def test_reference_date_empty_when_unknown(tmp_path: Path) -> None:
    write_csv(tmp_path / "raw" / "undated.csv", ["주소", "위도", "경도"], [["테헤란로 1", *GANGNAM]])

    result = run_import(tmp_path, source_entry("undated", "undated.csv"))

    assert result.points[0].reference_date == ""


@pytest.mark.parametrize(
    ("raw_address", "expected"),
    [
        pytest.param("천호대로 517", "서울특별시 강남구 천호대로 517", id="road-only"),
        pytest.param("강남구 테헤란로 1", "서울특별시 강남구 테헤란로 1", id="district-first"),
        pytest.param("서울특별시 강남구  테헤란로 1", "서울특별시 강남구 테헤란로 1", id="complete"),
    ],
)
def test_address_is_completed_with_district(tmp_path: Path, raw_address: str, expected: str) -> None:
    write_csv(tmp_path / "raw" / "addr.csv", ["주소", "위도", "경도"], [[raw_address, *GANGNAM]])

    result = run_import(tmp_path, source_entry("addr", "addr.csv"))

    assert result.points[0].address == expected


def test_name_joins_place_and_detail(tmp_path: Path) -> None:
    rows = [["귀뚜라미보일러옆", "테헤란로 1", "전신주옆", *GANGNAM], ["", "테헤란로 2", "건물앞", 37.51, 127.06]]
    write_csv(tmp_path / "raw" / "named.csv", ["설치장소명", "소재지도로명주소", "상세위치", "위도", "경도"], rows)
    entry = source_entry("named", "named.csv", name_columns=["설치장소명"], detail_columns=["상세위치"])

    result = run_import(tmp_path, entry)

    assert sorted(point.name for point in result.points) == ["귀뚜라미보일러옆 (전신주옆)", "테헤란로 2 (건물앞)"]


# --- the command line and the written files ---------------------------------------------


def write_cli_fixture(tmp_path: Path) -> list[str]:
    rows = [
        [3, "테헤란로 3", 37.5123456789, 127.0512345678],
        [1, "테헤란로 1", *GANGNAM],
        [2, "테헤란로 2", 37.51, 127.06],
    ]
    write_csv(tmp_path / "raw" / "gangnam.csv", ["연번", "주소", "위도", "경도"], rows, encoding="cp949")
    (tmp_path / "raw" / "MANIFEST.csv").write_text("file\n", encoding="utf-8")
    write_csv(tmp_path / "raw" / "extra" / "unlisted.csv", ["a"], [[1]])
    table_path = tmp_path / "sources.toml"
    table_path.write_text(DISTRICTS_TOML + source_entry("gangnam", "gangnam.csv"), encoding="utf-8")
    return ["--raw", str(tmp_path / "raw"), "--sources", str(table_path)]


def test_cli_output_is_stable_and_sorted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = write_cli_fixture(tmp_path)
    first, second = tmp_path / "first" / "bins.csv", tmp_path / "second" / "bins.csv"

    assert import_bins.main([*args, "--out", str(first)]) == 0
    assert import_bins.main([*args, "--out", str(second)]) == 0

    assert first.read_bytes() == second.read_bytes()
    with first.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == import_bins.OUTPUT_COLUMNS
    assert [row["address"] for row in rows] == sorted(row["address"] for row in rows)
    assert max(len(row["lat"].split(".")[1]) for row in rows) == 7
    assert {row["lon"] for row in rows} >= {"127.0512346", "127.05"}
    assert len({row["id"] for row in rows}) == 3


def test_cli_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = write_cli_fixture(tmp_path)

    assert import_bins.main([*args, "--out", str(tmp_path / "out" / "bins.csv")]) == 0

    report = (tmp_path / "out" / "IMPORT_REPORT.md").read_text(encoding="utf-8")
    assert "| gangnam | gangnam.csv | cp949 | clothing_bin | official | 3 | 3 | - |" in report
    assert "| clothing_bin | 3 |" in report
    assert "- extra/unlisted.csv" in report
    assert "MANIFEST.csv" not in report
    assert capsys.readouterr().out.startswith(report)


def test_cli_reports_missing_raw_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table_path = tmp_path / "sources.toml"
    table_path.write_text(DISTRICTS_TOML + source_entry("gone", "gone.csv"), encoding="utf-8")

    code = import_bins.main(["--raw", str(tmp_path), "--sources", str(table_path), "--out", str(tmp_path / "b.csv")])

    assert code == 2
    assert "gone.csv not found" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"origin": "scraped"}, "origin must be one of", id="origin"),
        pytest.param({"bin_type": "recycling_station"}, "bin types must be among", id="bin-type"),
        pytest.param({"publisher": "부산광역시"}, "has no [districts] entry", id="district"),
        pytest.param({"duplicate_of": "later"}, "duplicate_of must name an earlier source", id="duplicate-of"),
        pytest.param({"reference_date": "2024-13-01"}, "reference_date must be an ISO date", id="date"),
        pytest.param({"colour": "red"}, "unknown fields colour", id="unknown-field"),
        pytest.param({"name_columns": "설치장소명"}, "name_columns must be a list", id="list-field"),
        pytest.param({"publisher": None, "district": "서울특별시 강남구"}, "missing 1 required", id="missing-field"),
    ],
)
def test_source_table_rejects_invalid_entry(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    with pytest.raises(import_bins.SourceTableError) as excinfo:
        load_table(tmp_path, source_entry("bad", "bad.csv", **fields), source_entry("later", "later.csv"))

    assert message in str(excinfo.value)


# --- committed data ---------------------------------------------------------------------


def read_committed_bins() -> list[dict[str, str]]:
    with COMMITTED_BINS.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == import_bins.OUTPUT_COLUMNS
        return list(reader)


def test_committed_bins_have_enough_rows() -> None:
    rows = read_committed_bins()

    assert len(rows) >= 15_000
    counts = {bin_type: sum(1 for row in rows if row["bin_type"] == bin_type) for bin_type in import_bins.BIN_TYPES}
    assert all(count > 0 for count in counts.values()), counts


def test_committed_bins_have_valid_columns() -> None:
    rows = read_committed_bins()
    coordinate = re.compile(r"^\d{2,3}(\.\d{1,7})?$")

    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{12}", row["id"]), row
        assert row["bin_type"] in import_bins.BIN_TYPES, row
        assert row["origin"] in import_bins.ORIGINS, row
        for column in ("name", "address", "district", "source"):
            assert row[column], (column, row)
        assert coordinate.match(row["lat"]), row
        assert coordinate.match(row["lon"]), row
        assert 33.0 <= float(row["lat"]) <= 38.7, row
        assert 124.5 <= float(row["lon"]) <= 132.0, row
        if row["reference_date"]:
            assert date.fromisoformat(row["reference_date"]).isoformat() == row["reference_date"], row


def test_committed_source_table_loads() -> None:
    table = import_bins.load_source_table(import_bins.DEFAULT_SOURCES_PATH)

    assert len(table.sources) >= 29
    assert len({spec.path for spec in table.sources}) == len(table.sources)


def test_collection_rules_cover_every_category() -> None:
    rules = tomllib.loads(COLLECTION_RULES.read_text(encoding="utf-8"))

    assert set(rules["bin_types"]) == set(import_bins.BIN_TYPES)
    for bin_type, entry in rules["bin_types"].items():
        assert entry["label"]["ko"] and entry["label"]["en"], bin_type
    assert set(rules["categories"]) == set(WASTE_CATEGORIES)
    used: set[str] = set()
    for category, entry in rules["categories"].items():
        assert set(entry["bin_types"]) <= set(import_bins.BIN_TYPES), category
        assert entry["note"]["ko"] and entry["note"]["en"], category
        assert len(entry["note"]["ko"]) <= 120, category
        used.update(entry["bin_types"])
    assert used == set(import_bins.BIN_TYPES)


@pytest.mark.parametrize(
    ("category", "bin_types"),
    [
        pytest.param("clothing", ["clothing_bin"], id="clothing"),
        pytest.param("battery", ["battery_box"], id="battery"),
        pytest.param("e_waste", ["e_waste_box"], id="e-waste"),
        pytest.param("general", ["street_bin_general"], id="general"),
        pytest.param("can_metal", ["street_bin_recycling"], id="can"),
        pytest.param("bulky", [], id="bulky"),
        pytest.param("food", [], id="food"),
    ],
)
def test_collection_rules_map_category(category: str, bin_types: list[str]) -> None:
    rules = tomllib.loads(COLLECTION_RULES.read_text(encoding="utf-8"))

    assert rules["categories"][category]["bin_types"] == bin_types
