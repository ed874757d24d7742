"""Tests for estimator.replicates: published replicates in data/measurements.csv and their error floor.

Pinned examples (values as data/measurements.csv records them from the named pages):
- AMD "Performance Results with AMD ROCm Software", vLLM throughput, Llama 3.1 70B FP8 TP8 on MI300X,
  128 in / 2048 out, max batch 3200: vLLM 0.9.0.1 16,581.5 output tok/s (row
  amdperf-vllm0901-mi300x-l31_70b-128-2048, https://www.amd.com/en/developer/resources/rocm-hub/dev-ai/performance-results.html)
  and vLLM 0.10.2 13,212.5 (row amdperf-vllm0102-mi300x-l31_70b-128-2048, the zh-cn edition of the same page,
  https://www.amd.com/zh-cn/developer/resources/rocm-hub/dev-ai/performance-results.html).
- dstack benchmarks Deepseek-R1/raw_data/online_results.csv (commit 7f37e669), DeepSeek-R1 on 8x H200,
  3200 in / 800 out, concurrency 4: SGLang 0.4.3.post2 82.63 output tok/s (row dstack-ds_r1-h200-sglang-c4-otps)
  and vLLM 0.7.4.dev181 148.58 (row dstack-ds_r1-h200-vllm-c4-otps),
  https://github.com/dstackai/benchmarks/blob/7f37e6697725e58dd09b9ef190b62ce19f01d45e/Deepseek-R1/raw_data/online_results.csv
- NVIDIA TensorRT-LLM perf-overview, Llama 3.3 70B, H100 TP2, 1000/1000: v1.0 edition 4,205 output tok/s for
  the 2 GPUs (row trtllm10-h100-sxm-l33_70b-tp2-1000-1000, commit 00f37686) and the edition at commit 03e27c7d
  2,209 per GPU (row trtllm11-h100-sxm-l33_70b-tp2-1000-1000), https://github.com/NVIDIA/TensorRT-LLM.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimator import replicates
from estimator.errors import InvalidInputError
from estimator.replicates import (
    FACTOR_1_5_WINDOW_RATIO,
    INPUT_KEYS,
    TEN_PERCENT_WINDOW_RATIO,
    ReplicateGroup,
    forced_misses,
    min_median_abs_error,
    replicate_floor,
)
from tests.conftest import ROOT

AMD_70B = ("amdperf-vllm0901-mi300x-l31_70b-128-2048", "amdperf-vllm0102-mi300x-l31_70b-128-2048")
DSTACK_H200_C4 = ("dstack-ds_r1-h200-sglang-c4-otps", "dstack-ds_r1-h200-vllm-c4-otps")
TRTLLM_H100_TP2 = ("trtllm10-h100-sxm-l33_70b-tp2-1000-1000", "trtllm11-h100-sxm-l33_70b-tp2-1000-1000")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "measurements.csv")


def _holding(groups: tuple[ReplicateGroup, ...], ids: tuple[str, ...]) -> list[ReplicateGroup]:
    return [g for g in groups if set(ids) <= {r.measurement_id for r in g.rows}]


def test_amd_vllm_versions_are_a_same_engine_replicate(frame: pd.DataFrame) -> None:
    (g,) = _holding(replicates.same_engine_groups(frame), AMD_70B)
    assert {r.measurement_id for r in g.rows} == set(AMD_70B)
    assert {r.engine_version for r in g.rows} == {"0.9.0.1", "0.10.2"}
    r = 16581.5 / 13212.5  # the two published throughputs (AMD page, see module docstring)
    assert g.floor.spread_ratio == pytest.approx(r, rel=1e-9)
    assert g.floor.min_worst_factor == pytest.approx(math.sqrt(r), rel=1e-9)  # 1.120: 12.0% at the midpoint
    assert g.floor.geometric_midpoint_value == pytest.approx(math.sqrt(16581.5 * 13212.5) / 8, rel=1e-9)
    assert g.floor.min_median_abs_error == pytest.approx((1 - 1 / r) / 2, rel=1e-9)  # 10.2% > the 10% target
    assert g.floor.forced_misses_10pct == 1 and g.floor.forced_misses_1_5x == 0
    assert not _holding(replicates.cross_engine_groups(frame), AMD_70B)


def test_dstack_h200_engines_differ_only_in_attention_dp(frame: pd.DataFrame) -> None:
    # With every input the model takes, the SGLang row (DP attention on) is not the vLLM row's replicate ...
    assert not _holding(replicates.replicate_groups(frame, INPUT_KEYS), DSTACK_H200_C4)
    # ... and with attention DP set aside it is, with the engines 1.80x apart.
    keys = tuple(k for k in INPUT_KEYS if k != "attention_dp")
    (g,) = _holding(replicates.cross_engine_groups(frame, keys), DSTACK_H200_C4)
    assert g.engines == ("sglang", "vllm") and len(g.rows) == 2
    assert g.floor.spread_ratio == pytest.approx(148.58 / 82.63, rel=1e-9)
    assert g.floor.min_worst_factor == pytest.approx(math.sqrt(148.58 / 82.63), rel=1e-9)  # 34% unavoidable
    assert sorted(r.value for r in g.rows) == pytest.approx([82.63 / 8, 148.58 / 8])  # per GPU (gpus = 8)


def test_system_and_per_gpu_throughputs_are_compared_per_gpu(frame: pd.DataFrame) -> None:
    (g,) = _holding(replicates.same_engine_groups(frame), TRTLLM_H100_TP2)
    assert g.get("metric") == "output_tokens_per_s_per_gpu"
    assert g.floor.spread_ratio == pytest.approx(2209 / (4205 / 2), rel=1e-9)


def test_excluded_rows_never_group(frame: pd.DataFrame) -> None:
    excluded = set(frame.loc[frame["excluded_reason"].fillna("") != "", "measurement_id"])
    assert excluded  # the file has excluded rows (e.g. loaded TTFT), so the check below can fail
    grouped = {r.measurement_id for g in replicates.replicate_groups(frame) for r in g.rows}
    assert grouped and not grouped & excluded


def test_views_split_by_engine(frame: pd.DataFrame) -> None:
    for g in replicates.same_engine_groups(frame):
        assert len(g.engines) == 1 and len(g.rows) >= 2
    cross = replicates.cross_engine_groups(frame)
    assert cross and all(len(g.engines) >= 2 for g in cross)


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [-1.0], [float("nan"), 2.0], [float("inf")]])
def test_rejects_values_that_are_not_positive_numbers(bad: list[float]) -> None:
    with pytest.raises(InvalidInputError):
        replicate_floor(bad)


def test_forced_misses_rejects_a_window_below_one() -> None:
    with pytest.raises(InvalidInputError):
        forced_misses([1.0, 2.0], 0.5)


positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
groups = st.lists(positive, min_size=1, max_size=9)
tied = st.lists(st.sampled_from([1.0, 2.0, 3.0, 7.5]), min_size=1, max_size=9)


@given(groups | tied)
def test_worst_factor_floor_is_one_iff_all_values_equal(values: list[float]) -> None:
    f = replicate_floor(values)
    assert (f.min_worst_factor == 1.0) == (len(set(values)) == 1)
    assert f.min_worst_factor == pytest.approx(math.sqrt(max(values) / min(values)))


@given(tied | groups)
def test_median_floor_is_zero_iff_a_strict_majority_agrees(values: list[float]) -> None:
    majority = max(values.count(v) for v in values) > len(values) / 2
    assert (min_median_abs_error(values)[0] == 0.0) == majority


def test_the_median_floor_can_sit_between_two_values() -> None:
    # Worked by hand: for 1, 2, 100 the errors at p = 4/3 (harmonic mean of 1 and 2) are 1/3, 1/3, 0.987,
    # median 1/3, below the best at any of the values themselves (p = 1: median 0.5; p = 2: 0.98).
    err, at = min_median_abs_error([1.0, 2.0, 100.0])
    assert err == pytest.approx(1 / 3) and at == pytest.approx(4 / 3)


@given(st.lists(positive, min_size=2, max_size=2))
def test_two_values_have_the_closed_form(values: list[float]) -> None:
    lo, hi = min(values), max(values)
    assert min_median_abs_error(values)[0] == pytest.approx((1 - lo / hi) / 2, abs=1e-12)


@given(groups | tied, st.randoms(use_true_random=False))
def test_floor_is_symmetric_in_the_order_of_rows(values: list[float], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert replicate_floor(shuffled) == replicate_floor(values)  # every field, exactly


@given(groups | tied, st.floats(min_value=1e-3, max_value=1e3))
def test_floor_is_scale_invariant(values: list[float], scale: float) -> None:
    a, b = replicate_floor(values), replicate_floor([v * scale for v in values])
    assert b.spread_ratio == pytest.approx(a.spread_ratio, rel=1e-9)
    assert b.min_worst_factor == pytest.approx(a.min_worst_factor, rel=1e-9)
    assert b.min_median_abs_error == pytest.approx(a.min_median_abs_error, rel=1e-9, abs=1e-12)
    assert b.geometric_midpoint_value == pytest.approx(a.geometric_midpoint_value * scale, rel=1e-9)


@given(groups | tied, st.floats(min_value=1e-4, max_value=1e7))
def test_no_prediction_beats_the_floor(values: list[float], p: float) -> None:
    f = replicate_floor(values)
    x = np.asarray(values)
    assert statistics.median(np.abs(p / x - 1).tolist()) >= f.min_median_abs_error - 1e-12
    assert float(np.max(np.maximum(p / x, x / p))) >= f.min_worst_factor * (1 - 1e-12)
    assert int(np.sum(np.abs(p / x - 1) > 0.1 + 1e-12)) >= f.forced_misses_10pct
    grid = np.geomspace(x.min(), x.max(), 2001)  # a dense sweep of predictions between the extremes
    assert float(np.median(np.abs(grid[:, None] / x[None, :] - 1), axis=1).min()) >= f.min_median_abs_error - 1e-12
    assert int(np.sum(np.maximum(p / x, x / p) > 1.5 * (1 + 1e-12))) >= f.forced_misses_1_5x


@given(groups | tied)
def test_the_floor_is_reached(values: list[float]) -> None:
    f = replicate_floor(values)
    x = np.asarray(values)
    assert float(np.median(np.abs(f.median_optimal_value / x - 1))) == pytest.approx(f.min_median_abs_error)
    g = f.geometric_midpoint_value
    assert float(np.max(np.maximum(g / x, x / g))) == pytest.approx(f.min_worst_factor)


@given(groups | tied)
def test_no_forced_miss_iff_the_spread_fits_the_band(values: list[float]) -> None:
    r = max(values) / min(values)
    assert (forced_misses(values, TEN_PERCENT_WINDOW_RATIO) == 0) == (r <= TEN_PERCENT_WINDOW_RATIO)
    assert (forced_misses(values, FACTOR_1_5_WINDOW_RATIO) == 0) == (r <= FACTOR_1_5_WINDOW_RATIO)
