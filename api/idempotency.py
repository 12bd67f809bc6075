"""Idempotency-Key on POST /analyze: a retried request gets the same job back.

The first request with a key reserves it with SET NX, creates the job, then
stores its response. A retry with the same key and the same body gets that
stored response; the same key with another body is rejected with 422
`idempotency_key_reused`. A record lives as long as the job it created.
"""

from __future__ import annotations

import asyncio
import hashlib

import msgspec
from redis import asyncio as aioredis

from jobs import keys
from jobs.errors import DependencyError, RequestError

KEY_PATTERN_MAX = 255
PENDING_WAIT_S = 5.0
PENDING_TTL_S = 30
REDIS_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)


class IdempotencyRecord(msgspec.Struct):
    fingerprint: str
    response: str | None = None


_decoder = msgspec.json.Decoder(IdempotencyRecord)
_encoder = msgspec.json.Encoder()


def fingerprint(content_type: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (content_type.encode(), b"\0", query.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_PATTERN_MAX or not key.isprintable():
        raise RequestError("invalid_request", http_status=422, detail="Idempotency-Key must be 1-255 printable characters")
    return hashlib.sha256(key.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, connection: aioredis.Redis, ttl_s: int) -> None:
        self._connection = connection
        self._ttl_s = ttl_s

    async def reserve(self, key_hash: str, body_fingerprint: str) -> bytes | None:
        """Reserve the key for this request, or return the stored response of an earlier one."""
        redis_key = keys.idempotency_key(key_hash)
        try:
            # A short TTL while pending: if this API process dies mid-request, a
            # retry can take the key over instead of waiting for the job TTL.
            pending = _encoder.encode(IdempotencyRecord(body_fingerprint))
            if await self._connection.set(redis_key, pending, nx=True, ex=PENDING_TTL_S):
                return None
            deadline = asyncio.get_running_loop().time() + PENDING_WAIT_S
            while True:
                raw = await self._connection.get(redis_key)
                record = _decoder.decode(raw) if raw else None
                if record is not None and record.fingerprint != body_fingerprint:
                    raise RequestError("idempotency_key_reused", http_status=422)
                if record is not None and record.response is not None:
                    return record.response.encode()
                if asyncio.get_running_loop().time() > deadline:
                    raise RequestError("idempotency_key_in_progress", http_status=409)
                await asyncio.sleep(0.05)
        except REDIS_ERRORS as err:
            raise DependencyError("queue_unavailable", detail=str(err)) from err

    async def complete(self, key_hash: str, body_fingerprint: str, response: bytes) -> None:
        record = IdempotencyRecord(body_fingerprint, response.decode())
        await self._connection.set(keys.idempotency_key(key_hash), _encoder.encode(record), ex=self._ttl_s)

    async def release(self, key_hash: str) -> None:
        """Forget a reservation whose request failed, so that a retry can run."""
        try:
            await self._connection.delete(keys.idempotency_key(key_hash))
        except REDIS_ERRORS:
            pass
