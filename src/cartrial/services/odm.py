"""CDISC ODM 1.3 clinical data: every record family written and read as ODM XML.

The metadata (``Study/MetaDataVersion``) has one ``FormDef`` and one ``ItemGroupDef`` per record
family of :data:`~cartrial.services.imports_records.RECORD_FAMILIES` and one ``ItemDef`` per
field of its row model (OIDs ``F.<FAMILY>``, ``IG.<FAMILY>``, ``IT.<FAMILY>.<FIELD>``). The
clinical data (``ClinicalData/SubjectData/StudyEventData/FormData/ItemGroupData/ItemData``) has
one ``SubjectData`` per subject (``SubjectKey`` = subject id), one study event ``SE.RECORDS``,
one form per family and one repeating item group per record row; an empty value is an absent
``ItemData``. Reference: CDISC ODM 1.3.2 specification (``ODM``, ``ClinicalData`` and
``MetaDataVersion`` elements).

:func:`export_odm` writes the rows of :func:`~cartrial.services.records_read.recorded_rows`;
:func:`import_odm` reads such a file (from cartrial or another EDC using these OIDs) and imports
it through the use cases in one transaction
(:func:`~cartrial.services.imports_records.apply_rows`), reporting every bad item group by its
XML line.

The study-level records (dose decisions and governance decisions, no subject) are
``ItemGroupData`` of ``ReferenceData`` (same OIDs, ``ItemGroupDef/@IsReferenceData="Yes"``, no
form); the DLT adjudications are a subject's form ``F.DLT_ADJUDICATIONS``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from lxml import etree
from pydantic import BaseModel, SecretStr

from cartrial.errors import ImportFailed
from cartrial.services.context import ServiceContext
from cartrial.services.csvrows import RowErrors
from cartrial.services.imports import ImportReport
from cartrial.services.imports_records import (
    RECORD_FAMILIES,
    RowBatch,
    apply_rows,
    validate_cells,
)
from cartrial.services.records_read import recorded_rows

__all__ = ["ODM_NS", "export_odm", "import_odm"]

#: The ODM 1.3 XML namespace.
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
_EVENT = "SE.RECORDS"
_MDV = "MDV.CARTRIAL.1"


def _q(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _form_oid(family: str) -> str:
    return f"F.{family.upper()}"


def _group_oid(family: str) -> str:
    return f"IG.{family.upper()}"


def _item_oid(family: str, field: str) -> str:
    return f"IT.{family.upper()}.{field.upper()}"


def _data_type(annotation: object) -> str:
    """ODM DataType of a row field (``text`` unless every member has a narrower type)."""
    if get_origin(annotation) is Literal:
        # integer codes (IHC intensity Literal[0, 1, 2, 3]) or a code list of words
        return "integer" if all(type(v) is int for v in get_args(annotation)) else "text"
    members = {a for a in (get_args(annotation) or (annotation,)) if a is not type(None)}
    for kinds, name in (
        ({bool}, "boolean"),
        ({int}, "integer"),
        ({float}, "float"),
        ({dt.date}, "date"),
    ):
        if members == kinds:
            return name
    if members and all(getattr(m, "__name__", "") in ("AwareDatetime", "date") for m in members):
        return "datetime"
    return "text"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fields(family: str) -> list[str]:
    return [f for f in RECORD_FAMILIES[family].row.model_fields if f != "subject_id"]


def _study_level(family: str) -> bool:
    """Whether ``family`` holds study-level records (ODM ``ReferenceData``, no subject)."""
    return RECORD_FAMILIES[family].stage == "decision"


def _item_group(parent: Any, family: str, key: int, record: BaseModel) -> None:
    """One ``ItemGroupData`` of ``family`` for ``record`` (an absent value: no ``ItemData``)."""
    group = etree.SubElement(
        parent, _q("ItemGroupData"), ItemGroupOID=_group_oid(family), ItemGroupRepeatKey=str(key)
    )
    for field in _fields(family):
        value = getattr(record, field)
        if value is not None:
            etree.SubElement(
                group, _q("ItemData"), ItemOID=_item_oid(family, field), Value=_value(value)
            )


def export_odm(ctx: ServiceContext, *, created: dt.datetime | None = None) -> bytes:
    """The study's records as an ODM 1.3 ``Snapshot`` document (UTF-8 XML bytes).

    Parameters
    ----------
    created
        ``CreationDateTime`` of the document (default: now, UTC); fixed in tests so two exports
        compare byte for byte.
    """
    rows = recorded_rows(ctx)
    when = (created or dt.datetime.now(dt.UTC)).isoformat()
    odm = etree.Element(
        _q("ODM"),
        nsmap={None: ODM_NS},
        FileType="Snapshot",
        FileOID=f"cartrial.{ctx.study_id}",
        CreationDateTime=when,
        ODMVersion="1.3.2",
        Granularity="All",
        Originator="cartrial",
    )
    study = etree.SubElement(odm, _q("Study"), OID=ctx.study_id)
    globals_ = etree.SubElement(study, _q("GlobalVariables"))
    for tag in ("StudyName", "StudyDescription", "ProtocolName"):
        etree.SubElement(globals_, _q(tag)).text = ctx.study_id
    _metadata(study)
    reference = etree.SubElement(
        odm, _q("ReferenceData"), StudyOID=ctx.study_id, MetaDataVersionOID=_MDV
    )
    for family in RECORD_FAMILIES:
        if _study_level(family):
            for key, study_row in enumerate(rows.get(family, []), start=1):
                _item_group(reference, family, key, study_row)
    if not len(reference):
        odm.remove(reference)
    clinical = etree.SubElement(
        odm, _q("ClinicalData"), StudyOID=ctx.study_id, MetaDataVersionOID=_MDV
    )
    by_subject: dict[str, dict[str, list[BaseModel]]] = defaultdict(lambda: defaultdict(list))
    for family, family_rows in rows.items():
        if _study_level(family):
            continue
        for row in family_rows:
            by_subject[str(getattr(row, "subject_id"))][family].append(row)  # noqa: B009
    for subject in sorted(by_subject):
        subject_data = etree.SubElement(clinical, _q("SubjectData"), SubjectKey=subject)
        event = etree.SubElement(subject_data, _q("StudyEventData"), StudyEventOID=_EVENT)
        for family in RECORD_FAMILIES:
            records = by_subject[subject].get(family, [])
            if not records:
                continue
            form = etree.SubElement(event, _q("FormData"), FormOID=_form_oid(family))
            for key, record in enumerate(records, start=1):
                _item_group(form, family, key, record)
    return bytes(etree.tostring(odm, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _metadata(study: Any) -> None:
    """``MetaDataVersion``: one event, a form and item group per family, an item per field."""
    mdv = etree.SubElement(study, _q("MetaDataVersion"), OID=_MDV, Name="cartrial record families")
    protocol = etree.SubElement(mdv, _q("Protocol"))
    etree.SubElement(
        protocol, _q("StudyEventRef"), StudyEventOID=_EVENT, OrderNumber="1", Mandatory="Yes"
    )
    event = etree.SubElement(
        mdv, _q("StudyEventDef"), OID=_EVENT, Name="Records", Repeating="No", Type="Common"
    )
    forms = [family for family in RECORD_FAMILIES if not _study_level(family)]
    for number, family in enumerate(forms, start=1):
        etree.SubElement(
            event, _q("FormRef"), FormOID=_form_oid(family), OrderNumber=str(number),
            Mandatory="No",
        )  # fmt: skip
    for family in forms:
        form = etree.SubElement(
            mdv, _q("FormDef"), OID=_form_oid(family), Name=family, Repeating="No"
        )
        etree.SubElement(form, _q("ItemGroupRef"), ItemGroupOID=_group_oid(family), Mandatory="Yes")
    for family, spec in RECORD_FAMILIES.items():
        group = etree.SubElement(
            mdv, _q("ItemGroupDef"), OID=_group_oid(family), Name=family, Repeating="Yes",
            IsReferenceData="Yes" if _study_level(family) else "No",
        )  # fmt: skip
        for number, field in enumerate(_fields(family), start=1):
            required = spec.row.model_fields[field].is_required()
            etree.SubElement(
                group, _q("ItemRef"), ItemOID=_item_oid(family, field), OrderNumber=str(number),
                Mandatory="Yes" if required else "No",
            )  # fmt: skip
    for family, spec in RECORD_FAMILIES.items():
        for field in _fields(family):
            etree.SubElement(
                mdv, _q("ItemDef"), OID=_item_oid(family, field), Name=field,
                DataType=_data_type(spec.row.model_fields[field].annotation),
            )  # fmt: skip


def import_odm(
    ctx: ServiceContext, source: str | Path, *, password: SecretStr | None = None
) -> tuple[ImportReport, ...]:
    """Import an ODM 1.3 clinical data file through the use cases, all or nothing.

    ``password`` (the importing user's) is needed when the file holds signed governance records
    (:mod:`cartrial.services.imports_governance`): the user signs each as an imported copy.

    Raises
    ------
    ImportFailed
        The file cannot be read or is not ODM XML (line 0 or the parser's line); otherwise every
        unknown form, item group or item, bad value and row a use case refuses, each on the XML
        line of its ``ItemGroupData``; nothing is written.
    """
    name = str(source)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.parse(str(source), parser).getroot()
    except OSError as exc:
        raise ImportFailed(name, [(0, "<file>", f"cannot read: {exc}")]) from None
    except etree.XMLSyntaxError as exc:
        raise ImportFailed(name, [(exc.lineno or 0, "<xml>", str(exc.msg))]) from None
    if root.tag != _q("ODM"):
        raise ImportFailed(name, [(root.sourceline or 1, "<xml>", f"not ODM 1.3: {root.tag}")])
    errors = RowErrors(name)
    rows: dict[str, list[tuple[int, BaseModel]]] = defaultdict(list)
    families = {_form_oid(f): f for f in RECORD_FAMILIES if not _study_level(f)}
    groups = {_group_oid(f): f for f in RECORD_FAMILIES if _study_level(f)}
    for reference in root.iterfind(_q("ReferenceData")):
        if not _of_this_study(reference, ctx.study_id, errors):
            continue
        for group in reference.iterfind(_q("ItemGroupData")):
            family = groups.get(group.get("ItemGroupOID") or "")
            if family is None:
                line = group.sourceline or 0
                errors.add(line, "ItemGroupOID", f"unknown {group.get('ItemGroupOID')!r}")
                continue
            _read_group(family, None, group, rows, errors)
    for clinical in root.iterfind(_q("ClinicalData")):
        if not _of_this_study(clinical, ctx.study_id, errors):
            continue
        for subject in clinical.iterfind(_q("SubjectData")):
            key = subject.get("SubjectKey") or ""
            for form in subject.iterfind(f"{_q('StudyEventData')}/{_q('FormData')}"):
                family = families.get(form.get("FormOID") or "")
                if family is None:
                    line = form.sourceline or 0
                    errors.add(line, "FormOID", f"unknown form {form.get('FormOID')!r}")
                    continue
                for group in form.iterfind(_q("ItemGroupData")):
                    _read_group(family, key, group, rows, errors)
    batches = [RowBatch(family, name, lines) for family, lines in rows.items()]
    if not batches and not errors:
        raise ImportFailed(name, [(0, "<file>", "no clinical data for this study")])
    return apply_rows(ctx, batches, {name: errors}, password=password)


def _of_this_study(element: Any, study_id: str, errors: RowErrors) -> bool:
    """Whether ``element``'s ``StudyOID`` is ``study_id`` (otherwise an error on its line)."""
    if element.get("StudyOID") == study_id:
        return True
    errors.add(
        element.sourceline or 0, "StudyOID", f"{element.get('StudyOID')!r} is not {study_id}"
    )
    return False


def _read_group(
    family: str,
    subject: str | None,
    group: Any,
    rows: dict[str, list[tuple[int, BaseModel]]],
    errors: RowErrors,
) -> None:
    """Validate one ``ItemGroupData`` as a row of ``family``; errors on its XML line."""
    line = group.sourceline or 0
    if group.get("ItemGroupOID") != _group_oid(family):
        errors.add(line, "ItemGroupOID", f"{group.get('ItemGroupOID')!r} in {family}")
        return
    items = {_item_oid(family, f): f for f in _fields(family)}
    cells: dict[str, object] = {} if subject is None else {"subject_id": subject}
    for item in group.iterfind(_q("ItemData")):
        field = items.get(item.get("ItemOID") or "")
        if field is None:
            errors.add(item.sourceline or line, "ItemOID", f"unknown {item.get('ItemOID')!r}")
            continue
        cells[field] = item.get("Value", "")
    row = validate_cells(RECORD_FAMILIES[family].row, cells, line, errors)
    if row is not None:
        rows[family].append((line, row))
