"""Dataset and variable metadata of the CDISC datasets cartrial writes, loaded from package data.

The tables in ``cartrial/data/cdisc/`` (``datasets.csv``, ``variables.csv``, ``codelists.csv``,
``markers.csv``, ``criteria.csv``, ``pk_parameters.csv``) are the one place where a dataset's
variables, labels, types, core status, origins, codelists and derivations are written; every writer
(XPT, Dataset-JSON, CSV, Define-XML) and every conformance check reads them from here. Each file
names its source in its header (SDTMIG v3.4, ADaMIG v1.3, CDISC Controlled Terminology).

The rows are validated when loaded (names of at most 8 upper-case characters, labels of at most 40,
every Derived or Assigned variable with its derivation in words, every codelist known), so a wrong
edit of the tables fails at the first use with the file, line and field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cartrial.errors import ExchangeError
from cartrial.rules.package_tables import read_rows

__all__ = [
    "CodeList",
    "Criterion",
    "DatasetSpec",
    "Marker",
    "PkParameter",
    "VariableSpec",
    "codelists",
    "criteria",
    "dataset_spec",
    "dataset_specs",
    "lab_tests",
    "markers",
    "pk_parameters",
]

Standard = Literal["SDTM", "ADaM"]
_NAME = r"^[A-Z][A-Z0-9]{0,7}$"
M = TypeVar("M", bound=BaseModel)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class VariableSpec(_Row):
    """One variable of a dataset (one row of ``variables.csv``)."""

    dataset: str = Field(pattern=_NAME)
    name: str = Field(pattern=_NAME, description="at most 8 characters (SAS transport v5)")
    label: str = Field(min_length=1, max_length=40, description="at most 40 characters")
    type: Literal["Char", "Num"]
    core: Literal["Req", "Exp", "Perm", "Cond"]
    origin: Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor"]
    codelist: str = ""
    format: str = ""
    derivation: str = ""

    @field_validator("derivation")
    @classmethod
    def _derivation_in_words(cls, value: str, info: object) -> str:
        data = getattr(info, "data", {})
        if data.get("origin") in {"Derived", "Predecessor"} and not value:
            raise ValueError(f"a {data.get('origin')} variable needs its derivation in words")
        return value

    @property
    def is_date(self) -> bool:
        """A numeric SAS date (days since 1960-01-01, shown with ``format``)."""
        return self.type == "Num" and self.format.startswith("DATE")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its standard, name, label, class, structure, keys and ordered variables."""

    standard: Standard
    name: str
    label: str
    class_: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[VariableSpec, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The variable names in dataset order."""
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> VariableSpec:
        """The metadata of variable ``name``."""
        for spec in self.variables:
            if spec.name == name:
                return spec
        raise ExchangeError(f"{self.name} has no variable {name!r}")


class _DatasetRow(_Row):
    standard: Standard
    dataset: str = Field(pattern=_NAME)
    label: str = Field(min_length=1, max_length=40)
    class_: str = Field(alias="class", min_length=1)
    structure: str = Field(min_length=1)
    keys: str = Field(min_length=1)


class CodeTerm(_Row):
    """One term of a codelist."""

    codelist: str = Field(min_length=1)
    nci_code: str = Field(min_length=1)
    extensible: Literal["yes", "no"]
    value: str = Field(min_length=1)
    decode: str = Field(min_length=1)


@dataclass(frozen=True)
class CodeList:
    """A codelist: its NCI code, whether sponsor terms are allowed, and its terms."""

    name: str
    nci_code: str
    extensible: bool
    terms: dict[str, str]


class Marker(_Row):
    """A cell-phenotype marker's CP test code, name and unit (``markers.csv``)."""

    marker: str = Field(min_length=1)
    testcd: str = Field(pattern=_NAME)
    test: str = Field(min_length=1, max_length=40)
    unit: str = Field(min_length=1)


class PkParameter(_Row):
    """An NCA parameter's SDTM PP test and ADaM ADPP parameter (``pk_parameters.csv``).

    ``unit`` says how the result's unit is made from the analyte's assay unit (``level``: the
    unit itself, ``day``: days, ``auc``: day times the unit); ``stint``/``enint`` are the planned
    interval of an interval parameter (ISO 8601 durations from the infusion), else empty.
    """

    column: str = Field(min_length=1)
    pptestcd: str = Field(pattern=_NAME)
    pptest: str = Field(min_length=1, max_length=40)
    unit: Literal["level", "day", "auc"]
    stint: str = Field(default="", pattern=r"^(P\d+D)?$")
    enint: str = Field(default="", pattern=r"^(P\d+D)?$")
    paramcd: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,6}$", description="<= 7: the analyte letter")
    param: str = Field(min_length=1, max_length=120)


class Criterion(_Row):
    """An eligibility criterion's TI/IE short name, category and text template (``criteria.csv``).

    ``text`` is filled in with :meth:`str.format` from the protocol's eligibility section
    (``e``) and its histologies (``histologies``, comma-separated, upper case).
    """

    criterion: str = Field(min_length=1)
    ietestcd: str = Field(pattern=_NAME)
    iecat: Literal["INCLUSION", "EXCLUSION"]
    text: str = Field(min_length=1, max_length=200)


