"""ProgressReporter: how often a job's state is written while the bar moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from jobs.messages import Messages
from jobs.progress import ProgressReporter, read_state
from jobs.stages import STAGE_START_PROGRESS, VISION_PARSED_PROGRESS, Stage
from scripts.stack import LocalStack


@pytest.fixture
def connection(infrastructure: LocalStack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(infrastructure.redis_url)
    yield client
    client.close()


def stored_progress(connection: redis.Redis, job_id: str) -> tuple[Stage, int]:
    state = read_state(connection, job_id)
    assert state is not None
    return state.stage, state.progress


def reporter_in_vision(connection: redis.Redis, interval_s: float) -> tuple[ProgressReporter, str]:
    job_id = uuid.uuid4().hex
    reporter = ProgressReporter(connection, Messages.load(), job_id, "ko", min_advance_interval_s=interval_s)
    reporter.begin()
    reporter.enter(Stage.VISION)
    return reporter, job_id


def test_advance_waits_inside_interval(connection: redis.Redis) -> None:
    reporter, job_id = reporter_in_vision(connection, interval_s=60)
    start = STAGE_START_PROGRESS[Stage.VISION]

    reporter.advance(Stage.VISION, start + 5)
    assert stored_progress(connection, job_id) == (Stage.VISION, start)

    # A new message is written at once.
    reporter.advance(Stage.VISION, VISION_PARSED_PROGRESS, "vision_parse")
    assert stored_progress(connection, job_id) == (Stage.VISION, VISION_PARSED_PROGRESS)

    # So is a new stage.
    reporter.enter(Stage.FEEDBACK)
    assert stored_progress(connection, job_id) == (Stage.FEEDBACK, STAGE_START_PROGRESS[Stage.FEEDBACK])


def test_advance_without_interval_writes_all(connection: redis.Redis) -> None:
    reporter, job_id = reporter_in_vision(connection, interval_s=0)
    start = STAGE_START_PROGRESS[Stage.VISION]

    for step in (1, 2, 3):
        reporter.advance(Stage.VISION, start + step)
        assert stored_progress(connection, job_id) == (Stage.VISION, start + step)
