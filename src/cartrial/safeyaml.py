"""Reading YAML from users safely: bounded size, nesting, aliases and expanded size.

Every YAML file cartrial reads (a protocol, a simulation grid, an appendix's scenarios, virtual
patient parameters) is untrusted input, so it is read here, within :class:`ParseLimits`:

* the file size is checked before the file is read (:func:`read_yaml`), and the text's size
  before it is parsed;
* the nesting depth and the number of ``*alias`` references while PyYAML composes the node tree;
* the size of the tree with every alias expanded, before anything walks it or builds Python
  objects from it, so a "billion laughs" alias bomb (or an alias that contains itself) is refused
  in milliseconds instead of filling memory.

Only PyYAML's safe constructors are used (no ``!!python/object``). A refusal is
:class:`YamlRefused`, an :class:`~cartrial.errors.InputFileError` that also carries the 1-based
line of the problem, so a caller reporting ``(path, line, message)`` issues can place it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import yaml

from cartrial.errors import InputFileError
from cartrial.textio import read_text

__all__ = ["LIMITS", "ParseLimits", "YamlRefused", "compose_yaml", "load_yaml", "read_yaml"]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on a YAML file, far above any real one (the packaged protocol: ~25 kB, depth 6,
    no aliases, ~1,500 nodes; the example simulation grid: ~2 kB, depth 4).

    Attributes
    ----------
    max_bytes : int
        File size in bytes, checked before reading.
    max_depth : int
        Nesting of mappings and sequences (also once aliases are expanded).
    max_aliases : int
        ``*alias`` references in the file.
    max_nodes : int
        Nodes of the tree with every alias expanded (what a reader walking the data visits).
    """

    max_bytes: int = 1_000_000
    max_depth: int = 32
    max_aliases: int = 100
    max_nodes: int = 200_000


#: The limits every YAML reader of cartrial uses unless it passes its own.
LIMITS = ParseLimits()


class YamlRefused(InputFileError):
    """A YAML text that is not valid YAML or exceeds a limit (``rule: max_...`` names which).

    ``line`` is the 1-based line of the problem when known; ``detail`` the problem without the
    line (for callers that report the line separately).
    """

    def __init__(self, source: str, line: int | None, detail: str) -> None:
        self.line = line
        self.detail = detail
        super().__init__(source, f"line {line}: {detail}" if line is not None else detail)


class _LimitExceeded(yaml.YAMLError):
    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.problem = message
        self.problem_mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing too deep a nesting or too many aliases while composing."""

    def __init__(self, text: str, limits: ParseLimits) -> None:
        super().__init__(text)
        self.limits = limits
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _LimitExceeded(
                    f"more than {self.limits.max_aliases} aliases (rule: max_aliases)",
                    self.peek_event().start_mark,
                )
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise _LimitExceeded(
                    f"nested more than {self.limits.max_depth} levels deep (rule: max_depth)",
                    self.peek_event().start_mark,
                )
            return cast(yaml.Node, super().compose_node(parent, index))
        finally:
            self.depth -= 1


def compose_yaml(
    text: str, *, source: str = "<string>", limits: ParseLimits = LIMITS
) -> tuple[yaml.Node | None, object]:
    """The node tree (for the line of every key) and the data of the YAML ``text``.

    Raises
    ------
    YamlRefused
        The text is larger than ``limits.max_bytes``, is not valid YAML, or exceeds a limit of
        ``limits`` (the message names the rule: ``max_bytes``, ``max_depth``, ``max_aliases``,
        ``max_nodes``).
    """
    size = len(text.encode("utf-8"))
    if size > limits.max_bytes:
        raise YamlRefused(
            source,
            None,
            f"{size:,} bytes, above the limit of {limits.max_bytes:,} (rule: max_bytes)",
        )
    loader = _BoundedLoader(text, limits)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expanded(root, limits)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        prefix = "" if isinstance(exc, _LimitExceeded) else "not valid YAML: "
        raise YamlRefused(source, line, f"{prefix}{problem}") from None
    finally:
        loader.dispose()
    return root, data


def load_yaml(text: str, *, source: str = "<string>", limits: ParseLimits = LIMITS) -> object:
    """The data of the YAML ``text`` (see :func:`compose_yaml`)."""
    return compose_yaml(text, source=source, limits=limits)[1]


def read_yaml(path: str | Path, *, limits: ParseLimits = LIMITS) -> object:
    """The data of the YAML file ``path``: size checked before reading, strict UTF-8.

    Raises
    ------
    InputFileError
        The file cannot be read, is too large or is not UTF-8 text; :class:`YamlRefused` when
        it is not valid YAML or exceeds a limit.
    """
    text = read_text(path, max_bytes=limits.max_bytes, utf8_only=True)
    return load_yaml(text, source=str(path), limits=limits)


def _check_expanded(root: yaml.Node, limits: ParseLimits) -> None:
    nodes, depth = _expanded_size(root, {}, limits.max_nodes)
    if depth > limits.max_depth:
        raise _LimitExceeded(
            f"nested more than {limits.max_depth} levels deep once its aliases are "
            "expanded (rule: max_depth)",
            root.start_mark,
        )
    if nodes > limits.max_nodes:
        raise _LimitExceeded(
            f"expands to more than {limits.max_nodes:,} nodes through its aliases "
            "(rule: max_nodes; an alias bomb?)",
            root.start_mark,
        )


def _expanded_size(node: yaml.Node, sizes: dict[int, tuple[int, int]], cap: int) -> tuple[int, int]:
    """Nodes and depth under ``node``, each alias target counted in full (memoised).

    A node that contains itself (``&a [*a]``) is infinite: it counts as ``cap + 1``.
    """
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = (cap + 1, cap + 1)  # until computed: a cycle is over every limit
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total, depth = 1, 0
    for child in children:
        size, child_depth = _expanded_size(child, sizes, cap)
        total += size
        depth = max(depth, child_depth)
        if total > cap or depth > cap:
            break
    sizes[id(node)] = (total, depth + 1)
    return total, depth + 1
