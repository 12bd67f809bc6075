"""Writes a job's state into the `meta` field of its RQ job hash.

Every write replaces the whole state with one HSET, so a poll always reads a
complete, consistent document. Progress never goes backwards: a retried job
starts from the progress the phone last saw.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time

import msgspec
import redis

from jobs import keys
from jobs.documents import JobError, JobState, Locale, Result, json_encoder, job_state_decoder
from jobs.errors import JobCanceled
from jobs.messages import Messages
from jobs.stages import STAGE_START_PROGRESS, JobStatus, Stage, completed_steps

logger = logging.getLogger(__name__)


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def initial_state(status: JobStatus, stage: Stage, message: str, locale: Locale) -> JobState:
    return JobState(
        status=status,
        progress=0,
        stage=stage,
        message=message,
        steps=completed_steps(stage, finished=False),
        locale=locale,
        updated_at=utc_now_iso(),
    )


def read_state(connection: redis.Redis, job_id: str) -> JobState | None:
    raw = connection.hget(keys.job_key(job_id), "meta")
    if not raw:
        return None
    return job_state_decoder.decode(raw)


def write_state(connection: redis.Redis | redis.client.Pipeline, job_id: str, state: JobState) -> None:
    connection.hset(keys.job_key(job_id), "meta", json_encoder.encode(state))


class ProgressReporter:
    """Moves one job through its stages, as the phone sees them."""

    def __init__(
        self, connection: redis.Redis, messages: Messages, job_id: str, locale: Locale, min_advance_interval_s: float = 0.0
    ) -> None:
        self._connection = connection
        self._messages = messages
        self._job_id = job_id
        self._locale = locale
        # Phones read the state once per poll interval, so moving the bar more
        # often inside a stage writes states that no phone reads.
        self._min_advance_interval_s = min_advance_interval_s
        self._state: JobState | None = None
        self._stage_started_at = time.monotonic()
        self._written_at = -math.inf
        self.timings_ms: dict[str, int] = {}

    @property
    def progress(self) -> int:
        return self._state.progress if self._state else 0

    def begin(self) -> JobState:
        """Mark the job started, keeping whatever progress an earlier attempt reached."""
        previous = read_state(self._connection, self._job_id)
        floor = previous.progress if previous else 0
        attempt = previous.attempt if previous else 1
        if previous is not None and previous.status == JobStatus.STARTED:
            # The state says started, yet a worker is beginning the job: an earlier
            # attempt died mid-run and RQ handed the job out again.
            attempt += 1
        self._state = JobState(
            status=JobStatus.STARTED,
            progress=floor,
            stage=Stage.DOWNLOAD,
            message=self._messages.stage(self._locale, "retrying" if attempt > 1 else "started"),
            steps=previous.steps if previous and floor else completed_steps(Stage.DOWNLOAD, finished=False),
            locale=self._locale,
            queue_sequence=previous.queue_sequence if previous else None,
            updated_at=utc_now_iso(),
            attempt=attempt,
        )
        self._write()
        return self._state

    def enter(self, stage: Stage, message_key: str | None = None) -> None:
        """Start `stage`: check for cancellation, record the previous stage's time, write the state."""
        self.check_canceled()
        now = time.monotonic()
        if self._state is not None and self._state.stage != stage and self._state.stage not in (Stage.UPLOAD, Stage.QUEUE):
            self.timings_ms[self._state.stage.value] = round((now - self._stage_started_at) * 1000)
        self._stage_started_at = now
        self._update(stage, STAGE_START_PROGRESS[stage], message_key or stage.value)

    def advance(self, stage: Stage, progress: int, message_key: str | None = None) -> None:
        """Move the bar inside the current stage.

        Ignored when it would not move forward, and, without a new message,
        within `min_advance_interval_s` of the last write: the next write
        carries the progress then.
        """
        if progress <= self.progress and (message_key is None or self._state is None):
            return
        if (
            message_key is None
            and self._state is not None
            and self._state.stage == stage
            and time.monotonic() - self._written_at < self._min_advance_interval_s
        ):
            return
        self._update(stage, progress, message_key or stage.value)

    def finish(self, result: Result) -> JobState:
        state = self._require_state()
        self._state = msgspec.structs.replace(
            state,
            status=JobStatus.FINISHED,
            progress=100,
            stage=Stage.DONE,
            message=self._messages.stage(self._locale, "done"),
            steps=completed_steps(Stage.DONE, finished=True),
            result=result,
            error=None,
            updated_at=utc_now_iso(),
        )
        self._write()
        return self._state

    def fail(self, code: str, message: str) -> JobState:
        state = self._state or read_state(self._connection, self._job_id)
        if state is None:
            state = initial_state(JobStatus.FAILED, Stage.DOWNLOAD, message, self._locale)
        status = JobStatus.CANCELED if code == "canceled" else JobStatus.FAILED
        self._state = msgspec.structs.replace(
            state,
            status=status,
            message=self._messages.stage(self._locale, "canceled" if code == "canceled" else "failed"),
            error=JobError(code=code, message=message),
            result=None,
            updated_at=utc_now_iso(),
        )
        self._write()
        return self._state

    def check_canceled(self) -> None:
        if self._connection.exists(keys.cancel_key(self._job_id)):
            raise JobCanceled(self._job_id)

    def _update(self, stage: Stage, progress: int, message_key: str) -> None:
        state = self._require_state()
        self._state = msgspec.structs.replace(
            state,
            progress=max(state.progress, min(progress, 99)),
            stage=stage,
            message=self._messages.stage(self._locale, message_key),
            steps=completed_steps(stage, finished=False) if _later_or_same(stage, state.stage) else state.steps,
            updated_at=utc_now_iso(),
        )
        self._write()

    def _require_state(self) -> JobState:
        if self._state is None:
            raise RuntimeError(f"job {self._job_id}: begin() must run before the stages")
        return self._state

    def _write(self) -> None:
        assert self._state is not None
        write_state(self._connection, self._job_id, self._state)
        self._written_at = time.monotonic()


_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}


def _later_or_same(stage: Stage, than: Stage) -> bool:
    return _STAGE_ORDER[stage] >= _STAGE_ORDER[than]
