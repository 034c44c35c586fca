"""``cartrial serve``: the web application under uvicorn.

The database is ``--db`` (a SQLite file or URL; default ``$CARTRIAL_DATABASE_URL``, else
``./cartrial.db``); several ``--workers`` each open it (use PostgreSQL for more than one: SQLite
serialises writers). Workers are started by uvicorn from :func:`app_from_environment`, which reads
the database and study from the environment variables this command sets.
"""

from __future__ import annotations

import os

import typer

from cartrial.web import create_app

__all__ = ["app_from_environment", "register"]

_DB_ENV = "CARTRIAL_DATABASE_URL"
_STUDY_ENV = "CARTRIAL_STUDY"


def app_from_environment() -> object:
    """The web app of ``$CARTRIAL_STUDY`` on ``$CARTRIAL_DATABASE_URL`` (a uvicorn factory)."""
    from cartrial.protocol import load_protocol
    from cartrial.services import open_database

    factory = open_database(os.environ.get(_DB_ENV))
    study = os.environ.get(_STUDY_ENV) or load_protocol().study_id
    return create_app(factory, study)


def serve(
    db: str | None = typer.Option(
        None,
        "--db",
        help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
    ),
    study: str | None = typer.Option(
        None, "--study", help="Study code (default: the packaged protocol's study)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
) -> None:
    """Serve the web application (log in with an account of the study)."""
    import uvicorn

    from cartrial.services import database_name, open_database

    open_database(db)  # a missing or foreign database is refused here, before any worker starts
    if db is not None:
        os.environ[_DB_ENV] = db
    if study:
        os.environ[_STUDY_ENV] = study
    typer.echo(
        f"cartrial web application for {database_name(db)} on http://{host}:{port}/ "
        "(Ctrl-C stops it)"
    )
    uvicorn.run(
        "cartrial.cli.serve:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # a worker imports pandas, SQLAlchemy and the rules before it answers: on a busy
        # machine that takes longer than uvicorn's default health check of 5 s
        timeout_worker_healthcheck=60,
    )


def register(app: typer.Typer) -> None:
    """Add ``cartrial serve`` to ``app``."""
    app.command("serve")(serve)
