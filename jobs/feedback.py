"""The feedback stage's providers: disposal advice for what was recognised."""

from __future__ import annotations

from typing import Protocol

from jobs.catalogue import Catalogue
from jobs.documents import Feedback, Locale, WasteAnswer
from jobs.messages import Messages
from jobs.vision import OFFLINE_PROVIDER, CallContext, ProgressCallback


class FeedbackProvider(Protocol):
    name: str

    def advise(self, answer: WasteAnswer, locale: Locale, on_progress: ProgressCallback, call: CallContext) -> Feedback:
        """Write advice for `answer` in `locale`; raise JobFailure with an `ai_*` code on failure."""


def catalogue_feedback(catalogue: Catalogue, messages: Messages, category: str, locale: Locale, provider: str) -> Feedback:
    """Advice taken straight from the rules catalogue, marked as offline."""
    rules = catalogue.rules(category)
    cautions = rules.cautions.items(locale) + rules.confusions.items(locale)
    cautions.append(messages.label(locale, "offline_notice"))
    return Feedback(
        summary=rules.summary.text(locale),
        steps=rules.steps.items(locale),
        cautions=cautions,
        provider=provider,
    )


class OfflineFeedback:
    name = OFFLINE_PROVIDER

    def __init__(self, catalogue: Catalogue, messages: Messages) -> None:
        self._catalogue = catalogue
        self._messages = messages

    def advise(self, answer: WasteAnswer, locale: Locale, on_progress: ProgressCallback, call: CallContext) -> Feedback:
        on_progress(1.0)
        return catalogue_feedback(self._catalogue, self._messages, answer.category, locale, self.name)
