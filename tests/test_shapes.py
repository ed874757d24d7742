"""Derived model shapes (``estimator.shapes``).

The family members are read from data/models.csv, whose Llama 3.x rows come from the Hugging Face
config.json files and meta-llama/llama-models sku_list.py (reference facts §4.1, §4.3) and whose
Qwen3 dense rows come from the Qwen config.json files.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estimator import memory, shapes
from estimator.errors import InvalidInputError
from estimator.shapes import derive_shape, family_members, llama_params

_FIELDS = ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size", "tied_embeddings")


def test_llama_formula_matches_published_totals() -> None:
    # reference facts §4.3: Llama 3(.1) 8B 8,030,261,248 and 70B 70,553,706,496 (HF safetensors totals)
    assert llama_params(32, 4096, 32, 8, 128, 14336, 128256, tied=False) == 8_030_261_248
    assert llama_params(80, 8192, 64, 8, 128, 28672, 128256, tied=False) == 70_553_706_496
    # facts §4.3: Llama 3.1 405B safetensors total 405,853,388,800
    assert llama_params(126, 16384, 128, 8, 128, 53248, 128256, tied=False) == 405_853_388_800


@pytest.mark.parametrize("family", sorted(shapes.FAMILIES))
def test_family_members_are_reproduced(family: str) -> None:
    members = family_members(family)
    assert len(members) >= 2
    for m in members:
        d = derive_shape(m.params_total, family)
        for field in _FIELDS:
            assert getattr(d.spec, field) == getattr(m, field), (m.model_id, field)
        assert d.spec.params_total == pytest.approx(m.params_total, rel=1e-6)


def test_llama3_family_has_the_five_published_sizes() -> None:
    ids = [m.model_id for m in family_members("llama3")]
    assert ids == ["llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"]


def test_derived_spec_says_it_is_derived_and_from_what() -> None:
    d = derive_shape(7.1e9)
    assert d.spec.assumed
    assert "Derived shape" in d.spec.notes and "Llama 3.2 3B" in d.spec.notes and "Llama 3.1 8B" in d.spec.notes
    assert d.anchors == ("llama-3.2-3b", "llama-3.1-8b")
    assert 0 < d.weight < 1
    assert d.spec.model_id == "derived-llama3-7.1b"
    # between its anchors in every dimension
    assert 28 <= d.spec.n_layers <= 32 and 3072 <= d.spec.d_model <= 4096


def test_sizes_are_monotone() -> None:
    n = np.logspace(8, 12, 25)  # factor ~1.47 per step
    specs = [derive_shape(float(x)).spec for x in n]
    layers = [s.n_layers for s in specs]
    widths = [s.d_model for s in specs]
    params = [s.params_total for s in specs]
    assert layers == sorted(layers)
    assert widths == sorted(widths)
    assert all(b > a for a, b in itertools.pairwise(params))


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError):
        derive_shape(1e6)
    with pytest.raises(InvalidInputError):
        derive_shape(float("nan"))
    with pytest.raises(InvalidInputError, match="from 1e"):
        derive_shape(5e8, "qwen3")
    with pytest.raises(InvalidInputError, match="unknown model family"):
        derive_shape(1e9, "gpt5")


@settings(max_examples=80, deadline=None)
@given(log_n=st.floats(min_value=8.0, max_value=12.0), family=st.sampled_from(sorted(shapes.FAMILIES)))
def test_any_size_gives_a_valid_spec(log_n: float, family: str) -> None:
    n = max(10.0**log_n, shapes.FAMILIES[family].min_params)  # Llama 3: all of [1e8, 1e12]; Qwen3 from 1e9
    d = derive_shape(n, family)
    s = d.spec
    assert abs(s.params_total / n - 1) <= shapes.PARAMS_TOLERANCE
    assert s.params_total == llama_params(s.n_layers, s.d_model, s.n_heads, s.n_kv_heads, s.head_dim, s.d_ff,
                                          s.vocab_size, s.tied_embeddings, shapes.FAMILIES[family].qk_norm)
    assert s.d_model % 64 == 0 and s.d_ff % 64 == 0
    assert s.n_heads % s.n_kv_heads == 0
    assert s.n_layers >= 2 and s.d_ff > 0
    assert 1.0 <= s.d_ff / s.d_model <= 8.0
    # usable by the memory model
    assert memory.weights_bytes(s, "bf16") == pytest.approx(2 * s.params_total, rel=0.02)
    assert math.isfinite(memory.kv_cache_bytes_per_token(s, "bf16"))
