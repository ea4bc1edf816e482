"""What the generated OpenAPI document leaves out, and the app does all the same.

Litestar documents a route from its handler, and the wire types in its own approximation: it
drops the constraints of list items and what msgspec keeps beside a type (that a body refuses
unknown members, ``forbid_unknown_fields``; the patterns and ``uniqueItems`` that
``agents_core.schemas`` states for its checks). So the wire types' schemas are msgspec's own,
the ones it validates with. Nor does Litestar know what the app's own layers answer on every
route (413 for a body over the limit, in ``body_limit``; 415 for a body that is not JSON, in
``bodies``), and it calls every request body required, also a handler's that has a default (no
body is the same as ``{}``). Written into the document once, when the app is built, so that a
client generated from the document expects what the server does.
"""

from __future__ import annotations

from enum import Enum

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIResponse, Operation, RequestBody

from agents_core import schemas

__all__ = ["closed_body_types", "complete_document"]

_EDGE_RESPONSES = {
    "413": "Request body larger than 1 MiB",
    "415": "Request body sent with a Content-Type other than JSON",
}


def _wire_types() -> dict[str, type]:
    """The Structs and enums of ``agents_core.schemas``, by name."""
    return {
        name: value
        for name, value in vars(schemas).items()
        if isinstance(value, type)
        and (issubclass(value, msgspec.Struct) or issubclass(value, Enum))
        and value.__module__ == schemas.__name__
    }


def closed_body_types() -> set[str]:
    """Names of the wire types that refuse unknown members."""
    return {
        name
        for name, value in vars(schemas).items()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__struct_config__.forbid_unknown_fields
    }


def _operations(app: Litestar) -> list[Operation]:
    found = []
    for item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                found.append(operation)
    return found


def _problem_like(operation: Operation, description: str) -> OpenAPIResponse | None:
    """A response with the same problem document as the operation's others."""
    for response in (operation.responses or {}).values():
        if (
            isinstance(response, OpenAPIResponse)
            and response.content
            and "application/problem+json" in response.content
        ):
            return OpenAPIResponse(description=description, content=response.content)
    return None


def _optional_bodies(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of the operations whose handler takes its body with a default."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None and data.has_default:
                found.update((route.path_format, method.lower()) for method in handler.http_methods)
    return found


def complete_document(app: Litestar) -> None:
    """Add ``additionalProperties: false``, the app-wide 413 and 415, and which request bodies
    may be left out, to the document."""
    components = app.openapi_schema.components
    documented = components.schemas or {}
    types = _wire_types()
    ours = [types[name] for name in documented if name in types]
    _, generated = msgspec.json.schema_components(ours, ref_template="#/components/schemas/{name}")
    for name, schema in generated.items():
        # A plain mapping is served as it is (the spec objects turn into mappings as well).
        documented[name] = schema
    components.schemas = documented
    for operation in _operations(app):
        responses = operation.responses if operation.responses is not None else {}
        for status, description in _EDGE_RESPONSES.items():
            if status == "415" and operation.request_body is None:
                continue
            if status in responses:
                continue
            response = _problem_like(operation, description)
            if response is not None:
                responses[status] = response
        operation.responses = responses
    for path, method in _optional_bodies(app):
        item = (app.openapi_schema.paths or {}).get(path)
        optional = getattr(item, method, None)
        if isinstance(optional, Operation) and isinstance(optional.request_body, RequestBody):
            optional.request_body.required = False
