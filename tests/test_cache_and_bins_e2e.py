"""The result cache and the bins stage end to end, with Claude played by a local fake.

A re-compressed copy of a finished photo must finish from the cache without any
request reaching the AI, and its bins must be searched for its own location.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from PIL import Image

from jobs.cache import CachedAnswer, ResultCache, cache_context
from jobs.claude_feedback import FEEDBACK_TOOL_NAME
from jobs.claude_vision import VISION_TOOL_NAME
from jobs.documents import Feedback, WasteAnswer
from jobs.similarity import SimilarIndex, compute_fingerprint
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import photo_bytes, unique_photo
from tests.fake_anthropic import GOOD_FEEDBACK_KO, GOOD_VISION, FakeAnthropic, answer

CITY_HALL = (37.5665, 126.9780)
SEONGSU = (37.5446, 127.0559)  # 성동구


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic("test-key", vision_tool=VISION_TOOL_NAME, feedback_tool=FEEDBACK_TOOL_NAME).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def claude_stack(tmp_path_factory: pytest.TempPathFactory, fake: FakeAnthropic) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("cache-stack"))
    stack.start_infrastructure()
    stack.load_bins()
    stack.start_api(RATE_LIMIT_JOBS_PER_MINUTE="0")
    stack.start_worker(
        AI_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_MODEL="claude-test-model",
    )
    yield stack
    stack.stop()


def vision_says(stack: LocalStack, fake: FakeAnthropic, category: str) -> None:
    """Script the fake's answers and forget cached results, so each test starts cold."""
    connection = redis.Redis.from_url(stack.redis_url)
    for key in connection.scan_iter("waste:cache:*"):
        connection.delete(key)
    fake.reset()
    item = {"name": f"test item ({category})", "category": category}
    fake.set_default(VISION_TOOL_NAME, answer({**GOOD_VISION, "category": category, "items": [item]}))
    fake.set_default(FEEDBACK_TOOL_NAME, answer(GOOD_FEEDBACK_KO))


def recompressed(data: bytes, quality: int, scale: float) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def run(stack: LocalStack, data: bytes, location: tuple[float, float]) -> dict[str, Any]:
    with stack.client() as api:
        return PhoneClient(api).run(data, *location, timeout_s=40)[-1]


def test_recompressed_copy_finishes_from_cache_without_ai(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "clothing")
    original = unique_photo("naver/8.jpg")

    first = run(claude_stack, original, CITY_HALL)
    calls_after_first = len(fake.requests())
    second = run(claude_stack, recompressed(original, quality=70, scale=0.8), SEONGSU)

    assert first["status"] == "finished"
    assert first["result"]["cache"] == {"hit": False}
    assert calls_after_first == 2
    assert second["status"] == "finished"
    assert second["result"]["cache"]["hit"] is True
    assert second["result"]["cache"]["match"] == "similar"
    assert 0 <= second["result"]["cache"]["distance"] <= 6
    assert len(fake.requests()) == calls_after_first
    assert second["result"]["waste"] == first["result"]["waste"]
    assert second["steps"]["vision"] is True
    assert second["steps"]["feedback"] is True
    first_bins = {item["id"] for item in first["result"]["bins"]}
    second_bins = {item["id"] for item in second["result"]["bins"]}
    assert first_bins
    assert second_bins
    assert not first_bins & second_bins


def test_exact_repeat_is_an_exact_hit(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "pet_bottle")
    photo = unique_photo("naver/2.jpg")

    run(claude_stack, photo, CITY_HALL)
    calls = len(fake.requests())
    again = run(claude_stack, photo, CITY_HALL)

    assert again["result"]["cache"] == {"hit": True, "match": "exact", "distance": 0}
    assert len(fake.requests()) == calls


def test_different_photo_is_not_a_hit(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "can_metal")
    run(claude_stack, unique_photo("naver/2.jpg"), CITY_HALL)

    other = run(claude_stack, unique_photo("naver/10.jpg"), CITY_HALL)

    assert other["result"]["cache"] == {"hit": False}


def test_clothing_photo_in_seoul_gets_clothing_bins_by_distance(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "clothing")

    final = run(claude_stack, unique_photo("naver/8.jpg"), CITY_HALL)

    bins = final["result"]["bins"]
    assert final["result"]["waste"]["category"] == "clothing"
    assert bins
    assert all(item["category"] == "clothing_bin" for item in bins)
    assert [item["distance_m"] for item in bins] == sorted(item["distance_m"] for item in bins)
    assert all(isinstance(item["distance_m"], int) for item in bins)
    assert all(item["source"] for item in bins)


def test_battery_photo_in_seongdong_gets_battery_boxes(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "battery")

    final = run(claude_stack, unique_photo("naver/10.jpg"), SEONGSU)

    bins = final["result"]["bins"]
    assert bins
    assert all(item["category"] == "battery_box" for item in bins)
    assert all("성동구" in item["source"] for item in bins)


def test_job_without_location_says_why_there_are_no_bins(claude_stack: LocalStack, fake: FakeAnthropic) -> None:
    vision_says(claude_stack, fake, "clothing")

    with claude_stack.client() as api:
        final = PhoneClient(api).run(unique_photo("naver/8.jpg"), timeout_s=40)[-1]

    assert final["result"]["bins"] == []
    assert "위치" in final["result"]["bins_note"]


def test_new_catalogue_version_misses_and_invalidate_drops(claude_stack: LocalStack) -> None:
    connection = redis.Redis.from_url(claude_stack.redis_url)
    cache = ResultCache(connection, ttl_s=60, similar=SimilarIndex(connection, ttl_s=60))
    image = Image.open(io.BytesIO(photo_bytes("naver/2.jpg"))).convert("RGB")
    fingerprint = compute_fingerprint(image)
    answer_ = CachedAnswer(
        waste=WasteAnswer(category="can_metal", label="캔·고철", confidence=0.9, provider="test"),
        feedback=Feedback(summary="s", steps=["a"], cautions=[], provider="test"),
    )
    old = cache_context("v1", "vision", "feedback", "ko")
    new = cache_context("v2", "vision", "feedback", "ko")
    cache.store(old, "sha-of-photo", fingerprint, answer_)

    hit, info = cache.lookup(old, "other-bytes", fingerprint)
    miss, miss_info = cache.lookup(new, "sha-of-photo", fingerprint)
    dropped = cache.invalidate(old)
    after, after_info = cache.lookup(old, "sha-of-photo", fingerprint)

    assert hit == answer_
    assert info.match == "similar"
    assert miss is None
    assert miss_info.hit is False
    assert dropped >= 2
    assert after is None
    assert after_info.hit is False