def _rows(filename: str) -> tuple[tuple[int, dict[str, str]], ...]:
    """Rows of ``data/cdisc/<filename>`` with their line numbers (the package tables' reader)."""
    return read_rows("cdisc", filename)


def _parse(model: type[M], filename: str, line: int, row: dict[str, str]) -> M:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()
        )
        raise ExchangeError(f"data/cdisc/{filename} line {line}: {problems}") from exc


def _table(model: type[M], filename: str) -> list[M]:
    """Every row of ``data/cdisc/<filename>`` validated by ``model``, in file order."""
    return [_parse(model, filename, line, row) for line, row in _rows(filename)]


@cache
def codelists() -> dict[str, CodeList]:
    """Every codelist of ``codelists.csv`` by name."""
    terms: dict[str, list[CodeTerm]] = {}
    for line, row in _rows("codelists.csv"):
        term = _parse(CodeTerm, "codelists.csv", line, row)
        terms.setdefault(term.codelist, []).append(term)
    lists = {
        name: CodeList(
            name=name,
            nci_code=items[0].nci_code,
            extensible=items[0].extensible == "yes",
            terms={t.value: t.decode for t in items},
        )
        for name, items in terms.items()
    }
    tests = lab_tests()
    lists["LBTESTCD"] = CodeList("LBTESTCD", "C65047", True, dict(tests))
    lists["LBTEST"] = CodeList("LBTEST", "C67154", True, {v: v for v in tests.values()})
    parameters = pk_parameters()
    codes = {p.pptestcd: p.pptest for p in parameters.values()}
    lists["PKPARMCD"] = CodeList("PKPARMCD", "C85839", True, codes)
    lists["PKPARM"] = CodeList("PKPARM", "C85493", True, {v: v for v in codes.values()})
    return lists


#: Codelists whose terms come from elsewhere than codelists.csv (checked by their own rule).
EXTERNAL_CODELISTS = ("COUNTRY", "LOC", "ISO8601", "ISO8601DUR")


@cache
def lab_tests() -> dict[str, str]:
    """LBTESTCD -> LBTEST of the lab tests cartrial grades (the CTCAE engine's test table)."""
    from cartrial.rules.ctcae import lab_tests as graded_tests

    return {test.lbtestcd: test.test for test in graded_tests()}


@cache
def markers() -> dict[str, Marker]:
    """Cell-phenotype markers by their name in the database (lower case)."""
    return {m.marker: m for m in _table(Marker, "markers.csv")}


@cache
def pk_parameters() -> dict[str, PkParameter]:
    """The NCA parameters written to PP and ADPP, by ``nca()``'s column, in file order."""
    return {p.column: p for p in _table(PkParameter, "pk_parameters.csv")}


@cache
def criteria() -> dict[str, Criterion]:
    """Eligibility criteria by the protocol's criterion code (``criteria.csv``)."""
    return {c.criterion: c for c in _table(Criterion, "criteria.csv")}


@cache
def dataset_specs() -> dict[str, DatasetSpec]:
    """Every dataset cartrial writes, SDTM then ADaM, in ``datasets.csv`` order."""
    variables: dict[str, list[VariableSpec]] = {}
    known = set(codelists()) | set(EXTERNAL_CODELISTS)
    for line, row in _rows("variables.csv"):
        spec = _parse(VariableSpec, "variables.csv", line, row)
        if spec.codelist and spec.codelist not in known:
            raise ExchangeError(
                f"data/cdisc/variables.csv line {line}: unknown codelist {spec.codelist!r}"
            )
        variables.setdefault(spec.dataset, []).append(spec)
    specs: dict[str, DatasetSpec] = {}
    for line, row in _rows("datasets.csv"):
        ds = _parse(_DatasetRow, "datasets.csv", line, row)
        items = tuple(variables.pop(ds.dataset, ()))
        names = [v.name for v in items]
        keys = tuple(ds.keys.split())
        missing = [k for k in keys if k not in names]
        if not items or missing or len(set(names)) != len(names):
            raise ExchangeError(
                f"data/cdisc/datasets.csv line {line}: {ds.dataset} has no variables, a key "
                f"that is not one of them ({missing}) or a variable listed twice"
            )
        specs[ds.dataset] = DatasetSpec(
            ds.standard, ds.dataset, ds.label, ds.class_, ds.structure, keys, items
        )
    if variables:
        raise ExchangeError(
            f"data/cdisc/variables.csv: datasets not in datasets.csv: {sorted(variables)}"
        )
    return specs


def dataset_spec(name: str) -> DatasetSpec:
    """The metadata of dataset ``name`` (e.g. ``"DM"``, ``"ADSL"``)."""
    specs = dataset_specs()
    if name not in specs:
        raise ExchangeError(f"no CDISC dataset {name!r}; known: {', '.join(specs)}")
    return specs[name]
