"""Define-XML v2.1 for an SDTM or ADaM package, its structural check and an HTML rendering.

The document follows the CDISC Define-XML v2.1 specification (ODM 1.3.2 with the ``def`` extension
namespace): the standards used, value-level metadata (one ``ItemDef`` per test code of LB and PC
results and per analyte and parameter of PP, selected by ``WhereClauseDef``), one ``ItemGroupDef``
per dataset with its ``ItemRef``s in dataset order (``KeySequence`` for keys, ``MethodOID`` for
derived variables), one ``ItemDef`` per variable (data type, length, SAS field name, label,
codelist, origin), the codelists with their NCI codes, one ``MethodDef`` per derivation in words,
and a ``def:leaf`` per dataset file. Element order inside ``MetaDataVersion`` is the schema's.

The CDISC XML schemas are not shipped with cartrial, so :func:`define_problems` checks the
structure the schema and the specification require: namespaces and root attributes, element
order, and that every OID reference (item, codelist, method, where clause, value list, leaf)
resolves. :func:`define_html` renders the same metadata for people (datasets, variables,
value-level metadata, codelists, derivations).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from lxml import etree

from cartrial import __version__
from cartrial.exchange.metadata import VariableSpec, codelists, dataset_spec

__all__ = [
    "DEFINE_NS",
    "ODM_NS",
    "VALUE_LEVEL",
    "define_html",
    "define_problems",
    "define_xml",
    "write_define",
]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEFINE_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NSMAP = {None: ODM_NS, "def": DEFINE_NS, "xlink": XLINK_NS}
_STANDARDS = {
    "SDTM": ("STD.SDTMIG.3.4", "SDTMIG", "3.4", "Tabulation"),
    "ADaM": ("STD.ADaMIG.1.3", "ADaMIG", "1.3", "Analysis"),
}
#: Results that carry value-level metadata: dataset -> (result variable, the variables whose
#: values select a value list entry: the test code, in PP the analyte (PPCAT) and parameter).
VALUE_LEVEL: dict[str, tuple[str, tuple[str, ...]]] = {
    "LB": ("LBSTRESN", ("LBTESTCD",)),
    "PC": ("PCSTRESN", ("PCTESTCD",)),
    "PP": ("PPSTRESN", ("PPCAT", "PPTESTCD")),
}
#: Datasets with at most one record per subject (or reference data): ``Repeating="No"``.
_ONE_RECORD = frozenset({"DM", "ADSL", "TS"})
#: Required order of the children of MetaDataVersion (Define-XML 2.1 schema).
_ORDER = ("Standards", "ValueListDef", "WhereClauseDef", "ItemGroupDef", "ItemDef", "CodeList",
          "MethodDef", "leaf")  # fmt: skip


def _d(tag: str) -> str:
    return f"{{{DEFINE_NS}}}{tag}"


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _description(parent: etree._Element, text: str) -> None:
    translated = etree.SubElement(etree.SubElement(parent, _o("Description")), _o("TranslatedText"))
    translated.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    translated.text = text


def _data_type(variable: VariableSpec, values: pd.Series) -> str:
    if variable.codelist == "ISO8601":
        return "date"
    if variable.codelist == "ISO8601DUR":
        return "durationDatetime"
    if variable.type == "Char":
        return "text"
    present = values.dropna()
    whole = len(present) == 0 or bool((present == present.round()).all())
    return (
        "integer"
        if whole and (variable.is_date or variable.name.endswith(("SEQ", "DY")))
        else "float"
    )


def _length(variable: VariableSpec, values: pd.Series) -> int | None:
    if variable.type == "Num":
        return 8
    return max([1, *map(len, pd.unique(values.dropna().astype(str)))])


def _item_def(
    mdv: etree._Element, oid: str, variable: VariableSpec, values: pd.Series
) -> etree._Element:
    item = etree.SubElement(mdv, _o("ItemDef"), OID=oid, Name=variable.name)
    data_type = _data_type(variable, values)
    item.set("DataType", data_type)
    if data_type in {"text", "integer", "float"}:
        item.set("Length", str(_length(variable, values)))
    if data_type == "float":
        item.set("SignificantDigits", "6")
    item.set("SASFieldName", variable.name)
    if variable.format:
        item.set(_d("DisplayFormat"), variable.format)
    _description(item, variable.label)
    if variable.codelist in codelists():
        etree.SubElement(item, _o("CodeListRef"), CodeListOID=f"CL.{variable.codelist}")
    origin = etree.SubElement(item, _d("Origin"), Type=variable.origin)
    if variable.origin == "Collected":
        origin.set("Source", "Investigator")
    if variable.origin == "Predecessor":
        _description(origin, variable.derivation)
    return item


def define_xml(
    datasets: Mapping[str, pd.DataFrame],
    *,
    study_id: str,
    study_title: str,
    fmt: str,
    created: dt.datetime,
) -> etree._Element:
    """The Define-XML v2.1 document of one package (all SDTM or all ADaM datasets)."""
    specs = [dataset_spec(name) for name in datasets]
    standards = {spec.standard for spec in specs}
    if len(standards) != 1:
        raise ValueError("a Define-XML document describes one standard's datasets")
    standard = standards.pop()
    std_oid, std_name, std_version, purpose = _STANDARDS[standard]
    root = etree.Element(_o("ODM"), nsmap=_NSMAP)
    root.set("FileType", "Snapshot")
    root.set("FileOID", f"DEFINE.{study_id}.{std_name}")
    root.set("ODMVersion", "1.3.2")
    root.set("CreationDateTime", created.isoformat(timespec="seconds"))
    root.set("Originator", "cartrial")
    root.set("SourceSystem", "cartrial")
    root.set("SourceSystemVersion", __version__)
    root.set(_d("Context"), "Submission")
    study = etree.SubElement(root, _o("Study"), OID=study_id)
    globals_ = etree.SubElement(study, _o("GlobalVariables"))
    etree.SubElement(globals_, _o("StudyName")).text = study_id
    etree.SubElement(globals_, _o("StudyDescription")).text = study_title
    etree.SubElement(globals_, _o("ProtocolName")).text = study_id
    mdv = etree.SubElement(
        study,
        _o("MetaDataVersion"),
        OID=f"MDV.{study_id}.{std_name}",
        Name=f"{std_name} {std_version}",
    )
    mdv.set(_d("DefineVersion"), "2.1.7")
    stds = etree.SubElement(mdv, _d("Standards"))
    etree.SubElement(
        stds,
        _d("Standard"),
        OID=std_oid,
        Name=std_name,
        Type="IG",
        Version=std_version,
        Status="Final",
    )
    # the terms cartrial writes are those of data/cdisc/codelists.csv, versioned with cartrial
    etree.SubElement(
        stds,
        _d("Standard"),
        OID="STD.CT",
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet=standard.upper(),
        Version=f"cartrial-{__version__}",
        Status="Final",
    )
    with_values, value_items = _value_level(mdv, datasets)
    used_codelists: set[str] = set()
    methods: dict[str, VariableSpec] = {}
    item_defs: list[tuple[str, VariableSpec, pd.Series]] = []
    for spec in specs:
        frame = datasets[spec.name]
        group = etree.SubElement(
            mdv,
            _o("ItemGroupDef"),
            OID=f"IG.{spec.name}",
            Name=spec.name,
            Repeating="No" if spec.name in _ONE_RECORD else "Yes",
            IsReferenceData="Yes" if spec.class_ == "TRIAL DESIGN" else "No",
            SASDatasetName=spec.name,
            Purpose=purpose,
        )
        group.set(_d("Structure"), spec.structure)
        group.set(_d("StandardOID"), std_oid)
        group.set(_d("ArchiveLocationID"), f"LF.{spec.name}")
        _description(group, spec.label)
        for order, variable in enumerate(spec.variables, start=1):
            oid = f"IT.{spec.name}.{variable.name}"
            ref = etree.SubElement(group, _o("ItemRef"), ItemOID=oid, OrderNumber=str(order))
            ref.set("Mandatory", "Yes" if variable.core == "Req" else "No")
            if variable.name in spec.keys:
                ref.set("KeySequence", str(spec.keys.index(variable.name) + 1))
            if variable.origin == "Derived":
                ref.set("MethodOID", f"MT.{spec.name}.{variable.name}")
                methods[f"MT.{spec.name}.{variable.name}"] = variable
            item_defs.append((oid, variable, frame[variable.name]))
            if variable.codelist in codelists():
                used_codelists.add(variable.codelist)
        etree.SubElement(group, _d("Class"), Name=spec.class_)
        leaf = etree.SubElement(group, _d("leaf"), ID=f"LF.{spec.name}")
        leaf.set(f"{{{XLINK_NS}}}href", f"{spec.name.lower()}.{fmt}")
        etree.SubElement(leaf, _d("title")).text = f"{spec.name.lower()}.{fmt}"
    for oid, variable, values in item_defs:
        item = _item_def(mdv, oid, variable, values)
        if oid in with_values:
            etree.SubElement(item, _d("ValueListRef"), ValueListOID=f"VL.{oid[3:]}")
    for oid, variable, values in value_items:
        _item_def(mdv, oid, variable, values)
    for name in sorted(used_codelists):
        codelist = codelists()[name]
        element = etree.SubElement(
            mdv, _o("CodeList"), OID=f"CL.{name}", Name=name, DataType="text"
        )
        for value, decode in codelist.terms.items():
            item = etree.SubElement(element, _o("CodeListItem"), CodedValue=value)
            decoded = etree.SubElement(item, _o("Decode"))
            text = etree.SubElement(decoded, _o("TranslatedText"))
            text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            text.text = decode
        if codelist.nci_code != "sponsor":
            etree.SubElement(element, _o("Alias"), Context="nci:ExtCodeID", Name=codelist.nci_code)
    for oid, variable in methods.items():
        method = etree.SubElement(
            mdv, _o("MethodDef"), OID=oid, Name=f"Derivation of {variable.name}", Type="Computation"
        )
        _description(method, variable.derivation)
    return root


def _value_level(
    mdv: etree._Element, datasets: Mapping[str, pd.DataFrame]
) -> tuple[set[str], list[tuple[str, VariableSpec, pd.Series]]]:
    """Value lists and where clauses of the LB/PC/PP results, one entry per test code (per
    analyte and parameter in PP).

    Returns the OIDs of the result variables that get a ``ValueListRef`` and the value-level
    ``ItemDef``s to write (OID, metadata with a test-specific label, that test's values).
    """
    parents: set[str] = set()
    items: list[tuple[str, VariableSpec, pd.Series]] = []
    clauses: list[tuple[str, list[tuple[str, str]]]] = []
    for name, (result, tests) in VALUE_LEVEL.items():
        if name not in datasets or datasets[name].empty:
            continue
        frame = datasets[name]
        variable = dataset_spec(name).variable(result)
        parent = f"IT.{name}.{result}"
        parents.add(parent)
        values = etree.SubElement(mdv, _d("ValueListDef"), OID=f"VL.{name}.{result}")
        keys = frame[list(tests)].dropna().drop_duplicates().astype(str)
        for order, key in enumerate(sorted(keys.itertuples(index=False, name=None)), start=1):
            tag = ".".join(_oid_part(k) for k in key)
            oid, where = f"{parent}.{tag}", f"WC.{name}.{'.'.join(tests)}.{tag}"
            ref = etree.SubElement(
                values, _o("ItemRef"), ItemOID=oid, OrderNumber=str(order), Mandatory="No"
            )
            etree.SubElement(ref, _d("WhereClauseRef"), WhereClauseOID=where)
            selected = (frame[list(tests)].astype(str) == list(key)).all(axis=1)
            units = frame.loc[selected, f"{name}STRESU"].dropna().unique()
            unit = f" in {units[0]}" if len(units) else ""
            description = f"{variable.label} of {' '.join(reversed(key))}{unit}"
            items.append(
                (
                    oid,
                    variable.model_copy(update={"label": description}),
                    frame.loc[selected, result],
                )
            )
            checks = [(f"IT.{name}.{t}", k) for t, k in zip(tests, key, strict=True)]
            clauses.append((where, checks))
    for where, checks in clauses:
        clause = etree.SubElement(mdv, _d("WhereClauseDef"), OID=where)
        for item, code in checks:  # several range checks: all must hold
            check = etree.SubElement(clause, _o("RangeCheck"), SoftHard="Soft", Comparator="EQ")
            check.set(_d("ItemOID"), item)
            etree.SubElement(check, _o("CheckValue")).text = code
    return parents, items


def _oid_part(value: str) -> str:
    """``value`` as a part of an OID: letters, digits and underscores (``CAR+ T Cells`` ->
    ``CAR_T_Cells``)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_") or "_"


def define_problems(root: etree._Element) -> list[str]:
    """Every structural problem of a Define-XML v2.1 document (empty when sound; module doc)."""
    problems: list[str] = []
    if root.tag != _o("ODM"):
        return [f"root element is {root.tag}, not ODM in {ODM_NS}"]
    for attribute in ("FileType", "FileOID", "ODMVersion", "CreationDateTime", _d("Context")):
        if not root.get(attribute):
            problems.append(f"ODM lacks the {attribute} attribute")
    mdv = root.find(f"{_o('Study')}/{_o('MetaDataVersion')}")
    if mdv is None:
        return [*problems, "no Study/MetaDataVersion"]
    if not str(mdv.get(_d("DefineVersion"), "")).startswith("2.1"):
        problems.append("MetaDataVersion lacks def:DefineVersion 2.1.x")
    ranks = [
        _ORDER.index(etree.QName(child).localname)
        for child in mdv
        if etree.QName(child).localname in _ORDER
    ]
    if ranks != sorted(ranks):
        problems.append("MetaDataVersion children are not in the order the schema requires")
    oids: dict[str, list[str]] = {}
    for element in root.iter():
        oid = element.get("OID") or element.get("ID")
        if oid:
            oids.setdefault(etree.QName(element).localname, []).append(oid)
    for kind, values in oids.items():
        if len(values) != len(set(values)):
            problems.append(f"{kind} OIDs repeat")
    known = {kind: set(values) for kind, values in oids.items()}
    references = (
        (_o("ItemRef"), "ItemOID", "ItemDef"),
        (_o("ItemRef"), "MethodOID", "MethodDef"),
        (_o("CodeListRef"), "CodeListOID", "CodeList"),
        (_d("WhereClauseRef"), "WhereClauseOID", "WhereClauseDef"),
        (_d("ValueListRef"), "ValueListOID", "ValueListDef"),
        (_o("ItemGroupDef"), _d("ArchiveLocationID"), "leaf"),
        (_o("RangeCheck"), _d("ItemOID"), "ItemDef"),
    )
    for tag, attribute, target in references:
        for element in root.iter(tag):
            value = element.get(attribute)
            if value is not None and value not in known.get(target, set()):
                problems.append(f"{etree.QName(tag).localname} {attribute}={value!r}: no {target}")
    referenced = {ref.get("ItemOID") for ref in root.iter(_o("ItemRef"))}
    orphans = sorted(known.get("ItemDef", set()) - referenced)
    if orphans:
        problems.append(f"ItemDefs no dataset or value list refers to: {orphans[:5]}")
    return problems


def define_html(root: etree._Element) -> str:
    """An HTML rendering of a Define-XML document for people (datasets, variables, codelists)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    mdv = root.find(f"{_o('Study')}/{_o('MetaDataVersion')}")
    assert mdv is not None

    def text(element: etree._Element) -> str:
        found = element.find(f"{_o('Description')}/{_o('TranslatedText')}")
        return "" if found is None or found.text is None else found.text

    items = {item.get("OID"): item for item in mdv.iter(_o("ItemDef"))}
    methods = {m.get("OID"): text(m) for m in mdv.iter(_o("MethodDef"))}
    groups = []
    for group in mdv.iter(_o("ItemGroupDef")):
        rows = []
        for ref in group.iter(_o("ItemRef")):
            item = items[ref.get("ItemOID")]
            origin = item.find(_d("Origin"))
            codelist = item.find(_o("CodeListRef"))
            rows.append(
                {
                    "name": item.get("Name"),
                    "label": text(item),
                    "type": item.get("DataType"),
                    "length": item.get("Length", ""),
                    "key": ref.get("KeySequence", ""),
                    "mandatory": ref.get("Mandatory"),
                    "codelist": "" if codelist is None else codelist.get("CodeListOID", "")[3:],
                    "origin": "" if origin is None else origin.get("Type", ""),
                    "derivation": methods.get(ref.get("MethodOID"), "")
                    or ("" if origin is None else text(origin)),
                }
            )
        leaf = group.find(_d("leaf"))
        groups.append(
            {
                "name": group.get("Name"),
                "label": text(group),
                "structure": group.get(_d("Structure")),
                "class": group.find(_d("Class")).get("Name")
                if group.find(_d("Class")) is not None
                else "",
                "file": "" if leaf is None else leaf.get(f"{{{XLINK_NS}}}href"),
                "variables": rows,
            }
        )
    codes = [
        {
            "name": cl.get("Name"),
            "terms": [(i.get("CodedValue"), text_of(i)) for i in cl.iter(_o("CodeListItem"))],
        }
        for cl in mdv.iter(_o("CodeList"))
    ]
    environment = Environment(
        loader=PackageLoader("cartrial.exchange", "templates"), autoescape=select_autoescape()
    )
    return environment.get_template("define.html.j2").render(
        study=root.findtext(f"{_o('Study')}/{_o('GlobalVariables')}/{_o('StudyDescription')}"),
        standard=mdv.get("Name"),
        created=root.get("CreationDateTime"),
        groups=groups,
        codelists=codes,
    )


def text_of(item: etree._Element) -> str:
    """The decode text of a ``CodeListItem``."""
    found = item.find(f"{_o('Decode')}/{_o('TranslatedText')}")
    return "" if found is None or found.text is None else found.text


def write_define(
    datasets: Mapping[str, pd.DataFrame],
    out: Path,
    *,
    study_id: str,
    study_title: str,
    fmt: str,
    created: dt.datetime,
) -> tuple[Path, Path]:
    """Write ``define.xml`` and its HTML rendering ``define.html`` into ``out``."""
    root = define_xml(
        datasets, study_id=study_id, study_title=study_title, fmt=fmt, created=created
    )
    problems = define_problems(root)
    if problems:
        raise ValueError("Define-XML is not sound:\n  " + "\n  ".join(problems))
    xml_path, html_path = out / "define.xml", out / "define.html"
    xml_path.write_bytes(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )
    html_path.write_text(define_html(root), encoding="utf-8")
    return xml_path, html_path
