"""CSV upload of records (kinetics, ADA, phenotype, labs, lesions and every other record family).

The file goes to :func:`cartrial.services.import_records` as text: every row runs through its use
case (roles, site scope, protocol checks and audit as for a person typing), all in one
transaction; a refused file lists every row-level error (file line, field, message) in one pass
and nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from pydantic import SecretStr
from starlette.responses import Response

from cartrial.errors import AuthenticationFailed, ImportFailed
from cartrial.services import RECORD_FAMILIES, import_records, load_study
from cartrial.web.deps import PageContext, csrf_checked
from cartrial.web.pages import render

__all__ = ["FIRST_FAMILIES", "MAX_UPLOAD_BYTES", "router"]

router = APIRouter()

#: Families listed first on the page: the laboratory and sample results most often uploaded.
FIRST_FAMILIES = ("kinetics", "ada", "phenotype", "labs", "tumour_assessments")
#: Largest file accepted (bytes); a bigger one is refused before it is read.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _families() -> list[tuple[str, list[tuple[str, bool]]]]:
    """Each family with its CSV columns (name, required): the usual uploads first, the signed
    governance families (DLT adjudications, dose and other decisions) last."""
    unsigned = [n for n, family in RECORD_FAMILIES.items() if not family.signed]
    signed = [n for n, family in RECORD_FAMILIES.items() if family.signed]
    names = [*FIRST_FAMILIES, *(n for n in unsigned if n not in FIRST_FAMILIES), *signed]
    return [
        (
            name,
            [
                (column, info.is_required())
                for column, info in RECORD_FAMILIES[name].row.model_fields.items()
            ],
        )
        for name in names
    ]


def _page(request: Request, user: str, status: int = 200, **context: object) -> Response:
    signed = [name for name, family in RECORD_FAMILIES.items() if family.signed]
    values = {"families": _families(), "signed": signed, "family": "kinetics", **context}
    return render(request, "import.html", values, status=status, user=user)


@router.get("/import")
def import_page(request: Request, ctx: PageContext) -> Response:
    """The upload form, with the columns of each record family."""
    load_study(ctx)
    return _page(request, ctx.user, family=request.query_params.get("family", "kinetics"))


@router.post("/import", dependencies=[Depends(csrf_checked)])
async def import_upload(
    request: Request,
    ctx: PageContext,
    family: Annotated[str, Form()],
    file: UploadFile,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Import the file: the rows written, or every error and nothing written (422).

    ``password`` (the user's own) is needed for the signed governance families only: it signs
    each imported record as a copy, the source system's signature kept as data
    (``docs/import.md``); a wrong one is recorded as a failed signature.
    """
    name = file.filename or "upload.csv"
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        if len(raw) > MAX_UPLOAD_BYTES:
            raise ImportFailed(name, [(0, "<file>", f"larger than {MAX_UPLOAD_BYTES} bytes")])
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFailed(name, [(0, "<file>", f"not UTF-8 text ({exc.reason})")]) from None
        # always CSV text, never a path: the services read text with a line break as the data
        report = import_records(
            ctx,
            family,
            text if "\n" in text else f"{text}\n",
            password=SecretStr(password) if password else None,
        )
    except AuthenticationFailed as exc:  # the signing password: shown beside its field
        failed = ImportFailed(name, [(0, "password", str(exc))])
        return _page(
            request,
            ctx.user,
            422,
            family=family,
            filename=name,
            failed=failed,
            errors=failed.errors,
        )
    except ImportFailed as exc:
        return _page(
            request, ctx.user, 422, family=family, filename=name, failed=exc, errors=exc.errors
        )
    return _page(request, ctx.user, family=family, filename=name, report=report)
