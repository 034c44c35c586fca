"""The controlled vocabularies are defined once, in :mod:`cartrial.vocab`.

Expected values: attribution is the CTCAE relatedness scale (unrelated ... definite); response
categories and their order are RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247,
§4.3-4.4: overall responses best first CR > PR > SD > NON-CR/NON-PD > PD > NE).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from cartrial import vocab
from cartrial.designs.registry import DESIGN_CLASSES

SRC = Path(vocab.__file__).resolve().parent


def test_each_tuple_lists_its_literal() -> None:
    pairs = {
        "ATTRIBUTIONS": vocab.Attribution,
        "CAUSES": vocab.Cause,
        "AE_OUTCOMES": vocab.AEOutcome,
        "ROLES": vocab.Role,
        "PHASES": vocab.Phase,
        "INDICATIONS": vocab.Indication,
        "SEXES": vocab.Sex,
        "SUBJECT_STATUSES": vocab.SubjectStatus,
        "SURVIVAL_STATUSES": vocab.SurvivalStatus,
        "QUERY_STATUSES": vocab.QueryStatus,
        "KINETICS_UNITS": vocab.KineticsUnit,
        "ADA_SCREEN_RESULTS": vocab.AdaScreenResult,
        "LESION_CATEGORIES": vocab.LesionCategory,
        "LESION_STATUSES": vocab.LesionStatus,
        "TARGET_RESPONSES": vocab.TargetResponse,
        "NONTARGET_RESPONSES": vocab.NonTargetResponse,
        "OVERALL_RESPONSES": vocab.OverallResponse,
        "DESIGN_NAMES": vocab.DesignName,
    }
    for name, literal in pairs.items():
        assert getattr(vocab, name) == get_args(literal), name


def test_published_orders() -> None:
    assert vocab.ATTRIBUTIONS == ("unrelated", "unlikely", "possible", "probable", "definite")
    assert vocab.OVERALL_RESPONSES == ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
    assert set(vocab.RELATED_ATTRIBUTIONS) < set(vocab.ATTRIBUTIONS)
    assert set(vocab.OBJECTIVE_RESPONSES) == {"CR", "PR"}


def test_every_design_name_has_a_design() -> None:
    assert tuple(DESIGN_CLASSES) == vocab.DESIGN_NAMES


def _assigned_names(tree: ast.Module) -> set[str]:
    """Names bound at module level by an assignment or a class statement."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
    return names


def test_no_vocabulary_name_is_defined_twice() -> None:
    words = set(vocab.__all__)
    twins = {
        f"{path.relative_to(SRC)}: {name}"
        for path in SRC.rglob("*.py")
        if path != SRC / "vocab.py"
        for name in _assigned_names(ast.parse(path.read_text(encoding="utf-8")))
        if name in words
    }
    assert not twins, f"vocabulary defined outside cartrial.vocab: {sorted(twins)}"


def _literal_word_sets(tree: ast.Module) -> list[frozenset[str]]:
    """The string sets of every ``Literal[...]`` written in a module."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Literal"
        ):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            words = {i.value for i in items if isinstance(i, ast.Constant)}
            if all(isinstance(w, str) for w in words):
                found.append(frozenset(words))
    return found


def test_no_vocabulary_is_copied_under_another_name() -> None:
    lists = {frozenset(getattr(vocab, n)): n for n in vocab.__all__ if n.isupper()}
    copies = {
        f"{path.relative_to(SRC)}: {lists[words]}"
        for path in SRC.rglob("*.py")
        if path != SRC / "vocab.py"
        for words in _literal_word_sets(ast.parse(path.read_text(encoding="utf-8")))
        if len(words) > 1 and words in lists
    }
    assert not copies, f"a Literal repeats a list of cartrial.vocab: {sorted(copies)}"
