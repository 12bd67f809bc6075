"""GET /api/v1/waste/status/{id}: the poll every phone sends twice a second.

One round trip to Redis per poll: the job state from the RQ job hash's `meta`
field and the queue's taken-count, in one pipeline. The ETag is a hash of the
document, so every API copy gives the same one for the same state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time

import msgspec
from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.responses import MsgspecResponse
from jobs import keys
from jobs.documents import JobState, StatusDocument, job_state_decoder
from jobs.errors import DependencyError, RequestError
from jobs.lifecycle import STALE_STARTED_S, JobLifecycle
from jobs.stages import JobStatus

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_encoder = msgspec.json.Encoder()
REDIS_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 section 13.1.2): a `W/` prefix is ignored on either side."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in if_none_match.split(","))


def _may_be_stuck(state: JobState, no_worker_timeout_s: int) -> bool:
    """Cheap check on the poll path: is the state old enough that its job may be stuck?"""
    if state.status == JobStatus.QUEUED:
        threshold_s = no_worker_timeout_s
    elif state.status == JobStatus.STARTED:
        threshold_s = STALE_STARTED_S
    else:
        return False
    return time.time() - dt.datetime.fromisoformat(state.updated_at).timestamp() > threshold_s


async def fetch_status(
    connection: aioredis.Redis,
    job_id: str,
    queue_name: str,
    poll_interval_ms: int,
    lifecycle: JobLifecycle | None = None,
) -> StatusDocument:
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise RequestError("job_not_found", http_status=404, job_id=job_id[:64])
    try:
        async with connection.pipeline(transaction=False) as pipe:
            pipe.hget(keys.job_key(job_id), "meta")
            pipe.get(keys.taken_count_key(queue_name))
            raw_state, taken = await pipe.execute()
        if raw_state is None:
            expired = await connection.exists(keys.tombstone_key(job_id))
            raise RequestError("job_expired" if expired else "job_not_found", http_status=404, job_id=job_id)
    except REDIS_ERRORS as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err

    state = job_state_decoder.decode(raw_state)
    if lifecycle is not None and _may_be_stuck(state, lifecycle.no_worker_timeout_s):
        state = await run_in_threadpool(lifecycle.recover_if_stuck, job_id, state)
    queue_position = None
    if state.status == JobStatus.QUEUED and state.queue_sequence is not None:
        # An estimate: jobs ahead of this one that were canceled still count.
        queue_position = max(1, state.queue_sequence - int(taken or 0))
    return StatusDocument(
        job_id=job_id,
        status=state.status,
        progress=state.progress,
        stage=state.stage,
        message=state.message,
        steps=state.steps,
        queue_position=queue_position,
        result=state.result,
        error=state.error,
        updated_at=state.updated_at,
        poll_interval_ms=poll_interval_ms,
        attempt=state.attempt,
    )


def status_response(request: Request, document: StatusDocument, status_code: int = 200) -> Response:
    body = _encoder.encode(document)
    etag = entity_tag(body)
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if_none_match = request.headers.get("if-none-match")
    if status_code == 200 and if_none_match and etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return MsgspecResponse(body, status_code=status_code, headers=headers)


async def get_status(request: Request) -> Response:
    state = request.app.state
    document = await fetch_status(
        state.redis,
        request.path_params["job_id"],
        state.settings.queue_name,
        state.settings.poll_interval_ms,
        state.lifecycle,
    )
    return status_response(request, document)
