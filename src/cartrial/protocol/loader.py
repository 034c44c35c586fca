"""Reading protocol files: YAML in, a validated :class:`Protocol` out, or every error with its line.

PyYAML builds the data; its node tree gives the line of every key and item, so each pydantic error
can be reported as ``line N, path.to.field: message``. Duplicate keys, which PyYAML would silently
collapse to the last one, are errors here.

A protocol file is untrusted input, so it is read by :mod:`cartrial.safeyaml` within its
:data:`~cartrial.safeyaml.LIMITS`: the file size is checked before it is read, the nesting depth
and the number of aliases while the node tree is built, and the size of the tree once aliases are
expanded before anything walks it (a "billion laughs" alias bomb is refused in milliseconds).
Schema errors and cross-field (consistency) errors are reported together, in one pass: the
sections that validate are checked for consistency even when others do not; at most
:data:`MAX_ISSUES` problems are listed, then how many more there are.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from cartrial.errors import InputFileError, ProtocolError
from cartrial.protocol.models import SKIP_CONSISTENCY, Protocol, consistency_issues
from cartrial.safeyaml import LIMITS, ParseLimits, YamlRefused, compose_yaml
from cartrial.textio import read_text

__all__ = [
    "LIMITS",
    "MAX_ISSUES",
    "ParseLimits",
    "default_protocol_path",
    "load_protocol",
    "parse_protocol",
]

Loc = tuple[str | int, ...]
Issue = tuple[str, int | None, str]

DEFAULT_PROTOCOL = "cldn18-pdl1-cart.yaml"
#: At most this many problems are listed; the rest are counted.
MAX_ISSUES = 100


def default_protocol_path() -> Path:
    """Path of the packaged protocol of the CLDN18.2/PD-L1 CAR-T study."""
    return Path(str(resources.files("cartrial") / "protocols" / DEFAULT_PROTOCOL))


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Load and validate a protocol file (the packaged study protocol when ``path`` is None).

    Raises
    ------
    ProtocolError
        Listing every problem with its YAML path and line; nothing is defaulted silently.
    """
    file = Path(path) if path is not None else default_protocol_path()
    try:
        text = read_text(file, max_bytes=LIMITS.max_bytes, utf8_only=True)
    except InputFileError as exc:
        raise ProtocolError(str(file), [("", None, exc.problem)]) from None
    return parse_protocol(text, source=str(file))


def parse_protocol(
    text: str, *, source: str = "<string>", limits: ParseLimits = LIMITS
) -> Protocol:
    """Validate protocol YAML ``text``; ``source`` names the file in error messages.

    Raises
    ------
    ProtocolError
        Every schema and consistency problem at once (at most :data:`MAX_ISSUES` listed), or the
        one limit of ``limits`` the text exceeds.
    """
    root, data = _compose(text, source, limits)
    lines: dict[Loc, int] = {}
    issues: list[Issue] = []
    if root is not None:
        _index_lines(root, (), lines, issues)
    if not isinstance(data, dict):
        raise ProtocolError(source, [("", 1, "a protocol file must be a mapping of sections")])
    try:
        protocol = Protocol.model_validate(data, context={SKIP_CONSISTENCY: True})
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, data, lines))
        for path, message in consistency_issues(
            cast(Protocol, _partial_model(Protocol, data)), partial=True
        ):
            issues.append((_dotted(path), _line_of(path, lines), message))
        raise ProtocolError(source, _capped(_sorted(issues))) from None
    for path, message in consistency_issues(protocol):
        issues.append((_dotted(path), _line_of(path, lines), message))
    if issues:
        raise ProtocolError(source, _capped(_sorted(issues)))
    return protocol


def _compose(text: str, source: str, limits: ParseLimits) -> tuple[yaml.Node | None, object]:
    """The node tree and the data of ``text``, within ``limits`` (:mod:`cartrial.safeyaml`)."""
    try:
        return compose_yaml(text, source=source, limits=limits)
    except YamlRefused as exc:
        raise ProtocolError(source, [("", exc.line, exc.detail)]) from None


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _partial_model(model: type[BaseModel], data: dict[object, object]) -> BaseModel:
    """``model`` holding only the fields of ``data`` that validate on their own (two levels).

    Lets :func:`consistency_issues` check what it can while other fields have schema errors; a
    section that fails as a whole keeps its valid fields (e.g. ``escalation.start_dose`` is still
    checked when ``escalation.cohort_size`` is negative).
    """
    valid: dict[str, object] = {}
    for name, field in model.model_fields.items():
        if name not in data:
            continue
        annotation = field.annotation
        try:
            valid[name] = _adapter(cast(Hashable, annotation)).validate_python(data[name])
        except ValidationError:
            value = data[name]
            nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            if model is Protocol and nested and isinstance(value, dict):
                valid[name] = _partial_model(cast(type[BaseModel], annotation), value)
    return model.model_construct(**valid)  # type: ignore[arg-type]


def _capped(issues: list[Issue]) -> list[Issue]:
    if len(issues) <= MAX_ISSUES:
        return issues
    rest = len(issues) - MAX_ISSUES
    return [*issues[:MAX_ISSUES], ("", None, f"... and {rest} more error(s) not shown")]


def _index_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int], issues: list[Issue]) -> None:
    """Record the 1-based line of every mapping key and sequence item; flag duplicate keys."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                issues.append((_dotted(child), key_node.start_mark.line + 1, "duplicate key"))
            seen.add(key)
            _index_lines(value_node, child, lines, issues)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, issues)


def _pydantic_issues(exc: ValidationError, data: object, lines: dict[Loc, int]) -> list[Issue]:
    issues: list[Issue] = []
    for error in exc.errors(include_url=False):
        loc = cast(Loc, tuple(error["loc"]))
        kind = error["type"]
        if kind == "missing":
            path, message = loc, "missing required field"
        else:
            path = _existing_prefix(loc, data)
            message = _message(kind, error["msg"], error.get("input"))
        issues.append((_dotted(path), _line_of(path, lines), message))
    return issues


def _message(kind: str, msg: str, value: object) -> str:
    if kind == "extra_forbidden":
        return "unknown key (not part of the protocol format; check the spelling)"
    if kind.endswith("_type") or kind in {"literal_error", "enum"}:
        return f"{msg}, got {value!r}"
    return msg.removeprefix("Value error, ")


def _existing_prefix(loc: Loc, data: object) -> Loc:
    """The longest prefix of a pydantic location that exists in the YAML data."""
    node = data
    for depth, part in enumerate(loc):
        found = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not found:
            return loc[:depth]
        node = node[part]  # type: ignore[index]
    return loc


def _line_of(path: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _dotted(path: Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _sorted(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i[1] if i[1] is not None else 10**9, i[0]))
