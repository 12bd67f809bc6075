"""Near-duplicate index against a real Redis-compatible server started for this module."""

from __future__ import annotations

import io
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image, ImageEnhance

from jobs import keys
from jobs.imaging import MAX_LONG_EDGE_PX, open_upright, reduce_to
from jobs.similarity import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MAX_GRADIENT_DISTANCE,
    HASH_BITS,
    Fingerprint,
    Match,
    SimilarIndex,
    compute_fingerprint,
    digest_context,
    gradient_hash,
    perceptual_hash,
)
from scripts.local_services import free_port, start_redis

PHOTOS = Path(__file__).parent / "fixtures" / "photos"
NAVER_PHOTOS = sorted((PHOTOS / "naver").glob("*.jpg"))
TRASHNET_PHOTOS = sorted((PHOTOS / "trashnet").rglob("*.jpg"))
MAX_PIXELS = 50_000_000
ORIENTATION_TAG = 0x0112


@pytest.fixture(scope="module")
def connection() -> Iterator[redis.Redis]:
    port = free_port()
    server = start_redis(port)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        yield client
    finally:
        client.close()
        server.stop()


@pytest.fixture
def index(connection: redis.Redis) -> SimilarIndex:
    return SimilarIndex(connection, ttl_s=600)


@pytest.fixture
def context() -> str:
    return f"test-catalogue-{uuid.uuid4().hex}|offline|offline|ko"


def worker_fingerprint(data: bytes) -> Fingerprint:
    """Fingerprint an upload decoded the way the worker's preprocess stage decodes it."""
    image, _, _ = open_upright(data, MAX_PIXELS, MAX_LONG_EDGE_PX)
    return compute_fingerprint(reduce_to(image, MAX_LONG_EDGE_PX))


def upright(path: Path) -> Image.Image:
    image, _, _ = open_upright(path.read_bytes(), MAX_PIXELS, 10**6)
    return image


def jpeg(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    if exif is None:
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def reencoded(image: Image.Image) -> bytes:
    return jpeg(image, quality=65)


def half_size(image: Image.Image) -> bytes:
    return jpeg(image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS), quality=80)


def double_size(image: Image.Image) -> bytes:
    return jpeg(image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS), quality=85)


def exif_rotated(image: Image.Image) -> bytes:
    # Orientation 6 means the stored pixels are shown turned 90° clockwise. Storing
    # them turned 90° counter-clockwise makes the upright image the original again.
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    return jpeg(image.transpose(Image.Transpose.ROTATE_90), exif=exif)


def darker(image: Image.Image) -> bytes:
    return jpeg(ImageEnhance.Brightness(image).enhance(0.9))


def cropped(image: Image.Image) -> bytes:
    cut_x, cut_y = image.width // 100, image.height // 100
    return jpeg(image.crop((cut_x, cut_y, image.width - cut_x, image.height - cut_y)))


COPIES: list[Callable[[Image.Image], bytes]] = [reencoded, half_size, double_size, exif_rotated, darker, cropped]


def flip_bits(value: int, positions: list[int]) -> int:
    for position in positions:
        value ^= 1 << position
    return value


def random_fingerprint(rng: random.Random) -> Fingerprint:
    return Fingerprint(rng.getrandbits(HASH_BITS), rng.getrandbits(HASH_BITS))


@pytest.mark.parametrize("photo", NAVER_PHOTOS, ids=lambda path: path.name)
@pytest.mark.parametrize("make_copy", COPIES, ids=lambda function: function.__name__)
def test_copy_of_photo_finds_original(
    index: SimilarIndex, context: str, photo: Path, make_copy: Callable[[Image.Image], bytes]
) -> None:
    index.add(context, "original", worker_fingerprint(photo.read_bytes()))

    match = index.lookup(context, worker_fingerprint(make_copy(upright(photo))))

    assert match is not None
    assert match.entry_id == "original"
    assert match.distance <= DEFAULT_MAX_DISTANCE
    assert match.gradient_distance <= DEFAULT_MAX_GRADIENT_DISTANCE


def test_exif_rotated_copy_decodes_upright() -> None:
    photo = NAVER_PHOTOS[0]
    original = upright(photo)

    rotated, _, _ = open_upright(exif_rotated(original), MAX_PIXELS, 10**6)

    assert rotated.size == original.size


