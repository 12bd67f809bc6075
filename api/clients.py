"""Who is calling: the client identity used by the rate limit.

A phone sends `X-Client-Id` (an install id). Without it, the caller is its
network address; `X-Forwarded-For` is believed only when the direct peer is a
proxy named in TRUSTED_PROXIES, and then the nearest address that is not a
trusted proxy is the client.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

from redis import asyncio as aioredis
from starlette.requests import Request

from jobs import keys
from jobs.errors import DependencyError, RequestError

CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REDIS_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: Request, trusted_proxies: tuple[str, ...]) -> str:
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted_proxies):
            return address
    return peer


def client_identity(request: Request, trusted_proxies: tuple[str, ...]) -> str:
    header = request.headers.get("x-client-id")
    if header is not None:
        if not CLIENT_ID_PATTERN.fullmatch(header):
            raise RequestError(
                "invalid_request", http_status=422, detail="X-Client-Id must be 1-64 letters, digits or ._:-"
            )
        return "id:" + header
    # Addresses are hashed so that Redis keys hold no raw IP address.
    address = client_address(request, trusted_proxies)
    return "ip:" + hashlib.blake2b(address.encode(), digest_size=8).hexdigest()


async def enforce_rate_limit(connection: aioredis.Redis, client: str, limit_per_minute: int) -> None:
    """Count one job creation for `client`; raise 429 with Retry-After past the limit."""
    if limit_per_minute <= 0:
        return
    now = time.time()
    window = int(now // keys.RATE_LIMIT_WINDOW_S)
    key = keys.rate_limit_key(client, window)
    try:
        async with connection.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, keys.RATE_LIMIT_WINDOW_S + 1)
            count, _ = await pipe.execute()
    except REDIS_ERRORS as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err
    if count > limit_per_minute:
        retry_after = max(1, int((window + 1) * keys.RATE_LIMIT_WINDOW_S - now) + 1)
        error = RequestError("rate_limited", http_status=429, retry_after=retry_after)
        error.headers["Retry-After"] = str(retry_after)
        raise error
