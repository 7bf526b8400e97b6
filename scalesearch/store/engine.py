"""Database URLs and engines: SQLite in WAL mode for the one writer, read-only connections for readers.

SQLite settings, on every connection (measured on a 2-core machine: without WAL one reader holding a 1 s read
transaction dropped the writer from 17 to 0.4 trials/s with "database is locked"; with them it held 21 trials/s):
  - `journal_mode=WAL`: readers read a snapshot and never block the writer, and the writer never blocks them;
  - `busy_timeout`: a connection that finds the database locked waits instead of failing at once;
  - `synchronous=NORMAL`: in WAL mode a commit survives a crash of the process (not of the machine) and costs no
    fsync; the study can be resumed from the last commit either way;
  - transactions begin explicitly (`BEGIN IMMEDIATE` for the writer, `BEGIN` for readers), so that a writer
    never has to upgrade a read lock and a reader sees one snapshot for a whole query.
A new database file is created owner-only (0600; SQLite gives its -wal and -shm files the same mode) in a folder
created 0700 when it does not exist. Readers open SQLite read-only (`mode=ro`) and never create a file.

Any other SQLAlchemy URL (PostgreSQL for shared use) is passed through. `--db PATH` without a scheme is a SQLite
file path. A URL whose scheme SQLAlchemy does not know, or whose driver is not installed (or is an asyncio one),
raises `DatabaseURLError` (one line, with what is expected or what to install) before anything is opened: every
command that takes `--db` gets here through `make_engine`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from scalesearch.errors import FileError, InputError, MissingFileError

__all__ = ["BUSY_TIMEOUT_S", "DEFAULT_DB", "DatabaseURLError", "check_driver", "describe_url", "make_engine",
           "normalize_url", "prepare_sqlite_file", "sqlite_path", "sqlite_pragmas", "study_dir"]

DEFAULT_DB = "results/scalesearch.db"
BUSY_TIMEOUT_S = 60.0

_EXPECTED = ("expected sqlite:///PATH, postgresql+psycopg://USER@HOST/DB, or another SQLAlchemy URL whose driver is "
             "installed")
# The pip package of each SQLAlchemy driver (the dialect's `driver` name) that is not part of Python.
_DRIVER_PACKAGES = {
    "mysqldb": "mysqlclient", "pymysql": "pymysql", "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb", "psycopg": "'scalesearch[postgres]' (psycopg 3)", "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000", "pyodbc": "pyodbc", "pymssql": "pymssql", "oracledb": "oracledb", "cx_oracle": "cx_Oracle",
    "pysqlcipher": "sqlcipher3",
}


class DatabaseURLError(InputError):
    """A `--db` URL that cannot be opened here: an unknown scheme, or a driver that is not installed; one line."""


def normalize_url(db: str | os.PathLike[str] | None) -> str:
    """A SQLAlchemy URL: the default database, a URL as given, or `sqlite:///PATH` for a bare path.

    Example:
        >>> normalize_url(None)
        'sqlite:///results/scalesearch.db'
        >>> normalize_url("postgresql://u@h/db")
        'postgresql://u@h/db'
    """
    if db is None or str(db) == "":
        db = DEFAULT_DB
    s = str(db)
    if "://" in s:
        try:
            make_url(s)
        except Exception as e:  # noqa: BLE001 - sqlalchemy raises ArgumentError with a long text
            raise InputError(f"--db {s!r}: not a database URL or path ({' '.join(str(e).split())[:120]})") from None
        return s
    return "sqlite:///" + s


def check_driver(url: str) -> None:
    """Raise `DatabaseURLError` unless SQLAlchemy knows the URL's scheme and its (synchronous) driver imports.

    Example:
        >>> try:
        ...     check_driver("foo://x")
        ... except DatabaseURLError as e:
        ...     print(str(e).split(";")[0])
        --db foo://x: unknown database scheme 'foo'
        >>> check_driver("sqlite:///results/scalesearch.db")
    """
    from sqlalchemy.exc import NoSuchModuleError

    u = make_url(url)
    where = f"--db {describe_url(url)}"
    try:
        dialect = u.get_dialect()
    except NoSuchModuleError:
        backend = u.get_backend_name()
        if "+" in u.drivername:  # the database is one SQLAlchemy knows, the driver named after '+' is not
            try:
                make_url(f"{backend}://").get_dialect()
            except NoSuchModuleError:
                pass
            else:
                raise DatabaseURLError(f"{where}: unknown driver {u.get_driver_name()!r} for {backend}; {_EXPECTED}") \
                    from None
        hint = " (SQLAlchemy spells it postgresql)" if backend == "postgres" else ""
        raise DatabaseURLError(f"{where}: unknown database scheme {u.drivername!r}{hint}; {_EXPECTED}") from None
    if getattr(dialect, "is_async", False):
        raise DatabaseURLError(f"{where}: {u.drivername!r} is an asyncio driver; scalesearch needs a synchronous one "
                               "(e.g. postgresql+psycopg://USER@HOST/DB)")
    try:
        (getattr(dialect, "import_dbapi", None) or dialect.dbapi)()
    except ImportError as e:
        module = e.name or str(e)
        package = _DRIVER_PACKAGES.get(dialect.driver, module)
        raise DatabaseURLError(f"{where}: the {dialect.driver} driver of {u.get_backend_name()} is not installed "
                               f"(no Python module {module}); pip install {package}, or name an installed driver "
                               f"in the URL ({u.get_backend_name()}+DRIVER://...)") from None


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def prepare_sqlite_file(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) when they do not exist yet."""
    parent = path.parent if str(path.parent) else Path(".")
    missing = [d for d in (parent, *parent.parents) if not d.exists()]
    for d in reversed(missing):  # every folder created owner-only (mkdir(parents=True) gives the parents 0777-umask)
        d.mkdir(mode=0o700, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        os.close(fd)
    elif path.is_dir():
        raise FileError(f"--db {path}: is a folder, not a database file")


def _set_wal(cur: Any) -> None:
    """Switch the database to WAL (a no-op once it is: the mode is stored in the file). Switching needs the file to
    itself, and SQLite answers "database is locked" at once, without the busy timeout (its deadlock avoidance), when
    another connection is switching it or holds its write lock at that moment (two drivers opening a new database together, measured: 2 of 150
    starts of four processes on a loaded 2-core machine): wait and retry within BUSY_TIMEOUT_S as the busy timeout
    would."""
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def sqlite_pragmas(dbapi_connection: Any, *, readonly: bool) -> None:
    """Apply the connection settings of the module docstring to a fresh sqlite3 connection."""
    dbapi_connection.isolation_level = None  # transactions are begun explicitly (see the `begin` listener)
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if readonly:
            cur.execute("PRAGMA query_only = 1")
        else:
            _set_wal(cur)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def make_engine(url: str, *, readonly: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets the settings of the module docstring.

    Args:
        url: a SQLAlchemy URL (see `normalize_url`).
        readonly: open a SQLite file read-only (the file must exist).
        **kwargs: passed to `sqlalchemy.create_engine`.

    Raises:
        DatabaseURLError: an unknown scheme, or a driver that is not installed (see `check_driver`).
        FileNotFoundError: a read-only SQLite file that does not exist.
    """
    check_driver(url)
    path = sqlite_path(url)
    if path is not None:
        if readonly and not path.exists():
            raise MissingFileError(f"no database at {path} (run a search first, or pass --db)")
        if not readonly:
            prepare_sqlite_file(path)
            target = "sqlite:///" + str(path)
        else:
            target = "sqlite:///file:" + quote(str(path.resolve())) + "?mode=ro&uri=true"
        connect_args = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False, **kwargs.pop("connect_args", {})}
        engine = sa.create_engine(target, connect_args=connect_args, **kwargs)
    else:
        engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _install_sqlite_listeners(engine, readonly=readonly)
    return engine


def _install_sqlite_listeners(engine: Engine, *, readonly: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        sqlite_pragmas(dbapi_connection, readonly=readonly)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


CHECKPOINT_KEY = "checkpoint"  # a trial's metrics entry naming its kept weights file (search.keep)


def study_dir(url: str, study: str) -> Path:
    """A study's output folder: beside a SQLite database, <its folder>/<study> (the default database
    results/scalesearch.db gives results/<study>); for a server database, results/<study> under the working
    directory. Where it may be written: `scalesearch.util.files.output_folder` (created and marked, or refused)."""
    path = sqlite_path(url)
    return (path.parent if path is not None else Path("results")) / study


def checkpoint_dir(url: str, study: str) -> Path:
    """Where a study's kept weights go: <its output folder (`study_dir`)>/checkpoints."""
    return study_dir(url, study) / "checkpoints"
