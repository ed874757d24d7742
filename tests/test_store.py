"""Saved scenarios: CRUD, search, restart survival, concurrency, unguessable ids, the shared SQLite file,
the import of the earlier DuckDB store, and the ``save``/``scenarios`` CLI."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from estimator.__main__ import main
from estimator.errors import InvalidInputError, StoreError
from estimator.scenario import ModelChoice, Scenario
from estimator.store import NotFoundError, ScenarioStore, StoreUnavailableError


@pytest.fixture
def store(tmp_path: Path) -> ScenarioStore:
    s = ScenarioStore(tmp_path)
    yield s
    s.close()


def test_save_load_rename_duplicate_delete(store: ScenarioStore) -> None:
    sc = Scenario(model=ModelChoice(model_id="llama-2-7b"))
    sid = store.save(sc, "7B on H100", "for the Q3 review")
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", sid)
    got = store.get(sid)
    assert got.scenario == sc and got.name == "7B on H100" and got.note == "for the Q3 review"
    store.rename(sid, "renamed", "new note")
    assert store.get(sid).name == "renamed" and store.get(sid).note == "new note"
    dup = store.duplicate(sid)
    assert dup != sid and store.get(dup).name == "renamed (copy)" and store.get(dup).scenario == sc
    assert [s.id for s in store.list("renamed")] and len(store.list("RENAMED")) == 2
    assert store.list("nothing-like-this") == []
    store.delete(sid)
    with pytest.raises(NotFoundError, match="No saved scenario"):
        store.get(sid)
    with pytest.raises(NotFoundError):
        store.delete(sid)
    assert store.count() == 1


def test_survives_restart(tmp_path: Path) -> None:
    a = ScenarioStore(tmp_path)
    sid = a.save(Scenario(), "kept")
    a.close()
    b = ScenarioStore(tmp_path)
    assert b.get(sid).name == "kept" and b.get(sid).scenario == Scenario()
    b.close()


def test_ids_not_sequential(store: ScenarioStore) -> None:
    ids = [store.save(Scenario(), f"n{i}") for i in range(20)]
    assert len(set(ids)) == 20
    assert ids != sorted(ids)


def test_concurrent_saves_lose_nothing(store: ScenarioStore) -> None:
    n_threads, per_thread = 24, 10

    def work(t: int) -> list[str]:
        out = []
        for i in range(per_thread):
            sid = store.save(Scenario(name=f"t{t}-{i}"), f"thread {t} #{i}")
            store.rename(sid, f"thread {t} #{i} renamed")
            out.append(sid)
        return out

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        ids = [sid for chunk in pool.map(work, range(n_threads)) for sid in chunk]
    assert len(set(ids)) == n_threads * per_thread
    assert store.count() == n_threads * per_thread
    names = {s.name for s in store.list()}
    assert all(f"thread {t} #{i} renamed" in names for t in range(n_threads) for i in range(per_thread))


def test_hostile_names_are_cleaned(store: ScenarioStore) -> None:
    sid = store.save(Scenario(), "<script>alert(1)</script>\x00\x07", "note")
    assert "\x00" not in store.get(sid).name
    with pytest.raises(InvalidInputError, match="longer than"):
        store.save(Scenario(), "x" * 1000)


def test_missing_id_says_so(store: ScenarioStore) -> None:
    with pytest.raises(NotFoundError, match="no-such-id"):
        store.get("no-such-id")


def test_unopenable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    store = ScenarioStore(blocker)
    with pytest.raises(StoreUnavailableError, match="cannot be opened"):
        store.list()


# ---------------------------------------------------------------- shared file, messages, legacy import, CLI
ROOT = Path(__file__).resolve().parents[1]


def test_error_messages_name_no_path_or_pid(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(StoreError) as info:
        ScenarioStore(blocker).save(Scenario(), "x")
    message = str(info.value)
    assert "saved-scenario store" in message and "LLMCP_HOME" in message
    assert str(tmp_path) not in message and str(os.getpid()) not in message


def test_cli_report_and_save_while_another_process_holds_the_store(tmp_path: Path) -> None:
    """The app (here: this process, with an open connection and a read in progress) and the CLI share the file."""
    app_store = ScenarioStore(tmp_path)
    sid = app_store.save(Scenario(model=ModelChoice(model_id="llama-2-7b")), "shared", page="memory")
    assert app_store.list()  # connection open and pooled
    env = {**os.environ, "LLMCP_HOME": str(tmp_path)}
    env.pop("LLMCP_DATABASE_URL", None)
    res = subprocess.run([sys.executable, "-m", "estimator", "report", f"?s={sid}"], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=False, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "model.model_id,llama-2-7b" in res.stdout
    res = subprocess.run([sys.executable, "-m", "estimator", "save", "?m=mistral-7b", "--name", "from cli"],
                         capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=120)
    assert res.returncode == 0, res.stderr
    new_id = res.stdout.strip()
    assert app_store.get(new_id).name == "from cli" and app_store.count() == 2
    app_store.close()


_LEGACY_SCHEMA = """
CREATE TABLE saved_scenarios (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, note VARCHAR NOT NULL DEFAULT '',
    scenario_json VARCHAR NOT NULL, schema_version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, page VARCHAR NOT NULL DEFAULT ''
)
"""


def _legacy_file(home: Path) -> tuple[Path, list[str]]:
    """A ``scenarios.duckdb`` as the DuckDB store of earlier versions wrote it."""
    path = home / "scenarios.duckdb"
    con = duckdb.connect(str(path))
    con.execute(_LEGACY_SCHEMA)
    rows = [
        ("legacyAAAA1", "alpha", "first", Scenario(model=ModelChoice(model_id="llama-2-7b")), "2025-01-01", "memory"),
        ("legacyBBBB2", "beta", "", Scenario(), "2025-02-01", "capacity"),
        ("legacyCCCC3", "alpha", "same name, later", Scenario(model=ModelChoice(model_id="mistral-7b")),
         "2025-03-01", "memory"),
    ]
    for sid, name, note, sc, when, page in rows:
        con.execute("INSERT INTO saved_scenarios VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [sid, name, note, sc.model_dump_json(), sc.version, when, when, page])
    con.execute("INSERT INTO saved_scenarios VALUES ('legacyDDDD4', 'broken', '', '{\"version\": 99}', 99, "
                "'2025-04-01', '2025-04-01', '')")
    con.close()
    return path, [r[0] for r in rows] + ["legacyDDDD4"]


def test_legacy_duckdb_store_is_imported_once_and_kept(tmp_path: Path) -> None:
    path, _ = _legacy_file(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    store = ScenarioStore(tmp_path)
    assert sorted(s.name for s in store.list()) == ["alpha", "beta", "broken"]
    old = store.get("legacyAAAA1")
    assert old.scenario is not None and old.scenario.model.model_id == "llama-2-7b" and old.page == "memory"
    assert (old.version, old.latest_id) == (1, "legacyCCCC3")  # same name: the later row is version 2
    assert store.get("legacyBBBB2").page == "capacity" and store.get("legacyDDDD4").problem
    assert not path.exists()
    kept = tmp_path / "scenarios.duckdb.imported"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    store.close()
    again = ScenarioStore(tmp_path)  # nothing imported twice
    assert again.count() == 3 and len(again.versions("legacyCCCC3")) == 2
    again.close()


def test_legacy_store_in_use_is_left_in_place_and_imported_later(tmp_path: Path) -> None:
    path, _ = _legacy_file(tmp_path)
    holder = duckdb.connect(str(path))  # an old planner process still has it open read-write
    store = ScenarioStore(tmp_path)
    assert store.list() == [] and path.exists()
    assert any("could not be imported" in n for n in store.notices())
    assert all(str(tmp_path) not in n for n in store.notices())
    store.close()
    holder.close()
    later = ScenarioStore(tmp_path)
    assert later.count() == 3 and not path.exists()
    later.close()


def test_cli_save_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LLMCP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMCP_DATABASE_URL", raising=False)
    scenario_file = tmp_path / "plan-a.json"
    scenario_file.write_text(Scenario(model=ModelChoice(model_id="llama-2-13b")).model_dump_json())
    assert main(["save", str(scenario_file)]) == 0
    out = capsys.readouterr()
    first = out.out.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", first) and "version 1" in out.err
    assert main(["save", "http://127.0.0.1:8501/capacity?m=llama-2-7b", "--name", "plan-a"]) == 0
    out = capsys.readouterr()
    second = out.out.strip()
    assert "version 2" in out.err
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id\tname\tpage\tsaved_at"
    assert len(lines) == 2 and lines[1].split("\t")[:3] == [second, "plan-a", "capacity"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[1].split("\t")[3])
    store = ScenarioStore(tmp_path / "home")
    assert store.get(first).scenario == Scenario(model=ModelChoice(model_id="llama-2-13b"))
    store.close()
    assert main(["report", f"?s={first}"]) == 0  # the older version's link still works
    capsys.readouterr()


def test_cli_store_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LLMCP_HOME", str(blocker))
    assert main(["scenarios"]) == 2
    assert main(["save", "?m=llama-2-7b"]) == 2
    err = capsys.readouterr().err
    assert err.count("error: The saved-scenario store cannot be opened") == 2 and str(tmp_path) not in err
    assert main(["save", "?ctx=-4"]) == 2
    assert "cannot be used" in capsys.readouterr().err


def test_a_write_lock_held_too_long_is_a_busy_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from estimator.store import StoreBusyError

    store = ScenarioStore(tmp_path)
    sid = store.save(Scenario(), "before")
    store.close()
    monkeypatch.setattr("estimator.store._BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr("estimator.store._RETRY_BUDGET_S", 0.3)
    holder = sqlite3.connect(tmp_path / "scenarios.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    store = ScenarioStore(tmp_path)
    try:
        assert store.get(sid).name == "before"  # readers are not blocked (WAL)
        with pytest.raises(StoreBusyError, match="busy; nothing was changed"):
            store.save(Scenario(), "blocked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.get(store.save(Scenario(), "after")).name == "after"
    store.close()
