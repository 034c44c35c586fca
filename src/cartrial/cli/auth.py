"""Credentials on the command line: ``cartrial login``/``logout``, ``token``, ``account``.

Every command that writes acts for the person of a credential (:func:`write_context`):

1. ``$CARTRIAL_TOKEN``: a personal access token (``cartrial token create``), for scripts;
2. else the session saved by ``cartrial login`` in ``$CARTRIAL_SESSION_FILE`` (default
   ``$XDG_CONFIG_HOME/cartrial/session.json``, i.e. ``~/.config/cartrial/session.json``), a file
   only its owner can read (mode 0600).

``--user`` / ``$CARTRIAL_USER`` alone is refused for writes; given with a credential, it must
name the credential's person. Sessions expire (idle and absolute timeouts,
:mod:`cartrial.services.auth_settings`); passwords are prompted without echo or read from
standard input (``--password-stdin``), never taken from the command line.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from cartrial.cli.layout import print_record
from cartrial.errors import AuthenticationFailed

if TYPE_CHECKING:
    from cartrial.services import ServiceContext
    from cartrial.services.context import SessionFactory

__all__ = [
    "SESSION_FILE_ENV",
    "TOKEN_ENV",
    "cli_source",
    "context_on",
    "register",
    "session_file",
    "write_context",
]

#: Environment variable holding a personal access token.
TOKEN_ENV = "CARTRIAL_TOKEN"
#: Environment variable naming the file where ``cartrial login`` keeps the session.
SESSION_FILE_ENV = "CARTRIAL_SESSION_FILE"

DB_OPT = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
STUDY_OPT = typer.Option(None, "--study", help="Study id (default: the packaged protocol's).")
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")


def session_file() -> Path:
    """Where the session is kept: ``$CARTRIAL_SESSION_FILE``, else under the user's config."""
    named = os.environ.get(SESSION_FILE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return base / "cartrial" / "session.json"


def cli_source() -> str:
    """Where a command comes from, for the record: ``cli:HOST/OS-USER``."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"cli:{socket.gethostname()}/{who}"[:200]


def _save_session(path: Path, record: dict[str, str]) -> None:
    """Write the session file readable and writable by its owner only (0600, directory 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # also when the file already existed
        json.dump(record, handle)


def _saved_token() -> str | None:
    path = session_file()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthenticationFailed(
            f"{path}: unreadable session file ({exc}); log in again"
        ) from None
    token = record.get("token") if isinstance(record, dict) else None
    return token if isinstance(token, str) and token else None


def _factory(db: str | None) -> SessionFactory:
    """The existing cartrial database ``db`` (never created here: only ``study init`` does)."""
    from cartrial.services import open_database

    return open_database(db)


def write_context(db: str | None, user: str | None, study: str | None) -> ServiceContext:
    """The :class:`~cartrial.services.ServiceContext` of the person whose credential is present.

    Raises
    ------
    AuthenticationFailed
        No credential (``--user`` alone is refused), an invalid or expired one, or ``user``
        naming someone else than the credential's person.
    """
    factory = _factory(db)  # first: a wrong --db is the problem to report, not the credential
    return context_on(factory, user, study)


def context_on(factory: SessionFactory, user: str | None, study: str | None) -> ServiceContext:
    """:func:`write_context` on an open database (e.g. one just created from a backup)."""
    from cartrial.protocol import load_protocol
    from cartrial.services import context_for

    token = os.environ.get(TOKEN_ENV, "").strip() or _saved_token()
    if token is None:
        hint = f"--user {user} alone is not a credential: " if user else ""
        raise AuthenticationFailed(
            f"{hint}writing needs a credential: run `cartrial login --user NAME` "
            f"or set {TOKEN_ENV} to a personal access token"
        )
    ctx = context_for(factory, token, study or load_protocol().study_id, source=cli_source())
    if user and user != ctx.user:
        raise AuthenticationFailed(
            f"the credential belongs to {ctx.user!r}, not {user!r}: log in as {user} first"
        )
    return ctx


def _password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True))


def login_command(
    user: str = typer.Option(..., "--user", envvar="CARTRIAL_USER", help="Your username."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (one line)."
    ),
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Log in: open a session for the commands that write (saved in a file only you can read)."""
    from cartrial.services import LogIn, login

    password = _password("Password", password_stdin)
    opened = login(_factory(db), LogIn(username=user, password=password, source=cli_source()))
    path = session_file()
    _save_session(
        path,
        {
            "token": opened.token,
            "username": opened.username,
            "expires_at": opened.expires_at.isoformat(),
        },
    )
    print_record(
        {
            "username": opened.username,
            "session file": str(path),
            "expires at (UTC)": f"{opened.expires_at:%Y-%m-%d %H:%M:%S}",
            "idle expiry (UTC)": f"{opened.idle_expires_at:%Y-%m-%d %H:%M:%S}",
        },
        "logged in",
        as_json,
    )


def logout_command(db: str | None = DB_OPT) -> None:
    """End the saved session and delete the session file."""
    from cartrial.services import logout

    path = session_file()
    token = _saved_token()
    if token is None:
        Console().print("not logged in")
        return
    try:
        logout(_factory(db), token, source=cli_source())
    finally:
        path.unlink(missing_ok=True)
    Console().print("logged out")


def token_create_command(
    name: str = typer.Argument(..., help="What the token is for, e.g. 'nightly lab import'."),
    expires_on: str | None = typer.Option(
        None, "--expires-on", help="First day (UTC) it is refused, YYYY-MM-DD (default: +90 days)."
    ),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Create a personal access token; it is shown ONCE (use it as $CARTRIAL_TOKEN)."""
    from cartrial.services import CreateToken, create_token

    day = expires_on or (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=90)).isoformat()
    created = create_token(
        write_context(db, None, study), CreateToken.parse({"name": name, "expires_on": day})
    )
    print_record(created.model_dump(), "access token (shown once: store it now)", as_json)


