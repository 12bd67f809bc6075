"""Bad input over HTTP: each case gets a clear error and loses nothing."""

from __future__ import annotations

import io
import time

import httpx
import pytest
import redis
from minio import Minio
from PIL import Image
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import keys
from scripts.local_services import LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import HANGUL, photo_bytes
from tests.test_imaging import png_bomb

JPEG = "naver/2.jpg"
TEN_MIB = 10 * 1024 * 1024


def storage_client(stack: LocalStack) -> Minio:
    return Minio(
        stack.s3_endpoint.removeprefix("http://"),
        access_key=LOCAL_S3_ACCESS_KEY,
        secret_key=LOCAL_S3_SECRET_KEY,
        secure=False,
        region="us-east-1",
    )


def object_exists(stack: LocalStack, job_id: str) -> bool:
    names = [item.object_name for item in storage_client(stack).list_objects("waste-uploads", prefix="uploads/")]
    return f"uploads/{job_id}" in names


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b'{"lat": 37.5,', 400, "invalid_json", id="truncated-json"),
        pytest.param(b"not json at all", 400, "invalid_json", id="not-json"),
        pytest.param(b'{"lat": 37.5, "lon": 127.0, "colour": "red"}', 422, "invalid_request", id="unknown-field"),
        pytest.param(b'{"lat": 91, "lon": 127.0}', 422, "invalid_request", id="lat-out-of-range"),
        pytest.param(b'{"lat": 37.5, "lon": 181}', 422, "invalid_request", id="lon-out-of-range"),
        pytest.param(b'{"lat": "north", "lon": 127.0}', 422, "invalid_request", id="lat-wrong-type"),
        pytest.param(b'{"lat": 37.5}', 422, "invalid_request", id="lat-without-lon"),
        pytest.param(b'{"locale": "fr"}', 422, "invalid_request", id="unknown-locale"),
        pytest.param(b'{"size": 0}', 422, "invalid_request", id="size-zero"),
        pytest.param(b'{"size": 20000000}', 413, "upload_too_large", id="declared-size-over-cap"),
        pytest.param(b"[1, 2, 3]", 422, "invalid_request", id="array-not-object"),
    ],
)
def test_create_rejects_bad_json(api: httpx.Client, body: bytes, status: int, code: str) -> None:
    response = api.post("/api/v1/waste/analyze", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert HANGUL.search(response.json()["error"]["message"])


def test_error_message_follows_accept_language(api: httpx.Client) -> None:
    response = api.post(
        "/api/v1/waste/analyze",
        content=b'{"lat": 91, "lon": 1}',
        headers={"Content-Type": "application/json", "Accept-Language": "en-US,en;q=0.9"},
    )

    message = response.json()["error"]["message"]
    assert message.startswith("Invalid request value")
    assert "lat" in message


def test_oversized_json_body_is_413(api: httpx.Client) -> None:
    body = b'{"locale": "ko", "content_type": "' + b"x" * 20_000 + b'"}'

    response = api.post("/api/v1/waste/analyze", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_unsupported_request_type_is_415(api: httpx.Client) -> None:
    response = api.post("/api/v1/waste/analyze", content=b"hello", headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_image_body_over_the_cap_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/api/v1/waste/analyze", content=b"\xff\xd8\xff" + b"\0" * TEN_MIB, headers={"Content-Type": "image/jpeg"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"
    assert "10485760" in response.json()["error"]["message"]


def test_image_body_with_bad_coordinates_is_422(phone: PhoneClient) -> None:
    response = phone.analyze_image(photo_bytes(JPEG), params={"lat": "abc", "lon": 127})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_empty_image_body_is_422(phone: PhoneClient) -> None:
    response = phone.analyze_image(b"")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "upload_empty"


def test_presigned_upload_over_the_cap_is_413_and_deleted(stack: LocalStack, phone: PhoneClient) -> None:
    created = phone.create()
    # The local S3 server ignores the policy's content-length-range, as some stores do.
    phone.upload(created["upload"], b"\xff\xd8\xff" + b"\0" * TEN_MIB)

    response = phone.start(created["job_id"])

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"
    assert "10485760" in response.json()["error"]["message"]
    assert not object_exists(stack, created["job_id"])


def test_zero_byte_upload_is_422(phone: PhoneClient) -> None:
    created = phone.create()
    phone.upload(created["upload"], b"")

    response = phone.start(created["job_id"])

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "upload_empty"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(photo_bytes(JPEG)[:20_000], "image_unreadable", id="truncated-jpeg"),
        pytest.param(png_bomb(60_000, 60_000), "image_too_large", id="decompression-bomb"),
    ],
)
def test_broken_photo_fails_the_job_with_a_code(stack: LocalStack, phone: PhoneClient, data: bytes, code: str) -> None:
    documents = phone.run(data)

    final = documents[-1]
    assert final["status"] == "failed"
    assert final["error"]["code"] == code
    assert HANGUL.search(final["error"]["message"])
    assert not object_exists(stack, final["job_id"])


@pytest.mark.parametrize(
    ("relative", "content_type"),
    [
        pytest.param("formats/can.heic", "image/heic", id="heic"),
        pytest.param("formats/can-rotated.heic", "image/jpeg", id="heic-labelled-jpeg"),
        pytest.param("formats/can.avif", "image/avif", id="avif"),
    ],
)
def test_phone_formats_finish(phone: PhoneClient, relative: str, content_type: str) -> None:
    documents = phone.run(photo_bytes(relative), content_type=content_type)

    assert documents[-1]["status"] == "finished"


def test_webp_and_png_finish(phone: PhoneClient) -> None:
    source = Image.open(io.BytesIO(photo_bytes(JPEG)))
    for image_format, content_type in (("WEBP", "image/webp"), ("PNG", "image/png")):
        buffer = io.BytesIO()
        source.save(buffer, format=image_format)

        documents = phone.run(buffer.getvalue(), content_type=content_type)

        assert documents[-1]["status"] == "finished"


def test_upload_is_deleted_when_the_job_ends(stack: LocalStack, phone: PhoneClient) -> None:
    documents = phone.run(photo_bytes(JPEG))

    assert documents[-1]["status"] == "finished"
    assert not object_exists(stack, documents[-1]["job_id"])


def test_job_data_keeps_only_rounded_coordinates(stack: LocalStack, phone: PhoneClient) -> None:
    documents = phone.run(photo_bytes(JPEG), lat=37.566535, lon=126.977969)
    job_id = documents[-1]["job_id"]
    connection = redis.Redis.from_url(stack.redis_url)

    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    stored = b" ".join(connection.hgetall(keys.job_key(job_id)).values())

    assert documents[-1]["status"] == "finished"
    assert job.args[0]["lat"] == 37.567
    assert job.args[0]["lon"] == 126.978
    assert b"37.5665" not in stored
    assert b"126.97797" not in stored
    assert connection.exists(keys.location_key(job_id)) == 0


def test_logs_hold_no_coordinates_or_photo_bytes(stack: LocalStack, phone: PhoneClient) -> None:
    phone.run(photo_bytes(JPEG), lat=37.554321, lon=126.912345)
    time.sleep(0.5)

    logs = b"".join(path.read_bytes() for path in stack.log_dir.glob("*.log") if path.name.startswith(("api", "worker")))

    assert b"37.554321" not in logs
    assert b"126.912345" not in logs
    assert b"37.554" not in logs
    assert b"\xff\xd8\xff" not in logs
    assert b"JFIF" not in logs


def test_idempotency_key_returns_the_same_job(phone: PhoneClient, api: httpx.Client) -> None:
    first = phone.create(lat=37.5, lon=127.0, idempotency_key="phone-retry-1")
    second = phone.create(lat=37.5, lon=127.0, idempotency_key="phone-retry-1")

    reused = api.post(
        "/api/v1/waste/analyze", json={"locale": "ko", "lat": 37.6, "lon": 127.0}, headers={"Idempotency-Key": "phone-retry-1"}
    )

    assert first["job_id"] == second["job_id"]
    assert first == second
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_key_on_image_body(phone: PhoneClient) -> None:
    headers = {"Idempotency-Key": "image-retry-1", "Content-Type": "image/jpeg"}
    first = phone.client.post("/api/v1/waste/analyze", content=photo_bytes(JPEG), headers=headers)
    second = phone.client.post("/api/v1/waste/analyze", content=photo_bytes(JPEG), headers=headers)

    assert first.status_code == 202
    assert second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]


