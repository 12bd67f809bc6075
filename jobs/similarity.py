"""Near-duplicate photo lookup: the same item photographed again finds the earlier entry.

A photo's fingerprint is two 64-bit hashes of its upright grayscale image: a DCT
hash (`imagehash.phash`), which is indexed, and a gradient hash
(`imagehash.dhash`), which only verifies candidates. On photos of one object on
a plain board, the DCT hashes of two different objects can be as close as the
hash of a re-cropped copy, because the background lighting dominates both. The
gradient hashes of such pairs stay far apart, so a match needs both hashes close.
`python -m scripts.bench_cache` measures both thresholds and the banding.

`SimilarIndex` finds stored DCT hashes within Hamming distance T by multi-index
hashing. The 64 bits are split into `band_count` bands, and an entry is filed
under each of its band values. Two hashes within distance T differ in at most
`T // band_count` bits on at least one band (pigeonhole), so a lookup reads every
band value within that radius of its own and verifies each candidate by the full
distances. With T < band_count the radius is 0 and each band is read exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import imagehash
import redis
from PIL import Image

from jobs import keys

HASH_BITS = 64
# The hashes shrink the image to 32x32 (DCT hash) and 9x8 (gradient hash) anyway.
# A box reduction to a long edge of 256-511 px first makes hashing a 1568 px photo
# roughly ten times faster.
HASH_SOURCE_LONG_EDGE_PX = 256

# Defaults chosen with `python -m scripts.bench_cache --compare`. imagehash.phash
# (4.3) compares each coefficient with their median, so half of its bits are set.
# DCT distances are therefore even, and T=6 behaves like T=7.
DEFAULT_MAX_DISTANCE = 6
DEFAULT_MAX_GRADIENT_DISTANCE = 8
# Four bands of 16 bits with radius 1 cover T <= 7 with 68 keys per lookup. Three
# bands need radius 2 and 718 keys. Five bands of 12-13 bits return about 1,000
# candidates per lookup once the index contains 100,000 random entries.
DEFAULT_BAND_COUNT = 4
# A banding that reads more band keys per lookup than this does not fit T.
MAX_PROBED_KEYS = 4096

_HEX_DIGITS = HASH_BITS // 4


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The two 64-bit hashes of one photo."""

    perceptual: int
    gradient: int

    def __post_init__(self) -> None:
        for name in ("perceptual", "gradient"):
            value = getattr(self, name)
            if not 0 <= value < 1 << HASH_BITS:
                raise ValueError(f"Fingerprint.{name} must be an unsigned {HASH_BITS}-bit int, got {value!r}")

    def to_hex(self) -> str:
        return f"{self.perceptual:0{_HEX_DIGITS}x}{self.gradient:0{_HEX_DIGITS}x}"

    @classmethod
    def from_hex(cls, text: str) -> Fingerprint:
        if len(text) != 2 * _HEX_DIGITS:
            raise ValueError(f"a fingerprint must be {2 * _HEX_DIGITS} hex digits, got {text!r}")
        return cls(int(text[:_HEX_DIGITS], 16), int(text[_HEX_DIGITS:], 16))


@dataclass(frozen=True, slots=True)
class Match:
    """The closest live entry within both thresholds."""

    entry_id: str
    distance: int
    gradient_distance: int


def perceptual_hash(image: Image.Image) -> int:
    """Compute the 64-bit DCT hash that `SimilarIndex` indexes."""
    return _hash_to_int(imagehash.phash(hash_source(image)))


def gradient_hash(image: Image.Image) -> int:
    """Compute the 64-bit gradient hash that verifies index candidates."""
    return _hash_to_int(imagehash.dhash(hash_source(image)))


def compute_fingerprint(image: Image.Image) -> Fingerprint:
    """Compute both hashes of an upright photo from one grayscale reduction."""
    source = hash_source(image)
    return Fingerprint(
        perceptual=_hash_to_int(imagehash.phash(source)),
        gradient=_hash_to_int(imagehash.dhash(source)),
    )


