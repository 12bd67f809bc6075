"""GET /api/v1/waste/status/{id}: the poll every phone sends twice a second.

One Redis read per poll: an HGET of the `meta` field of the RQ job hash. Only
a queued job costs a second read, the queue's taken count behind
`queue_position`. The ETag is a hash of the document, so every API copy gives
the same one for the same state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time

import msgspec
from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.responses import MsgspecResponse, handle_service_error
from jobs import keys
from jobs.documents import json_encoder, job_state_decoder
from jobs.errors import DependencyError, RequestError, ServiceError
from jobs.lifecycle import STALE_STARTED_S, JobLifecycle
from jobs.stages import JobStatus

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
STATUS_PATH_PREFIX = "/api/v1/waste/status/"
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


def _may_be_stuck(state: StoredState, no_worker_timeout_s: int) -> bool:
    """Cheap check on the poll path: is the state old enough that its job may be stuck?"""
    if state.status == JobStatus.QUEUED.value:
        threshold_s = no_worker_timeout_s
    elif state.status == JobStatus.STARTED.value:
        threshold_s = STALE_STARTED_S
    else:
        return False
    return time.time() - dt.datetime.fromisoformat(state.updated_at).timestamp() > threshold_s


NULL = msgspec.Raw(b"null")


class StoredState(msgspec.Struct, kw_only=True):
    """The part of the job state (jobs.documents.JobState) that a poll looks at.

    Nested parts stay raw JSON: they go back out unchanged, so decoding and
    re-encoding them would only cost time on the busiest path.
    """

    status: str
    progress: int
    stage: str
    message: str
    steps: msgspec.Raw
    updated_at: str
    queue_sequence: int | None = None
    result: msgspec.Raw = NULL
    error: msgspec.Raw = NULL
    attempt: int = 1


class StatusView(msgspec.Struct, kw_only=True):
    """Encodes exactly like jobs.documents.StatusDocument (same fields, same order)."""

    job_id: str
    status: str
    progress: int
    stage: str
    message: str
    steps: msgspec.Raw
    queue_position: int | None = None
    result: msgspec.Raw = NULL
    error: msgspec.Raw = NULL
    updated_at: str
    poll_interval_ms: int
    attempt: int = 1


_stored_state_decoder = msgspec.json.Decoder(StoredState)


async def fetch_status(
    connection: aioredis.Redis,
    job_id: str,
    queue_name: str,
    poll_interval_ms: int,
    lifecycle: JobLifecycle | None = None,
) -> StatusView:
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise RequestError("job_not_found", http_status=404, job_id=job_id[:64])
    try:
        raw_state = await connection.hget(keys.job_key(job_id), "meta")
        if raw_state is None:
            expired = await connection.exists(keys.tombstone_key(job_id))
            raise RequestError("job_expired" if expired else "job_not_found", http_status=404, job_id=job_id)
        state = _stored_state_decoder.decode(raw_state)
        if lifecycle is not None and _may_be_stuck(state, lifecycle.no_worker_timeout_s):
            recovered = await run_in_threadpool(lifecycle.recover_if_stuck, job_id, job_state_decoder.decode(raw_state))
            state = _stored_state_decoder.decode(json_encoder.encode(recovered))
        queue_position = None
        if state.status == JobStatus.QUEUED.value and state.queue_sequence is not None:
            # An estimate: jobs ahead of this one that were canceled still count.
            taken_count = await connection.get(keys.taken_count_key(queue_name))
            queue_position = max(1, state.queue_sequence - int(taken_count or 0))
    except REDIS_ERRORS as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err

    return StatusView(
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


def status_response(request: Request, document: StatusView, status_code: int = 200) -> Response:
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
        job_id_of(request),
        state.settings.queue_name,
        state.settings.poll_interval_ms,
        state.lifecycle,
    )
    return status_response(request, document)


def job_id_of(request: Request) -> str:
    """Return the job id of a status request: from the router, or from the raw path on the fast path."""
    job_id = request.path_params.get("job_id")
    if job_id is None:
        job_id = request.url.path.removeprefix(STATUS_PATH_PREFIX)
    return str(job_id)


class PollFastPath:
    """Serves GET /api/v1/waste/status/{id} before Starlette handles the request.

    The status poll is most of the traffic. Routing it through Starlette's route
    list and its Request/Response objects cost about 40 % of its CPU (measured
    with `python -m scripts.bench_load`), so the success path here speaks ASGI
    directly. Errors, and every other request, go through `app`'s usual handling.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(STATUS_PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        state = self.app.state
        job_id = scope["path"][len(STATUS_PATH_PREFIX) :]
        try:
            view = await fetch_status(
                state.redis, job_id, state.settings.queue_name, state.settings.poll_interval_ms, state.lifecycle
            )
        except ServiceError as exc:
            request = Request(scope, receive)
            await (await handle_service_error(request, exc))(scope, receive, send)
            return

        body = _encoder.encode(view)
        etag = entity_tag(body)
        if_none_match = _header(scope, b"if-none-match")
        headers = [(b"etag", etag.encode()), (b"cache-control", b"no-store")]
        if if_none_match and etag_matches(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
