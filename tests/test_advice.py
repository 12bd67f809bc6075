"""GET /api/v1/waste/advice: advice and collection points for a category the user picked."""

from __future__ import annotations

import httpx
import pytest

from jobs.catalogue import Catalogue
from jobs.messages import Messages
from tests.conftest import HANGUL

ADVICE = "/api/v1/waste/advice"
SEOUL_CITY_HALL = {"lat": 37.5665, "lon": 126.978}
CATALOGUE = Catalogue.load()
MESSAGES = Messages.load()


def test_clothing_in_seoul_lists_clothing_bins_nearest_first(api: httpx.Client) -> None:
    response = api.get(ADVICE, params={"category": "clothing", **SEOUL_CITY_HALL})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["waste"]["category"] == "clothing"
    assert body["waste"]["label"] == "의류"
    assert body["waste"]["confidence"] == 1.0
    assert body["waste"]["provider"] == "user"
    assert body["feedback"]["provider"] == "offline:rules"
    assert body["feedback"]["summary"] == CATALOGUE.rules("clothing").summary.ko
    assert body["feedback"]["steps"] == CATALOGUE.rules("clothing").steps.ko
    bins = body["bins"]
    assert bins
    assert [item["distance_m"] for item in bins] == sorted(item["distance_m"] for item in bins)
    assert all(item["category"] == "clothing_bin" for item in bins)
    assert all(item["distance_m"] <= 1000 for item in bins)
    assert all(item["source"].startswith("공공데이터포털") for item in bins)
    assert all(item["reference_date"] for item in bins)
    assert HANGUL.search(body["bins_note"])


def test_bulky_has_no_bins_korean_note(api: httpx.Client) -> None:
    response = api.get(ADVICE, params={"category": "bulky", **SEOUL_CITY_HALL})

    body = response.json()
    assert response.status_code == 200
    assert body["bins"] == []
    assert HANGUL.search(body["bins_note"])
    assert body["waste"]["label"] == "대형폐기물"
    assert body["feedback"]["summary"] == CATALOGUE.rules("bulky").summary.ko


def test_advice_without_location_says_why_no_bins(api: httpx.Client) -> None:
    response = api.get(ADVICE, params={"category": "battery"})

    body = response.json()
    assert response.status_code == 200
    assert body["bins"] == []
    assert body["bins_note"] == MESSAGES.bins_note("ko", "no_location")


def test_advice_in_english_with_locale_en(api: httpx.Client) -> None:
    response = api.get(ADVICE, params={"category": "clothing", "locale": "en", **SEOUL_CITY_HALL})

    body = response.json()
    assert response.status_code == 200
    assert body["waste"]["label"] == CATALOGUE.label("clothing", "en")
    assert body["feedback"]["summary"] == CATALOGUE.rules("clothing").summary.en
    assert MESSAGES.label("en", "offline_notice") in body["feedback"]["cautions"]
    assert body["bins"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"category": "sofa"}, id="unknown-category"),
        pytest.param({}, id="category-missing"),
        pytest.param({"category": "clothing", "lat": 37.5}, id="lat-without-lon"),
        pytest.param({"category": "clothing", "lon": 126.9}, id="lon-without-lat"),
        pytest.param({"category": "clothing", "lat": "north", "lon": 126.9}, id="lat-not-a-number"),
        pytest.param({"category": "clothing", "lat": 91, "lon": 126.9}, id="lat-out-of-range"),
        pytest.param({"category": "clothing", "lat": 37.5, "lon": 181}, id="lon-out-of-range"),
        pytest.param({"category": "clothing", "locale": "fr"}, id="unsupported-locale"),
        pytest.param({"category": "clothing", "radius_m": 100}, id="unknown-parameter"),
    ],
)
def test_advice_rejects_bad_query_with_422(api: httpx.Client, params: dict) -> None:
    response = api.get(ADVICE, params=params, headers={"Accept-Language": "ko"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["message"].startswith("요청 값이 올바르지 않아요")