def test_failed_request_frees_its_idempotency_key(api: httpx.Client, phone: PhoneClient) -> None:
    bad = api.post(
        "/api/v1/waste/analyze", json={"lat": 95, "lon": 1}, headers={"Idempotency-Key": "fix-and-retry"}
    )
    fixed = api.post(
        "/api/v1/waste/analyze", json={"lat": 45, "lon": 1}, headers={"Idempotency-Key": "fix-and-retry"}
    )

    assert bad.status_code == 422
    assert fixed.status_code == 202


def test_rate_limit_answers_429_with_retry_after(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api(RATE_LIMIT_JOBS_PER_MINUTE="3")
    with fresh_stack.client() as api:
        answers = [api.post("/api/v1/waste/analyze", json={}).status_code for _ in range(4)]
        limited = api.post("/api/v1/waste/analyze", json={})
        spoofed = api.post("/api/v1/waste/analyze", json={}, headers={"X-Forwarded-For": "203.0.113.9"})
        other_client = api.post("/api/v1/waste/analyze", json={}, headers={"X-Client-Id": "install-42"})
        bad_client = api.post("/api/v1/waste/analyze", json={}, headers={"X-Client-Id": "no spaces allowed"})

    assert answers == [202, 202, 202, 429]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert spoofed.status_code == 429
    assert other_client.status_code == 202
    assert bad_client.status_code == 422


def test_forwarded_address_counts_behind_a_trusted_proxy(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api(RATE_LIMIT_JOBS_PER_MINUTE="1", TRUSTED_PROXIES="127.0.0.1")
    with fresh_stack.client() as api:
        first = api.post("/api/v1/waste/analyze", json={}, headers={"X-Forwarded-For": "198.51.100.1"})
        again = api.post("/api/v1/waste/analyze", json={}, headers={"X-Forwarded-For": "198.51.100.1"})
        other = api.post("/api/v1/waste/analyze", json={}, headers={"X-Forwarded-For": "198.51.100.2"})

    assert first.status_code == 202
    assert again.status_code == 429
    assert other.status_code == 202


def test_unknown_path_answers_json_404(api: httpx.Client) -> None:
    response = api.get("/api/v1/waste/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/api/v1/waste/nothing-here" in response.json()["error"]["message"]


def test_wrong_method_answers_json_405(api: httpx.Client) -> None:
    response = api.put("/api/v1/waste/analyze", params={"locale": "en"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]
