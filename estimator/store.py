"""Saved scenarios, shared by threads, processes and app replicas (SQLAlchemy Core).

Backends:

* **SQLite** (default): ``<home>/scenarios.sqlite`` in WAL mode, so the app, the CLI and several
  processes read and write one file at once. ``home`` is ``$LLMCP_HOME``, else the XDG user data
  directory (``$XDG_DATA_HOME/llm-capacity-planner`` or ``~/.local/share/llm-capacity-planner``).
* **PostgreSQL** when ``$LLMCP_DATABASE_URL`` is set (``postgresql+psycopg://user:pw@host:5432/db``),
  for several app replicas behind a load balancer.

The reference catalog stays in DuckDB (:mod:`estimator.catalog`); only saved scenarios live here.

Nothing is silently lost:

* A *named scenario* has versions. Every save gets a new random id (``secrets.token_urlsafe``, not
  a sequence number); saving under a name that exists adds a version, and the ids (``?s=`` links)
  of older versions keep opening what they saved.
* Delete moves a named scenario, with all its versions, to the trash; :meth:`ScenarioStore.restore`
  brings it back for ``TRASH_DAYS`` days, after which it is purged.
* A ``scenarios.duckdb`` written by earlier versions is imported on first start (read-only), then
  renamed ``scenarios.duckdb.imported``; never deleted.
* A damaged SQLite file is detected (``PRAGMA quick_check`` on open, corruption codes on use), moved
  aside to ``scenarios.sqlite.damaged-<time>-<token>`` (never overwritten) and replaced by an empty
  store; the operation that found it raises :class:`StoreCorruptError`. Driver errors never escape:
  every failure is an :mod:`estimator.errors` exception whose message names no server path.

Concurrency: SQLite writers take the write lock up front (``BEGIN IMMEDIATE``) and wait for it
(``busy_timeout``); readers never block writers (WAL). Busy, serialization and unique-key conflicts
(a name saved by two processes at once, an id collision) are retried with jittered backoff.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from estimator.errors import EstimatorError, InvalidInputError, StoreError
from estimator.scenario import Scenario

__all__ = [
    "SavedScenario",
    "ScenarioStore",
    "NotFoundError",
    "StoreError",
    "StoreUnavailableError",
    "StoreBusyError",
    "StoreCorruptError",
    "TRASH_DAYS",
    "default_home",
    "default_store",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_NAME = 120
MAX_NOTE = 2000
TRASH_DAYS = 30
"""Days a deleted scenario can be restored from the trash."""
DEFAULT_NAME = "Untitled scenario"
SQLITE_FILE = "scenarios.sqlite"
LEGACY_FILE = "scenarios.duckdb"
_BUSY_TIMEOUT_MS = 5_000
_ATTEMPTS = 40
_RETRY_BUDGET_S = 15.0  # give up (StoreBusyError) after retrying this long
_BACKOFF_MAX_S = 0.25
_DAY_S = 86_400.0
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # primary result codes (sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_PG_RETRY_STATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_PG_LOCK_KEY = 0x11C9_5CE7  # advisory lock that serializes schema creation across replicas

_meta = sa.MetaData()
NAMES = sa.Table(
    "llmcp_scenario_names", _meta,
    sa.Column("key", sa.String(64), primary_key=True),  # the id of its first version
    sa.Column("name", sa.String(4 * MAX_NAME), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("head_id", sa.String(64), nullable=False),  # its newest version
    sa.Column("versions", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),  # Unix seconds, UTC
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("deleted_at", sa.Double, nullable=True),  # set while in the trash
)
sa.Index("llmcp_scenario_live_name", NAMES.c.name, unique=True,
         sqlite_where=NAMES.c.deleted_at.is_(None), postgresql_where=NAMES.c.deleted_at.is_(None))
VERSIONS = sa.Table(
    "llmcp_scenario_versions", _meta,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("scenario_json", sa.Text, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("page", sa.String(40), nullable=False),
    sa.Column("saved_at", sa.Double, nullable=False),
    sa.UniqueConstraint("key", "version", name="llmcp_scenario_key_version"),
)
_COLUMNS = (VERSIONS.c.id, VERSIONS.c.key, VERSIONS.c.version, VERSIONS.c.scenario_json, VERSIONS.c.page,
            VERSIONS.c.saved_at, NAMES.c.name, NAMES.c.note, NAMES.c.head_id, NAMES.c.versions,
            NAMES.c.created_at, NAMES.c.updated_at, NAMES.c.deleted_at)


class _Conflict(Exception):
    """A concurrent writer changed what this transaction read: retry it."""


class StoreUnavailableError(StoreError):
    """The saved-scenario store cannot be opened or reached (permissions, a server that is down)."""


class StoreBusyError(StoreUnavailableError):
    """The store stayed busy (other writers) for longer than the retries wait; nothing was changed."""


class StoreCorruptError(StoreUnavailableError):
    """The store file was damaged; it was moved aside (kept) and an empty store replaces it."""


class NotFoundError(EstimatorError, KeyError):
    """No saved scenario has this id (or it is in the trash)."""

    def __str__(self) -> str:
        return str(self.args[0])


_CORRUPT_MESSAGE = (
    "The saved-scenario store was damaged, so it was moved aside (kept, not deleted) and a new, empty "
    "store is used from now on. Page links that carry the scenario in the address keep working; ask "
    "the administrator to recover saved scenarios from the moved file (README, \"Saved scenarios\")."
)
_BUSY_MESSAGE = "The saved-scenario store is busy; nothing was changed. Try again in a moment."
_LINKS_HINT = "Page links that carry the scenario in the address keep working meanwhile."


class SavedScenario(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="this version's id (its ?s= link)")
    name: str
    note: str = ""
    scenario: Scenario | None = Field(default=None, description="None when the stored JSON no longer validates")
    problem: str = ""
    page: str = Field(default="", description="the page it was saved from (its link opens there)")
    created_at: datetime = Field(description="when the named scenario was first saved (UTC)")
    updated_at: datetime = Field(description="last save or rename (UTC); for an older version, its save")
    version: int = Field(default=1, description="1 for the first save under this name")
    versions: int = Field(default=1, description="how many versions the named scenario has")
    latest_id: str = Field(default="", description="id of the newest version")
    saved_at: datetime | None = Field(default=None, description="when this version was saved (UTC)")
    deleted_at: datetime | None = Field(default=None, description="when it was moved to the trash (UTC)")

    @property
    def is_latest(self) -> bool:
        return self.id == self.latest_id


def default_home() -> Path:
    """The data directory: ``$LLMCP_HOME``, else the XDG user data directory."""
    env = os.environ.get("LLMCP_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "llm-capacity-planner"


def _clean(text: str, limit: int, what: str) -> str:
    cleaned = "".join(ch for ch in str(text) if ch.isprintable() or ch == "\n").strip()
    if len(cleaned) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    return cleaned


# ---------------------------------------------------------------- tolerant row decoding
def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _int(value: object, default: int = 1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else default


def _time(value: object) -> datetime | None:
    """Unix seconds -> naive UTC datetime; None for anything a damaged record could hold instead."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
            and 0 <= value < 253_402_300_799:  # year 9999
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    return None


