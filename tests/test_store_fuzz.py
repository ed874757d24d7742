"""Damaged SQLite store files: 40 seeded corruptions of a real store file. Only ``estimator.errors``
exceptions may come out of list/get/save, and a file found damaged is moved aside, never overwritten."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy.exc

from estimator.__main__ import main
from estimator.errors import EstimatorError
from estimator.scenario import ModelChoice, Scenario
from estimator.store import SQLITE_FILE, ScenarioStore, StoreCorruptError

N_CORRUPTIONS = 40
PAGE = 4096


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[str]]:
    """The bytes of a closed store with 30 scenarios in 3 versions of 10 names, and their ids."""
    home = tmp_path_factory.mktemp("pristine")
    store = ScenarioStore(home)
    models = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "mistral-7b"]
    ids = [store.save(Scenario(model=ModelChoice(model_id=models[i % 4]), name=f"s{i}"), f"name {i % 10}",
                      "note " * (i % 7), "memory") for i in range(30)]
    store.delete(ids[3])
    store.close()
    assert not (home / f"{SQLITE_FILE}-wal").exists()  # checkpointed into the main file on close
    return (home / SQLITE_FILE).read_bytes(), ids


def _corrupt(data: bytes, rng: random.Random) -> bytes:
    """One random kind of damage: flipped bytes, a garbage/zeroed/swapped page, a bad header, truncation."""
    buf = bytearray(data)
    pages = len(buf) // PAGE
    kind = rng.randrange(7)
    if kind == 0:  # scattered bit rot
        for _ in range(rng.randint(1, 40)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # the header
        start = rng.randrange(0, 96)
        buf[start:start + rng.randint(1, 8)] = rng.randbytes(8)[: len(buf[start:start + 8])]
    elif kind == 2:  # a page of garbage
        p = rng.randrange(pages)
        buf[p * PAGE:(p + 1) * PAGE] = rng.randbytes(PAGE)
    elif kind == 3:  # a zeroed page (not the first: a zeroed header is kind 1's job)
        p = rng.randrange(1, pages)
        buf[p * PAGE:(p + 1) * PAGE] = bytes(PAGE)
    elif kind == 4:  # truncated (never to 0 bytes: an empty file is a valid empty database)
        del buf[rng.randint(1, len(buf) - 1):]
    elif kind == 5:  # two pages swapped
        a, b = rng.sample(range(pages), 2)
        first, second = bytes(buf[a * PAGE:(a + 1) * PAGE]), bytes(buf[b * PAGE:(b + 1) * PAGE])
        buf[a * PAGE:(a + 1) * PAGE], buf[b * PAGE:(b + 1) * PAGE] = second, first
    else:  # garbage inside a b-tree page's cells
        p = rng.randrange(1, pages)
        off = p * PAGE + rng.randrange(8, PAGE - 64)
        buf[off:off + 64] = rng.randbytes(64)
    return bytes(buf)


def _exercise(store: ScenarioStore, ids: list[str]) -> list[tuple[int, BaseException]]:
    """list/count/get/versions/save; the exceptions they raised, with the operation's index."""
    raised: list[tuple[int, BaseException]] = []
    ops = [store.list, store.count, lambda: store.list("name 1"), store.trash]
    ops += [lambda sid=sid: store.get(sid) for sid in ids[::3]]
    ops += [lambda: store.versions(ids[0]), lambda: store.save(Scenario(), "after damage")]
    for i, op in enumerate(ops):
        try:
            op()
        except Exception as exc:
            raised.append((i, exc))
    return raised


