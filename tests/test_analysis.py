"""The memory and performance pages' entry points (:mod:`estimator.analysis`).

The pinned numbers are what the pages and reports showed before the pages became functions over one
result (dumped from the old page code on 2026-11-29); the analysis must reproduce them.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from estimator import analysis, catalog, entrypoints, memory, performance, report
from estimator.errors import EstimatorError
from estimator.scenario import Scenario, from_query_params

REL = 1e-9  # refactors of the formulas may reorder floating-point operations, nothing more


def _scenario(**params: str) -> Scenario:
    scenario, ignored = from_query_params(params)
    assert not ignored
    return scenario


# (link parameters, tp, TTFT s, TPOT s, max output tokens/s per replica, best batch under the limits)
PINNED_PERFORMANCE = [
    # Issue 12: device memory as the device reports it lets the default 70B in bf16 fit 2 H100s (auto TP 2,
    # was 4), and the refit decode step overhead is 0.58 ms (was 0.65): TPOTs fell by 0.07 ms, and larger
    # memory raised the 8B's best batch (1656 -> 1766).
    # Re-pinned 2026-11-30: the app now runs with the engine x vendor calibrated factors (vLLM on NVIDIA:
    # data/calibration_engines.csv, the factors whose leave-one-source-out residuals give the ranges) instead of
    # the global constants, and MoE experts with the fitted grouped-GEMM factor (0.33): every row moved.
    ({}, 2, 0.10430300186816907, 0.023634531234310936, 586.0346589737402, 15),
    ({"m": "llama-2-13b", "hw": "a100-80gb-sxm", "b": "8", "in": "2048", "out": "256"},
     1, 1.854778737817223, 0.02210990186591808, 506.4160047343784, 25),
    # The 8B's best batch is now vLLM's scheduler cap (max_num_seqs 1024 on an H100, data/engines.csv), not the
    # 1,766 sequences its KV cache would hold: the performance page follows the scenario's engine (issue 12).
    ({"m": "llama-3.1-8b", "wd": "fp8", "tp": "2", "pp": "2", "tpotl": "0", "hw2": "l4"},
     2, 0.013524763605828338, 0.0032064830096514814, 19786.661810454232, 1024),
    ({"m": "mixtral-8x7b", "hw": "h200", "kd": "fp8", "b": "32", "ctx": "16384", "hw2": "none", "ceff": "0.5",
      "sov": "1.0"}, 1, 4.68138791834605, 0.06058542720235964, 1320.451574789911, 1),
    # ^ Mixtral with the user's ceff 0.5 override on top of the fitted MoE grouped-GEMM factor 0.33 (experts at
    #   0.165 of peak): TTFT 1.79 -> 4.68 s; at TPOT <= 50 ms only batch 1 qualifies (was 164).
]


@pytest.mark.parametrize(("params", "tp", "ttft_s", "tpot_s", "max_tps", "best_batch"), PINNED_PERFORMANCE)
def test_performance_analysis_reproduces_the_old_page(
    params: dict[str, str], tp: int, ttft_s: float, tpot_s: float, max_tps: float, best_batch: int
) -> None:
    r = analysis.performance_analysis(_scenario(**params))
    assert r.tp == tp
    assert r.estimate.ttft_s == pytest.approx(ttft_s, rel=REL)
    assert r.estimate.tpot_s == pytest.approx(tpot_s, rel=REL)
    assert r.unlimited.output_tokens_per_s == pytest.approx(max_tps, rel=REL)
    assert r.best is not None and r.best.batch == best_batch


def test_default_comparison_is_h200_at_its_own_smallest_tp() -> None:
    r = analysis.performance_analysis(Scenario())
    a, b = r.comparison
    assert (a.hardware_id, a.devices, a.ttft_s) == ("h100-sxm", 2, r.estimate.ttft_s)  # see PINNED_PERFORMANCE
    assert a.max_output_tokens_per_s == r.unlimited.output_tokens_per_s
    assert (b.hardware_id, b.tp, b.note) == ("h200", 2, "")
    assert b.ttft_s == pytest.approx(0.10263457236951057, rel=REL)
    assert b.max_output_tokens_per_s == pytest.approx(1775.7298191215432, rel=REL)


def test_no_comparison_and_an_unknown_comparison() -> None:
    assert len(analysis.performance_analysis(_scenario(hw2="none")).comparison) == 1
    r = analysis.performance_analysis(_scenario(hw2="no-such-gpu"))
    assert r.comparison[1].ttft_s is None and "no-such-gpu" in r.comparison[1].note


def test_comparison_that_cannot_run_is_a_note_not_an_error() -> None:
    r = analysis.performance_analysis(_scenario(wd="fp8", hw2="a100-80gb-sxm"))
    assert r.comparison[1].ttft_s is None and "fp8" in r.comparison[1].note


def test_one_tensor_parallel_rule() -> None:
    """"auto" is performance.smallest_tp for the static batch; a chosen degree is kept, also for B."""
    model, h100, l4 = catalog.get_model("llama-3.1-70b"), catalog.get_hardware("h100-sxm"), catalog.get_hardware("l4")
    s = Scenario()
    for hw in (h100, l4):
        assert analysis.serving_tp(s, model, hw) == performance.smallest_tp(model, hw, "bf16", "bf16", 1250, 1)
    assert analysis.serving_tp(_scenario(tp="8"), model, l4) == 8
    r = analysis.performance_analysis(_scenario(tp="8", hw2="h200"))
    assert r.tp_auto is False and [c.tp for c in r.comparison] == [8, 8]


def test_sweeps_equal_the_vectorized_estimator() -> None:
    s = _scenario(m="llama-3.1-8b", b="4")
    r = analysis.performance_analysis(s)
    model, hw, eff = r.model, r.hardware, performance.efficiency_for_scenario(s)
    bs = np.asarray(r.batch_sweep.batch)
    assert bs[0] == 1 and bs[-1] == min(r.unlimited.max_batch_memory, r.unlimited.batch_cap)
    ss = performance.steady_state_arrays(model, hw, "bf16", bs, 1000, 250, r.tp, 1, kv_dtype="bf16", efficiency=eff)
    assert np.array_equal(r.batch_sweep.tpot_s, ss["tpot_s"])
    assert np.array_equal(r.batch_sweep.output_tokens_per_s, ss["output_tokens_per_s"])
    cs = r.context_sweep
    assert cs is not None and cs.input_tokens[-1] == model.max_context - 250
    arr = performance.estimate_arrays(model, hw, "bf16", 4, np.asarray(cs.input_tokens), 250, r.tp, 1,
                                      kv_dtype="bf16", efficiency=eff)
    assert np.array_equal(cs.ttft_s, arr["ttft_s"]) and cs.fits == tuple(arr["fits"])


def test_latency_limits_no_batch_meets_them() -> None:
    r = analysis.performance_analysis(_scenario(ttft="0.05", tpotl="5"))
    assert r.best is None and r.batch_sweep.best_batch is None
    assert r.best_message and "no batch meets the limits" in r.best_message
    assert r.estimate.ttft_s == pytest.approx(0.10430300186816907, rel=REL)  # the rest of the page stands


def test_roofline_points_and_calibration() -> None:
    r = analysis.performance_analysis(Scenario())
    rf = r.roofline
    assert rf.ridge_flops_per_byte == rf.peak_flops_per_s / rf.bandwidth_bytes_per_s
    prefill, decode = rf.points
    assert prefill.intensity_flops_per_byte == r.estimate.prefill_intensity_flops_per_byte
    assert decode.attainable_flops_per_s == pytest.approx(
        decode.intensity_flops_per_byte * rf.attainable_bandwidth_bytes_per_s)  # decode is bandwidth-bound
    # no overrides: the page scores each row at its own engine x vendor cell
    summary = performance.calibration_summary(performance.calibration_table(by_engine=True))
    assert r.calibration.median_abs_error == summary["median_abs_error"]
    assert r.calibration.scored_points == summary["points"] and len(r.calibration.points) >= summary["points"]
    assert r.microbenchmarks and all(m.share_of_datasheet is None or 0 < m.share_of_datasheet < 1.2
                                     for m in r.microbenchmarks)


def test_efficiency_overrides_reach_the_analysis() -> None:
    s = _scenario(ceff="0.5", sov="1.0", cme="0.6")
    r = analysis.performance_analysis(s)
    assert r.efficiency == performance.efficiency_for_scenario(s)
    assert (r.efficiency.compute, r.efficiency.step_overhead_s, r.efficiency.communication) == (0.5, 1e-3, 0.6)


# (link parameters, tp, max batch, max context, per-device bytes, layouts' TP, fewest devices to train)
# Since issue 11 the fit check assumes the same 8,192-token prefill step as max batch/context, so the
# per-device bytes of a batch whose prompts exceed one step fell (13B: 59.7 -> 55.7 GB), and Mixtral
# at batch 32 x 16k now fits on 2 H200s (auto TP 2; max batch at TP 2 is 144).
PINNED_MEMORY = [
    # Issue 12: device memory as the device reports it (H100 85,017,493,504 B, not 80e9; A100 80 GiB;
    # H200 150,109,880,320 B). The default 70B in bf16 then fits TP 2 (was 4) with a short KV budget
    # (max batch 4, context 19,767); the 13B trains on 4 A100s (was 8) and 70B at TP 1 on 32 H100s (was 64).
    ({}, 2, 4, 19767, 73369276160.0, [1, 2, 4, 8, 16], 64),
    ({"m": "llama-2-13b", "hw": "a100-80gb-sxm", "b": "8", "in": "2048", "out": "256"},
     1, 14, 4096, 55733442304.0, [1, 2, 4, 8], 4),
    ({"m": "llama-2-70b", "tp": "1"}, 1, 0, 0, 141985869568.0, [1, 2, 4, 8, 16], 32),
    # Mixtral at batch 32 x 16k in fp8 KV fits one H200 as the device reports it (150.1e9 B)
    ({"m": "mixtral-8x7b", "hw": "h200", "kd": "fp8", "b": "32", "ctx": "16384"},
     1, 35, 18142, 131412020992.0, [1, 2, 4, 8, 16], 8),
]


@pytest.mark.parametrize(("params", "tp", "max_batch", "max_ctx", "per_device", "layouts", "train_devices"),
                         PINNED_MEMORY)
def test_memory_analysis_reproduces_the_old_page(
    params: dict[str, str], tp: int, max_batch: int, max_ctx: int, per_device: float, layouts: list[int],
    train_devices: int,
) -> None:
    r = analysis.memory_analysis(_scenario(**params))
    assert (r.tp, r.max_batch, r.max_context_tokens) == (tp, max_batch, max_ctx)
    assert r.memory.per_device_total_bytes == pytest.approx(per_device, rel=REL)
    assert [lay.tp for lay in r.layouts] == layouts
    assert r.training is not None and r.training.fit.devices == train_devices


def test_memory_context_sweep() -> None:
    r = analysis.memory_analysis(Scenario())
    sw = r.context_sweep
    assert sw.context_tokens[0] == 512 and sw.context_tokens[-1] == r.model.max_context
    assert [line.batch for line in sw.lines] == [1, 4]  # 1, the scenario's, the largest that fits
    one = sw.lines[0].per_device_bytes
    assert all(math.isfinite(v) and v > 0 for line in sw.lines for v in line.per_device_bytes)
    assert list(one) == sorted(one)  # grows with the context
    at_4k = one[sw.context_tokens.index(4096)]
    assert at_4k == pytest.approx(r.memory.per_device_weights_bytes + r.memory.per_device_kv_cache_bytes
                                  + r.memory.runtime_overhead_bytes, rel=REL)
    assert sw.budget_bytes == r.budget_bytes == r.hardware.memory_bytes * 0.9


def test_memory_training_section() -> None:
    r = analysis.memory_analysis(_scenario(zero="1", dp="4"))
    t = r.training
    assert t is not None and t.zero_stage == 1 and t.chosen is t.stages[1] and len(t.stages) == 4
    expected = memory.training_memory(r.model, seq_len=4096, micro_batch=1, dp=4, tp=r.tp, zero_stage=1,
                                      optimizer="adamw", recompute="selective", runtime_overhead_bytes=1.5e9)
    assert t.chosen.total_bytes == expected.total_bytes
    assert [s.total_bytes for s in t.stages] == sorted((s.total_bytes for s in t.stages), reverse=True)


def test_memory_of_an_imported_model() -> None:
    spec = catalog.get_model("mistral-7b").model_copy(update={"model_id": "imported", "name": "Imported"})
    r = analysis.memory_analysis(Scenario(), model=spec)
    assert r.model.name == "Imported"
    assert r.memory.weights_bytes == analysis.memory_analysis(_scenario(m="mistral-7b")).memory.weights_bytes


def test_memory_training_error_keeps_the_serving_result(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise EstimatorError("training memory refused")

    monkeypatch.setattr(memory, "training_memory", refuse)
    r = analysis.memory_analysis(Scenario())
    assert r.training is None and r.training_error == "training memory refused"
    assert r.max_batch == 4  # the default 70B on TP 2 (see PINNED_MEMORY)
    rep = report.memory_report(Scenario(), r)
    assert [row.value for row in rep.rows if row.section == "warning"] == ["training memory refused"]


def test_memory_errors_are_estimator_errors() -> None:
    with pytest.raises(EstimatorError, match="fp8"):
        analysis.memory_analysis(_scenario(hw="a100-80gb-sxm", wd="fp8"))
    with pytest.raises(EstimatorError, match="maximum"):
        analysis.memory_analysis(_scenario(m="llama-2-7b", ctx="100000"))


@pytest.mark.parametrize("params", [{}, {"ttft": "0.05", "tpotl": "5"}, {"m": "llama-2-70b", "tp": "1"},
                                    {"hw2": "no-such-gpu"}, {"m": "mixtral-8x7b", "hw": "h200", "b": "32"}])
def test_reports_render_to_json(params: dict[str, str]) -> None:
    s = _scenario(**params)
    for page in ("memory", "performance"):
        try:
            rep = report.build_report(s, page)
        except EstimatorError:
            continue  # a scenario the page cannot compute (the page shows the message)
        json.loads(report.to_json(rep))  # allow_nan=False: every number finite or empty


def test_entry_points_compute_once_per_scenario() -> None:
    entrypoints.cache_clear()
    s = _scenario(m="llama-3.1-8b", b="3")
    before = entrypoints.calls("performance"), entrypoints.calls("memory")
    for _ in range(3):
        r = entrypoints.compute("performance", s)
        report.performance_report(s, r)
        entrypoints.compute("memory", s)
    report.memory_report(s)
    assert (entrypoints.calls("performance"), entrypoints.calls("memory")) == (before[0] + 1, before[1] + 1)


def test_max_batch_max_context_and_fit_agree() -> None:
    # issue 11: ?ctx=8192&tp=2&wd=fp8&b=25 showed "Max batch 25" and "Fits? no, 27.3 GB over budget"
    for params in ({"ctx": "8192", "tp": "2", "wd": "fp8"}, {"m": "mixtral-8x7b", "hw": "h200", "ctx": "16384", "tp": "2"},
                   {"m": "llama-2-13b", "hw": "a100-80gb-sxm", "ctx": "2304", "tp": "1"}):
        r = analysis.memory_analysis(_scenario(**params))
        assert r.max_batch > 1
        at_max = analysis.memory_analysis(_scenario(**params, b=str(r.max_batch)))
        over = analysis.memory_analysis(_scenario(**params, b=str(r.max_batch + 1)))
        assert at_max.memory.fits and not over.memory.fits
        assert at_max.max_context_tokens >= int(params["ctx"])
