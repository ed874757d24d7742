"""The saved-scenario store on both backends (SQLite WAL file, real PostgreSQL): versions, trash,
restore, and concurrent saves from threads and processes that lose nothing."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from estimator.errors import InvalidInputError, StoreError
from estimator.scenario import ModelChoice, Scenario
from estimator.store import TRASH_DAYS, NotFoundError, ScenarioStore
from tests._postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    """(home, url) of an empty store on each backend."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    return tmp_path, url


@pytest.fixture
def store(store_args: tuple[Path, str | None]) -> Iterator[ScenarioStore]:
    s = ScenarioStore(*store_args)
    yield s
    s.close()


def test_backend_is_the_one_asked_for(store: ScenarioStore, store_args: tuple[Path, str | None]) -> None:
    store.save(Scenario(), "x")
    assert store.backend == ("postgresql" if store_args[1] else "sqlite")
    assert (store_args[0] / "scenarios.sqlite").exists() == (store_args[1] is None)


def test_same_name_makes_versions_and_old_links_keep_working(store: ScenarioStore) -> None:
    v1 = store.save(Scenario(model=ModelChoice(model_id="llama-2-7b")), "plan", "first", "memory")
    v2 = store.save(Scenario(model=ModelChoice(model_id="llama-2-13b")), "plan", "", "capacity")
    v3 = store.save(Scenario(model=ModelChoice(model_id="llama-2-70b")), "plan", "third")
    assert len({v1, v2, v3}) == 3
    listed = store.list()
    assert [(s.id, s.version, s.versions) for s in listed] == [(v3, 3, 3)] and store.count() == 1
    old = store.get(v1)
    assert old.scenario is not None and old.scenario.model.model_id == "llama-2-7b"
    assert (old.version, old.latest_id, old.page, old.is_latest) == (1, v3, "memory", False)
    assert store.get(v2).page == "capacity" and store.get(v3).note == "third"
    assert [s.id for s in store.versions(v2)] == [v3, v2, v1]
    new = store.update(v1, Scenario(model=ModelChoice(model_id="mistral-7b")))
    assert store.get(new).version == 4 and store.list()[0].id == new


def test_rename_moves_all_versions_and_refuses_a_taken_name(store: ScenarioStore) -> None:
    a1 = store.save(Scenario(), "a")
    a2 = store.save(Scenario(), "a")
    store.save(Scenario(), "b")
    store.rename(a1, "renamed", "note")
    assert store.get(a1).name == store.get(a2).name == "renamed" and store.get(a2).note == "note"
    with pytest.raises(InvalidInputError, match="already named 'b'"):
        store.rename(a2, "b")
    assert sorted(s.name for s in store.list()) == ["b", "renamed"]


def test_delete_goes_to_trash_and_restores(store: ScenarioStore) -> None:
    v1 = store.save(Scenario(), "kept")
    v2 = store.save(Scenario(), "kept")
    store.delete(v1)  # any version's id trashes the named scenario
    assert store.list() == [] and store.count() == 0
    with pytest.raises(NotFoundError, match="moved to the trash"):
        store.get(v2)
    with pytest.raises(NotFoundError):
        store.delete(v2)
    trashed = store.trash()
    assert [s.id for s in trashed] == [v2] and trashed[0].deleted_at is not None
    store.save(Scenario(), "kept")  # the name is free again while the old one is in the trash
    assert store.restore(v1) == v2
    names = sorted(s.name for s in store.list())
    assert names == ["kept", "kept (restored)"]
    assert store.get(v1).name == "kept (restored)" and store.trash() == []
    with pytest.raises(NotFoundError, match="not in the trash"):
        store.restore(v1)


def test_trash_is_purged_after_30_days(store: ScenarioStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = store.save(Scenario(), "old")
    store.delete(sid)
    real = time.time
    monkeypatch.setattr("estimator.store.time.time", lambda: real() + (TRASH_DAYS + 1) * 86_400)
    assert store.trash() == []
    with pytest.raises(NotFoundError):
        store.restore(sid)
    with pytest.raises(NotFoundError):
        store.get(sid)


def test_search_is_literal(store: ScenarioStore) -> None:
    store.save(Scenario(), "100% sure", "a_b")
    store.save(Scenario(), "other", "axb")
    assert [s.name for s in store.list("100%")] == ["100% sure"]
    assert [s.name for s in store.list("A_B")] == ["100% sure"]


def test_twenty_threads_times_100_saves_lose_nothing(store: ScenarioStore) -> None:
    n_threads, per_thread = 20, 100

    def work(t: int) -> list[str]:
        return [store.save(Scenario(name=f"t{t}-{i}"), f"thread {t} #{i}") for i in range(per_thread)]

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        ids = [sid for chunk in pool.map(work, range(n_threads)) for sid in chunk]
    assert len(set(ids)) == n_threads * per_thread
    assert store.count() == n_threads * per_thread
    names = {s.name for s in store.list()}
    assert names == {f"thread {t} #{i}" for t in range(n_threads) for i in range(per_thread)}


def test_concurrent_saves_under_one_name_number_every_version(store: ScenarioStore) -> None:
    n_threads, per_thread = 8, 10

    def work(t: int) -> list[str]:
        return [store.save(Scenario(name=f"{t}-{i}"), "shared") for i in range(per_thread)]

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        ids = [sid for chunk in pool.map(work, range(n_threads)) for sid in chunk]
    versions = store.versions(ids[0])
    assert sorted(v.version for v in versions) == list(range(1, n_threads * per_thread + 1))
    assert {v.id for v in versions} == set(ids) and store.count() == 1


def _save_many(home: str, url: str | None, proc: int, n: int, results: Any) -> None:
    """One worker process: ``n`` saves under its own names and one under a name all workers share."""
    try:
        store = ScenarioStore(home, url=url)
        ids = [store.save(Scenario(name=f"p{proc}-{i}"), f"process {proc} #{i}") for i in range(n)]
        ids.append(store.save(Scenario(name=f"p{proc}-shared"), "shared by all"))
        store.close()
        results.put((proc, ids, ""))
    except BaseException as exc:  # report it to the parent rather than die silently
        results.put((proc, [], f"{type(exc).__name__}: {exc}"))


def test_four_processes_times_100_saves_lose_nothing(store: ScenarioStore,
                                                     store_args: tuple[Path, str | None]) -> None:
    """Four OS processes (forked, so no interpreter start-up; nothing is open in the parent yet)."""
    n_procs, per_proc = 4, 100
    home, url = store_args
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_save_many, args=(str(home), url, p, per_proc, results)) for p in range(n_procs)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert [err for _, _, err in outcomes if err] == []
    ids = [sid for _, chunk, _ in outcomes for sid in chunk]
    assert len(set(ids)) == n_procs * (per_proc + 1)
    assert store.count() == n_procs * per_proc + 1
    names = {s.name for s in store.list()}
    assert names == {f"process {p} #{i}" for p in range(n_procs) for i in range(per_proc)} | {"shared by all"}
    shared = store.list("shared by all")[0]
    assert shared.versions == n_procs and sorted(v.version for v in store.versions(shared.id)) == [1, 2, 3, 4]


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    store = ScenarioStore(tmp_path, url="postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot be reached") as info:
        store.list()
    assert "secret" not in str(info.value) and "127.0.0.1" not in str(info.value)
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        ScenarioStore(tmp_path, url="mysql://x@y/z").list()
