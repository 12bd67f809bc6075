"""The OpenAPI document: valid OpenAPI 3.1, complete, and true to what the API sends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from api.app import ROUTES
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import photo_bytes
from tests.schema_check import ResponseChecker, SchemaMismatch

# Not naver/2.jpg: tests/test_job_flow.py expects that photo to miss the shared stack's cache.
JPEG = "naver/8.jpg"
SEOUL = {"lat": 37.5665, "lon": 126.978}
UNKNOWN_JOB = "0" * 32
ANALYZE = "/api/v1/waste/analyze"
START = "/api/v1/waste/jobs/{job_id}/start"
STATUS = "/api/v1/waste/status/{job_id}"
CANCEL = "/api/v1/waste/jobs/{job_id}"


@pytest.fixture(scope="module")
def openapi(stack: LocalStack) -> dict[str, Any]:
    with stack.client() as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def checker(openapi: dict[str, Any]) -> ResponseChecker:
    return ResponseChecker(openapi)


@pytest.fixture
def checked_api(stack: LocalStack, checker: ResponseChecker) -> Iterator[httpx.Client]:
    """A client that checks every response it receives against the document."""
    with stack.client(event_hooks={"response": [checker.check]}) as client:
        yield client


def test_openapi_document_is_valid_openapi_3(openapi: dict[str, Any]) -> None:
    validate(openapi)

    assert openapi["openapi"].startswith("3.")


def test_every_route_is_documented(openapi: dict[str, Any]) -> None:
    served = {(method.lower(), route.path) for route in ROUTES for method in route.methods or () if method != "HEAD"}
    documented = {(method, path) for path, operations in openapi["paths"].items() for method in operations}

    assert served - documented == set()
    assert documented - served == set()


def test_every_example_matches_its_schema(openapi: dict[str, Any]) -> None:
    checker = ResponseChecker(openapi)
    count = 0

    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            bodies = [("response " + status, response.get("content", {})) for status, response in operation["responses"].items()]
            bodies.append(("request", operation.get("requestBody", {}).get("content", {})))
            for where, content in bodies:
                for media, item in content.items():
                    for name, example in item.get("examples", {}).items():
                        checker.validate_value(f"{method} {path} {where} {media} {name}", item["schema"], example["value"])
                        count += 1
            for parameter in operation.get("parameters", []):
                for value in parameter["schema"].get("examples", []):
                    checker.validate_value(f"{method} {path} parameter {parameter['name']}", parameter["schema"], value)
                    count += 1

    assert count >= 15


def test_status_examples_include_a_finished_result(openapi: dict[str, Any]) -> None:
    examples = openapi["paths"][STATUS]["get"]["responses"]["200"]["content"]["application/json"]["examples"]

    finished = examples["finished"]["value"]
    assert finished["status"] == "finished"
    assert finished["result"]["waste"]["label"]
    assert finished["result"]["bins"][0]["distance_m"] > 0


def test_checker_rejects_an_undocumented_body(openapi: dict[str, Any]) -> None:
    checker = ResponseChecker(openapi)
    request = httpx.Request("GET", "http://127.0.0.1/api/v1/bins/nearby")
    wrong = httpx.Response(200, json={"bins": [{"id": 1}]}, request=request)
    undocumented = httpx.Response(418, json={}, request=request)

    with pytest.raises(SchemaMismatch, match="bins"):
        checker.check(wrong)
    with pytest.raises(SchemaMismatch, match="not documented"):
        checker.check(undocumented)


def test_flow_responses_match_their_schemas(checked_api: httpx.Client, checker: ResponseChecker) -> None:
    phone = PhoneClient(checked_api)

    presigned = phone.run(photo_bytes(JPEG), **SEOUL)
    image_body = phone.analyze_image(photo_bytes(JPEG), params={**SEOUL, "locale": "en"})
    image_body_documents = phone.poll(image_body.json()["status_url"])
    multipart = checked_api.post(ANALYZE, files={"file": ("photo.jpg", photo_bytes(JPEG), "image/jpeg")})
    phone.poll(multipart.json()["status_url"])
    status_url = image_body.json()["status_url"]
    first = checked_api.get(status_url)
    unchanged = checked_api.get(status_url, headers={"If-None-Match": first.headers["etag"]})
    to_cancel = phone.create()
    canceled = checked_api.delete(f"/api/v1/waste/jobs/{to_cancel['job_id']}")
    nearby = checked_api.get("/api/v1/bins/nearby", params={**SEOUL, "category": "clothing"})
    advice = checked_api.get("/api/v1/waste/advice", params={**SEOUL, "category": "battery"})
    advice_without_location = checked_api.get("/api/v1/waste/advice", params={"category": "paper", "locale": "en"})
    pages = [checked_api.get(path) for path in ("/health", "/ready", "/metrics", "/openapi.json", "/docs", "/demo")]
    script = checked_api.get("/static/demo.js")
    style = checked_api.get("/static/demo.css")
    script_again = checked_api.get("/static/demo.js", headers={"If-None-Match": script.headers["etag"]})

    assert presigned[-1]["status"] == "finished"
    assert image_body_documents[-1]["status"] == "finished"
    assert unchanged.status_code == 304
    assert canceled.json()["status"] == "canceled"
    assert nearby.json()["bins"]
    assert advice.status_code == 200
    assert advice_without_location.json()["bins"] == []
    assert [page.status_code for page in pages] == [200] * 6
    assert style.headers["content-type"].startswith("text/css")
    assert script_again.status_code == 304
    seen = set(checker.checked)
    expected = {
        ("post", ANALYZE, 202),
        ("post", START, 202),
        ("get", STATUS, 200),
        ("get", STATUS, 304),
        ("delete", CANCEL, 202),
        ("get", "/api/v1/bins/nearby", 200),
        ("get", "/api/v1/waste/advice", 200),
        ("get", "/health", 200),
        ("get", "/ready", 200),
        ("get", "/metrics", 200),
        ("get", "/openapi.json", 200),
        ("get", "/docs", 200),
        ("get", "/demo", 200),
        ("get", "/static/{name}", 200),
        ("get", "/static/{name}", 304),
    }
    assert expected - seen == set()


def test_error_responses_match_their_schemas(checked_api: httpx.Client, checker: ResponseChecker) -> None:
    phone = PhoneClient(checked_api)
    finished = phone.analyze_image(photo_bytes(JPEG))
    phone.poll(finished.json()["status_url"])
    never_uploaded = phone.create()

    answers = {
        "bad json": checked_api.post(ANALYZE, content=b"{not json", headers={"Content-Type": "application/json"}),
        "too large": checked_api.post(ANALYZE, json={"size": 50 * 1024 * 1024}),
        "not an image": checked_api.post(ANALYZE, content=b"plain text", headers={"Content-Type": "application/octet-stream"}),
        "text body": checked_api.post(ANALYZE, content=b"plain text", headers={"Content-Type": "text/plain"}),
        "lat without lon": checked_api.post(ANALYZE, json={"lat": 37.5}),
        "unknown field": checked_api.post(ANALYZE, json={"colour": "red"}),
        "unknown status": checked_api.get(f"/api/v1/waste/status/{UNKNOWN_JOB}"),
        "unknown start": checked_api.post(f"/api/v1/waste/jobs/{UNKNOWN_JOB}/start"),
        "unknown cancel": checked_api.delete(f"/api/v1/waste/jobs/{UNKNOWN_JOB}"),
        "start before upload": checked_api.post(f"/api/v1/waste/jobs/{never_uploaded['job_id']}/start"),
        "cancel finished": checked_api.delete(f"/api/v1/waste/jobs/{finished.json()['job_id']}"),
        "nearby bad": checked_api.get("/api/v1/bins/nearby", params={"lat": 91, "lon": 127, "category": "clothing"}),
        "advice bad": checked_api.get("/api/v1/waste/advice", params={"category": "sofa"}),
        "advice lat only": checked_api.get("/api/v1/waste/advice", params={"category": "clothing", "lat": 37.5}),
        "missing asset": checked_api.get("/static/missing.js"),
    }

    assert {name: response.status_code for name, response in answers.items()} == {
        "bad json": 400,
        "too large": 413,
        "not an image": 415,
        "text body": 415,
        "lat without lon": 422,
        "unknown field": 422,
        "unknown status": 404,
        "unknown start": 404,
        "unknown cancel": 404,
        "start before upload": 409,
        "cancel finished": 409,
        "nearby bad": 422,
        "advice bad": 422,
        "advice lat only": 422,
        "missing asset": 404,
    }
    assert all(response.json()["error"]["message"] for response in answers.values())
    assert {status for _, _, status in checker.checked} >= {400, 404, 409, 413, 415, 422}