def test_different_photos_do_not_match(index: SimilarIndex, context: str) -> None:
    prints = {path.name: worker_fingerprint(path.read_bytes()) for path in NAVER_PHOTOS}
    assert len(prints) == 3

    for stored_name, stored in prints.items():
        entry_context = f"{context}:{stored_name}"
        index.add(entry_context, stored_name, stored)
        for other_name, other in prints.items():
            if other_name != stored_name:
                assert index.lookup(entry_context, other) is None, f"{other_name} matched {stored_name}"


def trashnet_class(path: Path) -> str:
    if path.parent.name != "trashnet":
        return path.parent.name
    return path.stem.rstrip("0123456789")


def test_trashnet_photos_of_different_classes_do_not_match(index: SimilarIndex, context: str) -> None:
    if len(TRASHNET_PHOTOS) < 2:
        pytest.skip("no TrashNet photos under tests/fixtures/photos/trashnet")
    prints = [(path, worker_fingerprint(path.read_bytes())) for path in TRASHNET_PHOTOS]

    for stored_path, stored in prints:
        entry_context = f"{context}:{stored_path.name}"
        index.add(entry_context, stored_path.name, stored)
        for other_path, other in prints:
            if trashnet_class(other_path) != trashnet_class(stored_path):
                assert index.lookup(entry_context, other) is None, f"{other_path.name} matched {stored_path.name}"


def test_distance_at_threshold_matches(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "entry", stored)
    at_threshold = Fingerprint(flip_bits(stored.perceptual, [0, 9, 18, 27, 36, 45]), stored.gradient)

    assert index.lookup(context, at_threshold) == Match("entry", DEFAULT_MAX_DISTANCE, 0)


def test_distance_beyond_threshold_misses(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "entry", stored)
    beyond = Fingerprint(flip_bits(stored.perceptual, [0, 9, 18, 27, 36, 45, 54]), stored.gradient)

    assert index.lookup(context, beyond) is None


def test_gradient_distance_beyond_threshold_misses(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "entry", stored)
    near = Fingerprint(stored.perceptual, flip_bits(stored.gradient, list(range(DEFAULT_MAX_GRADIENT_DISTANCE))))
    beyond = Fingerprint(stored.perceptual, flip_bits(stored.gradient, list(range(DEFAULT_MAX_GRADIENT_DISTANCE + 1))))

    assert index.lookup(context, near) == Match("entry", 0, DEFAULT_MAX_GRADIENT_DISTANCE)
    assert index.lookup(context, beyond) is None


def test_other_context_misses(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "entry", stored)

    assert index.lookup(context + "-next-version", stored) is None
    assert index.lookup(context, stored) == Match("entry", 0, 0)


def test_closest_entry_wins(index: SimilarIndex, context: str) -> None:
    query = Fingerprint(0x0F0F_0F0F_0F0F_0F0F, 0x3333_3333_3333_3333)
    index.add(context, "farther", Fingerprint(flip_bits(query.perceptual, [1, 2, 3, 4]), query.gradient))
    index.add(context, "closer", Fingerprint(flip_bits(query.perceptual, [5, 6]), query.gradient))

    assert index.lookup(context, query) == Match("closer", 2, 0)


def test_entry_expires_after_ttl(connection: redis.Redis, context: str) -> None:
    index = SimilarIndex(connection, ttl_s=1)
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "entry", stored)
    entry_key = keys.similar_entry_key(digest_context(context), stored.to_hex())

    assert index.lookup(context, stored) == Match("entry", 0, 0)
    assert 0 < connection.pttl(entry_key) <= 1000

    time.sleep(1.2)

    assert index.lookup(context, stored) is None
    assert connection.exists(entry_key) == 0


def test_missing_entry_key_falls_back_to_next_candidate(
    connection: redis.Redis, index: SimilarIndex, context: str
) -> None:
    query = Fingerprint(0x0F0F_0F0F_0F0F_0F0F, 0x3333_3333_3333_3333)
    closer = Fingerprint(flip_bits(query.perceptual, [5, 6]), query.gradient)
    index.add(context, "farther", Fingerprint(flip_bits(query.perceptual, [1, 2, 3, 4]), query.gradient))
    index.add(context, "closer", closer)

    connection.delete(keys.similar_entry_key(digest_context(context), closer.to_hex()))

    assert index.lookup(context, query) == Match("farther", 4, 0)


