"""Terminal client: the phone's flow once, with a live progress bar.

    python -m scripts.demo --photo PHOTO [--lat 37.5665 --lon 126.978] [--locale en] [--json]

It talks to a running stack at --url; when nothing answers there it starts a
local stack of its own for the run and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from scripts.local_services import REPO_ROOT
from scripts.phone import FlowError, PhoneClient
from scripts.stack import LocalStack

DEFAULT_PHOTO = REPO_ROOT / "data" / "demo" / "glass-bottle.jpg"
CHECKLIST = ("download", "cache", "preprocess", "vision", "feedback", "bins")
BAR_WIDTH = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send one photo through the whole job flow and show its progress.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="API base URL (default: %(default)s)")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="photo to send (default: a bundled photo)")
    parser.add_argument("--lat", type=float, help="latitude of the user, for nearby collection points")
    parser.add_argument("--lon", type=float, help="longitude of the user")
    parser.add_argument("--locale", choices=("ko", "en"), default="ko", help="language of messages (default: ko)")
    parser.add_argument("--json", action="store_true", help="print the raw final status document")
    return parser.parse_args(argv)


def render_progress(document: dict[str, Any], stream: Any = sys.stderr) -> None:
    progress = int(document.get("progress", 0))
    filled = BAR_WIDTH * progress // 100
    bar = "█" * filled + "░" * (BAR_WIDTH - filled)
    steps = document.get("steps") or {}
    ticks = " ".join(("✓" if steps.get(step) else "·") + step for step in CHECKLIST)
    line = f"\r[{bar}] {progress:3d}%  {ticks}  {document.get('message', '')}"
    stream.write(line[:200].ljust(120))
    stream.flush()


def render_result(document: dict[str, Any]) -> str:
    if document["status"] != "finished":
        error = document.get("error") or {}
        return f"{document['status']}: {error.get('code', '-')}: {error.get('message', '')}"
    result = document["result"]
    waste, feedback = result["waste"], result["feedback"]
    lines = [
        f"{waste['label']} ({waste['category']}), confidence {waste['confidence']:.2f}  [{waste['provider']}]",
        "",
        feedback["summary"],
        "",
        *(f"  {number}. {step}" for number, step in enumerate(feedback["steps"], 1)),
    ]
    if feedback["cautions"]:
        lines += ["", *(f"  ! {caution}" for caution in feedback["cautions"])]
    lines.append("")
    if result["bins"]:
        for item in result["bins"]:
            lines.append(f"  {item['distance_m']:5d} m  {item['name']} — {item['address']}")
            lines.append(f"           출처: {item['source']}, 기준일 {item['reference_date']}")
    if result.get("bins_note"):
        lines.append(f"  {result['bins_note']}")
    cache = result["cache"]
    lines.append(f"\ncache: {'hit (' + str(cache.get('match')) + ')' if cache['hit'] else 'miss'}; timings ms: {result['timings_ms']}")
    return "\n".join(lines)


def api_is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def run(args: argparse.Namespace) -> int:
    if not args.photo.is_file():
        print(f"photo not found: {args.photo}", file=sys.stderr)
        return 2
    data = args.photo.read_bytes()
    content_type = mimetypes.guess_type(args.photo.name)[0] or "application/octet-stream"

    stack = None
    url = args.url
    if not api_is_up(url):
        print(f"nothing answers at {url}; starting a local stack for this run...", file=sys.stderr)
        log_dir = Path(tempfile.mkdtemp(prefix="waste-demo-"))
        stack = LocalStack(log_dir)
        stack.start_infrastructure()
        stack.start_api()
        # The on-device classifier, as `make run` uses without an API key. The
        # test stacks' default, the offline rules, would return `unknown`.
        stack.start_worker(AI_PROVIDER="local")
        url = stack.api_url()
    try:
        with httpx.Client(base_url=url, timeout=15.0) as client:
            documents = PhoneClient(client).run(
                data, lat=args.lat, lon=args.lon, locale=args.locale, content_type=content_type,
                on_status=None if args.json else render_progress,
            )  # fmt: skip
    except FlowError as err:
        print(f"\n{err}", file=sys.stderr)
        if stack is not None:
            print(f"the local stack's logs are in {stack.log_dir}", file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            stack.stop()
    if stack is not None:
        shutil.rmtree(stack.log_dir, ignore_errors=True)

    final = documents[-1]
    if args.json:
        print(json.dumps(final, ensure_ascii=False, indent=2))
    else:
        print("\n\n" + render_result(final))
    return 0 if final["status"] == "finished" else 1


def main() -> None:
    raise SystemExit(run(parse_args()))


if __name__ == "__main__":
    main()
