"""Result cache: the same item photographed again skips both AI calls.

Cached are the vision answer and the advice, which depend on the item and not
on the person; bins are always searched for the job's own location. Two keys
find an entry: the SHA-256 of the uploaded bytes (an exact repeat) and the
photo's perceptual fingerprint (a re-taken, re-sized or re-compressed copy,
through `jobs.similarity.SimilarIndex`). The key context holds the locale,
both providers and the rules-catalogue version, so changing any of them misses
the old entries; `invalidate` drops a context at once.
"""

from __future__ import annotations

import msgspec
import redis

from jobs import keys
from jobs.documents import CacheInfo, Feedback, Locale, WasteAnswer
from jobs.similarity import Fingerprint, SimilarIndex


class CachedAnswer(msgspec.Struct, kw_only=True):
    waste: WasteAnswer
    feedback: Feedback


_cached_answer_decoder = msgspec.json.Decoder(CachedAnswer)
_encoder = msgspec.json.Encoder()
MISS = CacheInfo(hit=False)


def cache_context(catalogue_version: str, vision: str, feedback: str, locale: Locale) -> str:
    return f"{catalogue_version}|{vision}|{feedback}|{locale}"


class ResultCache:
    def __init__(self, connection: redis.Redis, ttl_s: int, similar: SimilarIndex | None) -> None:
        self._connection = connection
        self._ttl_s = ttl_s
        self._similar = similar

    def lookup(self, context: str, sha256: str, fingerprint: Fingerprint) -> tuple[CachedAnswer | None, CacheInfo]:
        """Find an answer for these exact bytes, else for a near-duplicate photo."""
        exact = self._read(context, sha256)
        if exact is not None:
            return exact, CacheInfo(hit=True, match="exact", distance=0)
        if self._similar is None:
            return None, MISS
        match = self._similar.lookup(context, fingerprint)
        if match is None:
            return None, MISS
        similar = self._read(context, match.entry_id)
        if similar is None:
            return None, MISS
        return similar, CacheInfo(hit=True, match="similar", distance=match.distance)

    def store(self, context: str, sha256: str, fingerprint: Fingerprint, answer: CachedAnswer) -> None:
        self._connection.set(keys.exact_cache_key(context, sha256), _encoder.encode(answer), ex=self._ttl_s)
        if self._similar is not None:
            self._similar.add(context, sha256, fingerprint)

    def invalidate(self, context: str) -> int:
        """Drop every entry of `context`; returns how many keys were deleted."""
        deleted = 0
        for key in self._connection.scan_iter(match=keys.exact_cache_key(context, "*"), count=500):
            deleted += self._connection.delete(key)
        if self._similar is not None:
            deleted += self._similar.invalidate(context)
        return deleted

    def _read(self, context: str, sha256: str) -> CachedAnswer | None:
        raw = self._connection.get(keys.exact_cache_key(context, sha256))
        if raw is None:
            return None
        try:
            return _cached_answer_decoder.decode(raw)
        except msgspec.DecodeError:
            # An entry written by an older version of the service: treat it as a miss.
            return None


class NoCache:
    """Stands in for the cache when CACHE_ENABLED=false (load tests): every photo misses."""

    def lookup(self, context: str, sha256: str, fingerprint: Fingerprint) -> tuple[CachedAnswer | None, CacheInfo]:
        return None, MISS

    def store(self, context: str, sha256: str, fingerprint: Fingerprint, answer: CachedAnswer) -> None:
        return None
