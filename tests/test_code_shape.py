"""The shape the developer guide asks of the code: no function in ``estimator/`` or ``pages/`` over
80 lines, and nothing in ``estimator/`` imports Streamlit. (Complexity <= 15 and types are checked
by ruff's C901 and mypy in ``scripts/test.sh``.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 80
FILES = sorted([*ROOT.glob("estimator/**/*.py"), *ROOT.glob("pages/**/*.py"), ROOT / "app.py"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_are_short(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines, line {n.lineno})"
            for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and n.end_lineno is not None and n.end_lineno - n.lineno + 1 > MAX_LINES]
    assert not long, f"split into named steps: {', '.join(long)}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("estimator/**/*.py")), ids=lambda p: p.name)
def test_estimator_never_imports_streamlit(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.split(".")[0] == "streamlit"]
