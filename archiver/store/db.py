"""Database engine and schema migrations.

SQLite is the embedded default (WAL journal, foreign keys on, a busy timeout so the
daemon and a CLI command can share the file). PostgreSQL is the scale path; the same
models and migrations serve both.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, create_engine, event, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archiver.errors import StoreError
from archiver.store.space import disk_full_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Row ids are INTEGER columns: 32 bits on PostgreSQL (a larger number in a query is an
# error there, and beyond 64 bits an OverflowError in SQLite's driver).
MAX_ROW_ID = 2**31 - 1
# Any constant works; it only has to be the same in every process of this application.
_PG_MIGRATION_LOCK = 0x61726368


def insert_rows(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name -> value) into ``model``'s table in one executemany.

    A Core insert of the table, not ``insert(Model)``: the ORM's bulk path prepares
    each row in Python, which cost a capture run of 500 pages about a fifth of its
    recording time (docs/benchmarks.md). No ORM events fire either way."""
    if rows:
        session.execute(insert(cast(Table, model.__table__)), list(rows))


def is_row_id(value: int) -> bool:
    """Whether ``value`` can be a row's id: ask the database only when it can."""
    return 1 <= value <= MAX_ROW_ID


def parse_row_id(text: str) -> int | None:
    """The id written in ``text`` (ASCII digits, in range), else None."""
    if not (0 < len(text) <= 10 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if is_row_id(value) else None


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL enabled."""
    try:
        if url.startswith("sqlite"):
            database = url.split("///", 1)[1] if "///" in url else ""
            if database and database != ":memory:":
                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    full = disk_full_error(exc, Path(database).parent)
                    if full is not None:
                        raise full from exc
                    raise
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise StoreError(f"cannot open database {_safe_url(url)}: {exc}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown as a placeholder
        return "<unparseable database URL>"


def _database_place(engine: Engine) -> str:
    """Where the database writes, for messages: SQLite's file, or PostgreSQL's server."""
    if engine.dialect.name == "sqlite":
        return str(engine.url.database or "the SQLite database")
    return f"the database on the server {_safe_url(str(engine.url))}"


def store_error(exc: SQLAlchemyError, engine: Engine, message: str, doing: str = "") -> StoreError:
    """The error to raise (``from exc``) for a database failure: a plain "disk full"
    when that is what it was, else ``message``."""
    return disk_full_error(exc, _database_place(engine), doing=doing) or StoreError(message)


def _alembic_config(connection: Any) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run at every start."""
    # Alembic (a quarter of a second to import, more to run) only when there is work.
    if _at_head(engine):
        return
    from alembic import command

    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two workers starting together must not both create the tables.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                )
            command.upgrade(_alembic_config(connection), "head")
    except SQLAlchemyError as exc:
        message = f"database migration failed on {_safe_url(str(engine.url))}: {exc}"
        raise store_error(exc, engine, message, "database migration") from exc


# ``revision = "0002"`` / ``down_revision: str | None = "0001"`` in a migration file.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def head_from_files() -> str | None:
    """The head revision as the migration files state it, read as text (no Alembic);
    None when they do not say plainly (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
            found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
            downs = down if isinstance(down, tuple | list) else (down,)
            if not isinstance(revision, str) or not all(
                isinstance(d, str) or d is None for d in downs
            ):
                return None
            revisions.add(revision)
            parents.update(d for d in downs if d is not None)
    except (OSError, KeyError, ValueError, SyntaxError):
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """True when the database's recorded revision is the head: nothing to migrate."""
    head = head_from_files()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no such table yet: a new database
        return False
    return [tuple(row) for row in rows] == [(head,)]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


class Database:
    """An engine plus a session factory; ``session()`` commits or rolls back as a unit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Database:
        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise store_error(exc, self.engine, f"database error: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()
