"""Nearby collection points: the Redis GEO index against a brute-force search."""

from __future__ import annotations

import math
import random
import threading

import httpx
import numpy as np
import pytest
import redis

from jobs.bins import DATASET_PATH, BinFinder, CategoryCollection, CollectionRules, load_index, read_dataset
from jobs.catalogue import LocalizedText
from jobs.messages import Messages
from scripts.stack import LocalStack
from tests.conftest import HANGUL

# Redis computes distances on a sphere of this radius (src/geohash_helper.c).
REDIS_EARTH_RADIUS_M = 6372797.560856
SEOUL_BOX = (37.43, 37.70, 126.80, 127.18)  # south, north, west, east
TOLERANCE_M = 1.0
RECORDS = read_dataset(DATASET_PATH)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * REDIS_EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _columns(bin_type: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    chosen = [record for record in RECORDS if record.bin_type == bin_type]
    return (
        np.radians([record.lat for record in chosen]),
        np.radians([record.lon for record in chosen]),
        [record.id for record in chosen],
    )


COLUMNS = {bin_type: _columns(bin_type) for bin_type in {record.bin_type for record in RECORDS}}


def brute_force(bin_type: str, lat: float, lon: float, radius_m: float, limit: int) -> list[tuple[float, str]]:
    """Every point of `bin_type` within `radius_m`, nearest first, by the haversine formula."""
    lats, lons, ids = COLUMNS[bin_type]
    phi = math.radians(lat)
    a = np.sin((lats - phi) / 2) ** 2 + math.cos(phi) * np.cos(lats) * np.sin((lons - math.radians(lon)) / 2) ** 2
    distances = 2 * REDIS_EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
    inside = np.flatnonzero(distances <= radius_m)
    return sorted((float(distances[i]), ids[i]) for i in inside)[:limit]


def single_type_finder(connection: redis.Redis) -> BinFinder:
    note = LocalizedText(ko="", en="")
    types = sorted({record.bin_type for record in RECORDS})
    rules = CollectionRules(categories={t: CategoryCollection(bin_types=[t], note=note) for t in types})
    return BinFinder(connection, rules, Messages.load())


@pytest.fixture(scope="module")
def loaded_redis(infrastructure: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(infrastructure.redis_url)


def test_dataset_has_every_bin_type_with_source_and_date() -> None:
    types = {record.bin_type for record in RECORDS}

    assert len(RECORDS) >= 15000
    assert types == {"clothing_bin", "street_bin_general", "street_bin_recycling", "battery_box", "e_waste_box"}
    assert all(record.source for record in RECORDS)
    assert sum(record.source.startswith("공공데이터포털") for record in RECORDS) > 14000


def test_nearest_five_match_brute_force_over_1000_points(loaded_redis: redis.Redis) -> None:
    finder = single_type_finder(loaded_redis)
    rng = random.Random(20261204)
    types = sorted({record.bin_type for record in RECORDS})
    mismatches = []
    compared = 0

    for _ in range(1000):
        lat = rng.uniform(SEOUL_BOX[0], SEOUL_BOX[1])
        lon = rng.uniform(SEOUL_BOX[2], SEOUL_BOX[3])
        for bin_type in types:
            expected = brute_force(bin_type, lat, lon, 1000, 5)
            got = finder.nearby(bin_type, lat, lon, radius_m=1000, limit=5)
            assert got is not None
            compared += 1
            got_ids = {item.id for item in got}
            expected_ids = {bin_id for _, bin_id in expected}
            if got_ids == expected_ids:
                continue
            # Sets may differ only by points tied with the last one or on the radius edge,
            # within Redis's coordinate quantisation.
            boundary = max([d for d, _ in expected] + [1000.0 if len(expected) < 5 else 0.0])
            differing = got_ids ^ expected_ids
            by_id = {record.id: record for record in RECORDS}
            if all(abs(haversine_m(lat, lon, by_id[i].lat, by_id[i].lon) - boundary) <= TOLERANCE_M for i in differing):
                continue
            mismatches.append((lat, lon, bin_type, sorted(got_ids), sorted(expected_ids)))

    assert compared == 5000
    assert mismatches == []


def test_nearby_distances_match_haversine(loaded_redis: redis.Redis) -> None:
    finder = single_type_finder(loaded_redis)

    got = finder.nearby("clothing_bin", 37.5665, 126.9780, radius_m=2000, limit=10)

    assert got
    distances = [item.distance_m for item in got]
    assert distances == sorted(distances)
    for item in got:
        assert abs(item.distance_m - haversine_m(37.5665, 126.9780, item.lat, item.lon)) <= 1.5


def test_reload_never_shows_an_empty_index(loaded_redis: redis.Redis) -> None:
    finder = single_type_finder(loaded_redis)
    records = RECORDS
    stop = threading.Event()
    empty_answers = []

    def reload_repeatedly() -> None:
        version = 0
        while not stop.is_set():
            version += 1
            load_index(loaded_redis, records, f"test-{version}")

    reloader = threading.Thread(target=reload_repeatedly)
    reloader.start()
    try:
        for _ in range(300):
            got = finder.nearby("clothing_bin", 37.5665, 126.9780, radius_m=1000, limit=5)
            if not got:
                empty_answers.append(got)
    finally:
        stop.set()
        reloader.join()

    assert empty_answers == []


def test_nearby_endpoint_returns_sorted_bins_with_source(api: httpx.Client) -> None:
    response = api.get("/api/v1/bins/nearby", params={"lat": 37.5665, "lon": 126.978, "category": "clothing"})

    assert response.status_code == 200
    bins = response.json()["bins"]
    assert 1 <= len(bins) <= 5
    assert [item["distance_m"] for item in bins] == sorted(item["distance_m"] for item in bins)
    assert all(item["category"] == "clothing_bin" for item in bins)
    assert all(item["source"] and "reference_date" in item for item in bins)


def test_battery_boxes_in_seongdong(api: httpx.Client) -> None:
    response = api.get(
        "/api/v1/bins/nearby",
        params={"lat": 37.5634, "lon": 127.0369, "category": "battery", "radius_m": 3000},
    )

    bins = response.json()["bins"]
    assert bins
    assert all(item["category"] == "battery_box" for item in bins)
    assert all("성동구" in item["source"] for item in bins)


def test_category_without_bins_explains_why(api: httpx.Client) -> None:
    response = api.get("/api/v1/bins/nearby", params={"lat": 37.5665, "lon": 126.978, "category": "bulky"})

    assert response.status_code == 200
    assert response.json()["bins"] == []
    assert HANGUL.search(response.json()["note"])


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"lat": "abc", "lon": 126.9, "category": "clothing"}, id="lat-not-a-number"),
        pytest.param({"lat": 91, "lon": 126.9, "category": "clothing"}, id="lat-out-of-range"),
        pytest.param({"lat": 37.5, "lon": -181, "category": "clothing"}, id="lon-out-of-range"),
        pytest.param({"lon": 126.9, "category": "clothing"}, id="lat-missing"),
        pytest.param({"lat": 37.5, "lon": 126.9, "category": "sofa"}, id="unknown-category"),
        pytest.param({"lat": 37.5, "lon": 126.9, "category": "clothing", "radius_m": 6000}, id="radius-too-large"),
        pytest.param({"lat": 37.5, "lon": 126.9, "category": "clothing", "limit": 0}, id="limit-zero"),
        pytest.param({"lat": 37.5, "lon": 126.9, "category": "clothing", "color": "red"}, id="unknown-parameter"),
    ],
)
def test_nearby_rejects_bad_query_with_422(api: httpx.Client, params: dict) -> None:
    response = api.get("/api/v1/bins/nearby", params={**params, "locale": "en"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["message"].startswith("Invalid request value")
