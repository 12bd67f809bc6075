"""Reading request bodies with a size cap, before anything parses them."""

from __future__ import annotations

from starlette.requests import Request

from jobs.errors import RequestError

JSON_BODY_LIMIT_BYTES = 16 * 1024


async def read_capped(request: Request, limit: int, code: str = "request_too_large") -> bytes:
    """Read the whole body, raising 413 `code` as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(code, http_status=413, limit=limit, size=int(declared), limit_mib=_mib(limit))
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise RequestError(code, http_status=413, limit=limit, size=f">{limit}", limit_mib=_mib(limit))
        chunks.append(chunk)
    body = b"".join(chunks)
    # Later readers (such as request.form()) see the same bytes.
    request._body = body  # noqa: SLF001
    return body


def _mib(limit: int) -> str:
    return f"{limit / (1024 * 1024):g}"
