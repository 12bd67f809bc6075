"""The vision stage with Claude: what the photo shows, as one of our waste categories.

The model sees the photo first and the question after it, and must answer by
calling `record_waste_answer`, whose input schema is `VisionToolInput`. The
system prompt lists every category with its Korean name and the usual
confusions from the rules catalogue.
"""

from __future__ import annotations

import base64
import logging
from typing import Annotated, Any

import msgspec

from jobs.ai_progress import StageProgress
from jobs.catalogue import CATEGORIES, Catalogue
from jobs.claude import (
    FALLBACK_CODES,
    InvalidAnswer,
    ToolCallRunner,
    ToolRequest,
    decode_tool_input,
    provider_name,
    tool_input_schema,
)
from jobs.claude_image import image_for_api
from jobs.documents import Locale, WasteAnswer, WasteCategory, WasteItem
from jobs.errors import JobFailure
from jobs.imaging import PreparedPhoto
from jobs.messages import Messages
from jobs.vision import CallContext, ProgressCallback, VisionProvider

logger = logging.getLogger(__name__)

VISION_TOOL_NAME = "record_waste_answer"
# Roughly the length of a tool input with two items; streamed characters
# against it move the bar.
EXPECTED_ANSWER_CHARS = 260
# With this time constant and the stage's 19-point span, time alone moves the
# bar by at least one point a second for about the first 6 s.
TIME_CONSTANT_S = 6.0
LANGUAGE_BY_LOCALE: dict[Locale, str] = {"ko": "Korean", "en": "English"}


class ToolItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[
        str, msgspec.Meta(min_length=1, max_length=100, description="What the item is, in the requested language")
    ]
    category: WasteCategory


class VisionToolInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The item in the photo and how it is sorted."""

    category: Annotated[WasteCategory, msgspec.Meta(description="Category of the main item; unknown when unsure")]
    items: Annotated[
        list[ToolItem],
        msgspec.Meta(max_length=10, description="Each separately sorted part or item, e.g. a bottle and its cap"),
    ]
    material: Annotated[str, msgspec.Meta(max_length=100, description="Main material, e.g. PET, glass")] | None = None
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0, description="How sure the category is, 0 to 1")]
    needs_rinsing: Annotated[bool, msgspec.Meta(description="Food or drink residue must be rinsed off first")]
    needs_disassembly: Annotated[
        bool, msgspec.Meta(description="Parts of another material (cap, label, pump, battery) must come off first")
    ]
    reason: Annotated[
        str,
        msgspec.Meta(max_length=400, description="Required when category is unknown: why, in the requested language"),
    ] | None = None


VISION_TOOL: dict[str, Any] = {
    "name": VISION_TOOL_NAME,
    "description": "Record which waste item the photo shows and how it is sorted under the Korean separation rules.",
    "input_schema": tool_input_schema(VisionToolInput),
}
_vision_decoder = msgspec.json.Decoder(VisionToolInput)


def decode_vision_answer(raw: bytes) -> VisionToolInput:
    """Decode and check the tool input; raise InvalidAnswer when it breaks the schema or its rules."""
    answer = decode_tool_input(raw, _vision_decoder)
    if answer.category == "unknown" and not (answer.reason or "").strip():
        raise InvalidAnswer("tool input rejected: category unknown needs a reason")
    if answer.category != "unknown" and not answer.items:
        raise InvalidAnswer(f"tool input rejected: category {answer.category} needs at least one item")
    return answer


def category_guide(catalogue: Catalogue) -> str:
    """Format one line per category: key, Korean and English label, summary and common confusions."""
    lines = []
    for key in CATEGORIES:
        rules = catalogue.rules(key)
        line = f"- {key} ({rules.label.ko} / {rules.label.en}): {rules.summary.en}"
        confusions = rules.confusions.items("en")
        if confusions:
            line += " Often confused: " + " ".join(confusions)
        lines.append(line)
    return "\n".join(lines)


def system_prompt(catalogue: Catalogue) -> str:
    return (
        "You sort household waste for a phone app under South Korea's separation rules (분리배출). "
        f"Look at the photo and answer only by calling the {VISION_TOOL_NAME} tool.\n\n"
        "Choose `category` for the main item from this list:\n"
        f"{category_guide(catalogue)}\n\n"
        "List in `items` every part that is sorted separately, each with its own category "
        "(for example a PET bottle, its plastic label under vinyl, a metal cap under can_metal). "
        "Set `needs_rinsing` when food or drink residue must be washed off and `needs_disassembly` "
        "when parts of another material must come off first. "
        "Use `unknown` with a `reason` when the photo shows no waste item, is too blurred or dark to tell, "
        "or you cannot decide between categories; never guess a category with low confidence."
    )


class ClaudeVision:
    """Recognises the item with Claude; on an outage answers from `fallback` when one is given."""

    def __init__(
        self,
        runner: ToolCallRunner,
        catalogue: Catalogue,
        messages: Messages,
        *,
        deadline_s: float,
        fallback: VisionProvider | None,
    ) -> None:
        self.name = provider_name(runner.model)
        self._runner = runner
        self._catalogue = catalogue
        self._messages = messages
        self._deadline_s = deadline_s
        self._fallback = fallback
        self._system = [{"type": "text", "text": system_prompt(catalogue), "cache_control": {"type": "ephemeral"}}]

    def recognise(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        request = self._request(photo, locale)
        stage_progress = StageProgress(
            on_progress, expected_chars=EXPECTED_ANSWER_CHARS, time_constant_s=TIME_CONSTANT_S
        )
        try:
            with stage_progress as progress:
                tool_input = self._runner.run(
                    request, decode_vision_answer, call=call, deadline_s=self._deadline_s, progress=progress
                )
        except JobFailure as err:
            if self._fallback is None or err.code not in FALLBACK_CODES:
                raise
            logger.warning(
                "vision falling back job_id=%s code=%s fallback=%s", call.job_id, err.code, self._fallback.name
            )
            return self._fallback_answer(photo, locale, on_progress, call)
        return self._answer(tool_input, locale)

    def _request(self, photo: PreparedPhoto, locale: Locale) -> ToolRequest:
        jpeg = image_for_api(photo)
        language = LANGUAGE_BY_LOCALE[locale]
        question = (
            "What waste item is in this photo, and how is it sorted? "
            f"Write item names, the material and any reason in {language}."
        )
        image_block = {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(jpeg).decode("ascii")},
        }
        # The image comes before the text: Anthropic's vision guide reports better answers in that order.
        return ToolRequest(
            stage="vision",
            system=self._system,
            messages=[{"role": "user", "content": [image_block, {"type": "text", "text": question}]}],
            tool=VISION_TOOL,
        )

    def _answer(self, tool_input: VisionToolInput, locale: Locale) -> WasteAnswer:
        return WasteAnswer(
            category=tool_input.category,
            label=self._catalogue.label(tool_input.category, locale),
            confidence=tool_input.confidence,
            items=[WasteItem(name=item.name, category=item.category) for item in tool_input.items],
            material=tool_input.material,
            needs_rinsing=tool_input.needs_rinsing,
            needs_disassembly=tool_input.needs_disassembly,
            reason=tool_input.reason if tool_input.category == "unknown" else None,
            provider=self.name,
        )

    def _fallback_answer(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        assert self._fallback is not None
        answer = self._fallback.recognise(photo, locale, on_progress, call)
        reason = self._messages.label(locale, "ai_fallback_reason") if answer.category == "unknown" else answer.reason
        return msgspec.structs.replace(answer, provider=f"{answer.provider} (fallback)", reason=reason)
