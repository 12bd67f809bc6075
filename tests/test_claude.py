"""The Claude providers end to end: a real worker calls a local fake of the Messages API.

One stack (Redis, S3, API) serves the module. Each test names the worker
settings it needs, and a new worker starts only when the previous test used
different ones, so tests that share settings sit together.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from PIL import Image
from rq import Worker

from jobs import claude_image, keys
from jobs.ai_guard import AiGuard, CallRejected
from jobs.ai_progress import FRACTION_MAX, StageProgress
from jobs.catalogue import CATEGORIES, Catalogue
from jobs.claude_feedback import FEEDBACK_TOOL_NAME
from jobs.claude_image import API_MAX_USEFUL_PIXELS, base64_length, image_for_api
from jobs.claude_vision import VISION_TOOL, VISION_TOOL_NAME
from jobs.imaging import ImageFormat, PreparedPhoto, prepare_photo
from jobs.messages import Messages
from scripts.local_services import Service, wait_until
from scripts.phone import ENDED, PhoneClient
from scripts.stack import LocalStack
from tests.conftest import HANGUL, assert_progress_never_decreases, photo_bytes
from tests.fake_anthropic import (
    GOOD_FEEDBACK_EN,
    GOOD_FEEDBACK_KO,
    GOOD_VISION,
    FakeAnthropic,
    answer,
    dropped,
    error,
    overloaded,
    raw_answer,
    stall,
)

VISION = VISION_TOOL_NAME
FEEDBACK = FEEDBACK_TOOL_NAME
API_KEY = "test-key"
MODEL = "claude-test-model"
PROVIDER = f"anthropic:{MODEL}"
PHOTO = "naver/2.jpg"
SEOUL = (37.5665, 126.9780)
VISION_DEADLINE_S = 3
FEEDBACK_DEADLINE_S = 3
JOB_DEADLINE_S = 20
CATALOGUE = Catalogue.load()
# Claude's vision fallback is the on-device classifier when its model is in the
# checkout, else the offline provider.
LOCAL_MODEL = Path(__file__).resolve().parent.parent / "models" / "waste-classifier" / "model.onnx"
FALLBACK_VISION_PROVIDER = (
    "local:efficientnet-lite0-trashnet (fallback)" if LOCAL_MODEL.exists() else "offline:rules (fallback)"
)
MESSAGES = Messages.load()


class ClaudeStack:
    """The module's stack plus the one worker that the current test needs."""

    def __init__(self, stack: LocalStack, fake: FakeAnthropic) -> None:
        self.stack = stack
        self.fake = fake
        self.redis = redis.Redis.from_url(stack.redis_url)
        self.worker: Service | None = None
        self._worker_env: dict[str, str] = {}

    def use_worker(self, **overrides: str) -> Service:
        """Run a worker with the base settings plus `overrides`, restarting it only when they changed."""
        env = {
            "AI_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": self.fake.url,
            "ANTHROPIC_MODEL": MODEL,
            "AI_VISION_DEADLINE_SECONDS": str(VISION_DEADLINE_S),
            "AI_FEEDBACK_DEADLINE_SECONDS": str(FEEDBACK_DEADLINE_S),
            "JOB_DEADLINE_SECONDS": str(JOB_DEADLINE_S),
            **overrides,
        }
        if self.worker is not None and self.worker.running() and env == self._worker_env:
            return self.worker
        if self.worker is not None:
            # The worker is idle between tests, so killing it loses nothing and
            # keeps restarts fast.
            self.worker.kill()
        before = self._registered_workers()
        self.worker = self.stack.start_worker(**env)
        self._worker_env = env
        wait_until(lambda: bool(self._registered_workers() - before), 30, "the RQ worker")
        return self.worker

    def clear_ai_state(self) -> None:
        """Forget breaker state, budget counts and cached results, so every test starts clean."""
        for pattern in ("waste:ai:*", "waste:cache:*"):
            for key in self.redis.scan_iter(pattern):
                self.redis.delete(key)

    def worker_log(self) -> str:
        assert self.worker is not None and self.worker.log_path is not None
        return Path(self.worker.log_path).read_text(encoding="utf-8", errors="replace")

    def run_job(self, locale: str = "ko") -> tuple[list[dict[str, Any]], float]:
        """Run the phone's flow once; return the status documents and the seconds it took."""
        with self.stack.client() as api:
            started_at = time.monotonic()
            documents = PhoneClient(api).run(photo_bytes(PHOTO), *SEOUL, locale=locale, timeout_s=JOB_DEADLINE_S + 15)
        return documents, time.monotonic() - started_at

    def sample_status(self) -> list[tuple[float, dict[str, Any]]]:
        """Run a job and GET its status every 0.5 s without ETags, keeping every document with its time."""
        samples: list[tuple[float, dict[str, Any]]] = []
        with self.stack.client() as api:
            phone = PhoneClient(api)
            created = phone.create(*SEOUL)
            phone.upload(created["upload"], photo_bytes(PHOTO))
            phone.start(created["job_id"])
            deadline = time.monotonic() + JOB_DEADLINE_S + 15
            while time.monotonic() < deadline:
                polled_at = time.monotonic()
                document = api.get(created["status_url"]).json()
                samples.append((polled_at, document))
                if document["status"] in ENDED:
                    break
                time.sleep(max(0.0, polled_at + 0.5 - time.monotonic()))
        return samples

    def _registered_workers(self) -> set[str]:
        return {worker.name for worker in Worker.all(connection=self.redis)}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(API_KEY, vision_tool=VISION, feedback_tool=FEEDBACK).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory, fake: FakeAnthropic) -> Iterator[ClaudeStack]:
    stack = LocalStack(tmp_path_factory.mktemp("claude-stack"))
    stack.start_infrastructure()
    stack.start_api()
    claude_stack = ClaudeStack(stack, fake)
    yield claude_stack
    if claude_stack.worker is not None:
        claude_stack.worker.kill()
    stack.stop()


