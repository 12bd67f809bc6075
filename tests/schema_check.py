"""Check HTTP responses against the response schemas of an OpenAPI 3.1 document.

Use `ResponseChecker.check` as an httpx response hook: every response the
client receives must have a status code, media type and body that the
document lists for its operation.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


class SchemaMismatch(AssertionError):
    """A response that the OpenAPI document does not describe."""


class ResponseChecker:
    def __init__(self, openapi: dict[str, Any]) -> None:
        self.openapi = openapi
        self.components = openapi.get("components", {})
        # Literal paths first, so /api/v1/waste/advice never matches a {parameter} template.
        self._templates = sorted(
            ((self._template_pattern(path), path) for path in openapi["paths"]),
            key=lambda item: item[1].count("{"),
        )
        self._validators: dict[tuple[str, str, str, str], Draft202012Validator] = {}
        # (method, path template, status) of every response checked, in order.
        self.checked: list[tuple[str, str, int]] = []

    @staticmethod
    def _template_pattern(path: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")

    def template_of(self, path: str) -> str:
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        raise SchemaMismatch(f"{path} matches no path in the OpenAPI document")

    def check(self, response: httpx.Response) -> None:
        """Raise SchemaMismatch unless the document describes `response` exactly."""
        response.read()
        method = response.request.method.lower()
        template = self.template_of(response.request.url.path)
        where = f"{method.upper()} {response.request.url.path} -> {response.status_code}"
        operation = self.openapi["paths"][template].get(method)
        if operation is None:
            raise SchemaMismatch(f"{where}: the document has no {method.upper()} operation on {template}")
        documented = operation["responses"].get(str(response.status_code))
        if documented is None:
            listed = ", ".join(operation["responses"])
            raise SchemaMismatch(f"{where}: status not documented (documented: {listed}); body {response.text[:300]}")

        content = documented.get("content")
        if content is None:
            if response.content:
                raise SchemaMismatch(f"{where}: documented without a body, got {response.content[:100]!r}")
        else:
            media = response.headers.get("content-type", "").split(";")[0].strip()
            if media not in content:
                raise SchemaMismatch(f"{where}: media type {media!r} not documented (documented: {', '.join(content)})")
            body: Any = response.json() if media == "application/json" else response.text
            self._validate(where, (method, template, str(response.status_code), media), content[media]["schema"], body)
        self.checked.append((method, template, response.status_code))

    def validate_value(self, where: str, schema: dict[str, Any], value: Any) -> None:
        """Validate one value (an example, say) against a schema of the document."""
        self._validate(where, None, schema, value)

    def _validate(self, where: str, key: tuple[str, str, str, str] | None, schema: dict[str, Any], value: Any) -> None:
        validator = self._validators.get(key) if key else None
        if validator is None:
            # The references read "#/components/schemas/Name", so the components sit
            # at the root of the schema that is checked.
            validator = Draft202012Validator({**schema, "components": self.components})
            if key:
                self._validators[key] = validator
        error = best_match(validator.iter_errors(value))
        if error is not None:
            raise SchemaMismatch(f"{where}: {error.message} at {error.json_path}")
