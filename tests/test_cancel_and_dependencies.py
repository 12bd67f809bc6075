"""Canceling a running job, and what the phone sees when Redis or storage is down."""

from __future__ import annotations

import time

from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import assert_progress_never_decreases, photo_bytes


def test_cancel_during_processing_stops_at_next_stage(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    fresh_stack.start_worker(AI_PROVIDER="simulated", SIMULATED_VISION_SECONDS="3", SIMULATED_FEEDBACK_SECONDS="3")
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        created = phone.create()
        phone.upload(created["upload"], photo_bytes("naver/2.jpg"))
        phone.start(created["job_id"])
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen.append(api.get(created["status_url"]).json())
            if seen[-1]["stage"] == "vision":
                break
            time.sleep(0.1)

        response = api.delete(f"/api/v1/waste/jobs/{created['job_id']}")
        documents = phone.poll(created["status_url"], timeout_s=20)

    assert seen[-1]["stage"] == "vision"
    assert response.status_code == 202
    assert documents[-1]["status"] == "canceled"
    assert documents[-1]["error"]["code"] == "canceled"
    assert documents[-1]["result"] is None
    assert documents[-1]["steps"]["feedback"] is False
    assert_progress_never_decreases(seen + documents)


def test_cancel_queued_job_removes_it_from_the_queue(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        created = phone.create()
        phone.upload(created["upload"], photo_bytes("naver/2.jpg"))
        queued = phone.start(created["job_id"]).json()

        response = api.delete(f"/api/v1/waste/jobs/{created['job_id']}")
        fresh_stack.start_worker()
        time.sleep(1.5)
        final = api.get(created["status_url"]).json()

    assert queued["status"] == "queued"
    assert queued["queue_position"] == 1
    assert response.json()["status"] == "canceled"
    assert final["status"] == "canceled"
    assert final["progress"] == 0


def test_ready_names_redis_when_it_is_down(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    assert fresh_stack.redis is not None
    fresh_stack.redis.stop()
    with fresh_stack.client() as api:
        ready = api.get("/ready")
        status = api.get("/api/v1/waste/status/" + "ab" * 16)
        create = api.post("/api/v1/waste/analyze", json={})

    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("unavailable")
    assert ready.json()["checks"]["storage"] == "ok"
    assert status.status_code == 503
    assert status.json()["error"]["code"] == "queue_unavailable"
    assert create.status_code == 503
    assert create.json()["error"]["code"] == "queue_unavailable"


def test_ready_names_storage_when_it_is_down(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    assert fresh_stack.s3 is not None
    fresh_stack.s3.stop()
    with fresh_stack.client() as api:
        ready = api.get("/ready")

    assert ready.status_code == 503
    assert ready.json()["checks"]["storage"].startswith("unavailable")
    assert ready.json()["checks"]["redis"] == "ok"
