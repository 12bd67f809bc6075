"""Job statuses and pipeline stages, with the progress each stage reaches."""

from __future__ import annotations

import enum


class JobStatus(str, enum.Enum):
    AWAITING_UPLOAD = "awaiting_upload"  # created; the phone has not called start yet
    QUEUED = "queued"  # in the RQ queue, waiting for a worker
    STARTED = "started"  # a worker runs the pipeline
    FINISHED = "finished"  # result ready
    FAILED = "failed"  # ended with an error code
    CANCELED = "canceled"  # stopped by DELETE

    @property
    def ended(self) -> bool:
        return self in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED)


class Stage(str, enum.Enum):
    UPLOAD = "upload"  # waiting for the photo
    QUEUE = "queue"  # waiting for a worker
    DOWNLOAD = "download"  # fetching the photo from storage
    CACHE = "cache"  # hashing and looking up earlier answers
    PREPROCESS = "preprocess"  # orientation, metadata stripping, resizing
    VISION = "vision"  # recognising the item
    FEEDBACK = "feedback"  # writing the disposal advice
    BINS = "bins"  # finding nearby collection points
    DONE = "done"  # result stored


# Progress (0-100) shown while a stage runs. VISION and FEEDBACK span a range
# that streamed answers move through in about 1 % steps.
STAGE_START_PROGRESS: dict[Stage, int] = {
    Stage.UPLOAD: 0,
    Stage.QUEUE: 0,
    Stage.DOWNLOAD: 10,
    Stage.CACHE: 20,
    Stage.PREPROCESS: 30,
    Stage.VISION: 40,
    Stage.FEEDBACK: 70,
    Stage.BINS: 90,
    Stage.DONE: 100,
}

VISION_PARSED_PROGRESS = 60
VISION_LAST_PROGRESS = 69
FEEDBACK_LAST_PROGRESS = 89

# Stages that show as a ticked step in the status document, in pipeline order.
CHECKLIST: tuple[Stage, ...] = (
    Stage.DOWNLOAD,
    Stage.CACHE,
    Stage.PREPROCESS,
    Stage.VISION,
    Stage.FEEDBACK,
    Stage.BINS,
    Stage.DONE,
)


def completed_steps(current: Stage, finished: bool) -> dict[str, bool]:
    """Map each checklist stage to whether it has completed while `current` runs."""
    if finished:
        return {stage.value: True for stage in CHECKLIST}
    if current not in CHECKLIST:
        return {stage.value: False for stage in CHECKLIST}
    position = CHECKLIST.index(current)
    return {stage.value: index < position for index, stage in enumerate(CHECKLIST)}
