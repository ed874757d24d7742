"""The read-only sections ("How this is computed", sources) are built only while open (pages._ui.lazy_expander).

Closed, a section costs no server time and draws nothing; opened (its expander's state set, as a click does),
the page reruns and shows the section's equations and sources without an exception.
"""

from __future__ import annotations

import pytest

from tests._apptest import page

# (page file, expander key, what the open section must show)
SECTIONS = [
    ("capacity", "how_cap_method", "latex"),
    ("capacity", "how_cap_sources", "dataframe"),
    ("capacity", "how_spec_method", "latex"),
    ("capacity", "how_pd_method", "latex"),
    ("capacity", "how_tco_method", "latex"),
    ("capacity", "rec_infeasible", "dataframe"),  # why the other options fail (pages/_recommend.py)
    ("memory", "how_mem_method", "latex"),
    ("memory", "how_mem_sources", "dataframe"),
    ("performance", "how_perf_method", "latex"),
    ("performance", "how_perf_micro", "dataframe"),
    ("training", "how_train_method", "latex"),
    ("training", "how_train_sources", "dataframe"),
    ("variants", "how_var_method", "latex"),
]


def _count(at, kind: str) -> int:  # type: ignore[no-untyped-def]
    return len(at.latex) if kind == "latex" else len(at.dataframe)


@pytest.mark.parametrize(("name", "key", "kind"), SECTIONS)
def test_section_is_drawn_only_when_open(name: str, key: str, kind: str) -> None:
    at = page(name)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    closed = _count(at, kind)
    at.session_state[key] = True  # what clicking the expander does
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _count(at, kind) > closed
