"""Result cache: the same photo sent again skips both AI calls.

Cached are the vision answer and the advice, which depend on the item and not
on the person; bins are always searched for the job's own location. The key
context holds the locale, both providers and the rules-catalogue version, so
changing any of them misses the old entries.
"""

from __future__ import annotations

import msgspec
import redis

from jobs import keys
from jobs.documents import Feedback, Locale, WasteAnswer


class CachedAnswer(msgspec.Struct, kw_only=True):
    waste: WasteAnswer
    feedback: Feedback


_cached_answer_decoder = msgspec.json.Decoder(CachedAnswer)
_encoder = msgspec.json.Encoder()


def cache_context(catalogue_version: str, vision: str, feedback: str, locale: Locale) -> str:
    return f"{catalogue_version}|{vision}|{feedback}|{locale}"


class ResultCache:
    def __init__(self, connection: redis.Redis, ttl_s: int) -> None:
        self._connection = connection
        self._ttl_s = ttl_s

    def lookup_exact(self, context: str, sha256: str) -> CachedAnswer | None:
        raw = self._connection.get(keys.exact_cache_key(context, sha256))
        if raw is None:
            return None
        try:
            return _cached_answer_decoder.decode(raw)
        except msgspec.DecodeError:
            # An entry written by an older version of the service: treat it as a miss.
            return None

    def store(self, context: str, sha256: str, answer: CachedAnswer) -> None:
        self._connection.set(keys.exact_cache_key(context, sha256), _encoder.encode(answer), ex=self._ttl_s)
