"""The calibration ceiling (``bench/calibration_ceiling.py``): how close any calibration of the model can come
to the issue #12 targets, and the identity that puts one published closed-loop run beyond 1.5x for every one."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from estimator import performance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import calibration_ceiling
import fit_performance

H200_VLLM_C128 = ("dstack-ds_r1-h200-vllm-c128-otps", "dstack-ds_r1-h200-vllm-c128-tpot")
"""dstack benchmarks, Deepseek-R1/raw_data/online_results.csv (2025-03-18), H200 x 8, vLLM 0.7.4, random
3200/800 tokens, max_concurrency 128: output_throughput 744.78 tok/s, mean_tpot_ms 71.859."""


@pytest.fixture(scope="module")
def scored() -> fit_performance.Scored:
    return fit_performance.load_scored()


def test_steady_state_throughput_times_tpot_is_the_concurrency_for_any_constants(
        scored: fit_performance.Scored) -> None:
    ids = scored.prep.frame["measurement_id"].tolist()
    tput, tpot = (scored.prep.rows[ids.index(m)] for m in H200_VLLM_C128)
    for eff in (performance.Efficiency(), performance.Efficiency(compute=0.3, memory=0.4, step_overhead_s=0.01)):
        x = performance._predict_prepared(tput, eff)
        t = performance._predict_prepared(tpot, eff)
        assert x * t == pytest.approx(128.0, rel=1e-9)


def test_one_published_run_is_beyond_1_5x_for_every_steady_state_calibration() -> None:
    lines = calibration_ceiling.little_lines()
    assert len(lines) == 1 and H200_VLLM_C128[0] in lines[0]
    product = 128.0 / (744.78 * 0.071859)  # the published figures in the docstring above
    assert f"{product:.2f}" in lines[0] and math.sqrt(product) > 1.5


def test_more_constants_fit_at_least_as_well_in_sample(scored: fit_performance.Scored) -> None:
    small = calibration_ceiling._limit_sources(scored, 3)
    assert 3 <= len(set(small.group)) <= 3 and len(small.measured) < len(scored.measured)
    levels = calibration_ceiling.levels(small)
    assert [lv.name for lv in levels] == ["global", "per cell", "per source"]
    loss = [float(np.sum(np.abs(lv.log_ratio))) for lv in levels]
    assert all(np.isfinite(lv.log_ratio).all() for lv in levels)
    assert loss[2] <= loss[0] + 1e-9
    table = calibration_ceiling.level_table(small, levels[2])
    assert table[0] == "-- per source (in-sample) --" and table[-1].startswith("all")


def test_training_spread_sets_the_least_worst_ratio_per_generation() -> None:
    lines = calibration_ceiling.training_lines()
    hopper = next(line for line in lines if line.startswith("hopper"))
    # data/training_runs.csv: Llama 3.1 8B 1.46M H100-hours (u 0.176) and 405B 30.84M (u 0.375), model card
    assert "llama3.1-8b" in hopper and "llama3.1-405b" in hopper
    assert "1.46x" in hopper
