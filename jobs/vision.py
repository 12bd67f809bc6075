"""The vision stage's providers: what is in the photo."""

from __future__ import annotations

from typing import Protocol

import msgspec

from jobs.catalogue import Catalogue
from jobs.documents import Locale, WasteAnswer
from jobs.imaging import PreparedPhoto
from jobs.messages import Messages

OFFLINE_PROVIDER = "offline:rules"


class ProgressCallback(Protocol):
    def __call__(self, fraction: float) -> None:
        """Report how far the stage has come, from 0.0 to 1.0."""


class CallContext(msgspec.Struct, frozen=True, kw_only=True):
    """The job a provider call serves, for its logs and deadlines."""

    job_id: str
    # time.monotonic() value at which the job's deadline (JOB_DEADLINE_SECONDS) passes.
    job_deadline_at: float


class VisionProvider(Protocol):
    name: str

    def recognise(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        """Recognise the waste item in `photo`; raise JobFailure with an `ai_*` code on failure."""


class OfflineVision:
    """Recognises nothing: the honest answer when no model runs on this machine."""

    name = OFFLINE_PROVIDER

    def __init__(self, catalogue: Catalogue, messages: Messages) -> None:
        self._catalogue = catalogue
        self._messages = messages

    def recognise(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        on_progress(1.0)
        return WasteAnswer(
            category="unknown",
            label=self._catalogue.label("unknown", locale),
            confidence=0.0,
            reason=self._messages.label(locale, "offline_vision_reason"),
            provider=self.name,
        )
