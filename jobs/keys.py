"""Redis key templates owned by this service, with their lifetimes.

RQ owns its own keys (`rq:job:<id>`, `rq:queue:<name>`, the registries); the
job state the phone polls lives in the `meta` field of the RQ job hash, so one
`HGET` answers a poll.
"""

RQ_JOB_KEY = "rq:job:{job_id}"
# RQ 3's queue list and its started-job registry (a sorted set of executions).
RQ_QUEUE_KEY = "rq:queue:{queue}"
RQ_STARTED_KEY = "rq:wip:{queue}"

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


# The cost guard in front of the AI APIs (jobs/ai_guard.py), shared by all workers.
# Consecutive failed AI calls; a count idle for longer than its TTL starts again at zero.
AI_BREAKER_FAILURES_KEY = "waste:ai:breaker:failures"
AI_BREAKER_FAILURES_TTL_S = 3600
# Present while the breaker is open; it expires after AI_BREAKER_COOLDOWN_SECONDS.
AI_BREAKER_OPEN_KEY = "waste:ai:breaker:open"
# Held by the one trial call allowed once the cool-down has passed. Its TTL is the
# stage deadline, so a worker that dies during the trial does not block the others.
AI_BREAKER_TRIAL_KEY = "waste:ai:breaker:trial"
# AI calls started on one UTC day (`day` is YYYY-MM-DD), checked against AI_DAILY_CALL_BUDGET.
AI_DAILY_CALLS_KEY = "waste:ai:calls:{day}"
AI_DAILY_CALLS_TTL_S = 2 * 24 * 3600


def ai_daily_calls_key(day: str) -> str:
    return AI_DAILY_CALLS_KEY.format(day=day)

# Worker liveness: a sorted set of worker name -> last heartbeat (Unix seconds),
# written by every worker process and read by /ready and the stuck-job checks.
WORKERS_ALIVE_KEY = "waste:workers:alive"
# One reaper at a time across all processes; the lock outlives one reaper pass.
REAPER_LOCK_KEY = "waste:reaper:lock"
REAPER_LOCK_TTL_S = 10

# Precise coordinates of a job, kept apart from the job's data and deleted as
# soon as the bins stage has used them.
JOB_LOCATION_KEY = "waste:job-location:{job_id}"


def location_key(job_id: str) -> str:
    return JOB_LOCATION_KEY.format(job_id=job_id)

# Idempotency-Key records for POST /analyze, kept as long as the job they created.
IDEMPOTENCY_KEY = "waste:idempotency:{key_hash}"
# Job-creation counter per client and fixed one-minute window.
RATE_LIMIT_KEY = "waste:ratelimit:{client}:{window}"
RATE_LIMIT_WINDOW_S = 60


def idempotency_key(key_hash: str) -> str:
    return IDEMPOTENCY_KEY.format(key_hash=key_hash)


def rate_limit_key(client: str, window: int) -> str:
    return RATE_LIMIT_KEY.format(client=client, window=window)


# Near-duplicate result cache (jobs/similarity.py). Each band value of a photo's DCT
# hash has a sorted set. Its members are fingerprints (both hashes, 32 hex digits)
# and its scores are expiry times in Unix seconds. The band value follows the band
# prefix in hex, and `band_count` is in the prefix so that a new banding misses the
# entries filed under the old one. The entry key maps one fingerprint to the caller's
# entry id. `context_id` is a fixed-length digest of the cache context, so one
# context's SCAN pattern never matches another context's keys, and keys stay short.
# The digest sits in braces, a Redis Cluster hash tag, so that one ZUNION over a
# context's keys stays within one slot.
RESULT_CACHE_SIMILAR_BAND_PREFIX = "waste:cache:similar:{{{context_id}}}:bands{band_count}:{band}:"
RESULT_CACHE_SIMILAR_ENTRY_KEY = "waste:cache:similar:{{{context_id}}}:entry:{fingerprint}"
RESULT_CACHE_SIMILAR_CONTEXT_PATTERN = "waste:cache:similar:{{{context_id}}}:*"


def similar_band_prefix(context_id: str, band_count: int, band: int) -> str:
    return RESULT_CACHE_SIMILAR_BAND_PREFIX.format(context_id=context_id, band_count=band_count, band=band)


def similar_entry_key(context_id: str, fingerprint: str) -> str:
    return RESULT_CACHE_SIMILAR_ENTRY_KEY.format(context_id=context_id, fingerprint=fingerprint)


def similar_context_pattern(context_id: str) -> str:
    """Build the SCAN MATCH pattern for every key of one context in the near-duplicate cache."""
    return RESULT_CACHE_SIMILAR_CONTEXT_PATTERN.format(context_id=context_id)


# Metrics shared by every process, so that every API copy serves the same
# /metrics: job outcomes (hash: outcome -> count) and one latency histogram per
# stage (hash: bucket upper bound in ms, or "inf" -> count, plus "sum_ms").
METRICS_OUTCOMES_KEY = "waste:metrics:outcomes"
METRICS_STAGE_KEY = "waste:metrics:stage:{stage}"


def metrics_stage_key(stage: str) -> str:
    return METRICS_STAGE_KEY.format(stage=stage)
