"""A local stand-in for the Anthropic Messages API, for tests.

`FakeAnthropic` serves `POST /v1/messages` on 127.0.0.1 from a thread, in both
the plain JSON form and the streaming (SSE) form. It checks every request: the
credentials, a forced tool with a schema, the image, its place before the text,
its base64 size, and text expected in the system prompt. It records each request
with the results of those checks, so tests can assert on what the worker sent.

Each test scripts the replies per tool name: a tool input (streamed in
pieces, optionally slowly), malformed JSON, an HTTP error such as 429 with
`retry-after` or 529, a stall, or a connection dropped mid-stream. With no
script left for a tool, its default reply answers.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image

API_MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
ReplyKind = Literal["answer", "error", "stall", "drop"]


@dataclass(frozen=True)
class Reply:
    """One scripted reply; build it with `answer`, `raw_answer`, `error`, `stall` or `dropped`."""

    kind: ReplyKind
    tool_json: str = ""
    chunks: int = 4
    delay_s: float = 0.0
    think_s: float = 0.0
    status: int = 200
    error_type: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    stall_s: float = 0.0
    drop_after_deltas: int = 1


def answer(tool_input: dict[str, Any], *, chunks: int = 4, delay_s: float = 0.0, think_s: float = 0.0) -> Reply:
    """The tool input as JSON, streamed in `chunks` deltas with `delay_s` before each.

    `think_s` is a pause after `message_start` before the first content, like a
    model's time to first token.
    """
    tool_json = json.dumps(tool_input, ensure_ascii=False)
    return Reply("answer", tool_json=tool_json, chunks=chunks, delay_s=delay_s, think_s=think_s)


def raw_answer(json_text: str, *, chunks: int = 4) -> Reply:
    """Tool input text sent as it is, valid JSON or not."""
    return Reply("answer", tool_json=json_text, chunks=chunks)


def error(status: int, error_type: str, *, retry_after_s: int | None = None) -> Reply:
    headers = (("retry-after", str(retry_after_s)),) if retry_after_s is not None else ()
    return Reply("error", status=status, error_type=error_type, headers=headers)


def overloaded() -> Reply:
    return error(529, "overloaded_error")


def stall(seconds: float) -> Reply:
    """Send the headers and `message_start`, then nothing for `seconds`, then close."""
    return Reply("stall", stall_s=seconds)


def dropped(after_deltas: int = 1) -> Reply:
    """Start a tool answer and close the connection after `after_deltas` deltas, mid-stream."""
    return Reply("drop", tool_json=json.dumps(GOOD_VISION), drop_after_deltas=after_deltas)


GOOD_VISION: dict[str, Any] = {
    "category": "pet_bottle",
    "items": [
        {"name": "생수 페트병", "category": "pet_bottle"},
        {"name": "비닐 라벨", "category": "vinyl"},
    ],
    "material": "PET",
    "confidence": 0.93,
    "needs_rinsing": True,
    "needs_disassembly": True,
}
GOOD_FEEDBACK_KO: dict[str, Any] = {
    "summary": "투명 생수병은 라벨을 떼고 납작하게 눌러 투명 페트병 수거함에 내놓아요.",
    "steps": [
        "남은 물을 비우고 가볍게 헹궈요.",
        "비닐 라벨을 벗겨 비닐류로 따로 내놓아요.",
        "병을 납작하게 누르고 뚜껑을 닫아요.",
        "투명 페트병 전용 수거함에 넣어요.",
    ],
    "cautions": ["색깔 있는 페트병은 플라스틱으로 내놓아요."],
}
GOOD_FEEDBACK_EN: dict[str, Any] = {
    "summary": "Peel off the label, press the clear water bottle flat and put it in the clear-PET bin.",
    "steps": ["Empty and rinse the bottle.", "Peel off the plastic label.", "Press it flat and close the cap."],
    "cautions": ["Coloured PET bottles go with plastics."],
}


@dataclass
class RecordedRequest:
    """One request the fake received, with the results of its checks."""

    at: float
    tool: str
    stream: bool
    model: str
    system: str
    user_text: str
    image_base64_bytes: int
    reply: ReplyKind
    checks: dict[str, bool] = field(default_factory=dict)

    def failed_checks(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]


class FakeAnthropic:
    def __init__(self, api_key: str = "test-key", vision_tool: str = "", feedback_tool: str = "") -> None:
        self.api_key = api_key
        self.vision_tool = vision_tool
        self.feedback_tool = feedback_tool
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._expected_in_system: dict[str, list[str]] = {}
        self._requests: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------

    def start(self) -> FakeAnthropic:
        handler = type("BoundHandler", (_MessagesHandler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- scripting -----------------------------------------------------

    def reset(self) -> None:
        """Forget scripts, defaults, expectations and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self._expected_in_system.clear()
            self._requests.clear()

    def script(self, tool: str, *replies: Reply) -> None:
        """Queue replies for requests that force `tool`, used in order."""
        with self._lock:
            self._scripts.setdefault(tool, deque()).extend(replies)

    def set_default(self, tool: str, reply: Reply) -> None:
        """Answer `tool` requests with `reply` once its script is used up."""
        with self._lock:
            self._defaults[tool] = reply

    def expect_in_system(self, tool: str, *texts: str) -> None:
        """Check that the system prompt of every `tool` request contains each of `texts`."""
        with self._lock:
            self._expected_in_system.setdefault(tool, []).extend(texts)

    def requests(self, tool: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self._requests if tool is None or request.tool == tool]

    # --- used by the handler -------------------------------------------

    def _next_reply(self, tool: str) -> Reply:
        with self._lock:
            queued = self._scripts.get(tool)
            if queued:
                return queued.popleft()
            if tool in self._defaults:
                return self._defaults[tool]
        if tool == self.feedback_tool:
            return answer(GOOD_FEEDBACK_KO)
        return answer(GOOD_VISION)

    def _expected_texts(self, tool: str) -> list[str]:
        with self._lock:
            return list(self._expected_in_system.get(tool, []))

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _MessagesHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAnthropic

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        pass

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self.path.split("?")[0] != "/v1/messages":
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
            return
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        tool = _forced_tool(body)
        reply = self.fake._next_reply(tool)
        self.fake._record(self._inspect(body, tool, reply))

        if reply.kind == "error":
            self._send_error_reply(reply)
        elif not body.get("stream"):
            self._send_message(body, tool, reply)
        else:
            self._stream(body, tool, reply)

    # --- checks --------------------------------------------------------

    def _inspect(self, body: dict[str, Any], tool: str, reply: Reply) -> RecordedRequest:
        system = _system_text(body.get("system"))
        content = _user_content(body)
        texts = [block.get("text", "") for block in content if block.get("type") == "text"]
        images = [block for block in content if block.get("type") == "image"]
        image_data = images[0].get("source", {}).get("data", "") if images else ""
        tools = {entry.get("name"): entry for entry in body.get("tools", [])}
        schema = tools.get(tool, {}).get("input_schema", {})
        authorization = self.headers.get("authorization", "")
        checks = {
            "authenticated": self.headers.get("x-api-key") == self.fake.api_key
            or authorization == f"Bearer {self.fake.api_key}",
            "versioned": bool(self.headers.get("anthropic-version")),
            "max_tokens_set": isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0,
            "tool_forced": body.get("tool_choice", {}).get("type") == "tool" and bool(tool),
            "tool_schema": schema.get("type") == "object" and bool(schema.get("properties")),
        }
        if tool == self.fake.vision_tool:
            checks["image_present"] = len(images) == 1
            checks["image_before_text"] = bool(content) and content[0].get("type") == "image" and bool(texts)
            checks["image_within_limit"] = 0 < len(image_data) <= API_MAX_IMAGE_BASE64_BYTES
            checks["image_is_jpeg"] = _is_jpeg(images[0] if images else {})
        expected = self.fake._expected_texts(tool)
        if expected:
            checks["system_contains_expected"] = all(text in system for text in expected)
        return RecordedRequest(
            at=time.monotonic(),
            tool=tool,
            stream=bool(body.get("stream")),
            model=str(body.get("model", "")),
            system=system,
            user_text="\n".join(texts),
            image_base64_bytes=len(image_data),
            reply=reply.kind,
            checks=checks,
        )

    # --- replies -------------------------------------------------------

    def _send_json(self, status: int, payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_fake")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error_reply(self, reply: Reply) -> None:
        payload = {
            "type": "error",
            "error": {"type": reply.error_type, "message": f"fake {reply.error_type}"},
            "request_id": "req_fake",
        }
        self._send_json(reply.status, payload, reply.headers)

    def _send_message(self, body: dict[str, Any], tool: str, reply: Reply) -> None:
        try:
            tool_input = json.loads(reply.tool_json)
        except json.JSONDecodeError:
            tool_input = {}
        message = _message(body, content=[{"type": "tool_use", "id": "toolu_fake", "name": tool, "input": tool_input}])
        message["stop_reason"] = "tool_use"
        message["usage"]["output_tokens"] = _output_tokens(reply.tool_json)
        self._send_json(200, message)

    def _stream(self, body: dict[str, Any], tool: str, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", "req_fake")
        self.end_headers()
        try:
            self._event("message_start", {"type": "message_start", "message": _message(body, content=[])})
            self._event("ping", {"type": "ping"})
            if reply.kind == "stall":
                self.fake._closing.wait(reply.stall_s)
                self._drop_connection()
                return
            if reply.think_s and self.fake._closing.wait(reply.think_s):
                self.close_connection = True
                return
            self._event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": "toolu_fake", "name": tool, "input": {}},
                },
            )
            for index, piece in enumerate(_pieces(reply.tool_json, reply.chunks)):
                if reply.kind == "drop" and index >= reply.drop_after_deltas:
                    self._drop_connection()
                    return
                if reply.delay_s and self.fake._closing.wait(reply.delay_s):
                    self.close_connection = True
                    return
                delta = {"type": "input_json_delta", "partial_json": piece}
                self._event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": _output_tokens(reply.tool_json)},
                },
            )
            self._event("message_stop", {"type": "message_stop"})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout passed); nothing is left to send.
            self.close_connection = True

    def _event(self, name: str, payload: dict[str, Any]) -> None:
        data = f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _drop_connection(self) -> None:
        """Close the socket without the final chunk, as a dropped connection looks to the client."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _forced_tool(body: dict[str, Any]) -> str:
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return str(choice.get("name", ""))
    tools = body.get("tools") or []
    return str(tools[0].get("name", "")) if tools else ""


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(block.get("text", "") for block in system if isinstance(block, dict))
    return ""


def _user_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages") or []
    if not messages:
        return []
    content = messages[-1].get("content", [])
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content if isinstance(block, dict)]


def _is_jpeg(image_block: dict[str, Any]) -> bool:
    source = image_block.get("source", {})
    if source.get("type") != "base64" or source.get("media_type") != "image/jpeg":
        return False
    try:
        data = base64.b64decode(source.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    if not data.startswith(b"\xff\xd8\xff"):
        return False
    with Image.open(io.BytesIO(data)) as image:
        return image.format == "JPEG"


def _image_tokens(body: dict[str, Any]) -> int:
    """The image token estimate from Anthropic's vision guide: width * height / 750."""
    for block in _user_content(body):
        if block.get("type") == "image":
            data = base64.b64decode(block.get("source", {}).get("data", ""))
            with Image.open(io.BytesIO(data)) as image:
                return round(image.width * image.height / 750)
    return 0


def _message(body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    text_chars = len(_system_text(body.get("system"))) + sum(
        len(block.get("text", "")) for block in _user_content(body)
    )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        # A rough estimate: about four characters a token for text.
        "usage": {"input_tokens": _image_tokens(body) + text_chars // 4, "output_tokens": 1},
    }


def _output_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _pieces(text: str, count: int) -> list[str]:
    count = max(1, min(count, len(text) or 1))
    size = -(-len(text) // count)
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]
