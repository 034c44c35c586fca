"""Reading protocol files: YAML in, a validated :class:`Protocol` out, or every error with its line.

PyYAML builds the data; its node tree (``yaml.compose``) gives the line of every key and item, so
each pydantic error can be reported as ``line N, path.to.field: message``. Duplicate keys, which
PyYAML would silently collapse to the last one, are errors here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import cast

import yaml
from pydantic import ValidationError

from cartrial.errors import ProtocolError
from cartrial.protocol.models import SKIP_CONSISTENCY, Protocol, consistency_issues

__all__ = ["default_protocol_path", "load_protocol", "parse_protocol"]

Loc = tuple[str | int, ...]
Issue = tuple[str, int | None, str]

DEFAULT_PROTOCOL = "cldn18-pdl1-cart.yaml"


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
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(
            str(file), [("", None, f"cannot read the file: {exc.strerror}")]
        ) from exc
    return parse_protocol(text, source=str(file))


def parse_protocol(text: str, *, source: str = "<string>") -> Protocol:
    """Validate protocol YAML ``text``; ``source`` names the file in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(source, [("", line, f"not valid YAML: {problem}")]) from exc
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
        raise ProtocolError(source, _sorted(issues)) from None
    for path, message in consistency_issues(protocol):
        issues.append((_dotted(path), _line_of(path, lines), message))
    if issues:
        raise ProtocolError(source, _sorted(issues))
    return protocol


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