def _epoch_s(moment: datetime | None = None) -> float:
    """Naive-UTC or aware datetime (default now) -> Unix seconds."""
    if moment is None:
        return time.time()
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _saved(row: Sequence[Any]) -> SavedScenario:
    """A row of ``_COLUMNS`` as a ``SavedScenario``; a damaged field becomes a ``problem``, not an error."""
    (vid, _key, version, scenario_json, page, saved_at, name, note, head_id, versions,
     created_at, updated_at, deleted_at) = row
    problems: list[str] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(json.loads(_text(scenario_json)))
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        problems.append(f"stored scenario no longer validates: {str(exc).splitlines()[0][:200]}")
    times = [_time(t) for t in (created_at, updated_at, saved_at)]
    if None in times:
        problems.append("the stored record is damaged (a timestamp is unreadable)")
    epoch = datetime(1970, 1, 1)
    created, updated, saved = (t or epoch for t in times)
    head = _text(head_id)
    return SavedScenario(
        id=_text(vid), name=_text(name), note=_text(note), scenario=scenario, problem="; ".join(problems),
        page=_text(page)[:40], created_at=created, updated_at=updated if _text(vid) == head else saved,
        version=_int(version), versions=_int(versions), latest_id=head, saved_at=saved,
        deleted_at=_time(deleted_at),
    )