def test_change_in_every_band_found_by_probing(index: SimilarIndex, context: str) -> None:
    # Band k contains bits k, k + 4, k + 8, ... counted from the most significant bit.
    # These six flips change all four bands, two bits in bands 0 and 1 and one in 2 and 3.
    stored = Fingerprint(0xA5A5_5A5A_C3C3_3C3C, 0x1111_2222_3333_4444)
    most_significant_positions = [0, 4, 1, 5, 2, 3]
    query = Fingerprint(flip_bits(stored.perceptual, [63 - position for position in most_significant_positions]),
                        stored.gradient)
    index.add(context, "entry", stored)

    assert index.probe_radius == 1
    assert index.lookup(context, query) == Match("entry", 6, 0)


@pytest.mark.parametrize(
    ("max_distance", "band_count"),
    [
        pytest.param(6, 4, id="radius-1"),
        pytest.param(3, 4, id="radius-0"),
        pytest.param(10, 4, id="radius-2"),
        pytest.param(8, 5, id="uneven-bands"),
    ],
)
def test_every_hash_within_threshold_is_found(
    connection: redis.Redis, context: str, max_distance: int, band_count: int
) -> None:
    index = SimilarIndex(connection, ttl_s=600, max_distance=max_distance, band_count=band_count)
    rng = random.Random(max_distance * 100 + band_count)
    for trial in range(100):
        stored = random_fingerprint(rng)
        flipped = rng.sample(range(HASH_BITS), rng.randint(0, max_distance))
        query = Fingerprint(flip_bits(stored.perceptual, flipped), stored.gradient)
        index.add(f"{context}:{trial}", "entry", stored)

        assert index.lookup(f"{context}:{trial}", query) == Match("entry", len(flipped), 0), flipped


def test_invalidate_removes_only_that_context(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    glob_like = f"{context}|*"
    other = f"{context}|locale-en"
    index.add(glob_like, "entry", stored)
    index.add(other, "entry", stored)

    removed = index.invalidate(glob_like)

    assert removed == 5  # four band keys and one entry key
    assert index.lookup(glob_like, stored) is None
    assert index.lookup(other, stored) == Match("entry", 0, 0)


def test_new_banding_misses_old_entries(connection: redis.Redis, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    SimilarIndex(connection, ttl_s=600, band_count=4).add(context, "entry", stored)

    assert SimilarIndex(connection, ttl_s=600, band_count=5, max_distance=8).lookup(context, stored) is None


def test_readding_fingerprint_points_to_newer_entry(index: SimilarIndex, context: str) -> None:
    stored = Fingerprint(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
    index.add(context, "first", stored)
    index.add(context, "second", stored)

    assert index.lookup(context, stored) == Match("second", 0, 0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"max_distance": 64}, "max_distance must be 0-63", id="distance-too-large"),
        pytest.param({"max_gradient_distance": -1}, "max_gradient_distance must be", id="negative-gradient"),
        pytest.param({"band_count": 0}, "band_count must be 1-16", id="no-bands"),
        pytest.param({"ttl_s": 0}, "ttl_s must be at least 1 second", id="no-ttl"),
        pytest.param({"max_distance": 40, "band_count": 2}, "keys per lookup", id="too-many-probes"),
    ],
)
def test_constructor_rejects_bad_settings(connection: redis.Redis, arguments: dict[str, int], message: str) -> None:
    settings = {"ttl_s": 600, **arguments}

    with pytest.raises(ValueError, match=message):
        SimilarIndex(connection, **settings)


def test_fingerprint_hex_round_trip() -> None:
    fingerprint = Fingerprint(0x0000_0000_0000_0001, 0xFFFF_FFFF_FFFF_FFFF)

    assert fingerprint.to_hex() == "0000000000000001ffffffffffffffff"
    assert Fingerprint.from_hex(fingerprint.to_hex()) == fingerprint


def test_fingerprint_rejects_value_wider_than_64_bits() -> None:
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        Fingerprint(1 << HASH_BITS, 0)


def test_hash_functions_agree_with_fingerprint() -> None:
    image = upright(NAVER_PHOTOS[0])
    fingerprint = compute_fingerprint(image)

    assert perceptual_hash(image) == fingerprint.perceptual
    assert gradient_hash(image) == fingerprint.gradient
    # imagehash.phash compares each coefficient with the median, so half the bits are set.
    assert fingerprint.perceptual.bit_count() == HASH_BITS // 2