@pytest.mark.parametrize("seed", range(N_CORRUPTIONS))
def test_corrupt_file_only_estimator_errors_and_moved_aside(
        seed: int, tmp_path: Path, pristine: tuple[bytes, list[str]]) -> None:
    data, ids = pristine
    damaged = _corrupt(data, random.Random(seed))
    (tmp_path / SQLITE_FILE).write_bytes(damaged)
    store = ScenarioStore(tmp_path)
    raised = _exercise(store, ids)
    store.close()
    for _, exc in raised:
        assert isinstance(exc, EstimatorError), f"seed {seed}: {type(exc).__module__}.{type(exc).__name__}: {exc}"
        assert not isinstance(exc, sqlite3.Error | sqlalchemy.exc.SQLAlchemyError)
        assert str(tmp_path) not in str(exc) and SQLITE_FILE not in str(exc)
    moved = [p for p in tmp_path.glob(f"{SQLITE_FILE}.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    if not any(isinstance(exc, StoreCorruptError) for _, exc in raised):
        assert moved == []
        return
    assert len(moved) == 1, f"seed {seed}: {moved}"
    if raised[0][0] == 0:  # found by the first operation, before anything was written
        assert moved[0].read_bytes() == damaged, f"seed {seed}: the damaged file was changed"
    fresh = ScenarioStore(tmp_path)  # the store goes on, in a new file
    fresh.save(Scenario(), "new")
    assert "new" in {s.name for s in fresh.list()}
    fresh.close()


def test_fuzz_detects_most_corruptions(tmp_path: Path, pristine: tuple[bytes, list[str]]) -> None:
    """The fuzz above is only meaningful if the damage is usually noticed: count how often."""
    data, ids = pristine
    detected = 0
    for seed in range(N_CORRUPTIONS):
        home = tmp_path / str(seed)
        home.mkdir()
        (home / SQLITE_FILE).write_bytes(_corrupt(data, random.Random(seed)))
        store = ScenarioStore(home)
        detected += any(isinstance(e, StoreCorruptError) for _, e in _exercise(store, ids))
        store.close()
        shutil.rmtree(home)
    assert detected >= N_CORRUPTIONS // 2, detected


def test_page_links_and_cli_keep_working_with_a_damaged_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LLMCP_HOME", str(tmp_path))
    (tmp_path / SQLITE_FILE).write_bytes(b"this is not a database" * 500)
    assert main(["report", "?m=llama-2-7b"]) == 0  # a link that carries the scenario needs no store
    capsys.readouterr()
    assert main(["report", "?s=abcdefgh"]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "moved aside" in err and str(tmp_path) not in err
    assert len(list(tmp_path.glob(f"{SQLITE_FILE}.damaged-*"))) == 1
    assert main(["scenarios"]) == 0


def test_app_with_a_damaged_store_says_so_and_page_links_work(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LLMCP_HOME", str(tmp_path))
    monkeypatch.delenv("LLMCP_DATABASE_URL", raising=False)
    (tmp_path / SQLITE_FILE).write_bytes(b"\x00garbage" * 2000)
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["s"] = "abcdefgh123"
    at.run()
    assert not at.exception
    assert any("damaged" in e.value for e in at.error), [e.value for e in at.error]
    assert len(list(tmp_path.glob(f"{SQLITE_FILE}.damaged-*"))) == 1
    at = AppTest.from_file("../pages/memory.py", default_timeout=60)
    at.query_params["m"] = "llama-2-7b"
    at.run()
    assert not at.exception and at.selectbox(key="m").value == "llama-2-7b"


@pytest.mark.parametrize("seed", range(100, 112))
def test_file_damaged_while_open_only_estimator_errors(
        seed: int, tmp_path: Path, pristine: tuple[bytes, list[str]]) -> None:
    """The running app's case: the file is damaged in place under open, pooled connections."""
    data, ids = pristine
    path = tmp_path / SQLITE_FILE
    path.write_bytes(data)
    store = ScenarioStore(tmp_path)
    assert len(store.list()) == 9
    with open(path, "r+b") as handle:  # same inode: the store cannot tell from the outside
        handle.write(_corrupt(data, random.Random(seed)))
        handle.truncate()
    raised = _exercise(store, ids)
    store.close()
    for _, exc in raised:
        assert isinstance(exc, EstimatorError), f"seed {seed}: {type(exc).__module__}.{type(exc).__name__}: {exc}"
    if any(isinstance(exc, StoreCorruptError) for _, exc in raised):
        assert list(tmp_path.glob(f"{SQLITE_FILE}.damaged-*")), f"seed {seed}"
