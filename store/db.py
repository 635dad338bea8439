"""Engines, sessions, PostgreSQL provisioning and migrations for the app database."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(RuntimeError):
    """A database URL that is malformed or points at a server that does not answer."""


def parse_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r} (expected e.g. sqlite:///path.db or postgresql://user@host:5432/db)") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r} in {redact(parsed)}: use sqlite or postgresql")
    if parsed.get_backend_name() == "postgresql" and not parsed.database:
        raise DatabaseError(f"{redact(parsed)} names no database")
    return parsed


def with_driver(url: str | URL, driver: str) -> URL:
    """`postgresql://` URLs with an explicit driver (psycopg 3 for us, psycopg2 for Dagster)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername=f"postgresql+{driver}")
    return parsed


def redact(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL) -> Engine:
    """An engine for the app database; SQLite files get their folder, WAL and foreign keys."""
    parsed = with_driver(url, "psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def first_line(error: BaseException | str) -> str:
    """The first non-empty line of an error message (driver messages run over many lines)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _ping(engine: Engine, url: str | URL) -> None:
    """SELECT 1 on `engine`, turning a refused connection into one line with the server's reason."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = first_line(exc.orig if exc.orig else exc)
        raise DatabaseError(f"cannot connect to {redact(url)}: {reason}") from exc
    finally:
        engine.dispose()


def check_connection(url: str | URL) -> None:
    """Fail fast, with the server's own reason, when the database cannot be reached."""
    _ping(make_engine(url), url)


def _admin_engine(url: str | URL) -> Engine:
    """An autocommit engine on the server's `postgres` database (exists on every server)."""
    parsed = with_driver(url, "psycopg")
    return create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def check_server(url: str | URL) -> None:
    """Fail fast when the PostgreSQL server behind `url` does not answer (the database may not exist yet)."""
    if parse_url(url).get_backend_name() == "postgresql":
        _ping(_admin_engine(url), url)


def ensure_database(url: str | URL) -> bool:
    """Create the PostgreSQL database named in `url` if it is missing; True when created.

    SQLite files are created on first connect, so there is nothing to do for them.
    """
    parsed = with_driver(url, "psycopg")
    if parsed.get_backend_name() != "postgresql":
        return False
    check_server(url)
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).scalar()
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{_ident(parsed.database)}"'))
            return True
    finally:
        admin.dispose()


def drop_database(url: str | URL) -> None:
    """Drop a PostgreSQL database (tests use it to leave no junk)."""
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_ident(parse_url(url).database)}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _ident(name: str) -> str:
    if not name or '"' in name or "\x00" in name:
        raise DatabaseError(f"refusing database name {name!r}")
    return name


def alembic_config(url: str | URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Config values go through ConfigParser interpolation: escape '%'.
    rendered = with_driver(url, "psycopg").render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Apply the app database migrations (idempotent)."""
    ensure_database(url)
    check_connection(url)
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | URL) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back everything on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session