@pytest.fixture
def claude(module_stack: ClaudeStack) -> ClaudeStack:
    module_stack.fake.reset()
    module_stack.clear_ai_state()
    return module_stack


def final_of(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return documents[-1]


def korean_error(code: str) -> str:
    return MESSAGES.error("ko", code)


# --- the answer as the phone sees it -----------------------------------------


def test_good_answer_finishes_with_claude_provider(claude: ClaudeStack) -> None:
    claude.use_worker()
    pet_rules = CATALOGUE.rules("pet_bottle")
    vinyl_rules = CATALOGUE.rules("vinyl")
    claude.fake.expect_in_system(FEEDBACK, pet_rules.summary.ko, pet_rules.steps.ko[0], vinyl_rules.summary.ko)

    documents, _ = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["progress"] == 100
    assert_progress_never_decreases(documents)
    waste = final["result"]["waste"]
    assert waste["provider"] == PROVIDER
    assert waste["category"] == "pet_bottle"
    assert waste["label"] == "투명 페트병"
    assert waste["items"] == GOOD_VISION["items"]
    assert waste["needs_rinsing"] is True
    assert waste["confidence"] == pytest.approx(0.93)
    feedback = final["result"]["feedback"]
    assert feedback["provider"] == PROVIDER
    assert HANGUL.search(feedback["summary"])
    assert feedback["steps"]


def test_requests_carry_image_schema_and_korean_rules(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.expect_in_system(FEEDBACK, CATALOGUE.rules("pet_bottle").summary.ko)

    documents, _ = claude.run_job()

    assert final_of(documents)["status"] == "finished"
    vision_requests = claude.fake.requests(VISION)
    feedback_requests = claude.fake.requests(FEEDBACK)
    assert len(vision_requests) == 1
    assert len(feedback_requests) == 1
    for request in vision_requests + feedback_requests:
        assert request.failed_checks() == [], f"{request.tool} request failed checks"
        assert request.stream is True
        assert request.model == MODEL
    assert vision_requests[0].image_base64_bytes > 0
    assert "Korean" in vision_requests[0].user_text
    assert "pet_bottle" in vision_requests[0].system
    assert "system_contains_expected" in feedback_requests[0].checks
    assert "생수 페트병" in feedback_requests[0].user_text


def test_worker_logs_usage_without_key_or_image(claude: ClaudeStack) -> None:
    claude.use_worker()

    documents, _ = claude.run_job()

    job_id = final_of(documents)["job_id"]
    log = claude.worker_log()
    for stage in ("vision", "feedback"):
        assert f"ai call job_id={job_id} stage={stage} model={MODEL} attempt=1 outcome=ok input_tokens=" in log
    assert API_KEY not in log
    # Every JPEG's base64 text starts with /9j/.
    assert "/9j/" not in log


def test_english_job_gets_english_rules_and_advice(claude: ClaudeStack) -> None:
    claude.use_worker()
    pet_rules = CATALOGUE.rules("pet_bottle")
    claude.fake.script(FEEDBACK, answer(GOOD_FEEDBACK_EN))
    claude.fake.expect_in_system(FEEDBACK, pet_rules.summary.en, pet_rules.steps.en[1])

    documents, _ = claude.run_job(locale="en")

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["label"] == "Clear PET bottle"
    assert final["result"]["feedback"]["summary"] == GOOD_FEEDBACK_EN["summary"]
    feedback_request = claude.fake.requests(FEEDBACK)[0]
    assert feedback_request.failed_checks() == []
    assert pet_rules.summary.ko not in feedback_request.system
    assert "English" in claude.fake.requests(VISION)[0].user_text


def test_malformed_answer_is_retried_once(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.script(VISION, raw_answer('{"category": pet_bottle, "items": ['))

    documents, _ = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["provider"] == PROVIDER
    assert len(claude.fake.requests(VISION)) == 2
    assert_progress_never_decreases(documents)


@pytest.mark.parametrize(
    "bad_reply",
    [
        pytest.param(raw_answer('{"category": pet_bottle}'), id="malformed-json"),
        pytest.param(answer({**GOOD_VISION, "category": "sofa"}), id="unknown-category"),
        pytest.param(answer({"category": "pet_bottle", "confidence": 0.9}), id="missing-fields"),
        pytest.param(answer({**GOOD_VISION, "category": "unknown"}), id="unknown-without-reason"),
    ],
)
def test_invalid_answer_twice_fails_job(claude: ClaudeStack, bad_reply: Any) -> None:
    claude.use_worker()
    claude.fake.script(VISION, bad_reply, bad_reply)

    documents, elapsed_s = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "ai_invalid_answer"
    assert final["error"]["message"] == korean_error("ai_invalid_answer")
    assert final["result"] is None
    assert len(claude.fake.requests(VISION)) == 2
    assert claude.fake.requests(FEEDBACK) == []
    assert elapsed_s < JOB_DEADLINE_S
    assert_progress_never_decreases(documents)


def test_rate_limit_waits_for_retry_after(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.script(VISION, error(429, "rate_limit_error", retry_after_s=1))

    documents, _ = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["provider"] == PROVIDER
    first, second = claude.fake.requests(VISION)
    assert second.at - first.at >= 1.0
    assert_progress_never_decreases(documents)


def test_dropped_stream_is_retried(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.script(VISION, dropped(after_deltas=2))

    documents, _ = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["provider"] == PROVIDER
    assert [request.reply for request in claude.fake.requests(VISION)] == ["drop", "answer"]
    assert "stage=vision model=claude-test-model attempt=1 outcome=connection_error" in claude.worker_log()
    assert_progress_never_decreases(documents)


def test_overloaded_api_falls_back_marked(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.set_default(VISION, overloaded())
    claude.fake.set_default(FEEDBACK, overloaded())

    documents, elapsed_s = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    waste = final["result"]["waste"]
    assert waste["provider"] == FALLBACK_VISION_PROVIDER
    assert waste["category"] in CATEGORIES
    if waste["category"] == "unknown":
        assert waste["reason"] == MESSAGES.label("ko", "ai_fallback_reason")
    feedback = final["result"]["feedback"]
    assert feedback["provider"] == "offline:rules (fallback)"
    assert feedback["summary"] == CATALOGUE.rules(waste["category"]).summary.ko
    assert len(claude.fake.requests(VISION)) >= 2
    # Vision's failures count towards the breaker, which may open after the first feedback attempt.
    assert len(claude.fake.requests(FEEDBACK)) >= 1
    assert elapsed_s < VISION_DEADLINE_S + FEEDBACK_DEADLINE_S + 4
    assert_progress_never_decreases(documents)


def test_stalled_stream_falls_back_within_deadline(claude: ClaudeStack) -> None:
    claude.use_worker()
    claude.fake.script(VISION, stall(30))

    documents, elapsed_s = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["provider"] == FALLBACK_VISION_PROVIDER
    assert final["result"]["feedback"]["provider"] == PROVIDER
    assert len(claude.fake.requests(VISION)) == 1
    assert elapsed_s < VISION_DEADLINE_S + 4
    assert_progress_never_decreases(documents)


# --- with AI_FALLBACK=false the job fails with a clear code -------------------


def test_overloaded_api_fails_with_ai_unavailable(claude: ClaudeStack) -> None:
    claude.use_worker(AI_FALLBACK="false")
    claude.fake.set_default(VISION, overloaded())

    documents, elapsed_s = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "ai_unavailable"
    assert final["error"]["message"] == korean_error("ai_unavailable")
    assert len(claude.fake.requests(VISION)) >= 2
    assert elapsed_s < VISION_DEADLINE_S + 4
    assert_progress_never_decreases(documents)


def test_stalled_stream_fails_with_ai_timeout(claude: ClaudeStack) -> None:
    claude.use_worker(AI_FALLBACK="false")
    claude.fake.script(VISION, stall(30))

    documents, elapsed_s = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "ai_timeout"
    assert final["error"]["message"] == korean_error("ai_timeout")
    assert elapsed_s < VISION_DEADLINE_S + 4
    assert_progress_never_decreases(documents)


# --- progress while the model streams -----------------------------------------


def still_windows(samples: list[tuple[float, dict[str, Any]]], stage: str, below: int) -> list[tuple[int, int]]:
    """Pairs of progress values 1 s or more apart, within the stage, where the bar did not move."""
    phase = [
        (polled_at, document["progress"])
        for polled_at, document in samples
        if document["status"] == "started" and document["stage"] == stage and document["progress"] < below
    ]
    still = []
    for index, (polled_at, progress) in enumerate(phase):
        later = next((entry for entry in phase[index + 1 :] if entry[0] - polled_at >= 1.0), None)
        if later is not None and later[1] <= progress:
            still.append((progress, later[1]))
    return still


def stage_samples(samples: list[tuple[float, dict[str, Any]]], stage: str) -> int:
    return sum(1 for _, document in samples if document["status"] == "started" and document["stage"] == stage)


def test_progress_advances_every_second_during_slow_streams(claude: ClaudeStack) -> None:
    claude.use_worker(AI_VISION_DEADLINE_SECONDS="12", AI_FEEDBACK_DEADLINE_SECONDS="12")
    # Each stage first thinks for a while with nothing streamed, then streams slowly.
    claude.fake.script(VISION, answer(GOOD_VISION, think_s=2.5, chunks=8, delay_s=0.2))
    claude.fake.script(FEEDBACK, answer(GOOD_FEEDBACK_KO, think_s=2.0, chunks=10, delay_s=0.2))

    samples = claude.sample_status()

    documents = [document for _, document in samples]
    assert documents[-1]["status"] == "finished"
    assert_progress_never_decreases(documents)
    assert stage_samples(samples, "vision") >= 6
    assert stage_samples(samples, "feedback") >= 6
    assert still_windows(samples, "vision", below=60) == []
    assert still_windows(samples, "feedback", below=90) == []


# --- the cost guard -----------------------------------------------------------


def test_breaker_stops_calls_until_cooldown_ends(claude: ClaudeStack) -> None:
    cooldown_s = 3
    claude.use_worker(
        AI_BREAKER_FAILURES="3", AI_BREAKER_COOLDOWN_SECONDS=str(cooldown_s), AI_VISION_DEADLINE_SECONDS="6"
    )
    claude.fake.set_default(VISION, overloaded())
    claude.fake.set_default(FEEDBACK, overloaded())

    first, _ = claude.run_job()
    after_first = claude.fake.requests()
    second, second_elapsed_s = claude.run_job()
    after_second = claude.fake.requests()
    opened_at = after_first[-1].at
    time.sleep(max(0.0, opened_at + cooldown_s + 0.3 - time.monotonic()))
    third, _ = claude.run_job()
    after_third = claude.fake.requests()

    assert [request.tool for request in after_first] == [VISION] * 3
    assert len(after_second) == 3
    assert len(after_third) == 4
    assert after_third[3].tool == VISION
    assert after_third[3].at - opened_at >= cooldown_s
    for documents in (first, second, third):
        result = final_of(documents)["result"]
        assert final_of(documents)["status"] == "finished"
        assert result["waste"]["provider"] == FALLBACK_VISION_PROVIDER
        assert result["feedback"]["provider"] == "offline:rules (fallback)"
    assert second_elapsed_s < 3
    assert claude.redis.exists(keys.AI_BREAKER_OPEN_KEY)


def test_daily_budget_used_up_falls_back(claude: ClaudeStack) -> None:
    claude.use_worker(AI_DAILY_CALL_BUDGET="1")

    documents, _ = claude.run_job()

    final = final_of(documents)
    assert final["status"] == "finished"
    assert final["result"]["waste"]["provider"] == PROVIDER
    assert final["result"]["feedback"]["provider"] == "offline:rules (fallback)"
    assert len(claude.fake.requests(VISION)) == 1
    assert claude.fake.requests(FEEDBACK) == []
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert int(claude.redis.get(keys.ai_daily_calls_key(today)) or 0) == 2


def test_guard_allows_one_trial_after_cooldown(module_stack: ClaudeStack) -> None:
    module_stack.clear_ai_state()
    guard = AiGuard(module_stack.redis, failures_to_open=2, cooldown_s=1, daily_call_budget=100, trial_ttl_s=5)

    for _ in range(2):
        guard.record_failure(guard.admit())
    with pytest.raises(CallRejected, match="open"):
        guard.admit()
    time.sleep(1.1)
    trial = guard.admit()
    with pytest.raises(CallRejected, match="trial"):
        guard.admit()
    guard.record_success(trial)
    after_success = guard.admit()

    assert trial.trial is True
    assert after_success.trial is False


# --- units without the stack ----------------------------------------------------


def test_vision_tool_schema_lists_every_category() -> None:
    schema = VISION_TOOL["input_schema"]

    assert schema["type"] == "object"
    assert set(schema["properties"]["category"]["enum"]) == set(CATEGORIES)
    assert set(schema["required"]) >= {"category", "items", "confidence", "needs_rinsing", "needs_disassembly"}
    assert "$ref" not in msgspec.json.encode(schema).decode()


def test_image_for_api_limits_pixels() -> None:
    photo = prepare_photo(photo_bytes(PHOTO), 50_000_000)

    jpeg = image_for_api(photo)

    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.width * image.height <= API_MAX_USEFUL_PIXELS
        assert image.format == "JPEG"


def test_image_for_api_reencodes_over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    noise = Image.effect_noise((1000, 1000), 120).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG", quality=100)
    photo = PreparedPhoto(noise, ImageFormat.JPEG, noise.size)
    budget = base64_length(len(photo.jpeg)) // 4
    monkeypatch.setattr(claude_image, "IMAGE_BASE64_BUDGET_BYTES", budget)

    jpeg = image_for_api(photo)

    assert base64_length(len(jpeg)) <= budget


def test_stage_progress_grows_and_stops_below_end() -> None:
    reported: list[float] = []

    def on_progress(fraction: float) -> None:
        reported.append(fraction)

    with StageProgress(on_progress, expected_chars=100, time_constant_s=0.3) as progress:
        time.sleep(0.6)
        progress.add_output(400)
        time.sleep(0.6)
    count_at_exit = len(reported)
    time.sleep(0.4)

    assert len(reported) >= 3
    assert reported == sorted(reported)
    assert max(reported) <= FRACTION_MAX
    assert len(reported) == count_at_exit
