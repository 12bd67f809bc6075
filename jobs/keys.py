"""Redis key templates owned by this service, with their lifetimes.

RQ owns its own keys (`rq:job:<id>`, `rq:queue:<name>`, the registries); the
job state the phone polls lives in the `meta` field of the RQ job hash, so one
`HGET` answers a poll.
"""

RQ_JOB_KEY = "rq:job:{job_id}"

# Set when a job is created and kept well past the job itself, so an expired job
# answers `job_expired` rather than `job_not_found`.
JOB_TOMBSTONE_KEY = "waste:job-seen:{job_id}"
JOB_TOMBSTONE_TTL_S = 7 * 24 * 3600

# Present once `start` has queued the job; SET NX makes a repeated `start` idempotent.
JOB_STARTED_KEY = "waste:job-started:{job_id}"

# Set by DELETE /jobs/{id}; the worker checks it at every stage boundary.
JOB_CANCEL_KEY = "waste:job-cancel:{job_id}"

# Counters behind `queue_position`: the sequence number handed to each queued
# job and how many queued jobs workers have taken so far.
QUEUE_ENQUEUED_COUNT_KEY = "waste:queue:{queue}:enqueued"
QUEUE_TAKEN_COUNT_KEY = "waste:queue:{queue}:taken"

# Exact-repeat result cache: SHA-256 of the uploaded bytes plus the cache context.
RESULT_CACHE_EXACT_KEY = "waste:cache:exact:{context}:{sha256}"


def job_key(job_id: str) -> str:
    return RQ_JOB_KEY.format(job_id=job_id)


def tombstone_key(job_id: str) -> str:
    return JOB_TOMBSTONE_KEY.format(job_id=job_id)


def started_key(job_id: str) -> str:
    return JOB_STARTED_KEY.format(job_id=job_id)


def cancel_key(job_id: str) -> str:
    return JOB_CANCEL_KEY.format(job_id=job_id)


def enqueued_count_key(queue: str) -> str:
    return QUEUE_ENQUEUED_COUNT_KEY.format(queue=queue)


def taken_count_key(queue: str) -> str:
    return QUEUE_TAKEN_COUNT_KEY.format(queue=queue)


def exact_cache_key(context: str, sha256: str) -> str:
    return RESULT_CACHE_EXACT_KEY.format(context=context, sha256=sha256)

# Collection points: one GEO set per bin type (members are bin ids) and one hash
# from bin id to its record. A reload builds new keys and swaps them in with RENAME.
BINS_GEO_KEY = "waste:bins:geo:{bin_type}"
BINS_INFO_KEY = "waste:bins:info"
BINS_VERSION_KEY = "waste:bins:version"


def bins_geo_key(bin_type: str) -> str:
    return BINS_GEO_KEY.format(bin_type=bin_type)
