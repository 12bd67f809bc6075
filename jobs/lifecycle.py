"""Creating, starting and canceling jobs: the API's side of RQ.

These calls use RQ's synchronous API, so the API runs them in its thread pool;
the status poll, the hot path, never comes here.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time

import msgspec
import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import keys
from jobs.documents import JobError, JobRequest, JobState, Locale, job_state_decoder
from jobs.errors import RequestError
from jobs.messages import Messages
from jobs.progress import initial_state, read_state, utc_now_iso, write_state
from jobs.settings import Settings
from jobs.stages import JobStatus, Stage
from jobs.supervision import fail_unserved, live_worker_count, reap_abandoned

logger = logging.getLogger(__name__)

JOB_FUNCTION = "jobs.pipeline.run_job"
# RQ stops a job this long after the job deadline, as a last resort; the
# pipeline's own deadlines end it first with a clearer error code.
RQ_TIMEOUT_MARGIN_S = 30
# Three decimals of a degree are at most 111 m of latitude.
LOCATION_DECIMALS = 3
# A started job whose state has not changed for this long may have lost its worker.
STALE_STARTED_S = 10
START_LOCK_TTL_S = 10


def new_job_id() -> str:
    return secrets.token_hex(16)


class JobLifecycle:
    def __init__(self, connection: redis.Redis, settings: Settings, messages: Messages) -> None:
        self._connection = connection
        self._settings = settings
        self._messages = messages
        self._queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)

    @property
    def queue(self) -> Queue:
        return self._queue

    @property
    def no_worker_timeout_s(self) -> int:
        return self._settings.no_worker_timeout_s

    def create(self, job_id: str, object_key: str, locale: Locale, lat: float | None, lon: float | None) -> JobState:
        """Store a new job awaiting its upload; it expires with the job TTL if never started."""
        settings = self._settings
        # The job's data keeps coordinates rounded to about 100 m; the precise ones
        # live in their own key until the bins stage has used them.
        request = JobRequest(
            job_id=job_id,
            object_key=object_key,
            locale=locale,
            lat=None if lat is None else round(lat, LOCATION_DECIMALS),
            lon=None if lon is None else round(lon, LOCATION_DECIMALS),
            created_at=utc_now_iso(),
        )
        state = initial_state(JobStatus.AWAITING_UPLOAD, Stage.UPLOAD, self._messages.stage(locale, "upload"), locale)
        job = Job.create(
            JOB_FUNCTION,
            args=[msgspec.to_builtins(request)],
            id=job_id,
            connection=self._connection,
            serializer=JSONSerializer,
            timeout=settings.job_deadline_s + RQ_TIMEOUT_MARGIN_S,
            result_ttl=settings.job_ttl_s,
            failure_ttl=settings.job_ttl_s,
            ttl=settings.job_ttl_s,
            meta=msgspec.to_builtins(state),
            origin=self._queue.name,
        )
        with self._connection.pipeline() as pipe:
            job.save(pipeline=pipe)
            pipe.expire(job.key, settings.job_ttl_s)
            pipe.set(keys.tombstone_key(job_id), "1", ex=keys.JOB_TOMBSTONE_TTL_S)
            if lat is not None and lon is not None:
                pipe.set(keys.location_key(job_id), msgspec.json.encode([lat, lon]), ex=settings.job_ttl_s)
            pipe.execute()
        logger.info("job created job_id=%s locale=%s has_location=%s", job_id, locale, lat is not None)
        return state

    def enqueue(self, job_id: str) -> JobState:
        """Queue the job once; a repeated call returns the current state unchanged."""
        # A short lock against two concurrent starts; once queued, the job's own
        # state answers repeated starts. If this process dies between the lock and
        # the enqueue, a retry after the lock expires queues the job.
        # The job hash is read in the same round trip, after the SET, so a job
        # that another start queued before the lock was free shows as queued.
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.set(keys.started_key(job_id), "1", nx=True, ex=START_LOCK_TTL_S)
            pipe.hgetall(keys.job_key(job_id))
            locked, job_hash = pipe.execute()
        current = self._state_from_hash(job_id, job_hash)
        if not locked or current.status != JobStatus.AWAITING_UPLOAD:
            return current
        try:
            job = self._job_from_hash(job_id, job_hash)
            sequence = int(self._connection.incr(keys.enqueued_count_key(self._queue.name)))
            state = msgspec.structs.replace(
                current,
                status=JobStatus.QUEUED,
                stage=Stage.QUEUE,
                message=self._messages.stage(current.locale, "queue"),
                queue_sequence=sequence,
                updated_at=utc_now_iso(),
            )
            job.meta = msgspec.to_builtins(state)
            # RQ writes the whole job hash with the state, registers the queue and
            # pushes the job id, all in this one MULTI/EXEC.
            with self._connection.pipeline() as pipe:
                self._queue.enqueue_job(job, pipeline=pipe)
                pipe.execute()
        except BaseException:
            self._connection.delete(keys.started_key(job_id))
            raise
        logger.info("job queued job_id=%s sequence=%d", job_id, sequence)
        return state

    def cancel(self, job_id: str) -> JobState:
        """Ask the job to stop; a queued job is removed from the queue at once."""
        state = self.require_state(job_id)
        if state.status.ended:
            raise RequestError(
                "job_already_ended", http_status=409, job_id=job_id, status=state.status.value
            )
        self._connection.set(keys.cancel_key(job_id), "1", ex=self._settings.job_ttl_s)
        if state.status == JobStatus.STARTED:
            # The worker stops at its next stage boundary and writes `canceled` itself.
            logger.info("job cancel requested job_id=%s status=started", job_id)
            return state
        try:
            Job.fetch(job_id, connection=self._connection, serializer=JSONSerializer).cancel()
        except NoSuchJobError:
            pass
        canceled = msgspec.structs.replace(
            state,
            status=JobStatus.CANCELED,
            message=self._messages.stage(state.locale, "canceled"),
            error=JobError(code="canceled", message=self._messages.error(state.locale, "canceled")),
            updated_at=utc_now_iso(),
        )
        write_state(self._connection, job_id, canceled)
        self._connection.expire(keys.job_key(job_id), self._settings.job_ttl_s)
        logger.info("job canceled job_id=%s status=%s", job_id, state.status.value)
        return canceled

    def fail(self, job_id: str, code: str, message: str) -> JobState:
        """End a job that never reached a worker, such as one whose upload is not an image."""
        state = self.require_state(job_id)
        failed = msgspec.structs.replace(
            state,
            status=JobStatus.FAILED,
            message=self._messages.stage(state.locale, "failed"),
            error=JobError(code=code, message=message),
            updated_at=utc_now_iso(),
        )
        write_state(self._connection, job_id, failed)
        logger.info("job failed before queueing job_id=%s code=%s", job_id, code)
        return failed

    def recover_if_stuck(self, job_id: str, state: JobState) -> JobState:
        """Fail a queued or started job that no live worker can finish.

        Workers recover each other's jobs (jobs.supervision); this covers the
        case where no worker is alive at all, checked when a phone polls.
        """
        age_s = time.time() - dt.datetime.fromisoformat(state.updated_at).timestamp()
        if state.status == JobStatus.QUEUED and age_s > self._settings.no_worker_timeout_s:
            if live_worker_count(self._connection) == 0:
                return fail_unserved(self._connection, self._queue, self._messages, job_id, state)
        elif state.status == JobStatus.STARTED and age_s > STALE_STARTED_S:
            if live_worker_count(self._connection) == 0:
                reap_abandoned(self._connection, self._queue, self._messages, allow_retry=False)
        return read_state(self._connection, job_id) or state

    def require_state(self, job_id: str) -> JobState:
        state = read_state(self._connection, job_id)
        if state is None:
            raise self._missing_job_error(job_id)
        return state

    def request_awaiting_upload(self, job_id: str) -> JobRequest | None:
        """Return the job's request while it awaits its upload, else None.

        One HGETALL reads both the state and the request. Raises RequestError
        (404) when the job does not exist.
        """
        job_hash = self._connection.hgetall(keys.job_key(job_id))
        state = self._state_from_hash(job_id, job_hash)
        if state.status != JobStatus.AWAITING_UPLOAD:
            return None
        job = self._job_from_hash(job_id, job_hash)
        return msgspec.convert(job.args[0], JobRequest)

    def _state_from_hash(self, job_id: str, job_hash: dict[bytes, bytes]) -> JobState:
        """Decode the state in the `meta` field of an RQ job hash read with HGETALL."""
        raw_state = job_hash.get(b"meta")
        if not raw_state:
            raise self._missing_job_error(job_id)
        return job_state_decoder.decode(raw_state)

    def _job_from_hash(self, job_id: str, job_hash: dict[bytes, bytes]) -> Job:
        """Build the RQ job from its hash read with HGETALL, as `Job.fetch` does."""
        job = Job(job_id, connection=self._connection, serializer=JSONSerializer)
        job.restore(job_hash)
        return job

    def _missing_job_error(self, job_id: str) -> RequestError:
        code = "job_expired" if self._connection.exists(keys.tombstone_key(job_id)) else "job_not_found"
        return RequestError(code, http_status=404, job_id=job_id)
