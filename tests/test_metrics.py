"""GET /metrics: the autoscaling signal, the same from every API copy."""

from __future__ import annotations

import re

from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import photo_bytes


def metric_value(text: str, pattern: str) -> float:
    match = re.search(rf"^{pattern} ([0-9.e+-]+)$", text, flags=re.MULTILINE)
    assert match, f"no line matches {pattern!r}"
    return float(match.group(1))


def test_metrics_count_finished_jobs_and_stage_times(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    fresh_stack.start_api()
    fresh_stack.start_worker()
    with fresh_stack.client(0) as first, fresh_stack.client(1) as second:
        for _ in range(2):
            assert PhoneClient(first).run(photo_bytes("naver/2.jpg"))[-1]["status"] == "finished"
        failed = PhoneClient(first).run(photo_bytes("naver/2.jpg")[:5000])

        text = first.get("/metrics")
        other = second.get("/metrics")

    assert failed[-1]["status"] == "failed"
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == other.text
    body = text.text
    assert metric_value(body, r'waste_jobs_total\{status="finished",code=""\}') == 2
    assert metric_value(body, r'waste_jobs_total\{status="failed",code="image_unreadable"\}') == 1
    assert metric_value(body, r'waste_queue_depth\{queue="waste"\}') == 0
    assert metric_value(body, r'waste_jobs_in_flight\{queue="waste"\}') == 0
    assert metric_value(body, r"waste_workers_alive") == 1
    assert metric_value(body, r'waste_stage_duration_seconds_count\{stage="download"\}') == 3
    # The second photo is a cache hit, so only the first one ran the vision stage.
    assert metric_value(body, r'waste_stage_duration_seconds_bucket\{stage="vision",le="\+Inf"\}') == 1


def test_metrics_report_queue_depth_and_age(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    with fresh_stack.client() as api:
        for _ in range(3):
            assert PhoneClient(api).analyze_image(photo_bytes("naver/2.jpg")).status_code == 202
        body = api.get("/metrics").text

    assert metric_value(body, r'waste_queue_depth\{queue="waste"\}') == 3
    assert metric_value(body, r'waste_queue_oldest_age_seconds\{queue="waste"\}') >= 0
    assert metric_value(body, r"waste_workers_alive") == 0