def token_list_command(
    study: str | None = STUDY_OPT, db: str | None = DB_OPT, as_json: bool = JSON_OPT
) -> None:
    """List your access tokens (never their values)."""
    from cartrial.services import list_tokens

    tokens = list_tokens(write_context(db, None, study))
    if as_json:
        typer.echo(json.dumps([t.model_dump() for t in tokens], default=str, indent=2))
        return
    table = Table("id", "name", "expires on", "last used (UTC)", "state", title="access tokens")
    for t in tokens:
        state = "active" if t.active else ("revoked" if t.revoked_at else "expired")
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        table.add_row(str(t.token_id), t.name, str(t.expires_on), used, state)
    Console().print(table)


def token_revoke_command(
    token_id: int = typer.Argument(..., help="The token's id (see `cartrial token list`)."),
    reason: str = typer.Option("revoked by its owner", "--reason", help="Why (audited)."),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke an access token (yours; administrators: anyone's)."""
    from cartrial.services import RevokeToken, revoke_token

    revoked = revoke_token(
        write_context(db, None, study), RevokeToken(token_id=token_id, reason=reason)
    )
    print_record(revoked.model_dump(), "access token revoked", as_json)


def password_command(
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read current and new password from stdin (two lines)."
    ),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
) -> None:
    """Change your password (every session of yours ends: log in again)."""
    from cartrial.services import ChangePassword, change_password

    current = _password("Current password", password_stdin)
    if password_stdin:
        new = _password("New password", True)
    else:
        new = str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))
    changed = change_password(
        write_context(db, None, study), ChangePassword.parse({"current": current, "new": new})
    )
    session_file().unlink(missing_ok=True)
    Console().print(
        f"password of {changed.username} changed; {changed.sessions_ended} session(s) ended"
    )


def unlock_command(
    username: str = typer.Argument(..., help="The locked account."),
    reason: str = typer.Option(..., "--reason", help="Why it may be unlocked (audited)."),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Unlock an account locked after repeated failed passwords (administrators)."""
    from cartrial.services import UnlockUser, unlock_user

    unlocked = unlock_user(
        write_context(db, None, study), UnlockUser(username=username, reason=reason)
    )
    print_record(unlocked.model_dump(), "account unlocked", as_json)


def deactivate_command(
    username: str = typer.Argument(..., help="The account to deactivate."),
    reason: str = typer.Option(..., "--reason", help="Why, e.g. 'left the study' (audited)."),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Deactivate an account: no login, sessions ended, tokens revoked (administrators)."""
    from cartrial.services import DeactivateUser, deactivate_user

    done = deactivate_user(
        write_context(db, None, study), DeactivateUser(username=username, reason=reason)
    )
    print_record(done.model_dump(), "account deactivated", as_json)


def reactivate_command(
    username: str = typer.Argument(..., help="The account to reactivate."),
    reason: str = typer.Option(..., "--reason", help="Why (audited)."),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Reactivate an inactive account (administrators); it logs in again with its password."""
    from cartrial.services import ReactivateUser, reactivate_user

    done = reactivate_user(
        write_context(db, None, study), ReactivateUser(username=username, reason=reason)
    )
    print_record(done.model_dump(), "account reactivated", as_json)


def revoke_role_command(
    username: str = typer.Argument(..., help="The account."),
    role: str = typer.Option(..., "--role", help="The role to take away."),
    site: str | None = typer.Option(None, "--site", help="Its site (default: study-wide)."),
    reason: str = typer.Option(..., "--reason", help="Why (audited)."),
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke one role of an account at a site or study-wide (administrators)."""
    from cartrial.services import RevokeRole, revoke_role

    revoked = revoke_role(
        write_context(db, None, study),
        RevokeRole.parse({"username": username, "role": role, "site": site, "reason": reason}),
    )
    print_record(revoked.model_dump(), "role revoked", as_json)


def register(app: typer.Typer) -> None:
    """Attach ``login``, ``logout``, ``token`` and ``account`` to the root app."""
    app.command("login")(login_command)
    app.command("logout")(logout_command)
    token = typer.Typer(help="Personal access tokens for scripts ($CARTRIAL_TOKEN).")
    token.command("create")(token_create_command)
    token.command("list")(token_list_command)
    token.command("revoke")(token_revoke_command)
    app.add_typer(token, name="token", no_args_is_help=True)
    account = typer.Typer(
        help="Your password; unlock, deactivate accounts, revoke roles (administrators)."
    )
    account.command("password")(password_command)
    account.command("unlock")(unlock_command)
    account.command("deactivate")(deactivate_command)
    account.command("reactivate")(reactivate_command)
    account.command("revoke-role")(revoke_role_command)
    app.add_typer(account, name="account", no_args_is_help=True)
