"""Fuzzing: schema-driven requests (schemathesis) and mutated real photos.

Neither may produce a 500 or stop the worker. The numbers of cases run are
written to test-output/fuzz-cases.txt.
"""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import output_dir, photo_bytes

CASES: Counter[str] = Counter()
MUTATIONS = 60
ALLOWED_FAILURE_CODES = {"unsupported_image", "image_unreadable", "image_too_large"}


def test_api_never_answers_500(stack: LocalStack) -> None:
    # Schemathesis's pytest plugin does not load under pytest 9 here, so the
    # operations are driven directly through their Hypothesis strategies.
    schema = schemathesis.openapi.from_url(f"{stack.api_url()}/openapi.json")
    failures: list[str] = []
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call_operation(case: schemathesis.Case) -> None:
            response = case.call(base_url=stack.api_url(), timeout=15)
            CASES["schema"] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        call_operation()

    assert operations >= 6
    assert failures == []


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "truncate", "splice", "zero-run", "header"])
    buffer = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 50)):
            position = rng.randrange(len(buffer))
            buffer[position] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del buffer[rng.randint(4, len(buffer) - 1) :]
    elif kind == "splice":
        start = rng.randrange(len(buffer))
        buffer[start:start] = buffer[rng.randrange(len(buffer)) :][: rng.randint(1, 4096)]
    elif kind == "zero-run":
        start = rng.randrange(len(buffer))
        buffer[start : start + rng.randint(1, 2048)] = b"\0" * min(2048, len(buffer) - start)
    else:
        for position in rng.sample(range(4, min(len(buffer), 600)), 8):
            buffer[position] = rng.randrange(256)
    return bytes(buffer)


def test_mutated_photos_end_cleanly(stack: LocalStack, api: httpx.Client) -> None:
    rng = random.Random(1204)
    sources = [photo_bytes(name) for name in ("naver/2.jpg", "naver/8.jpg", "formats/can.heic", "formats/can.avif")]
    phone = PhoneClient(api)
    outcomes: Counter[str] = Counter()

    for _ in range(MUTATIONS):
        data = mutate(rng.choice(sources), rng)
        response = phone.analyze_image(data, content_type="image/jpeg")
        CASES["mutated-photo"] += 1
        if response.status_code == 415:
            outcomes["refused"] += 1
            continue
        assert response.status_code == 202, response.text[:300]
        final = phone.poll(response.json()["status_url"], interval_s=0.1, timeout_s=30)[-1]
        if final["status"] == "finished":
            outcomes["finished"] += 1
        else:
            assert final["status"] == "failed"
            assert final["error"]["code"] in ALLOWED_FAILURE_CODES, final["error"]
            outcomes[final["error"]["code"]] += 1

    assert all(worker.running() for worker in stack.workers)
    assert api.get("/ready").status_code == 200
    assert sum(outcomes.values()) == MUTATIONS
    CASES.update({f"mutated-photo:{key}": value for key, value in outcomes.items()})


def test_zz_record_fuzz_case_counts() -> None:
    lines = [f"{name}\t{count}" for name, count in sorted(CASES.items())]
    (output_dir() / "fuzz-cases.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\nfuzz cases: " + ", ".join(lines))
    assert CASES["schema"] > 0
