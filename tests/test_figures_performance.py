"""Figure and table builders of the Latency & throughput page (pages/figures/performance.py), without Streamlit."""

from __future__ import annotations

import doctest
import math

import pytest

from estimator import analysis
from estimator.scenario import Scenario, from_query_params
from pages.figures import performance as figures


def _result(**params: str) -> analysis.PerformanceAnalysis:
    scenario, ignored = from_query_params(params)
    assert not ignored
    return analysis.performance_analysis(scenario)


@pytest.fixture(scope="module")
def default() -> analysis.PerformanceAnalysis:
    return analysis.performance_analysis(Scenario())


def _finite(values: object) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)  # type: ignore[attr-defined]


def test_doctests() -> None:
    assert doctest.testmod(figures).failed == 0


def test_roofline_figure(default: analysis.PerformanceAnalysis) -> None:
    fig = figures.roofline_figure(default)
    names = [t.name for t in fig.data]
    assert names == ["NVIDIA H100 SXM5 80GB datasheet", "attainable (efficiencies)", "prefill", "decode"]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert all(_finite(t.y) and _finite(t.x) for t in fig.data)
    assert fig.data[2].x[0] == default.estimate.prefill_intensity_flops_per_byte
    assert "bf16" in fig.layout.yaxis.title.text
    ridge = default.roofline.ridge_flops_per_byte
    assert fig.layout.shapes[0].x0 == ridge and fig.layout.annotations[0].x == pytest.approx(math.log10(ridge))


def test_batch_figure(default: analysis.PerformanceAnalysis) -> None:
    fig = figures.batch_figure(default)
    s = default.batch_sweep
    assert [t.name for t in fig.data][:3] == ["output tokens/s (replica)", "TPOT (ms)", "TTFT (ms)"]
    assert all(len(t.x) == len(s.batch) and _finite(t.y) for t in fig.data[:3])  # then the 80% bands (test_uncertainty)
    assert fig.data[1].y[0] == s.tpot_s[0] * 1e3
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis2.tickvals
    assert any(sh.y0 == 50.0 for sh in fig.layout.shapes)  # the TPOT limit
    assert any("best under limits: 15" in a.text for a in fig.layout.annotations)


def test_batch_axis_labels_every_tick_in_full(default: analysis.PerformanceAnalysis) -> None:
    """The batch axis is labelled 1, 2, 5, 10, 20 ... in full: plotly's own log labels showed "2" for 20 once
    the range passed a decade (seen in the 1440x900 screenshot of the page)."""
    x = figures.batch_figure(default).layout.xaxis
    assert x.tickvals and len(x.tickvals) == len(x.ticktext)
    assert all(float(t.replace(",", "")) == v for t, v in zip(x.ticktext, x.tickvals, strict=True))
    assert "20" in x.ticktext


def test_batch_figure_without_limits_or_best() -> None:
    r = _result(ttft="0.05", tpotl="5")
    fig = figures.batch_figure(r)
    assert not any("best under limits" in a.text for a in fig.layout.annotations)
    assert 5.0 in fig.layout.yaxis2.tickvals  # the limit below every point still gets its tick
    r = _result(tpotl="0")
    assert not figures.batch_figure(r).layout.shapes or all(
        sh.yref != "y2" for sh in figures.batch_figure(r).layout.shapes)


def test_context_figure_leaves_gaps_where_the_batch_does_not_fit() -> None:
    r = _result(m="mixtral-8x7b", hw="h200", kd="fp8", b="32")
    sweep = r.context_sweep
    assert sweep is not None and not all(sweep.fits)
    fig = figures.context_figure(sweep)
    ttft = list(fig.data[0].y)
    assert [y is None for y in ttft] == [not ok for ok in sweep.fits]
    assert _finite([y for y in ttft if y is not None])
    first = sweep.first_unfit_tokens
    assert first is not None and any("no longer fits" in a.text for a in fig.layout.annotations)
    assert fig.layout.shapes[0].x0 == first
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.tickvals


def test_comparison_figure_and_table(default: analysis.PerformanceAnalysis) -> None:
    fig = figures.comparison_figure(default)
    assert fig is not None and [t.name for t in fig.data] == ["NVIDIA H100 SXM5 80GB", default.comparison[1].hardware_name]
    assert fig.data[0].y[0] == pytest.approx(default.estimate.ttft_s * 1e3)
    table = figures.comparison_frame(default)
    assert list(table["accelerator"]) == [c.hardware_name for c in default.comparison]
    assert "tok/s at batch 1" in table.columns and table["devices"].tolist() == [2, 2]  # default 70B at auto TP 2 (device memory as reported)
    assert figures.comparison_figure(_result(hw2="none")) is None
    failed = _result(wd="fp8", hw2="a100-80gb-sxm")
    assert figures.comparison_figure(failed) is None
    assert "fp8" in figures.comparison_frame(failed)["note"].iloc[1]


def test_calibration_axis_keeps_the_fine_ticks_only_where_they_do_not_overlap(
        default: analysis.PerformanceAnalysis) -> None:
    import dataclasses

    # the published points span 0.01-5x: 0.67 beside 0.8 and 1.25 beside 1.5 read "0.670.8 1.251.5" (screenshot)
    wide = list(figures.calibration_figure(default).layout.xaxis.tickvals)
    assert 1 in wide and 0.67 not in wide and 1.25 not in wide
    near = [dataclasses.replace(p, model_over_measured=1.1) for p in default.calibration.points]
    narrow_result = default.model_copy(update={"calibration": dataclasses.replace(default.calibration, points=tuple(near))})
    narrow = list(figures.calibration_figure(narrow_result).layout.xaxis.tickvals)
    assert narrow == sorted(narrow) and {0.67, 0.8, 1, 1.25, 1.5} <= set(narrow)


def test_calibration_figure_and_tables(default: analysis.PerformanceAnalysis) -> None:
    fig = figures.calibration_figure(default)
    cal = default.calibration
    assert sum(len(t.x) for t in fig.data) == len(cal.points)
    assert {t.name for t in fig.data} <= set(figures.METRIC_NAMES.values())  # "TTFT", not the column id "ttft_s"
    assert all(_finite(t.x) for t in fig.data)
    assert fig.layout.xaxis.type == "log"
    frame = figures.calibration_frame(default)
    assert len(frame) == len(cal.points) and {"measurement_id", "predicted", "error", "as_of"} <= set(frame.columns)
    micro = figures.microbenchmark_frame(default)
    assert len(micro) == len(default.microbenchmarks) and "share_of_datasheet" in micro.columns


def test_log_ticks() -> None:
    assert figures.log_ticks([]) == {}
    ticks = figures.log_ticks([0.9, None, float("inf"), 120.0])
    assert ticks["tickvals"][0] == 0.5 and ticks["tickvals"][-1] == 200.0
    assert ticks["ticktext"][-1] == "200"
