"""The /demo page in headless Chromium against the real stack.

Playwright drives Debian's `chromium` package (CHROMIUM_PATH overrides
/usr/bin/chromium). Where the browser is missing, the tests are skipped with a
warning and a line on stderr, never silently.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from jobs.catalogue import Catalogue
from jobs.messages import Messages
from scripts.stack import LocalStack
from tests.conftest import HANGUL, PHOTOS

try:
    from playwright.sync_api import Page, Playwright, expect, sync_playwright
except ImportError:  # reported as a loud skip by the `playwright_driver` fixture
    sync_playwright = None

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The network is closed: these keep Chromium from trying to reach Google's services.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_VIEWPORT = {"width": 360, "height": 780}
PHOTO = PHOTOS / "naver" / "2.jpg"
# The shared stack gets another photo: tests/test_job_flow.py expects naver/2.jpg to miss its cache.
SHARED_STACK_PHOTO = PHOTOS / "naver" / "8.jpg"
SEOUL_CITY_HALL = {"latitude": 37.5665, "longitude": 126.978}
GANGNAM_STATION = {"latitude": 37.4979, "longitude": 127.0276}
CHECKLIST = ["download", "cache", "preprocess", "vision", "feedback", "bins"]
PIPELINE = ["upload", "queue", *CHECKLIST, "done"]
SLOW_WORKER_ENV = {"AI_PROVIDER": "simulated", "SIMULATED_VISION_SECONDS": "1.5", "SIMULATED_FEEDBACK_SECONDS": "1.5"}
JOB_TIMEOUT_MS = 60_000
CATALOGUE = Catalogue.load()
MESSAGES = Messages.load()

# Records what the page shows after every DOM change, so a stage that lasts one
# poll is seen even when the test's own calls are slower than the page.
RECORDER = """
window.__demoLog = [];
document.addEventListener("DOMContentLoaded", () => {
  const byId = (id) => document.getElementById(id);
  const snapshot = () => ({
    stage: byId("progress-bar").dataset.stage || null,
    percent: Number(byId("progress-bar").getAttribute("aria-valuenow")),
    message: byId("progress-message").textContent,
    announced: byId("announcer").textContent,
    done: [...document.querySelectorAll("#checklist li[data-state=done]")].map((item) => item.dataset.stage),
  });
  new MutationObserver(() => window.__demoLog.push(snapshot())).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
});
"""


def skip_loudly(reason: str) -> None:
    warnings.warn(f"browser tests skipped: {reason}", stacklevel=2)
    sys.__stderr__.write(f"\n*** browser tests skipped: {reason}\n")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        skip_loudly(f"{CHROMIUM} not found; install it with `apt-get install chromium` or set CHROMIUM_PATH")
    if sync_playwright is None:
        skip_loudly("the playwright package is missing; install it with `make install`")
    with sync_playwright() as playwright:
        yield playwright


@contextmanager
def demo_page(
    playwright: Playwright, profile_dir: Path, base_url: str, geolocation: dict[str, float] | None = None
) -> Iterator[tuple[Page, list[str]]]:
    """Open /demo at phone width in a fresh profile; yields the page and the URLs it tried on other hosts."""
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport=PHONE_VIEWPORT,
        locale="ko-KR",
        geolocation=geolocation,
        permissions=["geolocation"] if geolocation else [],
    )
    external: list[str] = []

    def keep_local(route: Any) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", keep_local)
        context.add_init_script(RECORDER)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{base_url}/demo")
        yield page, external
    finally:
        context.close()


def deduplicated(values: list[Any]) -> list[Any]:
    """Drop consecutive repeats: [a, a, b, a] becomes [a, b, a]."""
    return [value for index, value in enumerate(values) if index == 0 or value != values[index - 1]]


def label_key(label: str, locale: str) -> str:
    matches = [key for key in CATALOGUE.categories if CATALOGUE.label(key, locale) == label]
    assert matches, f"{label!r} is no category label in {locale}"
    return matches[0]


def use_location(page: Page) -> None:
    page.click("#location-button")
    expect(page.locator("#location-status")).to_contain_text(" m")


def test_demo_shows_stages_result_and_english(
    playwright_driver: Playwright, fresh_stack: LocalStack, tmp_path: Path, test_output: Path
) -> None:
    # The offline provider ends a job within one poll; the simulated one takes seconds, like a real AI.
    fresh_stack.load_bins()
    fresh_stack.start_api()
    fresh_stack.start_worker(**SLOW_WORKER_ENV)

    with demo_page(playwright_driver, tmp_path / "profile", fresh_stack.api_url(), GANGNAM_STATION) as (page, external):
        use_location(page)
        page.set_input_files("#photo-input", str(PHOTO))
        expect(page.locator("#result-panel")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        log = page.evaluate("window.__demoLog")
        korean_label = page.locator("#result-label").inner_text()
        page.screenshot(path=str(test_output / "demo-result-ko.png"), full_page=True)
        page_width = page.evaluate("document.documentElement.scrollWidth")
        bins = page.locator("#result-bins li.bin")
        bin_count = bins.count()
        first_bin = bins.first.inner_text() if bin_count else ""
        map_link = bins.first.locator("a").first.get_attribute("href") if bin_count else ""
        pick_hidden = page.locator("#pick-panel").is_hidden()

        page.click("#language-toggle")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        english_label = page.locator("#result-label").inner_text()
        english_steps_heading = page.locator("#result-panel h3").first.inner_text()
        toggle_text = page.locator("#language-toggle").inner_text()
        page.screenshot(path=str(test_output / "demo-result-en.png"), full_page=True)

    stages = deduplicated([entry["stage"] for entry in log if entry["stage"]])
    pipeline_stages = [stage for stage in stages if stage in CHECKLIST or stage == "done"]
    ticks = deduplicated([entry["done"] for entry in log if entry["stage"]])
    percents = [entry["percent"] for entry in log if entry["stage"]]
    announcements = deduplicated([entry["announced"] for entry in log if entry["announced"]])
    assert len(pipeline_stages) >= 3, f"stages seen: {stages}"
    assert [PIPELINE.index(stage) for stage in stages] == sorted(PIPELINE.index(stage) for stage in stages)
    assert len(ticks) >= 3, f"checklist states seen: {ticks}"
    assert all(done == CHECKLIST[: len(done)] for done in ticks), f"ticks out of order: {ticks}"
    assert ticks[-1] == CHECKLIST
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert len(announcements) == len(stages), f"announced {announcements} for stages {stages}"
    assert len(announcements) < len(set(percents))
    assert HANGUL.search(korean_label)
    category = label_key(korean_label, "ko")
    assert english_label == CATALOGUE.label(category, "en")
    assert english_steps_heading == "How to dispose of it"
    assert toggle_text == "한국어"
    assert pick_hidden
    assert bin_count >= 1
    assert "출처" in first_bin
    assert "기준일" in first_bin
    assert map_link.startswith("https://map.kakao.com/?q=")
    assert page_width <= PHONE_VIEWPORT["width"]
    assert external == []


def test_demo_rejects_non_image_file(playwright_driver: Playwright, stack: LocalStack, tmp_path: Path) -> None:
    expected = MESSAGES.error("ko", "unsupported_image")

    with demo_page(playwright_driver, tmp_path / "profile", stack.api_url()) as (page, external):
        analyze_answers: list[int] = []
        page.on(
            "response", lambda response: analyze_answers.append(response.status) if "/waste/analyze" in response.url else None
        )
        page.set_input_files("#photo-input", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
        expect(page.locator("#error-panel")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        first_message = page.locator("#error-message").inner_text()
        retry_visible = page.locator("#retry-button").is_visible()
        retry_text = page.locator("#retry-button").inner_text()

        with page.expect_response(lambda response: "/waste/analyze" in response.url):
            page.click("#retry-button")
        expect(page.locator("#error-panel")).to_be_visible()
        expect(page.locator("#error-message")).to_have_text(expected)

        page.click("#again-button")
        start_visible = page.locator("#start-panel").is_visible()

    assert first_message == expected
    assert retry_visible
    assert retry_text == "다시 시도"
    assert analyze_answers == [415, 415]
    assert start_visible
    assert external == []


def test_unknown_answer_lets_user_pick_category(
    playwright_driver: Playwright, stack: LocalStack, tmp_path: Path, test_output: Path
) -> None:
    with demo_page(playwright_driver, tmp_path / "profile", stack.api_url(), SEOUL_CITY_HALL) as (page, external):
        use_location(page)
        page.set_input_files("#photo-input", str(SHARED_STACK_PHOTO))
        expect(page.locator("#result-panel")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        unknown_label = page.locator("#result-label").inner_text()
        pick_visible = page.locator("#pick-panel").is_visible()

        page.get_by_role("button", name="의류", exact=True).click()
        expect(page.locator("#result-label")).to_have_text("의류")
        confidence = page.locator("#result-confidence").inner_text()
        summary = page.locator("#result-summary").inner_text()
        bins = page.locator("#result-bins li.bin")
        bin_texts = bins.all_inner_texts()
        pressed = page.locator("button[data-category=clothing]").get_attribute("aria-pressed")
        page.screenshot(path=str(test_output / "demo-pick-clothing.png"), full_page=True)

        page.click("#language-toggle")
        expect(page.locator("#result-label")).to_have_text(CATALOGUE.label("clothing", "en"))
        expect(page.locator("#result-summary")).to_have_text(CATALOGUE.rules("clothing").summary.en)

    assert unknown_label == CATALOGUE.label("unknown", "ko")
    assert pick_visible
    assert confidence == "직접 고른 분류"
    assert summary == CATALOGUE.rules("clothing").summary.ko
    assert pressed == "true"
    assert bin_texts
    assert all("출처" in text and " m" in text for text in bin_texts)
    assert external == []
