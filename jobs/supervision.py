"""Heartbeats and the reaper: no job stays `started` after its worker died.

Stock RQ notices a dead worker's job only when the job's heartbeat TTL runs
out and its maintenance pass runs (every 10 minutes by default). Here every
worker process refreshes the executions of its in-flight jobs every
HEARTBEAT_INTERVAL_S with a short EXECUTION_TTL_S, and a reaper pass (in every
worker process, one at a time through a Redis lock) hands expired executions
to RQ's own `StartedJobRegistry.cleanup`: a job on its first attempt is
retried at the front of the queue, a second loss fails it with `worker_lost`.
A killed worker's jobs are therefore recovered within
EXECUTION_TTL_S + HEARTBEAT_INTERVAL_S (10 s). An execution lives for four
heartbeats, so a supervisor thread that waits a few seconds for the GIL under
load does not lose its jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import msgspec
import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.worker import BaseWorker

from jobs import keys
from jobs.documents import JobError, JobState
from jobs.messages import Messages
from jobs.progress import read_state, utc_now_iso, write_state
from jobs.stages import JobStatus as WasteStatus
from jobs.stages import Stage

logger = logging.getLogger(__name__)

# A lost job is found within 10 s and then runs again from the start, so with AI
# calls of up to 13 s it ends about 24 s after its worker died.
HEARTBEAT_INTERVAL_S = 2
EXECUTION_TTL_S = 8
WORKER_ALIVE_WINDOW_S = 15
MAX_ATTEMPTS = 2
WORKER_KEY_TTL_S = 60


def live_worker_count(connection: redis.Redis, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return int(connection.zcount(keys.WORKERS_ALIVE_KEY, now - WORKER_ALIVE_WINDOW_S, "+inf"))


def _mark(connection: redis.Redis, job_id: str, state: JobState, messages: Messages, outcome: str) -> None:
    if outcome == "retrying":
        updated = msgspec.structs.replace(
            state,
            status=WasteStatus.QUEUED,
            stage=Stage.QUEUE,
            message=messages.stage(state.locale, "retrying"),
            updated_at=utc_now_iso(),
            attempt=state.attempt + 1,
        )
    else:
        updated = msgspec.structs.replace(
            state,
            status=WasteStatus.FAILED,
            message=messages.stage(state.locale, "failed"),
            error=JobError(code=outcome, message=messages.error(state.locale, outcome)),
            updated_at=utc_now_iso(),
        )
    write_state(connection, job_id, updated)


def reap_abandoned(connection: redis.Redis, queue: Queue, messages: Messages, allow_retry: bool) -> dict[str, str]:
    """Recover jobs whose executions expired; returns job id -> `retrying`, `worker_lost` or `requeued`."""
    if not connection.set(keys.REAPER_LOCK_KEY, "1", nx=True, ex=keys.REAPER_LOCK_TTL_S):
        return {}
    try:
        registry = queue.started_job_registry
        now = time.time()
        outcomes: dict[str, str] = {}
        for job_id in registry.get_expired_job_ids(now):
            state = read_state(connection, job_id)
            if state is None:
                continue
            if state.status == WasteStatus.QUEUED and allow_retry:
                # The worker died after RQ started the job and before the pipeline
                # began it: the job never ran, so it goes back with its attempt.
                connection.hset(keys.job_key(job_id), mapping={"retries_left": 1, "enqueue_at_front_on_retry": 1})
                outcomes[job_id] = "requeued"
                logger.warning("job recovered from a lost worker job_id=%s outcome=requeued attempt=%d", job_id, state.attempt)
                continue
            if state.status != WasteStatus.STARTED:
                continue
            retry = allow_retry and state.attempt < MAX_ATTEMPTS
            outcome = "retrying" if retry else "worker_lost"
            # The state is written before the cleanup re-queues the job: once it is
            # queued, a worker may start it at once and must find the new attempt.
            _mark(connection, job_id, state, messages, outcome)
            # RQ's cleanup retries a job that has retries left, at the queue's front.
            connection.hset(
                keys.job_key(job_id),
                mapping={"retries_left": 1 if retry else 0, "enqueue_at_front_on_retry": 1},
            )
            outcomes[job_id] = outcome
            logger.warning("job recovered from a lost worker job_id=%s outcome=%s attempt=%d", job_id, outcome, state.attempt)
        registry.cleanup(now)
        for job_id in requeue_stranded(queue, now):
            outcomes[job_id] = "requeued"
        return outcomes
    finally:
        connection.delete(keys.REAPER_LOCK_KEY)


def requeue_stranded(queue: Queue, now: float) -> list[str]:
    """Put back on the queue the jobs a worker took but died before starting.

    RQ moves a job id from the queue to its intermediate list when a worker
    takes it, and into the started registry when the job starts. A worker
    killed in between leaves the id in the intermediate list, where RQ's own
    clean-up (every 10 minutes) fails it after a minute. Here an id seen there
    on a pass and still there, not started, EXECUTION_TTL_S later goes back to
    the front of the queue: the job never ran, so it keeps its attempt.
    """
    connection = queue.connection
    intermediate = queue.intermediate_queue
    taken_ids = intermediate.get_job_ids()
    if not taken_ids:
        return []
    started = set(queue.started_job_registry.get_job_ids(cleanup=False))
    requeued = []
    for job_id in taken_ids:
        if job_id in started:
            continue
        # RQ's own first-seen mark, which its maintenance pass also reads.
        if intermediate.set_first_seen(job_id):
            continue
        first_seen = intermediate.get_first_seen(job_id)
        if first_seen is None or now - first_seen.timestamp() < EXECUTION_TTL_S:
            continue
        # Only the pass that removes the id pushes it back, so it is queued once.
        if connection.lrem(intermediate.key, 1, job_id):
            queue.push_job_id(job_id, at_front=True)
            logger.warning("job requeued after its worker died before starting it job_id=%s", job_id)
            requeued.append(job_id)
        connection.delete(intermediate.get_first_seen_key(job_id))
    return requeued


def fail_unserved(connection: redis.Redis, queue: Queue, messages: Messages, job_id: str, state: JobState) -> JobState:
    """Fail a queued job that no live worker will take (`no_worker`)."""
    queue.remove(job_id)
    job = Job.fetch(job_id, connection=connection, serializer=queue.serializer)
    with connection.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        queue.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string="no_worker: no live worker", pipeline=pipe)
        pipe.execute()
    _mark(connection, job_id, state, messages, "no_worker")
    logger.warning("job failed: no live worker job_id=%s", job_id)
    return read_state(connection, job_id) or state


class Supervisor(threading.Thread):
    """Per worker process: heartbeats for the worker and each in-flight execution, then a reaper pass."""

    def __init__(
        self,
        connection: redis.Redis,
        queue: Queue,
        messages: Messages,
        worker: BaseWorker,
        in_flight: Callable[[], Iterable[Execution]],
    ) -> None:
        super().__init__(name="rq-supervisor", daemon=True)
        self._connection = connection
        self._queue = queue
        self._messages = messages
        self._worker = worker
        self._worker_name = worker.name
        self._in_flight = in_flight
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def beat(self) -> None:
        registry = self._queue.started_job_registry
        with self._connection.pipeline() as pipe:
            for execution in list(self._in_flight()):
                execution.heartbeat(registry, EXECUTION_TTL_S, pipe)
            self._worker.heartbeat(timeout=WORKER_KEY_TTL_S, pipeline=pipe)
            pipe.zadd(keys.WORKERS_ALIVE_KEY, {self._worker_name: time.time()})
            pipe.zremrangebyscore(keys.WORKERS_ALIVE_KEY, "-inf", time.time() - 24 * 3600)
            pipe.execute()

    def leave(self) -> None:
        self._connection.zrem(keys.WORKERS_ALIVE_KEY, self._worker_name)

    def run(self) -> None:
        while True:
            try:
                self.beat()
                reap_abandoned(self._connection, self._queue, self._messages, allow_retry=True)
            except (redis.ConnectionError, redis.TimeoutError) as err:
                logger.warning("supervisor could not reach Redis: %s", err)
            except Exception:
                logger.exception("supervisor pass failed")
            if self._stop_event.wait(HEARTBEAT_INTERVAL_S):
                return
