"""Is an ODM document sound? The schema of what cartrial exchanges, the OIDs and the values.

:func:`odm_problems` checks a CDISC ODM 1.3.2 document in three steps, each problem named by its
XML line:

1. the XML Schema ``data/cdisc/odm-1.3.2-cartrial.xsd`` (written from the ODM 1.3.2
   specification for the elements cartrial writes; its header says why CDISC's own schema is
   not shipped), validated with lxml;
2. every OID a clinical or reference datum refers to (study event, form, item group, item,
   user, location, signature meaning) is defined in the document;
3. every ``ItemData/@Value`` is a value of its ``ItemDef/@DataType`` (integer, float, date,
   datetime, boolean; ODM 1.3.2 section "DataType").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from importlib import resources

from lxml import etree

__all__ = ["odm_problems"]

_NS = "http://www.cdisc.org/ns/odm/v1.3"
_ODM = {"odm": _NS}


@cache
def _schema() -> etree.XMLSchema:
    path = resources.files("cartrial.data.cdisc").joinpath("odm-1.3.2-cartrial.xsd")
    return etree.XMLSchema(etree.fromstring(path.read_bytes()))


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "integer": _parses(int),
    "float": _parses(float),
    "date": _parses(dt.date.fromisoformat),
    "datetime": _parses(dt.datetime.fromisoformat),
    "boolean": lambda value: value in {"true", "false", "1", "0"},
}
#: (referring element, its attribute, the defining element whose OID it names)
_REFERENCES = (
    ("StudyEventRef", "StudyEventOID", "StudyEventDef"),
    ("FormRef", "FormOID", "FormDef"),
    ("ItemGroupRef", "ItemGroupOID", "ItemGroupDef"),
    ("ItemRef", "ItemOID", "ItemDef"),
    ("StudyEventData", "StudyEventOID", "StudyEventDef"),
    ("FormData", "FormOID", "FormDef"),
    ("ItemGroupData", "ItemGroupOID", "ItemGroupDef"),
    ("ItemData", "ItemOID", "ItemDef"),
    ("UserRef", "UserOID", "User"),
    ("LocationRef", "LocationOID", "Location"),
    ("SignatureRef", "SignatureOID", "SignatureDef"),
)


def odm_problems(document: bytes) -> list[str]:
    """Every problem of the ODM document ``document`` (empty when sound; module docstring)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.msg}"]
    schema = _schema()
    if not schema.validate(root):
        return [f"line {e.line}: {e.message}" for e in schema.error_log]
    problems = []
    for referring, attribute, defining in _REFERENCES:
        defined = {e.get("OID") for e in root.iter(f"{{{_NS}}}{defining}")}
        for element in root.iter(f"{{{_NS}}}{referring}"):
            if element.get(attribute) not in defined:
                problems.append(
                    f"line {element.sourceline}: {referring} {attribute}="
                    f"{element.get(attribute)!r} has no {defining}"
                )
    types = {
        item.get("OID"): item.get("DataType")
        for item in root.iterfind(".//odm:MetaDataVersion/odm:ItemDef", _ODM)
    }
    for datum in root.iter(f"{{{_NS}}}ItemData"):
        kind = types.get(datum.get("ItemOID"), "text")
        check = _VALUE_CHECKS.get(str(kind))
        value = datum.get("Value")
        if check is not None and value is not None and not check(value):
            problems.append(
                f"line {datum.sourceline}: {datum.get('ItemOID')} {value!r} is not {kind}"
            )
    return problems
