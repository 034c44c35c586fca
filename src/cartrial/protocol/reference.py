"""The protocol file reference (``docs/protocol.md``), generated from the models.

A test renders it and compares it with the committed file, so the documentation cannot drift
from the format: regenerate with ``python -m cartrial.protocol.reference > docs/protocol.md``.
"""

from __future__ import annotations

import types
import typing
from typing import Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from cartrial.protocol.models import Protocol

__all__ = ["render_reference"]

HEADER = """# Protocol file reference

A study is one YAML file; `cartrial protocol validate FILE` checks it and lists every error with its
YAML path and line, and `cartrial protocol show FILE` renders it. The study shipped with cartrial is
`src/cartrial/protocols/cldn18-pdl1-cart.yaml`. Unknown keys are errors, numbers are never read from
strings and nothing is defaulted silently: a field without a default below must be written out.
Cross-field rules are checked too: dose levels increase and have unique names, the start dose
exists, the DLT window fits in follow-up, every visit lies inside the study, lymphodepletion days
fall in a lymphodepletion visit, every endpoint names a defined population.

This page is generated from the models (`python -m cartrial.protocol.reference`); a test keeps it
in step with them.
"""


def render_reference() -> str:
    """The Markdown reference of every section and field of the protocol format."""
    parts = [HEADER]
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("(top level)", Protocol)]
    while queue:
        path, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        parts.append(f"\n## `{path}` — {model.__name__}\n")
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        parts.append(f"{' '.join(doc.split())}\n")
        parts.append("\n| key | type | required | description |\n|---|---|---|---|\n")
        for name, field in model.model_fields.items():
            parts.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_required(field)} | "
                f"{_describe(field)} |\n"
            )
            for sub in _models_in(field.annotation):
                child = name if path == "(top level)" else f"{path}.{name}"
                queue.append((child, sub))
    return "".join(parts)


def _required(field: FieldInfo) -> str:
    if field.is_required():
        return "yes"
    default = field.default if field.default is not PydanticUndefined else field.default_factory
    if callable(default):
        default = default()  # type: ignore[call-arg]
    return f"no (default `{default!r}`)"


def _describe(field: FieldInfo) -> str:
    text = field.description or ""
    bounds = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
        if getattr(meta, "min_length", None) == 1:
            bounds.append("not empty")
    if bounds:
        text = f"{text} ({', '.join(bounds)})" if text else ", ".join(bounds)
    return text.replace("|", "\\|")


def _type_name(annotation: object) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a!r}`" for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"{annotation.__name__} (section)"
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
            annotation.__name__, annotation.__name__
        )
    if annotation is type(None):
        return "null"
    return str(annotation)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


if __name__ == "__main__":
    print(render_reference(), end="")
