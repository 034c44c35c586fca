"""PostgreSQL: the application role gets only what it needs; the audit trail is append-only.

The migrations install triggers that reject UPDATE, DELETE and TRUNCATE on ``audit_log``, but a
table's owner may disable or drop them. :func:`harden` makes the other half true: the application
connects as a role that is NOT the owner (nor a member of it) and holds, in the database's
schema,

* ``SELECT, INSERT, UPDATE`` on the trial tables (records are soft-deleted, never deleted);
* ``SELECT, INSERT`` only on ``audit_log`` (append-only by privilege as well as by trigger);
* ``SELECT`` only on ``alembic_version`` (the schema revision is the owner's);
* ``USAGE, SELECT`` on the sequences;
* no ``DELETE``, ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER`` anywhere, no ``CREATE`` in the schema;

so it can neither rewrite the trail nor disable or drop its triggers (``ALTER TABLE`` and ``DROP
TRIGGER`` need ownership). Default privileges give tables that later migrations create the same
grants (``audit_log`` aside, no later table is append-only). Run by the owner (the role the
migrations ran as); restores too need the owner (:mod:`cartrial.store.restore_postgres`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from cartrial.errors import ValidationFailed

__all__ = ["RolePrivileges", "harden"]

#: What the application role may do on each kind of table.
_TRAIL = "audit_log"
_REVISION = "alembic_version"
#: A role name written into SQL: plain lower-case identifiers only.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Privileges reported per table (PostgreSQL's names).
_CHECKED = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


@dataclass(frozen=True)
class RolePrivileges:
    """What the application role holds after :func:`harden`, read back from the catalogue.

    ``tables`` maps each table of the schema to the privileges the role holds on it;
    ``created`` tells whether the role was created (``LOGIN``, no password: set one with
    ``ALTER ROLE ... PASSWORD``).
    """

    role: str
    schema: str
    owner: str
    created: bool
    tables: dict[str, tuple[str, ...]]


def _check_name(role: str) -> str:
    if not _ROLE_NAME.match(role):
        raise ValidationFailed(
            "app_role", f"{role!r} is not a plain role name (lower-case letters, digits, _)"
        )
    return role


def _statements(role: str, schema: str, owner: str) -> list[str]:
    s, r = f'"{schema}"', f'"{role}"'
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE CREATE ON SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"REVOKE UPDATE ON {s}.{_TRAIL} FROM {r}",
        f"REVOKE INSERT, UPDATE ON {s}.{_REVISION} FROM {r}",
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA {s} '
        f"GRANT SELECT, INSERT, UPDATE ON TABLES TO {r}",
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA {s} '
        f"GRANT USAGE, SELECT ON SEQUENCES TO {r}",
    ]


def _privileges(connection: Connection, role: str) -> dict[str, tuple[str, ...]]:
    tables = connection.scalars(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    ).all()
    held: dict[str, tuple[str, ...]] = {}
    for table in tables:
        held[table] = tuple(
            p
            for p in _CHECKED
            if connection.scalar(
                text(
                    "SELECT has_table_privilege(CAST(:r AS text), "
                    "format('%I.%I', current_schema(), CAST(:t AS text)), CAST(:p AS text))"
                ),
                {"r": role, "t": table, "p": p},
            )
        )
    return held


def harden(connection: Connection, role: str) -> RolePrivileges:
    """Give ``role`` the application's privileges on the schema of ``connection`` (see above).

    Creates the role (``LOGIN``, no password) when it does not exist. Runs in the connection's
    transaction; the caller commits.

    Raises
    ------
    ValidationFailed
        ``app_role``: not a plain name, the tables' owner or a member of the owner role (it could
        then disable the triggers), or a superuser; or the database is not PostgreSQL.
    """
    if connection.dialect.name != "postgresql":
        raise ValidationFailed(
            "db", "only PostgreSQL has roles: protect a SQLite file with the file system's rights"
        )
    _check_name(role)
    schema = str(connection.scalar(text("SELECT current_schema()")))
    owner = connection.scalar(
        text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = :t"),
        {"s": schema, "t": _TRAIL},
    )
    if owner is None:
        raise ValidationFailed(
            "db", f"no audit_log in schema {schema!r}: run `cartrial db upgrade`"
        )
    exists = connection.scalar(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}
    )
    if exists is None:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    elif exists:
        raise ValidationFailed("app_role", f"{role!r} is a superuser: it bypasses every privilege")
    if role == owner or connection.scalar(
        text("SELECT pg_has_role(:r, :o, 'MEMBER')"), {"r": role, "o": owner}
    ):
        raise ValidationFailed(
            "app_role",
            f"{role!r} owns the tables (or is a member of their owner {owner!r}): it could "
            "disable the audit triggers; the application needs a role of its own",
        )
    for statement in _statements(role, schema, str(owner)):
        connection.exec_driver_sql(statement)
    return RolePrivileges(role, schema, str(owner), exists is None, _privileges(connection, role))
