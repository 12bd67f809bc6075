"""The feedback stage with Claude: disposal advice grounded in the rules catalogue.

The system prompt carries the catalogue's rules (summary, steps, cautions,
confusions) for the recognised category and for the other categories among
the recognised items, in the job's locale. The model adapts them to the item
and answers by calling `write_disposal_advice` with {summary, steps, cautions}.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec

from jobs.ai_progress import StageProgress
from jobs.catalogue import Catalogue
from jobs.claude import FALLBACK_CODES, ToolCallRunner, ToolRequest, decode_tool_input, provider_name, tool_input_schema
from jobs.documents import Feedback, Locale, WasteAnswer
from jobs.errors import JobFailure
from jobs.feedback import FeedbackProvider
from jobs.vision import CallContext, ProgressCallback

logger = logging.getLogger(__name__)

FEEDBACK_TOOL_NAME = "write_disposal_advice"
# Roughly the length of a Korean answer with four steps and two cautions.
EXPECTED_ANSWER_CHARS = 700
TIME_CONSTANT_S = 8.0
# The recognised category plus at most this many other categories among the items.
MAX_EXTRA_CATEGORIES = 2

_AdviceLine = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class AdviceToolInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Disposal advice for the item in the photo."""

    summary: Annotated[
        str, msgspec.Meta(min_length=1, max_length=600, description="One or two sentences: where the item goes")
    ]
    steps: Annotated[
        list[_AdviceLine],
        msgspec.Meta(min_length=1, max_length=8, description="What to do, in order, one sentence each"),
    ]
    cautions: Annotated[
        list[_AdviceLine], msgspec.Meta(max_length=6, description="Mistakes to avoid for this item, one sentence each")
    ]


FEEDBACK_TOOL: dict[str, Any] = {
    "name": FEEDBACK_TOOL_NAME,
    "description": "Record the disposal advice shown to the user.",
    "input_schema": tool_input_schema(AdviceToolInput),
}
_advice_decoder = msgspec.json.Decoder(AdviceToolInput)

STYLE_BY_LOCALE: dict[Locale, str] = {
    "ko": "Write in Korean, in the polite 해요체 style.",
    "en": "Write in English.",
}
HEADINGS: dict[Locale, dict[str, str]] = {
    "ko": {
        "principles": "분리배출 기본 원칙",
        "summary": "요약",
        "steps": "배출 방법",
        "cautions": "주의할 점",
        "confusions": "헷갈리기 쉬운 것",
    },
    "en": {
        "principles": "Basic separation principles",
        "summary": "Summary",
        "steps": "Steps",
        "cautions": "Cautions",
        "confusions": "Common confusions",
    },
}


def decode_advice(raw: bytes) -> AdviceToolInput:
    return decode_tool_input(raw, _advice_decoder)


def grounding_categories(answer: WasteAnswer) -> list[str]:
    categories: list[str] = [answer.category]
    for item in answer.items:
        if item.category not in categories and len(categories) <= MAX_EXTRA_CATEGORIES:
            categories.append(item.category)
    return categories


def rules_text(catalogue: Catalogue, category: str, locale: Locale) -> str:
    """Format the catalogue's rules for one category, in `locale`, as a block of the system prompt."""
    rules = catalogue.rules(category)
    headings = HEADINGS[locale]
    sections = [f"## {rules.label.text(locale)} ({category})", f"{headings['summary']}: {rules.summary.text(locale)}"]
    for field, entries in (
        ("steps", rules.steps.items(locale)),
        ("cautions", rules.cautions.items(locale)),
        ("confusions", rules.confusions.items(locale)),
    ):
        if entries:
            sections.append(f"{headings[field]}:\n" + "\n".join(f"- {entry}" for entry in entries))
    return "\n".join(sections)


def system_prompt(catalogue: Catalogue, answer: WasteAnswer, locale: Locale) -> str:
    principles = "\n".join(f"- {line}" for line in catalogue.principles.items(locale))
    rules = "\n\n".join(rules_text(catalogue, category, locale) for category in grounding_categories(answer))
    return (
        "You write disposal advice for a phone app that helps people in South Korea sort household waste "
        "under the national separation rules (분리배출). "
        f"{STYLE_BY_LOCALE[locale]} Keep each sentence short enough for a phone screen.\n"
        "The rules below are the app's reference: follow them and never contradict them. "
        "Adapt them to the item in the photo, leave out steps that do not apply, and mention each separately "
        f"sorted part. Answer only by calling the {FEEDBACK_TOOL_NAME} tool.\n\n"
        f"# {HEADINGS[locale]['principles']}\n{principles}\n\n{rules}"
    )


def describe_answer(answer: WasteAnswer) -> str:
    """Format the vision stage's answer as the user message of the feedback request."""
    lines = [f"Recognised category: {answer.category} ({answer.label}), confidence {answer.confidence:.2f}"]
    if answer.items:
        lines.append("Items: " + "; ".join(f"{item.name} ({item.category})" for item in answer.items))
    if answer.material:
        lines.append(f"Material: {answer.material}")
    if answer.needs_rinsing is not None:
        lines.append(f"Needs rinsing: {'yes' if answer.needs_rinsing else 'no'}")
    if answer.needs_disassembly is not None:
        lines.append(f"Needs disassembly: {'yes' if answer.needs_disassembly else 'no'}")
    if answer.reason:
        lines.append(f"Why it was not recognised: {answer.reason}")
    lines.append("Write the disposal advice for this item.")
    return "\n".join(lines)


class ClaudeFeedback:
    """Writes advice with Claude; on an outage answers from `fallback` when one is given."""

    def __init__(
        self, runner: ToolCallRunner, catalogue: Catalogue, *, deadline_s: float, fallback: FeedbackProvider | None
    ) -> None:
        self.name = provider_name(runner.model)
        self._runner = runner
        self._catalogue = catalogue
        self._deadline_s = deadline_s
        self._fallback = fallback

    def advise(self, answer: WasteAnswer, locale: Locale, on_progress: ProgressCallback, call: CallContext) -> Feedback:
        request = ToolRequest(
            stage="feedback",
            system=[{"type": "text", "text": system_prompt(self._catalogue, answer, locale)}],
            messages=[{"role": "user", "content": [{"type": "text", "text": describe_answer(answer)}]}],
            tool=FEEDBACK_TOOL,
        )
        stage_progress = StageProgress(
            on_progress, expected_chars=EXPECTED_ANSWER_CHARS, time_constant_s=TIME_CONSTANT_S
        )
        try:
            with stage_progress as progress:
                advice = self._runner.run(
                    request, decode_advice, call=call, deadline_s=self._deadline_s, progress=progress
                )
        except JobFailure as err:
            if self._fallback is None or err.code not in FALLBACK_CODES:
                raise
            logger.warning(
                "feedback falling back job_id=%s code=%s fallback=%s", call.job_id, err.code, self._fallback.name
            )
            feedback = self._fallback.advise(answer, locale, on_progress, call)
            return msgspec.structs.replace(feedback, provider=f"{feedback.provider} (fallback)")
        return Feedback(summary=advice.summary, steps=advice.steps, cautions=advice.cautions, provider=self.name)
