"""The terminal client (`make demo`) run as a subprocess against the real stack."""

from __future__ import annotations

import json
import subprocess
import sys

from scripts.local_services import REPO_ROOT
from scripts.stack import LocalStack
from tests.conftest import HANGUL, PHOTOS

# Not naver/2.jpg: tests/test_job_flow.py expects that photo to miss the shared stack's cache.
PHOTO = PHOTOS / "naver" / "8.jpg"
SEOUL = ["--lat", "37.5665", "--lon", "126.978"]
CHECKLIST = ("download", "cache", "preprocess", "vision", "feedback", "bins")
RUN_TIMEOUT_S = 120


def run_demo(stack: LocalStack, *extra: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--url", stack.api_url(), "--photo", str(PHOTO), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    # Decoded by hand: text mode would turn the bar's carriage returns into newlines.
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode("utf-8"), completed.stderr.decode("utf-8")
    )


def test_demo_client_shows_live_bar_and_result(stack: LocalStack) -> None:
    finished = run_demo(stack, *SEOUL, "--json")
    readable = run_demo(stack, *SEOUL)

    assert readable.returncode == 0, readable.stderr
    bar_lines = [line for line in readable.stderr.split("\r") if line.startswith("[")]
    assert bar_lines, f"no progress bar on stderr: {readable.stderr[:500]!r}"
    assert any("█" in line for line in bar_lines)
    assert "100%" in bar_lines[-1]
    assert all(f"✓{step}" in bar_lines[-1] for step in CHECKLIST)
    assert "nothing answers" not in readable.stderr
    result = json.loads(finished.stdout)["result"]
    assert result["waste"]["label"] in readable.stdout
    assert result["feedback"]["summary"] in readable.stdout
    assert f"confidence {result['waste']['confidence']:.2f}" in readable.stdout
    assert HANGUL.search(readable.stdout)


def test_demo_client_json_prints_finished_document(stack: LocalStack) -> None:
    completed = run_demo(stack, *SEOUL, "--json", "--locale", "en")

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["status"] == "finished"
    assert document["progress"] == 100
    assert all(document["steps"].values())
    assert document["result"]["waste"]["category"]
    assert document["result"]["feedback"]["steps"]
    assert not HANGUL.search(document["message"])
