"""The vision stage on the worker's CPU: the on-device classifier as a provider.

Used when no API key is set (AI_PROVIDER=local) and as Claude's fallback. The
classifier knows six TrashNet classes mapped to our categories; below its
confidence threshold it answers `unknown` with a reason rather than guess.
"""

from __future__ import annotations

from jobs.catalogue import Catalogue
from jobs.classifier import UNKNOWN_CATEGORY, LocalClassifier
from jobs.documents import Locale, WasteAnswer, WasteItem
from jobs.imaging import PreparedPhoto
from jobs.messages import Messages
from jobs.vision import CallContext, ProgressCallback


class LocalVision:
    def __init__(self, classifier: LocalClassifier, catalogue: Catalogue, messages: Messages) -> None:
        self._classifier = classifier
        self._catalogue = catalogue
        self._messages = messages
        self.name = f"local:{classifier.model_name}"

    def recognise(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        classification = self._classifier.classify(photo.image)
        on_progress(1.0)
        category = classification.category
        label = self._catalogue.label(category, locale)
        if category == UNKNOWN_CATEGORY:
            return WasteAnswer(
                category="unknown",
                label=label,
                confidence=round(classification.confidence, 3),
                reason=self._messages.label(locale, "local_uncertain_reason"),
                provider=self.name,
            )
        return WasteAnswer(
            category=category,  # type: ignore[arg-type]
            label=label,
            confidence=round(classification.confidence, 3),
            items=[WasteItem(name=label, category=category)],  # type: ignore[arg-type]
            provider=self.name,
        )
