"""Shared fixtures: a real Redis-compatible server, a real S3-compatible server,
the API under uvicorn and RQ workers, all as child processes on free ports.

Set REDIS_URL to use an existing Redis instead of starting one; tests that stop
Redis on purpose always start their own.
"""

from __future__ import annotations

import io
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from scripts.phone import PhoneClient
from scripts.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = FIXTURES / "photos"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def output_dir() -> Path:
    path = Path(os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parent.parent / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def test_output() -> Path:
    return output_dir()


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Redis and S3 shared by the session's default stack."""
    stack = LocalStack(tmp_path_factory.mktemp("stack"), redis_url=os.environ.get("REDIS_URL"))
    stack.start_infrastructure()
    stack.load_bins()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def stack(infrastructure: LocalStack) -> LocalStack:
    """One API process and one worker with the offline providers.

    Every test calls from 127.0.0.1, so the rate limit is raised out of the way;
    tests/test_bad_input.py checks the limit on a stack of its own.
    """
    infrastructure.start_api(RATE_LIMIT_JOBS_PER_MINUTE="100000")
    infrastructure.start_worker()
    return infrastructure


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture
def phone(api: httpx.Client) -> PhoneClient:
    return PhoneClient(api)


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A stack of its own, for tests that stop or kill its parts."""
    stack = LocalStack(tmp_path / "stack")
    stack.start_infrastructure()
    yield stack
    stack.stop()


def photo_bytes(relative: str) -> bytes:
    return (PHOTOS / relative).read_bytes()


def unique_photo(relative: str) -> bytes:
    """A random crop of a fixture photo, turned and mirrored at random, so no cache knows it.

    Changing a few pixels would not do: the near-duplicate cache is built to see
    through that.
    """
    image = Image.open(PHOTOS / relative).convert("RGB")
    rng = random.Random()
    width, height = round(image.width * rng.uniform(0.45, 0.6)), round(image.height * rng.uniform(0.45, 0.6))
    left, top = rng.randrange(image.width - width), rng.randrange(image.height - height)
    image = image.crop((left, top, left + width, top + height))
    image = image.transpose(rng.choice(list(Image.Transpose)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def assert_progress_never_decreases(documents: list[dict]) -> None:
    values = [document["progress"] for document in documents]
    assert values == sorted(values), f"progress went backwards: {values}"
