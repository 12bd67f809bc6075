"""The on-device classifier in the real flow: no API key, and Claude's fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.claude_feedback import FEEDBACK_TOOL_NAME
from jobs.claude_vision import VISION_TOOL_NAME
from scripts.local_services import REPO_ROOT
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.fake_anthropic import FakeAnthropic, overloaded

DEMO = REPO_ROOT / "data" / "demo"
MODEL = REPO_ROOT / "models" / "waste-classifier" / "model.onnx"
PROVIDER = "local:efficientnet-lite0-trashnet"

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="the on-device model is not in the checkout")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("local-stack"))
    stack.start_infrastructure()
    stack.start_api(RATE_LIMIT_JOBS_PER_MINUTE="0")
    # No AI_PROVIDER and no key: the default a newcomer gets from `make run`.
    stack.start_worker(AI_PROVIDER="", CACHE_ENABLED="false")
    yield stack
    stack.stop()


@pytest.mark.parametrize(
    ("photo", "category"),
    [
        pytest.param("glass-bottle.jpg", "glass_bottle", id="glass-bottle"),
        pytest.param("can.jpg", "can_metal", id="can"),
        pytest.param("cardboard-box.jpg", "paper", id="cardboard-box"),
    ],
)
def test_bundled_photo_is_recognised_without_a_key(local_stack: LocalStack, photo: str, category: str) -> None:
    with local_stack.client() as api:
        final = PhoneClient(api).run((DEMO / photo).read_bytes(), timeout_s=30)[-1]

    waste = final["result"]["waste"]
    assert final["status"] == "finished"
    assert waste["category"] == category
    assert waste["provider"] == PROVIDER
    assert 0.75 <= waste["confidence"] <= 1.0
    assert final["result"]["feedback"]["provider"] == "offline:rules"


def test_uncertain_photo_answers_unknown(local_stack: LocalStack, tmp_path: Path) -> None:
    from PIL import Image

    blank = tmp_path / "grey.jpg"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(blank)
    with local_stack.client() as api:
        final = PhoneClient(api).run(blank.read_bytes(), timeout_s=30)[-1]

    assert final["result"]["waste"]["category"] == "unknown"
    assert final["result"]["waste"]["reason"]


def test_classifier_answers_when_claude_is_down(tmp_path: Path) -> None:
    fake = FakeAnthropic("test-key", vision_tool=VISION_TOOL_NAME, feedback_tool=FEEDBACK_TOOL_NAME).start()
    fake.set_default(VISION_TOOL_NAME, overloaded())
    fake.set_default(FEEDBACK_TOOL_NAME, overloaded())
    stack = LocalStack(tmp_path / "stack")
    try:
        stack.start_infrastructure()
        stack.start_api()
        stack.start_worker(
            AI_PROVIDER="anthropic",
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=fake.url,
            AI_VISION_DEADLINE_SECONDS="2",
            AI_FEEDBACK_DEADLINE_SECONDS="2",
        )
        with stack.client() as api:
            final = PhoneClient(api).run((DEMO / "can.jpg").read_bytes(), timeout_s=40)[-1]
    finally:
        stack.stop()
        fake.stop()

    assert final["status"] == "finished"
    assert final["result"]["waste"]["category"] == "can_metal"
    assert final["result"]["waste"]["provider"] == f"{PROVIDER} (fallback)"
    assert final["result"]["feedback"]["provider"] == "offline:rules (fallback)"