def hash_source(image: Image.Image) -> Image.Image:
    """Reduce an upright photo to the grayscale image that both hashes are computed from."""
    gray = image.convert("L")
    factor = max(gray.size) // HASH_SOURCE_LONG_EDGE_PX
    if factor > 1:
        gray = gray.reduce(factor)
    return gray


def _hash_to_int(value: imagehash.ImageHash) -> int:
    # The hex string of an ImageHash lists its bits row by row, first bit most significant.
    return int(str(value), 16)


class SimilarIndex:
    """Fingerprints of cached photos in Redis, searched by Hamming distance.

    Each band value is a sorted set of the fingerprints filed under it, scored by
    expiry time in Unix seconds, because set members cannot expire on their own.
    One ZUNION over the probed band values returns every candidate with both
    hashes, ready to verify without another read. A separate key per fingerprint,
    with a TTL, stores the caller's entry id. Lookups skip expired members, `add`
    trims them from the sets it writes, and a set expires `ttl_s` after its newest
    member was added.

    A digest of the context (rules-catalogue version, providers, locale) is part of
    every key, so a new catalogue version misses the old entries, which then expire.
    `invalidate` drops a context at once. ZUNION needs Redis 6.2 or later.
    """

    def __init__(
        self,
        connection: redis.Redis,
        *,
        ttl_s: int,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        max_gradient_distance: int = DEFAULT_MAX_GRADIENT_DISTANCE,
        band_count: int = DEFAULT_BAND_COUNT,
    ) -> None:
        if not 0 <= max_distance < HASH_BITS:
            raise ValueError(f"max_distance must be 0-{HASH_BITS - 1} bits, got {max_distance}")
        if not 0 <= max_gradient_distance <= HASH_BITS:
            raise ValueError(f"max_gradient_distance must be 0-{HASH_BITS} bits, got {max_gradient_distance}")
        if not 1 <= band_count <= HASH_BITS // 4:
            raise ValueError(f"band_count must be 1-{HASH_BITS // 4}, got {band_count}")
        if ttl_s < 1:
            raise ValueError(f"ttl_s must be at least 1 second, got {ttl_s}")

        self._connection = connection
        self._ttl_s = ttl_s
        self._max_distance = max_distance
        self._max_gradient_distance = max_gradient_distance
        self._band_count = band_count
        self.probe_radius = max_distance // band_count
        # Band k takes bits k, k + band_count, k + 2 * band_count, ... so every band
        # mixes low and high DCT frequencies. With contiguous bands, some band values
        # of real photos are shared far more often than others.
        self._band_shifts = [
            [HASH_BITS - 1 - position for position in range(band, HASH_BITS, band_count)] for band in range(band_count)
        ]
        # Count the keys first, because a wide radius would list billions of masks.
        self.probed_key_count = sum(
            math.comb(len(shifts), flipped) for shifts in self._band_shifts for flipped in range(self.probe_radius + 1)
        )
        if self.probed_key_count > MAX_PROBED_KEYS:
            raise ValueError(
                f"band_count={band_count} with max_distance={max_distance} reads {self.probed_key_count} keys per "
                f"lookup, more than {MAX_PROBED_KEYS}. Raise band_count or lower max_distance."
            )
        self._probe_masks = [_masks_within(len(shifts), self.probe_radius) for shifts in self._band_shifts]

    def add(self, context: str, entry_id: str, fingerprint: Fingerprint) -> None:
        """Store one entry so that lookups in `context` find it for `ttl_s` seconds."""
        self.add_many(context, [(entry_id, fingerprint)])

    def add_many(self, context: str, entries: Iterable[tuple[str, Fingerprint]]) -> None:
        """Store several entries in one round trip.

        A fingerprint stored again refreshes its expiry and points to the newer entry id.
        """
        context_id = digest_context(context)
        prefixes = self._band_prefixes(context_id)
        now = time.time()
        expires_at = now + self._ttl_s
        # Not a transaction: a lookup that runs halfway through an add may see the
        # entry in some bands or without its entry key, which is a miss at worst.
        pipeline = self._connection.pipeline(transaction=False)
        for entry_id, fingerprint in entries:
            if not entry_id:
                raise ValueError("entry_id must be a non-empty string")
            member = fingerprint.to_hex()
            pipeline.set(keys.similar_entry_key(context_id, member), entry_id, ex=self._ttl_s)
            for prefix, value in zip(prefixes, self._band_values(fingerprint.perceptual)):
                band_key = f"{prefix}{value:x}"
                pipeline.zadd(band_key, {member: expires_at})
                pipeline.zremrangebyscore(band_key, "-inf", now)
                pipeline.expire(band_key, self._ttl_s)
        pipeline.execute()

    def lookup(self, context: str, fingerprint: Fingerprint) -> Match | None:
        """Return the closest live entry within both thresholds, or None."""
        context_id = digest_context(context)
        probe_keys = self._probe_keys(context_id, fingerprint)
        # redis-py types command replies loosely. With scores, ZUNION returns (member, score) pairs.
        candidates = cast(
            list[tuple[bytes | str, float]], self._connection.zunion(probe_keys, aggregate="MAX", withscores=True)
        )

        now = time.time()
        passed: list[tuple[int, int, str]] = []
        for member, expires_at in candidates:
            if expires_at <= now:
                continue
            text = member.decode() if isinstance(member, bytes) else member
            distance = (int(text[:_HEX_DIGITS], 16) ^ fingerprint.perceptual).bit_count()
            if distance > self._max_distance:
                continue
            gradient_distance = (int(text[_HEX_DIGITS:], 16) ^ fingerprint.gradient).bit_count()
            if gradient_distance > self._max_gradient_distance:
                continue
            passed.append((distance, gradient_distance, text))
        if not passed:
            return None

        passed.sort()
        # An entry key can be missing while its band members remain, because Redis
        # evicted it under memory pressure or because its TTL (server clock) ran out a
        # little before the member's score (worker clock).
        entry_key_names = [keys.similar_entry_key(context_id, member) for _, _, member in passed]
        entry_ids = self._connection.mget(entry_key_names)
        for (distance, gradient_distance, _), entry_id in zip(passed, entry_ids):
            if entry_id is not None:
                return Match(entry_id.decode() if isinstance(entry_id, bytes) else entry_id, distance, gradient_distance)
        return None

    def invalidate(self, context: str) -> int:
        """Delete every entry of `context` and return the number of keys removed.

        A new rules-catalogue version already misses old entries because the version
        is part of the context, so this is for dropping a context early. It walks the
        keyspace with SCAN, which takes time in proportion to the whole database.
        """
        pattern = keys.similar_context_pattern(digest_context(context))
        removed = 0
        batch: list[bytes] = []
        for key in self._connection.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += self._connection.unlink(*batch)
                batch.clear()
        if batch:
            removed += self._connection.unlink(*batch)
        return removed

    def _band_prefixes(self, context_id: str) -> list[str]:
        return [keys.similar_band_prefix(context_id, self._band_count, band) for band in range(self._band_count)]

    def _band_values(self, perceptual: int) -> list[int]:
        values = []
        for shifts in self._band_shifts:
            value = 0
            for shift in shifts:
                value = (value << 1) | ((perceptual >> shift) & 1)
            values.append(value)
        return values

    def _probe_keys(self, context_id: str, fingerprint: Fingerprint) -> list[str]:
        probe_keys: list[str] = []
        band_values = self._band_values(fingerprint.perceptual)
        for prefix, value, masks in zip(self._band_prefixes(context_id), band_values, self._probe_masks):
            probe_keys.extend(f"{prefix}{value ^ mask:x}" for mask in masks)
        return probe_keys


def _masks_within(width: int, radius: int) -> list[int]:
    """List every `width`-bit mask with at most `radius` bits set, the empty mask first."""
    masks = []
    for flipped in range(radius + 1):
        for positions in itertools.combinations(range(width), flipped):
            masks.append(sum(1 << position for position in positions))
    return masks


def digest_context(context: str) -> str:
    """Digest a cache context into the 16 hex digits that its keys contain."""
    if not context:
        raise ValueError("context must be a non-empty string, such as the result cache context")
    return hashlib.blake2b(context.encode(), digest_size=8).hexdigest()
