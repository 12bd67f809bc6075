"""GET /docs: the OpenAPI document rendered as one plain HTML page on the server.

No script and no CDN: the page is built once at start-up from the same dict that
/openapi.json serves, so the two cannot disagree.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

DOCS_SECURITY_POLICY = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'"
METHOD_ORDER = ("get", "post", "put", "patch", "delete")
# Schema keywords shown as constraints beside a field's type, with the words used for them.
CONSTRAINTS = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMinimum", "> {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("pattern", "matches {}"),
    ("format", "format {}"),
)


async def docs_page(request: Request) -> Response:
    headers = {"Content-Security-Policy": DOCS_SECURITY_POLICY, "Cache-Control": "no-cache"}
    return Response(request.app.state.docs_page, media_type="text/html; charset=utf-8", headers=headers)


def render_docs(openapi: dict[str, Any]) -> bytes:
    """Render the whole OpenAPI document: an index, every operation, every schema."""
    info = openapi["info"]
    operations = [
        (path, method, entry)
        for path, methods in openapi["paths"].items()
        for method, entry in sorted(methods.items(), key=lambda item: METHOD_ORDER.index(item[0]))
    ]
    schemas = openapi.get("components", {}).get("schemas", {})

    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(info['title'])}: API reference</title>",
        '<link rel="stylesheet" href="/static/docs.css"></head><body>',
        f"<header><h1>{escape(info['title'])} <small>{escape(info['version'])}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        f'<p>OpenAPI {escape(openapi["openapi"])}: <a href="/openapi.json">/openapi.json</a> · '
        '<a href="/demo">/demo</a></p></header>',
        '<nav><h2>Endpoints</h2><ul class="index">',
    ]
    for path, method, entry in operations:
        parts.append(
            f'<li><a href="#{_operation_id(method, path)}">{_method_badge(method)} <code>{escape(path)}</code></a> '
            f"{escape(entry.get('summary', ''))}</li>"
        )
    parts.append("</ul></nav><main>")
    parts.extend(_operation_section(path, method, entry) for path, method, entry in operations)
    parts.append("<h2>Schemas</h2>")
    parts.extend(_schema_section(name, schema) for name, schema in schemas.items())
    parts.append("</main></body></html>")
    return "\n".join(parts).encode("utf-8")


def _operation_id(method: str, path: str) -> str:
    return "op-" + method + "-" + re.sub(r"[^a-zA-Z0-9]+", "-", path).strip("-")


def _method_badge(method: str) -> str:
    return f'<span class="method {escape(method)}">{escape(method.upper())}</span>'


def _operation_section(path: str, method: str, entry: dict[str, Any]) -> str:
    parts = [
        f'<section class="operation" id="{_operation_id(method, path)}">',
        f"<h3>{_method_badge(method)} <code>{escape(path)}</code></h3>",
        f"<p>{escape(entry.get('summary', ''))}</p>",
    ]
    parameters = entry.get("parameters", [])
    if parameters:
        parts.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>")
        for parameter in parameters:
            parts.append(
                f"<tr><td><code>{escape(parameter['name'])}</code></td><td>{escape(parameter['in'])}</td>"
                f"<td>{type_html(parameter.get('schema', {}))}</td><td>{'yes' if parameter.get('required') else 'no'}</td>"
                f"<td>{escape(parameter.get('description', ''))}</td></tr>"
            )
        parts.append("</table>")
    body = entry.get("requestBody")
    if body:
        parts.append("<h4>Request body</h4><ul>")
        parts.extend(_media_item(media, content) for media, content in body["content"].items())
        parts.append("</ul>")
    parts.append("<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>")
    for status, response in entry["responses"].items():
        content = response.get("content", {})
        bodies = "<ul>" + "".join(_media_item(media, item) for media, item in content.items()) + "</ul>" if content else "no body"
        parts.append(f"<tr><td><code>{escape(status)}</code></td><td>{escape(response['description'])}</td><td>{bodies}</td></tr>")
    parts.append("</table></section>")
    return "\n".join(parts)


def _media_item(media: str, content: dict[str, Any]) -> str:
    item = f"<li><code>{escape(media)}</code>: {type_html(content.get('schema', {}))}"
    for name, example in content.get("examples", {}).items():
        text = json.dumps(example["value"], ensure_ascii=False, indent=2)
        item += f"<details><summary>Example: {escape(name)}</summary><pre>{escape(text)}</pre></details>"
    return item + "</li>"


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    parts = [f'<section class="schema" id="schema-{escape(name)}">', f"<h3>{escape(name)}</h3>"]
    if schema.get("description"):
        parts.append(f"<p>{escape(schema['description'])}</p>")
    properties = schema.get("properties")
    if properties is None:
        parts.append(f"<p>{type_html(schema)}</p></section>")
        return "\n".join(parts)
    required = set(schema.get("required", ()))
    parts.append("<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>")
    for field, field_schema in properties.items():
        parts.append(
            f"<tr><td><code>{escape(field)}</code></td><td>{type_html(field_schema)}</td>"
            f"<td>{'yes' if field in required else 'no'}</td><td>{escape(_description(field_schema))}</td></tr>"
        )
    parts.append("</table>")
    if schema.get("additionalProperties") is False:
        parts.append("<p>Unknown fields are rejected.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _description(schema: dict[str, Any]) -> str:
    if schema.get("description"):
        return str(schema["description"])
    for branch in schema.get("anyOf", ()):
        if branch.get("description"):
            return str(branch["description"])
    return ""


def type_html(schema: dict[str, Any]) -> str:
    """Describe a JSON schema in a few words of HTML, with links to named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        text = f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    elif "anyOf" in schema:
        text = " | ".join(type_html(branch) for branch in schema["anyOf"])
    elif "enum" in schema:
        text = "one of " + ", ".join(f"<code>{escape(json.dumps(value, ensure_ascii=False))}</code>" for value in schema["enum"])
    elif schema.get("type") == "array":
        text = "array of " + type_html(schema.get("items", {}))
    elif schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = "map of string to " + type_html(schema["additionalProperties"])
    elif "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        text = " | ".join(escape(str(kind)) for kind in kinds)
    else:
        text = "any"

    notes = [template.format(escape(str(schema[key]))) for key, template in CONSTRAINTS if key in schema]
    if "default" in schema:
        notes.append("default " + escape(json.dumps(schema["default"], ensure_ascii=False)))
    if notes:
        text += f' <span class="constraints">({"; ".join(notes)})</span>'
    return text