# ---------------------------------------------------------------- driver errors
def _sqlite_code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF
        text = str(orig).lower()
        if "malformed" in text or "not a database" in text:
            return _SQLITE_CORRUPT
        if "locked" in text:
            return _SQLITE_BUSY
    return None


def _is_retryable(exc: BaseException) -> bool:
    if _sqlite_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(state, str) and state in _PG_RETRY_STATES


def _is_corrupt(exc: BaseException) -> bool:
    return _sqlite_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class ScenarioStore:
    """Saved scenarios in ``<home>/scenarios.sqlite``, or in PostgreSQL at ``url``; thread-safe.

    Nothing touches the database until the first operation, so constructing a store never fails.
    """

    def __init__(self, home: Path | str | None = None, url: str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / SQLITE_FILE
        self.url = url or None
        self.backend = "postgresql" if self.url else "sqlite"
        self._lock = threading.RLock()
        self._engine_obj: Engine | None = None
        self._file_id: tuple[int, int] | None = None
        self._notices: list[str] = []

    # ------------------------------------------------------------ engine life cycle
    def _engine(self) -> Engine:
        """The ready engine; (re)built when missing, or when another process moved the file aside."""
        with self._lock:
            if self._engine_obj is not None and self.backend == "sqlite" and self._sqlite_file_id() != self._file_id:
                self._dispose()
            return self._engine_obj if self._engine_obj is not None else self._open()

    def _sqlite_file_id(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _dispose(self) -> None:
        if self._engine_obj is not None:
            with contextlib.suppress(Exception):
                self._engine_obj.dispose()
        self._engine_obj, self._file_id = None, None

    def _open(self) -> Engine:
        """Build the engine, create the tables, check the file, import a legacy store, purge the trash."""
        engine = self._build_engine()
        self._engine_obj = engine
        try:
            if self.backend == "sqlite":  # check before anything writes to the file
                self._retrying(lambda: self._transact(engine, _quick_check, write=False))
                self._retrying(lambda: _set_wal_mode(engine))
            # only write when there is something to do: another process may hold the write lock for a while
            if not self._retrying(lambda: self._transact(engine, _schema_ready, write=False)):
                self._retrying(lambda: self._transact(engine, self._create_schema, write=True))
            self._file_id = self._sqlite_file_id() if self.backend == "sqlite" else None
            self._import_legacy(engine)
            self._purge_expired(engine)
        except BaseException:
            if self._engine_obj is engine:
                self._dispose()
            raise
        return engine

    def _build_engine(self) -> Engine:
        if self.url is not None:
            return _postgres_engine(self.url)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = "the data directory is a file" if exc.errno in (errno.EEXIST, errno.ENOTDIR) else exc.strerror
            raise StoreUnavailableError(
                f"The saved-scenario store cannot be opened ({why or 'input/output error'}). Check that "
                f"the planner's data directory (LLMCP_HOME) is a writable directory. {_LINKS_HINT}"
            ) from None
        engine = sa.create_engine(f"sqlite+pysqlite:///{self.path}", connect_args={"check_same_thread": False},
                                  pool_size=8, max_overflow=32)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def _create_schema(self, conn: Connection) -> None:
        if self.backend == "postgresql":  # replicas starting at once: one creates, the others wait
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        _meta.create_all(conn, checkfirst=True)

    def _purge_expired(self, engine: Engine) -> None:
        """Delete what has been in the trash longer than ``TRASH_DAYS`` (a write only if there is some)."""
        cutoff = _epoch_s() - TRASH_DAYS * _DAY_S
        expired = sa.select(NAMES.c.key).where(NAMES.c.deleted_at.is_not(None), NAMES.c.deleted_at < cutoff)
        if self._retrying(lambda: self._transact(engine, lambda c: c.execute(expired.limit(1)).first(), write=False)):
            self._retrying(lambda: self._transact(engine, lambda c: _purge(c, cutoff), write=True))

    def close(self) -> None:
        """Close the connections (a later operation reopens them)."""
        with self._lock:
            self._dispose()

    def notices(self) -> list[str]:
        """Messages for the user from opening the store (an import that failed, a file moved aside)."""
        with self._lock:
            return list(self._notices)

    # ------------------------------------------------------------ transactions and errors
    @staticmethod
    def _transact(engine: Engine, fn: Callable[[Connection], T], *, write: bool) -> T:
        with engine.connect() as conn:
            conn.execution_options(llmcp_write=write)
            with conn.begin():
                return fn(conn)

    def _run(self, fn: Callable[[Connection], T], *, write: bool = False,
             conflict: EstimatorError | None = None) -> T:
        """Run ``fn`` in one transaction, retried on busy/serialization (and, without ``conflict``,
        unique-key) conflicts; a unique-key conflict raises ``conflict`` when given."""
        return self._retrying(lambda: self._transact(self._engine(), fn, write=write), conflict)

    def _retrying(self, op: Callable[[], T], conflict: EstimatorError | None = None) -> T:
        delay, deadline = 0.002, time.monotonic() + _RETRY_BUDGET_S
        for _ in range(_ATTEMPTS):
            try:
                return op()
            except (sa_exc.IntegrityError, _Conflict):
                if conflict is not None:
                    raise conflict from None
            except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
                if not _is_retryable(exc):
                    raise self._translate(exc) from None
            if time.monotonic() > deadline:
                break
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, _BACKOFF_MAX_S)
        raise StoreBusyError(_BUSY_MESSAGE)

    def _translate(self, exc: BaseException) -> StoreError:
        """A driver error as a store error a person can act on (no paths, URLs or process ids)."""
        log.info("saved-scenario store (%s): %s: %s", self.backend, type(exc).__name__, exc)
        if _is_corrupt(exc) and self.backend == "sqlite":
            if self._quarantine():
                return StoreCorruptError(_CORRUPT_MESSAGE)
            return StoreUnavailableError(
                "The saved-scenario store is damaged and could not be moved aside (the data directory is not "
                f"writable); ask the administrator to move it away. {_LINKS_HINT}"
            )
        if self.backend == "postgresql" and isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return StoreUnavailableError(
                "The saved-scenario store (the PostgreSQL server named by LLMCP_DATABASE_URL) cannot be reached "
                f"or refused the login; check that the server runs and the URL is right. {_LINKS_HINT}"
            )
        if self.backend == "postgresql":
            return StoreUnavailableError(
                "The saved-scenario store (PostgreSQL) refused the operation; check that the database user of "
                f"LLMCP_DATABASE_URL may create and write tables, then try again. {_LINKS_HINT}"
            )
        reason = _reason(exc)
        return StoreUnavailableError(
            f"The saved-scenario store cannot be opened or used ({reason}). Check that the planner's data "
            f"directory (LLMCP_HOME) is writable and has free space, then try again. {_LINKS_HINT}"
        )

    def _quarantine(self) -> bool:
        """Move a damaged SQLite file (and its -wal/-shm) aside under a new name, never overwriting;
        whether it is out of the way now (moved by this or another process)."""
        with self._lock:
            damaged_id = self._file_id or self._sqlite_file_id()
            self._dispose()
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = self.path.with_name(f"{SQLITE_FILE}.damaged-{stamp}-{secrets.token_hex(3)}")
            try:
                with _file_lock(self.home / f"{SQLITE_FILE}.lock"):
                    if damaged_id is None or self._sqlite_file_id() != damaged_id:
                        return True  # another process moved it already
                    for suffix in ("", "-wal", "-shm"):
                        src = Path(f"{self.path}{suffix}")
                        dst = Path(f"{target}{suffix}")
                        if src.exists() and not dst.exists():
                            src.rename(dst)
            except OSError as exc:
                log.error("saved-scenario store: could not move the damaged file %s aside: %s", self.path, exc)
                return False
            log.error("saved-scenario store: %s was damaged; moved to %s", self.path, target)
            self._notices.append(_CORRUPT_MESSAGE)
            return True

    # ------------------------------------------------------------ legacy DuckDB import
    def _import_legacy(self, engine: Engine) -> None:
        """Import ``<home>/scenarios.duckdb`` (earlier versions' store) once, then rename it ``.imported``."""
        legacy = self.home / LEGACY_FILE
        if not legacy.is_file():
            return
        try:
            rows = _read_legacy(legacy)
        except Exception as exc:  # any DuckDB or OS failure: keep the file, tell the user, retry next start
            log.warning("saved-scenario store: cannot import %s: %s", legacy, exc)
            self._notices.append(
                "Scenarios saved by an earlier version of the planner could not be imported yet (the old file "
                "is in use by an older planner process, or damaged). It was left in place; stop the old "
                "process and restart, or ask the administrator."
            )
            return
        added = self._retrying(lambda: self._transact(engine, lambda c: _insert_legacy(c, rows), write=True))
        target = legacy.with_name(LEGACY_FILE + ".imported")
        while target.exists():
            target = target.with_name(f"{LEGACY_FILE}.imported-{secrets.token_hex(3)}")
        with contextlib.suppress(OSError):
            for suffix in (".wal", ""):
                src = Path(f"{legacy}{suffix}")
                if src.exists():
                    src.rename(Path(f"{target}{suffix}"))
        log.info("saved-scenario store: imported %d of %d scenarios from %s", added, len(rows), legacy)

    # ------------------------------------------------------------ operations
    def save(self, scenario: Scenario, name: str, note: str = "", page: str = "") -> str:
        """Save ``scenario`` under ``name`` (from ``page``); return the new version's id.

        A live scenario with the same name gets a new version (its older ids keep working); a
        non-empty ``note`` replaces the named scenario's note.
        """
        name = _clean(name, MAX_NAME, "name") or DEFAULT_NAME
        note = _clean(note, MAX_NOTE, "note")
        payload = (scenario.model_dump_json(), scenario.version, str(page)[:40])

        def write(conn: Connection) -> str:
            new_id, now = secrets.token_urlsafe(8), _epoch_s()
            key = conn.execute(sa.select(NAMES.c.key).where(
                NAMES.c.name == name, NAMES.c.deleted_at.is_(None))).scalar()
            if key is not None:
                if _add_version(conn, key, new_id, payload, now, note) is None:
                    raise _Conflict  # trashed by another writer since the SELECT: start over
                return new_id
            conn.execute(NAMES.insert().values(key=new_id, name=name, note=note, head_id=new_id, versions=1,
                                               created_at=now, updated_at=now, deleted_at=None))
            _insert_version(conn, new_id, new_id, 1, payload, now)
            return new_id

        return self._run(write, write=True)

    def get(self, scenario_id: str) -> SavedScenario:
        """The version with this id (any version, not only the newest); not one in the trash."""
        sid = str(scenario_id)[:64]
        row = self._run(lambda c: c.execute(_joined().where(VERSIONS.c.id == sid)).first())
        if row is None:
            raise NotFoundError(f"No saved scenario has the id {sid!r}; it may have been deleted.")
        saved = _saved(row)
        if saved.deleted_at is not None:
            raise NotFoundError(
                f"No saved scenario has the id {sid!r} any more: {saved.name!r} was moved to the trash on "
                f"{saved.deleted_at:%Y-%m-%d}. Restore it from the trash on the Saved scenarios page "
                f"(kept {TRASH_DAYS} days)."
            )
        return saved

    def list(self, search: str = "") -> list[SavedScenario]:
        """The newest version of each saved scenario, newest first; ``search`` matches name or note."""
        query = _joined(head=True).where(NAMES.c.deleted_at.is_(None))
        needle = search.strip().lower()
        if needle:
            query = query.where(sa.or_(sa.func.lower(NAMES.c.name).contains(needle, autoescape=True),
                                       sa.func.lower(NAMES.c.note).contains(needle, autoescape=True)))
        query = query.order_by(NAMES.c.updated_at.desc(), VERSIONS.c.id)
        return [_saved(r) for r in self._run(lambda c: c.execute(query).all())]

    def count(self) -> int:
        """How many saved scenarios ``list()`` shows (the trash and older versions not counted)."""
        query = sa.select(sa.func.count()).select_from(NAMES).where(NAMES.c.deleted_at.is_(None))
        return int(self._run(lambda c: c.execute(query).scalar()) or 0)

    def versions(self, scenario_id: str) -> builtins.list[SavedScenario]:
        """Every version of the named scenario that ``scenario_id`` belongs to, newest first."""
        key = self._key_of(str(scenario_id)[:64])
        query = _joined().where(VERSIONS.c.key == key).order_by(VERSIONS.c.version.desc())
        return [_saved(r) for r in self._run(lambda c: c.execute(query).all())]

    def rename(self, scenario_id: str, name: str, note: str | None = None) -> None:
        """Rename the named scenario ``scenario_id`` belongs to (all its versions); optionally set its note."""
        name = _clean(name, MAX_NAME, "name") or DEFAULT_NAME
        values: dict[str, object] = {"name": name, "updated_at": _epoch_s()}
        if note is not None:
            values["note"] = _clean(note, MAX_NOTE, "note")
        key = self._key_of(str(scenario_id)[:64])
        taken = InvalidInputError(f"Another saved scenario is already named {name!r}; pick another name "
                                  "(or save into it to add a version).")
        n = self._run(lambda c: c.execute(NAMES.update().where(NAMES.c.key == key, NAMES.c.deleted_at.is_(None))
                                          .values(**values)).rowcount, write=True, conflict=taken)
        if not n:
            raise NotFoundError(f"No saved scenario has the id {scenario_id!r}.")

    def update(self, scenario_id: str, scenario: Scenario) -> str:
        """Save ``scenario`` as a new version of the named scenario of ``scenario_id``; return its id."""
        current = self.get(scenario_id)
        payload = (scenario.model_dump_json(), scenario.version, current.page)
        key = self._key_of(current.id)

        def write(conn: Connection) -> str | None:
            return _add_version(conn, key, secrets.token_urlsafe(8), payload, _epoch_s(), "")

        new_id = self._run(write, write=True)
        if new_id is None:
            raise NotFoundError(f"No saved scenario has the id {scenario_id!r}; it was just deleted.")
        return new_id

    def duplicate(self, scenario_id: str, name: str | None = None) -> str:
        src = self.get(scenario_id)
        if src.scenario is None:
            raise InvalidInputError(f"cannot duplicate {src.name!r}: {src.problem}")
        return self.save(src.scenario, name or f"{src.name} (copy)"[:MAX_NAME], src.note, src.page)

    def delete(self, scenario_id: str) -> None:
        """Move the named scenario of ``scenario_id`` (all versions) to the trash for ``TRASH_DAYS`` days."""
        key = self._key_of(str(scenario_id)[:64])
        now = _epoch_s()
        n = self._run(lambda c: c.execute(NAMES.update().where(NAMES.c.key == key, NAMES.c.deleted_at.is_(None))
                                          .values(deleted_at=now, updated_at=now)).rowcount, write=True)
        if not n:
            raise NotFoundError(f"No saved scenario has the id {scenario_id!r}.")

    def trash(self) -> builtins.list[SavedScenario]:
        """Scenarios in the trash (newest version each), most recently deleted first; purges expired ones."""
        self._purge_expired(self._engine())
        query = (_joined(head=True).where(NAMES.c.deleted_at.is_not(None))
                 .order_by(NAMES.c.deleted_at.desc(), VERSIONS.c.id))
        return [_saved(r) for r in self._run(lambda c: c.execute(query).all())]

    def restore(self, scenario_id: str) -> str:
        """Bring a scenario back from the trash; return its newest id. A live scenario that took its name
        meanwhile keeps it: the restored one is named ``"<name> (restored)"``."""
        key = self._key_of(str(scenario_id)[:64])

        def write(conn: Connection) -> str | None:
            row = conn.execute(sa.select(NAMES.c.name, NAMES.c.head_id).where(
                NAMES.c.key == key, NAMES.c.deleted_at.is_not(None))).first()
            if row is None:
                return None
            name = _free_name(conn, _text(row[0]))
            conn.execute(NAMES.update().where(NAMES.c.key == key)
                         .values(name=name, deleted_at=None, updated_at=_epoch_s()))
            return _text(row[1])

        head = self._run(write, write=True)
        if head is None:
            raise NotFoundError(f"The saved scenario {scenario_id!r} is not in the trash (trash keeps "
                                f"{TRASH_DAYS} days).")
        return head

    def _key_of(self, scenario_id: str) -> str:
        key = self._run(lambda c: c.execute(sa.select(VERSIONS.c.key).where(VERSIONS.c.id == scenario_id)).scalar())
        if key is None:
            raise NotFoundError(f"No saved scenario has the id {scenario_id!r}.")
        return _text(key)


# ---------------------------------------------------------------- SQL helpers
def _joined(*, head: bool = False) -> sa.Select[Any]:
    on = VERSIONS.c.id == NAMES.c.head_id if head else VERSIONS.c.key == NAMES.c.key
    return sa.select(*_COLUMNS).select_from(VERSIONS.join(NAMES, on))


def _insert_version(conn: Connection, vid: str, key: str, version: int,
                    payload: tuple[str, int, str], now: float) -> None:
    scenario_json, schema_version, page = payload
    conn.execute(VERSIONS.insert().values(id=vid, key=key, version=version, scenario_json=scenario_json,
                                          schema_version=schema_version, page=page, saved_at=now))


def _add_version(conn: Connection, key: str, new_id: str, payload: tuple[str, int, str], now: float,
                 note: str) -> str | None:
    """Append version ``versions + 1`` to the live scenario ``key`` (the UPDATE row-locks it on
    PostgreSQL); None, and nothing written, if it is in the trash."""
    values: dict[str, object] = {"versions": NAMES.c.versions + 1, "head_id": new_id, "updated_at": now}
    if note:
        values["note"] = note
    number = conn.execute(NAMES.update().where(NAMES.c.key == key, NAMES.c.deleted_at.is_(None))
                          .values(**values).returning(NAMES.c.versions)).scalar()
    if number is None:
        return None
    _insert_version(conn, new_id, key, _int(number), payload, now)
    return new_id


def _free_name(conn: Connection, name: str) -> str:
    """``name``, or ``name (restored)``, ``name (restored 2)``... whichever no live scenario uses."""
    candidates = [name] + [f"{name} (restored{'' if i == 1 else f' {i}'})" for i in range(1, 100)]
    for candidate in candidates:
        if conn.execute(sa.select(NAMES.c.key).where(NAMES.c.name == candidate,
                                                     NAMES.c.deleted_at.is_(None))).first() is None:
            return candidate
    return f"{name} ({secrets.token_hex(3)})"


def _schema_ready(conn: Connection) -> bool:
    """Whether both tables exist (they are created with their indexes in one transaction)."""
    return {NAMES.name, VERSIONS.name} <= set(sa.inspect(conn).get_table_names())


def _purge(conn: Connection, cutoff: float) -> None:
    """Delete what has been in the trash since before ``cutoff`` (Unix seconds)."""
    expired = sa.select(NAMES.c.key).where(NAMES.c.deleted_at.is_not(None), NAMES.c.deleted_at < cutoff)
    conn.execute(VERSIONS.delete().where(VERSIONS.c.key.in_(expired)))
    conn.execute(NAMES.delete().where(NAMES.c.deleted_at.is_not(None), NAMES.c.deleted_at < cutoff))


def _quick_check(conn: Connection) -> None:
    """Raise a corruption error when ``PRAGMA quick_check`` finds damage (sqlite.org/pragma.html)."""
    result = [_text(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
    if result != ["ok"]:
        err = sqlite3.DatabaseError("database disk image is malformed: " + "; ".join(result)[:200])
        raise sa_exc.DatabaseError("PRAGMA quick_check", None, err)


@dataclass(frozen=True)
class _LegacyRow:
    """One row of an earlier version's DuckDB ``saved_scenarios`` table, cleaned for import."""

    id: str
    name: str
    note: str
    payload: tuple[str, int, str]  # scenario JSON, schema version, page
    created_s: float
    saved_s: float

    @classmethod
    def of(cls, row: dict[str, object]) -> _LegacyRow:
        raw_name = _text(row.get("name"))[: 10 * MAX_NAME]
        saved = row.get("updated_at")
        created = row.get("created_at")
        saved_s = _epoch_s(saved) if isinstance(saved, datetime) else _epoch_s()
        return cls(
            id=_text(row.get("id"))[:64],
            name=_clean(raw_name, 10 * MAX_NAME, "name")[:MAX_NAME] or DEFAULT_NAME,
            note=_text(row.get("note"))[:MAX_NOTE],
            payload=(_text(row.get("scenario_json")), _int(row.get("schema_version")), _text(row.get("page"))[:40]),
            created_s=_epoch_s(created) if isinstance(created, datetime) else saved_s,
            saved_s=saved_s,
        )


def _read_legacy(path: Path) -> list[_LegacyRow]:
    """The rows of an earlier version's ``scenarios.duckdb``, opened read-only (any column set)."""
    import duckdb  # the reference catalog's engine; needed here only for the one-time import

    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "saved_scenarios" not in tables:
            return []
        cur = con.execute("SELECT * FROM saved_scenarios ORDER BY created_at, id")
        names = [d[0] for d in cur.description or []]
        return [_LegacyRow.of(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    finally:
        con.close()


def _insert_legacy(conn: Connection, rows: list[_LegacyRow]) -> int:
    """Insert legacy rows, keeping their ids; rows with a name already live become its versions."""
    added = 0
    for row in rows:
        if not row.id or conn.execute(sa.select(VERSIONS.c.id).where(VERSIONS.c.id == row.id)).first() is not None:
            continue
        key = conn.execute(sa.select(NAMES.c.key).where(NAMES.c.name == row.name,
                                                        NAMES.c.deleted_at.is_(None))).scalar()
        if key is not None:
            _add_version(conn, key, row.id, row.payload, row.saved_s, row.note)
        else:
            conn.execute(NAMES.insert().values(key=row.id, name=row.name, note=row.note, head_id=row.id,
                                               versions=1, created_at=row.created_s, updated_at=row.saved_s,
                                               deleted_at=None))
            _insert_version(conn, row.id, row.id, 1, row.payload, row.saved_s)
        added += 1
    return added


def _reason(exc: BaseException) -> str:
    """A short, path-free reason for a driver error."""
    if isinstance(exc, OSError):
        return exc.strerror or "input/output error"
    code = _sqlite_code(exc)
    reasons = {3: "permission denied", 8: "the file is read-only", 10: "a disk input/output error",
               13: "the disk is full", 14: "the file cannot be opened", 23: "permission denied"}
    return reasons.get(code or -1, "a database error")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) while the block runs."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _postgres_engine(raw_url: str) -> Engine:
    """An engine for ``raw_url`` (``postgresql://`` means psycopg 3); a bad URL or a missing driver is a StoreError."""
    try:
        url = sa.make_url(raw_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        if not url.drivername.startswith("postgresql"):
            raise sa_exc.ArgumentError("not a PostgreSQL URL")
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=20,
                                connect_args={"connect_timeout": 10})
    except (ImportError, sa_exc.NoSuchModuleError):  # NoSuchModuleError is an ArgumentError: first
        raise StoreUnavailableError(
            "The PostgreSQL driver is not installed; run `pip install 'psycopg[binary]'` (it is a dependency "
            "of the planner) or unset LLMCP_DATABASE_URL."
        ) from None
    except (sa_exc.ArgumentError, ValueError):
        raise StoreUnavailableError(
            "LLMCP_DATABASE_URL is not a PostgreSQL URL; use postgresql+psycopg://USER:PASSWORD@HOST:5432/"
            f"DATABASE, or unset it to use the embedded store. {_LINKS_HINT}"
        ) from None


def _sqlite_on_connect(dbapi_con: sqlite3.Connection, _record: object) -> None:
    """Per connection: lenient text decoding, wait for locks (the file itself is in WAL mode)."""
    dbapi_con.isolation_level = None  # SQLAlchemy's "begin" event below emits BEGIN itself
    dbapi_con.text_factory = _lenient_text
    cur = dbapi_con.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _set_wal_mode(engine: Engine) -> None:
    """Put the file in WAL mode (persistent; readers and one writer at a time, sqlite.org/wal.html).
    Outside a transaction, so on a raw connection."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA journal_mode = WAL")
        cur.close()
    finally:
        raw.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Writers take the write lock up front, so a read-then-write never deadlocks (BEGIN IMMEDIATE)."""
    write = conn.get_execution_options().get("llmcp_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_default: ScenarioStore | None = None
_default_lock = threading.Lock()


def default_store() -> ScenarioStore:
    """The process-wide store: PostgreSQL at ``$LLMCP_DATABASE_URL`` if set, else SQLite in ``default_home()``."""
    global _default
    url = os.environ.get("LLMCP_DATABASE_URL") or None
    with _default_lock:
        if _default is None or _default.home != default_home() or _default.url != url:
            if _default is not None:
                _default.close()
            _default = ScenarioStore(url=url)
        return _default
