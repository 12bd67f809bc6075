"""Fault suite: killed workers, stopped Redis and storage, expired jobs, restarts.

Each test runs a stack of its own and checks what the phone sees, then that no
job is left queued or started.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from scripts.local_services import start_redis, start_s3
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import HANGUL, assert_progress_never_decreases, photo_bytes

PHOTO = "naver/2.jpg"
SLOW = {"AI_PROVIDER": "simulated", "SIMULATED_VISION_SECONDS": "3", "SIMULATED_FEEDBACK_SECONDS": "3"}


def wait_for_stage(api: httpx.Client, status_url: str, stages: set[str], timeout_s: float = 20) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        document = api.get(status_url).json()
        seen.append(document)
        if document["stage"] in stages:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job never reached {stages}; last: {seen[-1] if seen else None}")


def assert_no_job_stuck(stack: LocalStack) -> None:
    connection = redis.Redis.from_url(stack.redis_url)
    queue = Queue("waste", connection=connection, serializer=JSONSerializer)
    assert queue.count == 0
    assert queue.started_job_registry.get_job_ids() == []


def start_job(api: httpx.Client) -> dict[str, Any]:
    phone = PhoneClient(api)
    created = phone.create()
    phone.upload(created["upload"], photo_bytes(PHOTO))
    assert phone.start(created["job_id"]).status_code == 202
    return created


def test_killed_worker_job_is_retried_on_another(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    doomed = fresh_stack.start_worker(**SLOW)
    with fresh_stack.client() as api:
        created = start_job(api)
        before = wait_for_stage(api, created["status_url"], {"vision"})
        fresh_stack.start_worker(**SLOW)
        doomed.kill()
        killed_at = time.monotonic()
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=60)

    final = documents[-1]
    assert final["status"] == "finished"
    assert final["attempt"] == 2
    assert time.monotonic() - killed_at < 30 + 8
    assert_progress_never_decreases(before + documents)
    assert_no_job_stuck(fresh_stack)


def test_killed_only_worker_fails_job_as_worker_lost(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    doomed = fresh_stack.start_worker(**SLOW)
    with fresh_stack.client() as api:
        created = start_job(api)
        before = wait_for_stage(api, created["status_url"], {"vision"})
        doomed.kill()
        killed_at = time.monotonic()
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=40)
        elapsed = time.monotonic() - killed_at

    final = documents[-1]
    assert final["status"] == "failed"
    assert final["error"]["code"] == "worker_lost"
    assert HANGUL.search(final["error"]["message"])
    assert elapsed < 30
    assert_progress_never_decreases(before + documents)
    assert_no_job_stuck(fresh_stack)


def test_queued_job_without_workers_fails_as_no_worker(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api(NO_WORKER_TIMEOUT_SECONDS="2")
    with fresh_stack.client() as api:
        created = start_job(api)
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=20)
        ready = api.get("/ready").json()

    assert documents[-1]["status"] == "failed"
    assert documents[-1]["error"]["code"] == "no_worker"
    assert ready["checks"]["workers"] == "none alive"
    assert_no_job_stuck(fresh_stack)


def test_job_taken_by_a_dead_worker_runs(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    with fresh_stack.client() as api:
        created = start_job(api)
        # What a worker killed between taking the job and starting it leaves
        # behind: the id in RQ's intermediate list, the job in no registry.
        connection = redis.Redis.from_url(fresh_stack.redis_url)
        queue = Queue("waste", connection=connection, serializer=JSONSerializer)
        assert connection.lmove(queue.key, queue.intermediate_queue_key) == created["job_id"].encode()
        fresh_stack.start_worker()
        # The reaper puts it back after two passes EXECUTION_TTL_S apart, well within this.
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=30)

    assert documents[-1]["status"] == "finished"
    assert documents[-1]["attempt"] == 1
    assert connection.llen(queue.intermediate_queue_key) == 0
    assert_no_job_stuck(fresh_stack)


def test_idle_worker_takes_next_job(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    fresh_stack.start_worker()
    with fresh_stack.client() as api:
        first = PhoneClient(api).run(photo_bytes(PHOTO))
        # Longer than the 10 s after which a dequeue on a socket with a 5 s read
        # timeout fails (with one retry) and RQ backs off.
        time.sleep(25)
        second = PhoneClient(api).run(photo_bytes("naver/8.jpg"), timeout_s=10)
    log = (fresh_stack.log_dir / "worker-0.log").read_text()

    assert first[-1]["status"] == "finished"
    assert second[-1]["status"] == "finished"
    assert "could not connect to Redis" not in log


def test_redis_restart_is_survived_by_api_and_worker(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    fresh_stack.start_worker()
    assert fresh_stack.redis is not None
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        assert phone.run(photo_bytes(PHOTO))[-1]["status"] == "finished"

        fresh_stack.redis.stop()
        down_status = api.get("/api/v1/waste/status/" + "ab" * 16)
        down_create = api.post("/api/v1/waste/analyze", json={})
        down_ready = api.get("/ready")

        fresh_stack.redis = start_redis(fresh_stack.redis_port, fresh_stack.log_dir / "redis-restarted.log")
        documents = phone.run(photo_bytes(PHOTO), timeout_s=60)

    assert down_status.status_code == 503
    assert down_status.json()["error"]["code"] == "queue_unavailable"
    assert down_create.status_code == 503
    assert down_create.json()["error"]["code"] == "queue_unavailable"
    assert down_ready.status_code == 503
    assert documents[-1]["status"] == "finished"
    assert_no_job_stuck(fresh_stack)


def test_storage_down_fails_create_and_running_job(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    assert fresh_stack.s3 is not None
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        queued = phone.analyze_image(photo_bytes(PHOTO)).json()
        fresh_stack.s3.stop()
        time.sleep(2.5)  # past the API's cached storage check
        create = api.post("/api/v1/waste/analyze", json={})
        fresh_stack.start_worker()
        documents = phone.poll(queued["status_url"], timeout_s=40)
        fresh_stack.s3 = start_s3(fresh_stack.s3_port, fresh_stack.log_dir / "s3-restarted.log")

    assert create.status_code == 503
    assert create.json()["error"]["code"] == "storage_unavailable"
    assert documents[-1]["status"] == "failed"
    assert documents[-1]["error"]["code"] == "storage_unavailable"
    assert_no_job_stuck(fresh_stack)


def test_expired_job_answers_job_expired(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api(JOB_TTL_SECONDS="1")
    with fresh_stack.client() as api:
        created = PhoneClient(api).create()
        time.sleep(2.2)
        response = api.get(created["status_url"])
        unknown = api.get("/api/v1/waste/status/" + "ef" * 16)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_expired"
    assert unknown.json()["error"]["code"] == "job_not_found"


def test_sigterm_lets_the_running_job_finish(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    worker = fresh_stack.start_worker(**SLOW)
    with fresh_stack.client() as api:
        created = start_job(api)
        before = wait_for_stage(api, created["status_url"], {"vision"})
        os.kill(worker.pid, signal.SIGTERM)
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=30)
        assert worker.process is not None
        exit_code = worker.process.wait(timeout=30)

    assert documents[-1]["status"] == "finished"
    assert exit_code == 0
    assert_progress_never_decreases(before + documents)
    assert_no_job_stuck(fresh_stack)


def test_sigterm_hands_back_a_job_past_the_grace_period(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    worker = fresh_stack.start_worker(WORKER_SHUTDOWN_GRACE_SECONDS="1", **SLOW)
    with fresh_stack.client() as api:
        created = start_job(api)
        before = wait_for_stage(api, created["status_url"], {"vision"})
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.process is not None
        worker.process.wait(timeout=20)
        handed_back = api.get(created["status_url"]).json()
        fresh_stack.start_worker(**SLOW)
        documents = PhoneClient(api).poll(created["status_url"], timeout_s=40)

    assert handed_back["status"] == "queued"
    assert documents[-1]["status"] == "finished"
    assert_progress_never_decreases(before + [handed_back] + documents)
    assert_no_job_stuck(fresh_stack)
