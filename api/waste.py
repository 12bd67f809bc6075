"""The job endpoints: create, start, cancel.

Job creation comes in two forms on one path. JSON (or an empty body) returns a
presigned upload descriptor and waits for `start`; an image body (raw
`image/*` or multipart with a `file` field) is stored and queued at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import redis
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from api.bodies import JSON_BODY_LIMIT_BYTES, read_capped
from api.clients import client_identity, enforce_rate_limit
from api.idempotency import fingerprint, validate_key
from api.responses import MsgspecResponse
from api.status import JOB_ID_PATTERN, fetch_status, status_response
from jobs.documents import AnalyzeRequest, AnalyzeResponse, analyze_request_decoder
from jobs.errors import DependencyError, RequestError
from jobs.imaging import SNIFF_BYTES, sniff_format
from jobs.lifecycle import JobLifecycle, new_job_id
from jobs.messages import Messages
from jobs.storage import PhotoStorage, object_key

# Multipart adds boundaries and part headers around the photo.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _status_url(job_id: str) -> str:
    return f"/api/v1/waste/status/{job_id}"


def _accepted(body: AnalyzeResponse) -> MsgspecResponse:
    return MsgspecResponse(
        body, status_code=202, headers={"Location": body.status_url, "Cache-Control": "no-store"}
    )


def _parse_json_request(body: bytes) -> AnalyzeRequest:
    if not body.strip():
        return AnalyzeRequest()
    try:
        return analyze_request_decoder.decode(body)
    except msgspec.ValidationError as err:
        raise RequestError("invalid_request", http_status=422, detail=str(err)) from err
    except msgspec.DecodeError as err:
        raise RequestError("invalid_json", http_status=400, detail=str(err)) from err


def _query_request(request: Request) -> AnalyzeRequest:
    """Read `lat`, `lon` and `locale` from the query string of the image-body form."""
    params: dict[str, Any] = {}
    for name in ("lat", "lon"):
        raw = request.query_params.get(name)
        if raw is not None and raw != "":
            try:
                params[name] = float(raw)
            except ValueError as err:
                raise RequestError("invalid_request", http_status=422, detail=f"{name} must be a number, got {raw!r}") from err
    if "locale" in request.query_params:
        params["locale"] = request.query_params["locale"]
    try:
        return msgspec.convert(params, AnalyzeRequest)
    except msgspec.ValidationError as err:
        raise RequestError("invalid_request", http_status=422, detail=str(err)) from err


def _check_location(parsed: AnalyzeRequest) -> None:
    if (parsed.lat is None) != (parsed.lon is None):
        raise RequestError("invalid_request", http_status=422, detail="lat and lon must be sent together")


async def analyze(request: Request) -> Response:
    app_state = request.app.state
    settings = app_state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        body = await read_capped(request, settings.max_upload_bytes, code="upload_too_large")
    elif content_type == "multipart/form-data":
        body = await read_capped(request, settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES, code="upload_too_large")
    elif content_type in ("", "application/json"):
        body = await read_capped(request, JSON_BODY_LIMIT_BYTES)
    else:
        raise RequestError("unsupported_media_type", http_status=415, detail=content_type)

    key_header = request.headers.get("idempotency-key")
    key_hash = validate_key(key_header) if key_header is not None else None
    body_fingerprint = fingerprint(content_type, request.url.query, body)
    if key_hash is not None:
        replay = await app_state.idempotency.reserve(key_hash, body_fingerprint)
        if replay is not None:
            return _accepted(msgspec.json.decode(replay, type=AnalyzeResponse))

    try:
        client = client_identity(request, settings.trusted_proxies)
        await enforce_rate_limit(app_state.redis, client, settings.rate_limit_per_minute)
        if content_type == "multipart/form-data":
            response = await _analyze_multipart(request)
        elif content_type in ("", "application/json"):
            response = await _analyze_json(request, body)
        else:
            response = await _store_and_queue(request, body, _query_request(request))
    except BaseException:
        if key_hash is not None:
            await app_state.idempotency.release(key_hash)
        raise
    if key_hash is not None:
        await app_state.idempotency.complete(key_hash, body_fingerprint, response.body)
    return response


async def _analyze_json(request: Request, body: bytes) -> Response:
    settings = request.app.state.settings
    parsed = _parse_json_request(body)
    _check_location(parsed)
    if parsed.size is not None and parsed.size > settings.max_upload_bytes:
        raise RequestError(
            "upload_too_large",
            http_status=413,
            size=parsed.size,
            limit=settings.max_upload_bytes,
            limit_mib=f"{settings.max_upload_bytes / 1048576:g}",
        )
    # Presigning needs no network, so ask the store whether it answers: a phone
    # should not upload into a store that is down.
    await request.app.state.storage_probe.require()

    job_id = new_job_id()
    key = object_key(job_id)
    lifecycle: JobLifecycle = request.app.state.lifecycle
    storage: PhotoStorage = request.app.state.storage
    upload = storage.presign_upload(key, dt.datetime.now(dt.UTC))
    await _call_queue(lifecycle.create, job_id, key, parsed.locale, parsed.lat, parsed.lon)
    return _accepted(
        AnalyzeResponse(
            job_id=job_id,
            status="awaiting_upload",  # type: ignore[arg-type]
            status_url=_status_url(job_id),
            poll_interval_ms=settings.poll_interval_ms,
            upload=upload,
        ),
    )


async def _analyze_multipart(request: Request) -> Response:
    settings = request.app.state.settings
    parsed = _query_request(request)
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestError("invalid_request", http_status=422, detail="multipart body must have a `file` field")
        data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise RequestError(
            "upload_too_large",
            http_status=413,
            size=f">{settings.max_upload_bytes}",
            limit=settings.max_upload_bytes,
            limit_mib=f"{settings.max_upload_bytes / 1048576:g}",
        )
    return await _store_and_queue(request, data, parsed)


async def _store_and_queue(request: Request, data: bytes, parsed: AnalyzeRequest) -> Response:
    settings = request.app.state.settings
    _check_location(parsed)
    if not data:
        raise RequestError("upload_empty", http_status=422)
    image_format = sniff_format(data[:SNIFF_BYTES])
    if image_format is None:
        raise RequestError("unsupported_image", http_status=415)

    job_id = new_job_id()
    key = object_key(job_id)
    lifecycle: JobLifecycle = request.app.state.lifecycle
    storage: PhotoStorage = request.app.state.storage
    await run_in_threadpool(storage.write, key, data, image_format.content_type)
    await _call_queue(lifecycle.create, job_id, key, parsed.locale, parsed.lat, parsed.lon)
    await _call_queue(lifecycle.enqueue, job_id)
    return _accepted(
        AnalyzeResponse(
            job_id=job_id,
            status="queued",  # type: ignore[arg-type]
            status_url=_status_url(job_id),
            poll_interval_ms=settings.poll_interval_ms,
        ),
    )


async def start(request: Request) -> Response:
    job_id = _job_id(request)
    app_state = request.app.state

    # The check and the enqueue share one trip to the thread pool, because every
    # trip costs event-loop and thread CPU on top of the call it carries.
    await _call_queue(
        _check_upload_and_queue,
        app_state.lifecycle,
        app_state.storage,
        app_state.messages,
        app_state.settings.max_upload_bytes,
        job_id,
    )
    return await _status_now(request, job_id, status_code=202)


def _check_upload_and_queue(
    lifecycle: JobLifecycle, storage: PhotoStorage, messages: Messages, max_upload_bytes: int, job_id: str
) -> None:
    """Check the uploaded photo and queue its job.

    A job past `awaiting_upload` is left as it is. Raises RequestError when the
    upload is missing, empty, too large or not an image, and deletes the upload
    in the last three cases.
    """
    job_request = lifecycle.request_awaiting_upload(job_id)
    if job_request is None:
        return

    # One ranged GET returns the size and the bytes that tell the format.
    upload = storage.read_head(job_request.object_key, SNIFF_BYTES)
    if upload is None:
        raise RequestError("upload_missing", http_status=409, job_id=job_id)
    if upload.size == 0:
        storage.delete(job_request.object_key)
        raise RequestError("upload_empty", http_status=422)
    if upload.size > max_upload_bytes:
        storage.delete(job_request.object_key)
        raise RequestError(
            "upload_too_large",
            http_status=413,
            size=upload.size,
            limit=max_upload_bytes,
            limit_mib=f"{max_upload_bytes / 1048576:g}",
        )
    if sniff_format(upload.head) is None:
        storage.delete(job_request.object_key)
        message = messages.error(job_request.locale, "unsupported_image")
        lifecycle.fail(job_id, "unsupported_image", message)
        raise RequestError("unsupported_image", http_status=415)

    lifecycle.enqueue(job_id)


async def cancel(request: Request) -> Response:
    job_id = _job_id(request)
    lifecycle: JobLifecycle = request.app.state.lifecycle
    storage: PhotoStorage = request.app.state.storage

    before = await _call_queue(lifecycle.require_state, job_id)
    after = await _call_queue(lifecycle.cancel, job_id)
    if after.status.value == "canceled" and before.status.value in ("awaiting_upload", "queued"):
        # No worker will run this job, so nobody else deletes its upload.
        try:
            await run_in_threadpool(storage.delete, object_key(job_id))
        except DependencyError:
            pass
    return await _status_now(request, job_id, status_code=202)


async def _status_now(request: Request, job_id: str, status_code: int = 202) -> Response:
    state = request.app.state
    document = await fetch_status(
        state.redis, job_id, state.settings.queue_name, state.settings.poll_interval_ms, state.lifecycle
    )
    return status_response(request, document, status_code=status_code)


def _job_id(request: Request) -> str:
    job_id: str = request.path_params["job_id"]
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise RequestError("job_not_found", http_status=404, job_id=job_id[:64])
    return job_id


async def _call_queue(function: Any, *args: Any) -> Any:
    """Run a synchronous RQ call in the thread pool, mapping a lost Redis to 503.

    Storage calls inside `function` raise their own DependencyError
    (`storage_unavailable`), which passes through unchanged.
    """
    try:
        return await run_in_threadpool(function, *args)
    except (redis.ConnectionError, redis.TimeoutError) as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err

