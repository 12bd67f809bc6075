"""Calls to Claude through the official `anthropic` SDK: one streamed, forced tool call per stage.

Both Claude providers (jobs/claude_vision.py and jobs/claude_feedback.py)
send a request that forces one tool, so the answer arrives as that tool's JSON
input in `input_json_delta` stream events. `ToolCallRunner` holds the failure
policy they share:

- The SDK's own retries are off (`max_retries=0`). The runner retries 429
  (after `retry-after`), 529, other 5xx, 408, 409 and connection failures with
  jittered exponential back-off, and only while the stage deadline leaves room
  for another attempt.
- Every attempt passes the cost guard (jobs/ai_guard.py) first.
- An answer that does not decode into the stage's schema is requested once more.
- Whatever is left ends as JobFailure: `ai_timeout` when the deadline passed
  during a call, `ai_unavailable` when the API kept failing or the guard
  refused, `ai_invalid_answer` after two invalid answers. The providers turn
  the first two into a fallback answer when AI_FALLBACK allows it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anthropic
import httpx2
import msgspec

from jobs.ai_guard import AiGuard, CallRejected
from jobs.ai_progress import StageProgress
from jobs.errors import JobFailure
from jobs.settings import Settings
from jobs.vision import CallContext

logger = logging.getLogger(__name__)

ANTHROPIC_PROVIDER_PREFIX = "anthropic:"
RETRYABLE_STATUS_CODES = frozenset({408, 409, 429})
# Error types that the API sends as an `event: error` inside a stream that began with HTTP 200.
RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
# No attempt starts with less time than this left before the deadline.
MIN_ATTEMPT_S = 1.0
CONNECT_TIMEOUT_S = 5.0
INVALID_ANSWER_RETRIES = 1
# Failures after which a provider may answer from its fallback instead.
FALLBACK_CODES = frozenset({"ai_unavailable", "ai_timeout"})

AnswerT = TypeVar("AnswerT")


def make_client(settings: Settings) -> anthropic.Anthropic:
    """Build the SDK client for a worker process; ANTHROPIC_BASE_URL is read by the SDK itself."""
    # At DEBUG the SDK logs each request's options, which hold the photo as base64.
    sdk_logger = logging.getLogger("anthropic")
    if sdk_logger.getEffectiveLevel() < logging.INFO:
        sdk_logger.setLevel(logging.INFO)
    longest_stage_s = max(settings.ai_vision_deadline_s, settings.ai_feedback_deadline_s)
    return anthropic.Anthropic(
        api_key=settings.anthropic_api_key,
        max_retries=0,
        timeout=httpx2.Timeout(longest_stage_s, connect=min(CONNECT_TIMEOUT_S, longest_stage_s)),
    )


def provider_name(model: str) -> str:
    return f"{ANTHROPIC_PROVIDER_PREFIX}{model}"


def tool_input_schema(answer_type: type) -> dict[str, Any]:
    """Build the JSON schema of a msgspec Struct with every `$ref` inlined, for a tool's `input_schema`."""
    schema = msgspec.json.schema(answer_type)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str):
                return inline(definitions[reference.rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)


class InvalidAnswer(Exception):
    """The model's tool input is not valid JSON or does not fit the stage's schema."""


def decode_tool_input(raw: bytes, decoder: msgspec.json.Decoder[AnswerT]) -> AnswerT:
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as err:
        raise InvalidAnswer(f"tool input rejected: {err}") from err


class ToolRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One stage's request: system prompt, messages and the one tool the model must call."""

    stage: str
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tool: dict[str, Any]


class AttemptFailed(Exception):
    """One call attempt failed; `code` is the job error it would end in."""

    def __init__(self, code: str, detail: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class CallRecord:
    """Token usage and outcome of one attempt, for its log line."""

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.outcome = "ok"


class ToolCallRunner:
    def __init__(self, client: anthropic.Anthropic, guard: AiGuard, *, model: str, max_tokens: int) -> None:
        self._client = client
        self._guard = guard
        self.model = model
        self._max_tokens = max_tokens

    def run(
        self,
        request: ToolRequest,
        decode: Callable[[bytes], AnswerT],
        *,
        call: CallContext,
        deadline_s: float,
        progress: StageProgress,
    ) -> AnswerT:
        """Call the model until `decode` accepts its tool input; raise JobFailure with an `ai_*` code."""
        deadline_at = min(time.monotonic() + deadline_s, call.job_deadline_at)
        attempt = 0
        invalid_answers = 0
        last_code = "ai_timeout"
        while True:
            if deadline_at - time.monotonic() < MIN_ATTEMPT_S:
                raise JobFailure(last_code, detail=f"{request.stage} stage deadline reached after {attempt} attempts")
            try:
                admission = self._guard.admit()
            except CallRejected as err:
                logger.warning(
                    "ai call rejected by the guard job_id=%s stage=%s reason=%s", call.job_id, request.stage, err
                )
                raise JobFailure("ai_unavailable", detail=str(err)) from err

            attempt += 1
            try:
                answer = decode(self._attempt(request, call, attempt, deadline_at, progress))
            except AttemptFailed as failure:
                self._guard.record_failure(admission)
                last_code = failure.code
                self._wait_before_retry(request, call, attempt, failure, deadline_at)
                continue
            except InvalidAnswer as err:
                # The API itself worked, so this counts as a success for the breaker.
                self._guard.record_success(admission)
                invalid_answers += 1
                logger.warning(
                    "ai answer invalid job_id=%s stage=%s attempt=%d error=%s", call.job_id, request.stage, attempt, err
                )
                if invalid_answers > INVALID_ANSWER_RETRIES:
                    raise JobFailure("ai_invalid_answer", detail=str(err)) from err
                continue
            self._guard.record_success(admission)
            return answer

    def _wait_before_retry(
        self, request: ToolRequest, call: CallContext, attempt: int, failure: AttemptFailed, deadline_at: float
    ) -> None:
        """Sleep before the next attempt, or raise JobFailure when no attempt fits before the deadline."""
        delay_s = failure.retry_after_s if failure.retry_after_s is not None else _backoff_s(attempt)
        if not failure.retryable or time.monotonic() + delay_s + MIN_ATTEMPT_S > deadline_at:
            logger.warning(
                "ai call failed job_id=%s stage=%s attempt=%d code=%s retryable=%s error=%s",
                call.job_id, request.stage, attempt, failure.code, failure.retryable, failure,
            )  # fmt: skip
            raise JobFailure(failure.code, detail=str(failure)) from failure
        logger.info(
            "ai call retrying job_id=%s stage=%s attempt=%d delay_ms=%d error=%s",
            call.job_id, request.stage, attempt, round(delay_s * 1000), failure,
        )  # fmt: skip
        time.sleep(delay_s)

    def _attempt(
        self, request: ToolRequest, call: CallContext, attempt: int, deadline_at: float, progress: StageProgress
    ) -> bytes:
        """Stream one answer and return the tool input's JSON text."""
        remaining_s = max(deadline_at - time.monotonic(), 0.1)
        # NOTE: httpx applies the read timeout to each read. A stream that stalls
        # after some output can therefore run past the deadline by up to the time
        # this attempt had already spent. The check after each event catches a
        # stream that keeps trickling.
        timeout = httpx2.Timeout(remaining_s, connect=min(CONNECT_TIMEOUT_S, remaining_s))
        record = CallRecord()
        started_at = time.monotonic()
        try:
            with self._client.messages.stream(
                model=self.model,
                max_tokens=self._max_tokens,
                system=request.system,  # type: ignore[arg-type]
                messages=request.messages,  # type: ignore[arg-type]
                tools=[request.tool],  # type: ignore[list-item]
                tool_choice={"type": "tool", "name": request.tool["name"], "disable_parallel_tool_use": True},
                timeout=timeout,
            ) as stream:
                return self._read(stream, record, deadline_at, progress)
        except anthropic.APITimeoutError as err:
            record.outcome = "timeout"
            raise AttemptFailed("ai_timeout", str(err), retryable=True) from err
        except anthropic.APIConnectionError as err:
            record.outcome = "connection_error"
            raise AttemptFailed("ai_unavailable", str(err), retryable=True) from err
        except anthropic.APIStatusError as err:
            record.outcome = f"http_{err.status_code}"
            raise _status_failure(err) from err
        except ValueError as err:
            # The SDK parses the partial tool JSON as it streams and raises
            # ValueError on text that cannot become JSON.
            record.outcome = "malformed_json"
            raise InvalidAnswer(f"tool input is not JSON: {err}") from err
        except AttemptFailed as failure:
            record.outcome = failure.code
            raise
        finally:
            elapsed_ms = round((time.monotonic() - started_at) * 1000)
            logger.info(
                "ai call job_id=%s stage=%s model=%s attempt=%d outcome=%s "
                "input_tokens=%d output_tokens=%d cache_read_tokens=%d cache_write_tokens=%d elapsed_ms=%d",
                call.job_id, request.stage, self.model, attempt, record.outcome, record.input_tokens,
                record.output_tokens, record.cache_read_tokens, record.cache_write_tokens, elapsed_ms,
            )  # fmt: skip

    def _read(self, stream: Any, record: CallRecord, deadline_at: float, progress: StageProgress) -> bytes:
        parts: list[str] = []
        completed = False
        for event in stream:
            if event.type == "message_start":
                usage = event.message.usage
                record.input_tokens = usage.input_tokens
                record.cache_read_tokens = usage.cache_read_input_tokens or 0
                record.cache_write_tokens = usage.cache_creation_input_tokens or 0
            elif event.type == "content_block_delta":
                delta = event.delta
                if delta.type == "input_json_delta":
                    parts.append(delta.partial_json)
                    progress.add_output(len(delta.partial_json))
                elif delta.type == "text_delta":
                    progress.add_output(len(delta.text))
            elif event.type == "message_delta":
                record.output_tokens = event.usage.output_tokens
            elif event.type == "message_stop":
                completed = True
            if time.monotonic() > deadline_at:
                raise AttemptFailed("ai_timeout", "the stream was still running at the stage deadline", retryable=False)
        if not completed:
            raise AttemptFailed("ai_unavailable", "the stream ended before message_stop", retryable=True)
        return "".join(parts).encode()


def _status_failure(err: anthropic.APIStatusError) -> AttemptFailed:
    status = err.status_code
    error_type = getattr(err, "type", None)
    retryable = (
        status in RETRYABLE_STATUS_CODES
        or status >= 500
        or (status < 400 and error_type in RETRYABLE_ERROR_TYPES)
    )
    return AttemptFailed(
        "ai_unavailable",
        f"HTTP {status} {error_type or ''}".strip(),
        retryable=retryable,
        retry_after_s=_retry_after_s(err.response.headers),
    )


def _retry_after_s(headers: httpx2.Headers) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds form only); None when absent or unreadable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(float(raw) * scale, 0.0)
        except ValueError:
            continue
    return None


def _backoff_s(attempt: int) -> float:
    """Exponential back-off with jitter: 0.25-0.5 s after the first attempt, doubling up to 4-8 s."""
    ceiling_s = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return ceiling_s * random.uniform(0.5, 1.0)
