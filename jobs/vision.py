"""The vision stage's providers: what is in the photo."""

from __future__ import annotations

from typing import Protocol

from jobs.catalogue import Catalogue
from jobs.documents import Locale, WasteAnswer
from jobs.imaging import PreparedPhoto
from jobs.messages import Messages

OFFLINE_PROVIDER = "offline:rules"


class ProgressCallback(Protocol):
    def __call__(self, fraction: float) -> None:
        """Report how far the stage has come, from 0.0 to 1.0."""


class VisionProvider(Protocol):
    name: str

    def recognise(self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback) -> WasteAnswer:
        """Recognise the waste item in `photo`; raise JobFailure with an `ai_*` code on failure."""


class OfflineVision:
    """Recognises nothing: the honest answer when no model runs on this machine."""

    name = OFFLINE_PROVIDER

    def __init__(self, catalogue: Catalogue, messages: Messages) -> None:
        self._catalogue = catalogue
        self._messages = messages

    def recognise(self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback) -> WasteAnswer:
        on_progress(1.0)
        return WasteAnswer(
            category="unknown",
            label=self._catalogue.label("unknown", locale),
            confidence=0.0,
            reason=self._messages.label(locale, "offline_vision_reason"),
            provider=self.name,
        )
