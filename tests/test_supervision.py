"""The reaper: jobs whose worker died after taking them and before their pipeline began."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.job import JobStatus as RQJobStatus
from rq.serializers import JSONSerializer

from jobs.connection import connect_redis
from jobs.lifecycle import JobLifecycle, new_job_id
from jobs.messages import Messages
from jobs.progress import read_state
from jobs.settings import load_settings
from jobs.stages import JobStatus
from jobs.storage import object_key
from jobs.supervision import EXECUTION_TTL_S, reap_abandoned, requeue_stranded
from scripts.stack import LocalStack


@pytest.fixture
def queue(infrastructure: LocalStack) -> Iterator[Queue]:
    connection = redis.Redis.from_url(infrastructure.redis_url)
    # A queue of its own, so that no worker of the session's stack takes these jobs.
    yield Queue(f"stranded-{uuid.uuid4().hex[:8]}", connection=connection, serializer=JSONSerializer)
    connection.close()


def take_without_starting(queue: Queue) -> str:
    """Queue a job and move its id to the intermediate list, as a worker's dequeue does."""
    job = queue.enqueue("builtins.len", "abc")
    queue.connection.lmove(queue.key, queue.intermediate_queue_key)
    return job.id


def test_stranded_job_waits_one_ttl(queue: Queue) -> None:
    take_without_starting(queue)

    now = time.time()
    assert requeue_stranded(queue, now=now) == []
    assert requeue_stranded(queue, now=now + EXECUTION_TTL_S - 1) == []
    assert queue.get_job_ids() == []


def test_stranded_job_goes_back_to_the_front(queue: Queue) -> None:
    stranded_id = take_without_starting(queue)
    waiting_id = queue.enqueue("builtins.len", "queued later").id

    now = time.time()
    requeue_stranded(queue, now=now)
    requeued = requeue_stranded(queue, now=now + EXECUTION_TTL_S + 1)

    assert requeued == [stranded_id]
    assert queue.get_job_ids() == [stranded_id, waiting_id]
    assert queue.connection.llen(queue.intermediate_queue_key) == 0


def test_started_job_is_left_alone(queue: Queue) -> None:
    job_id = take_without_starting(queue)
    job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
    with queue.connection.pipeline() as pipe:
        Execution.create(job, ttl=60, pipeline=pipe)
        pipe.execute()

    now = time.time()
    requeue_stranded(queue, now=now)
    requeued = requeue_stranded(queue, now=now + EXECUTION_TTL_S * 10)

    assert requeued == []
    assert queue.connection.llen(queue.intermediate_queue_key) == 1


def test_job_lost_before_it_began_is_requeued(infrastructure: LocalStack) -> None:
    settings = load_settings(infrastructure.env(QUEUE_NAME=f"lost-{uuid.uuid4().hex[:8]}"))
    connection = connect_redis(settings)
    lifecycle = JobLifecycle(connection, settings, Messages.load())
    job_id = new_job_id()
    lifecycle.create(job_id, object_key(job_id), "ko", None, None)
    lifecycle.enqueue(job_id)
    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    # A worker took the job and RQ started it, so the id is in neither list.
    # The worker died before the pipeline wrote `started`: the state is still `queued`.
    assert connection.lpop(queue.key) == job_id.encode()
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    with connection.pipeline() as pipe:
        Execution.create(job, ttl=1, pipeline=pipe)
        job.set_status(RQJobStatus.STARTED, pipeline=pipe)
        pipe.execute()
    time.sleep(1.2)

    outcomes: dict[str, str] = {}
    deadline = time.monotonic() + 10
    # Another test stack's reaper may hold the shared lock for a moment.
    while job_id not in outcomes and time.monotonic() < deadline:
        outcomes = reap_abandoned(connection, queue, Messages.load(), allow_retry=True)
        time.sleep(0.1)

    state = read_state(connection, job_id)
    assert outcomes.get(job_id) == "requeued"
    assert queue.get_job_ids() == [job_id]
    assert state is not None
    assert state.status == JobStatus.QUEUED
    assert state.attempt == 1
    connection.close()
