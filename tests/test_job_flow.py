"""The phone's whole flow against real processes: API, worker, Redis and S3."""

from __future__ import annotations

import httpx
from rq.serializers import JSONSerializer  # noqa: F401 - imported to fail early if RQ is missing

from scripts.phone import PhoneClient
from tests.conftest import HANGUL, assert_progress_never_decreases, photo_bytes, unique_photo

CATEGORIES = {
    "pet_bottle", "plastic", "vinyl", "paper", "paper_pack", "glass_bottle", "can_metal", "styrofoam",
    "clothing", "battery", "fluorescent_lamp", "food", "general", "bulky", "e_waste", "unknown",
}  # fmt: skip
JPEG = "naver/2.jpg"


def test_presigned_flow_finishes_with_korean_advice(phone: PhoneClient) -> None:
    documents = phone.run(unique_photo(JPEG), lat=37.5665, lon=126.9780)

    final = documents[-1]
    assert final["status"] == "finished"
    assert final["progress"] == 100
    assert final["stage"] == "done"
    assert all(final["steps"].values())
    assert_progress_never_decreases(documents)
    assert all(HANGUL.search(document["message"]) for document in documents)
    result = final["result"]
    assert result["waste"]["category"] in CATEGORIES
    assert result["feedback"]["summary"]
    assert result["feedback"]["steps"]
    assert result["feedback"]["provider"] == "offline:rules"
    assert result["waste"]["provider"] == "offline:rules"
    assert result["cache"] == {"hit": False}
    assert set(result["timings_ms"]) >= {"download", "cache", "preprocess"}


def test_created_job_reports_awaiting_upload(phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()

    status = api.get(created["status_url"])
    assert created["status"] == "awaiting_upload"
    assert created["upload"]["method"] == "POST"
    assert created["upload"]["fields"]["key"].endswith(created["job_id"])
    assert status.status_code == 200
    assert status.json()["status"] == "awaiting_upload"
    assert status.json()["progress"] == 0
    assert status.json()["stage"] == "upload"
    assert status.headers["cache-control"] == "no-store"


def test_job_ids_are_unguessable(phone: PhoneClient) -> None:
    ids = {phone.create()["job_id"] for _ in range(5)}

    assert len(ids) == 5
    assert all(len(job_id) == 32 for job_id in ids)


def test_image_body_flow_finishes_in_one_request(phone: PhoneClient) -> None:
    response = phone.analyze_image(photo_bytes(JPEG), params={"lat": 37.5665, "lon": 126.978})

    assert response.status_code == 202
    created = response.json()
    assert created["status"] == "queued"
    assert response.headers["location"] == created["status_url"]
    documents = phone.poll(created["status_url"])
    assert documents[-1]["status"] == "finished"
    assert_progress_never_decreases(documents)


def test_multipart_flow_finishes(api: httpx.Client, phone: PhoneClient) -> None:
    response = api.post(
        "/api/v1/waste/analyze",
        params={"locale": "en"},
        files={"file": ("photo.jpg", photo_bytes(JPEG), "image/jpeg")},
    )

    assert response.status_code == 202
    documents = phone.poll(response.json()["status_url"])
    assert documents[-1]["status"] == "finished"
    assert documents[-1]["message"] == "Done!"
    assert documents[-1]["result"]["waste"]["label"] == "Not recognised"


def test_english_locale_gives_english_messages(phone: PhoneClient) -> None:
    documents = phone.run(photo_bytes(JPEG), locale="en")

    assert documents[-1]["status"] == "finished"
    assert not any(HANGUL.search(document["message"]) for document in documents)
    assert not HANGUL.search(documents[-1]["result"]["feedback"]["summary"])


def test_status_of_unknown_job_is_404(api: httpx.Client) -> None:
    response = api.get("/api/v1/waste/status/" + "ab" * 16)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    assert HANGUL.search(response.json()["error"]["message"])


def test_status_of_malformed_job_id_is_404(api: httpx.Client) -> None:
    response = api.get("/api/v1/waste/status/not-a-job-id", params={"locale": "en"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    assert "not-a-job-id" in response.json()["error"]["message"]


def test_status_returns_304_when_unchanged(phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()
    first = api.get(created["status_url"])

    second = api.get(created["status_url"], headers={"If-None-Match": first.headers["etag"]})
    weak = api.get(created["status_url"], headers={"If-None-Match": "W/" + first.headers["etag"]})
    other = api.get(created["status_url"], headers={"If-None-Match": '"something-else"'})

    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["etag"] == first.headers["etag"]
    assert weak.status_code == 304
    assert other.status_code == 200


def test_second_start_returns_current_status(phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()
    phone.upload(created["upload"], photo_bytes(JPEG))
    first = phone.start(created["job_id"])
    documents = phone.poll(created["status_url"])

    again = phone.start(created["job_id"])

    assert first.status_code == 202
    assert again.status_code == 202
    assert again.json()["status"] == "finished"
    assert again.json()["result"] == documents[-1]["result"]


def test_start_before_upload_is_409(phone: PhoneClient) -> None:
    created = phone.create()

    response = phone.start(created["job_id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_missing"


def test_start_of_unknown_job_is_404(phone: PhoneClient) -> None:
    response = phone.start("cd" * 16)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_non_image_upload_is_rejected_at_start(phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()
    phone.upload(created["upload"], b"%PDF-1.7 this is a document, not a photo", "image/jpeg")

    response = phone.start(created["job_id"])
    status = api.get(created["status_url"]).json()
    after = phone.run(photo_bytes(JPEG))

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_image"
    assert status["status"] == "failed"
    assert status["error"]["code"] == "unsupported_image"
    assert after[-1]["status"] == "finished"


def test_image_body_that_is_not_an_image_is_415(phone: PhoneClient) -> None:
    response = phone.analyze_image(b"GIF89a not supported here", content_type="image/gif")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_image"


def test_cancel_before_upload(phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()

    response = api.delete(f"/api/v1/waste/jobs/{created['job_id']}")
    again = api.delete(f"/api/v1/waste/jobs/{created['job_id']}")
    start = phone.start(created["job_id"])

    assert response.status_code == 202
    assert response.json()["status"] == "canceled"
    assert response.json()["error"]["code"] == "canceled"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_already_ended"
    assert start.json()["status"] == "canceled"


def test_cancel_of_finished_job_is_409(phone: PhoneClient, api: httpx.Client) -> None:
    documents = phone.run(photo_bytes(JPEG))

    response = api.delete(f"/api/v1/waste/jobs/{documents[-1]['job_id']}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_already_ended"


def test_health_is_ok(api: httpx.Client) -> None:
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_checks_redis_and_storage(api: httpx.Client) -> None:
    response = api.get("/ready")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"
    assert response.json()["checks"]["storage"] == "ok"
    assert response.json()["checks"]["workers"] == "1 alive"
