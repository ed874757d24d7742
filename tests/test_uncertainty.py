"""Ranges of predicted quantities from the leave-one-source-out residuals (estimator/uncertainty.py):
the bands and their fallback, the coverage of the nominal 80% range on held-out sources, the ranges
of the capacity plan and the performance analysis, their report rows, figures and page text."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from estimator import analysis, capacity, catalog, report, uncertainty
from estimator.errors import StoreError
from estimator.scenario import Scenario, from_query_params
from estimator.uncertainty import RATE, TIME, Range, Residuals
from pages.figures import performance as figures

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fit_performance


def _residuals(rows: list[tuple[str, str, str, str, float]]) -> Residuals:
    """Synthetic residuals: (engine, vendor, kind, source group, ln(measured/predicted))."""
    return Residuals(engine=tuple(r[0] for r in rows), vendor=tuple(r[1] for r in rows),
                     kind=tuple(r[2] for r in rows), source_group=tuple(r[3] for r in rows),
                     log_measured_over_predicted=np.array([r[4] for r in rows], dtype=float),
                     in_range_80=tuple(False for _ in rows))


def _scenario(**params: str) -> Scenario:
    s, ignored = from_query_params(params)
    assert not ignored
    return s


# ------------------------------------------------------------------ bands


def test_conformal_bounds_take_the_split_conformal_ranks() -> None:
    # Lei et al. 2018 (JASA 113(523), Thm 2.2), miscoverage 0.1 per tail: ranks floor((n+1) 0.1) and ceil((n+1) 0.9)
    nine = np.arange(9.0)  # n = 9: ranks 1 and 9, the smallest n with both inside 1..n (MIN_POINTS)
    assert uncertainty.conformal_bounds(nine[::-1]) == (0.0, 8.0) and uncertainty.MIN_POINTS == 9
    assert uncertainty.conformal_bounds(np.arange(8.0)) == (-math.inf, math.inf)  # n = 8: ranks 0 and 9
    assert uncertainty.conformal_bounds(np.arange(19.0)) == (1.0, 17.0)  # n = 19: ranks 2 and 18
    # wider than numpy's interpolated 10th-90th percentile (0.9 .. 8.1 for n = 10) on small samples
    assert uncertainty.conformal_bounds(np.arange(10.0)) == (0.0, 9.0)


def test_band_of_a_class_with_enough_points_is_shrunk_toward_all_classes() -> None:
    # 11 residuals 0.0 .. 1.0 from 11 sources, the only class: its ends are all classes' ends (ranks 1 and 11)
    res = _residuals([("vllm", "nvidia", RATE, f"s{i}", i / 10) for i in range(11)])
    b = uncertainty.band_for("vLLM", "NVIDIA", RATE, res)
    assert (b.level, b.points, b.sources) == ("engine x vendor", 11, 11)
    assert b.weight == pytest.approx(11 / (11 + uncertainty.SHRINK_SOURCES))
    assert b.log_p10 == pytest.approx(0.0) and b.log_p90 == pytest.approx(1.0)
    # every held-out point was faster than predicted: widened to include the estimate (q = 0)
    assert b.log_low == 0.0 and b.log_high == pytest.approx(1.0) and "80% range" in b.basis
    r = b.range(100.0)
    assert (r.low, r.value, r.high) == (100.0, 100.0, pytest.approx(100 * math.exp(1.0)))
    # the same class beside 20 others at -1 .. +1: w = S / (S + k) of its own ends, 1 - w of all 31 residuals' ends
    others = [("sglang", "amd", RATE, f"o{i}", -1.0 + i / 10) for i in range(21)]
    mixed = _residuals([("vllm", "nvidia", RATE, f"s{i}", i / 10) for i in range(11)] + others)
    g_lo, g_hi = uncertainty.conformal_bounds(mixed.log_measured_over_predicted)  # n = 31: ranks 3 and 29
    w = 11 / (11 + uncertainty.SHRINK_SOURCES)
    m = uncertainty.band_for("vllm", "nvidia", RATE, mixed)
    assert m.log_p10 == pytest.approx(w * 0.0 + (1 - w) * g_lo) and m.log_p90 == pytest.approx(w * 1.0 + (1 - w) * g_hi)


def test_sources_not_points_set_the_shrinkage_weight() -> None:
    # 10 points from 2 sources weigh 2 / (2 + k): one source's points share its systematic error
    rows = [("trtllm", "nvidia", RATE, f"t{i % 2}", 0.5) for i in range(10)]
    rows += [("vllm", "amd", RATE, f"a{i}", -0.5 + i / 20) for i in range(20)]
    b = uncertainty.band_for("trtllm", "nvidia", RATE, _residuals(rows))
    assert (b.points, b.sources) == (10, 2) and b.weight == pytest.approx(2 / (2 + uncertainty.SHRINK_SOURCES))


def test_small_classes_take_all_classes_and_kinds_stay_apart() -> None:
    rows = [("vllm", "amd", RATE, f"a{i}", -0.5 + i / 10) for i in range(10)]
    rows += [("vllm", "nvidia", RATE, "n0", 5.0), ("sglang", "nvidia", RATE, "g0", 9.0)]
    rows += [("trtllm", "nvidia", TIME, f"t{i}", 3.0) for i in range(10)]  # times never set a rate band
    res = _residuals(rows)
    assert uncertainty.band_for("vllm", "amd", RATE, res).level == "engine x vendor"
    own = uncertainty.band_for("vllm", "nvidia", RATE, res)  # 1 point of its own: all 12 rates
    assert (own.level, own.points, own.weight) == ("all", 1, 0.0) and "vllm x nvidia has 1" in own.basis
    assert (own.log_p10, own.log_p90) == uncertainty.conformal_bounds(res.log_measured_over_predicted[:12])
    assert uncertainty.band_for("sglang", "google", RATE, res).level == "all"
    assert uncertainty.band_for("trtllm", "nvidia", TIME, res).log_p90 == pytest.approx(3.0)
    # leaving one source out keeps 9 of the class's 10 points: still enough for its own ranks
    assert uncertainty.band_for("vllm", "amd", RATE, res, exclude_group="a0").level == "engine x vendor"
    # under 9 residuals of the kind in all: their minimum and maximum, said so
    few = uncertainty.band_for("vllm", "amd", RATE, _residuals(rows[:5]))
    assert (few.log_p10, few.log_p90) == (-0.5, pytest.approx(-0.1)) and "too few" in few.basis
    with pytest.raises(StoreError):
        uncertainty.band_for("vllm", "amd", TIME, _residuals(rows[:10]))


def test_missing_residuals_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="fit_performance"):
        uncertainty.residuals(tmp_path / "calibration_loso.csv")


def test_replicas_scale_with_one_over_throughput() -> None:
    # n' = clip(ceil(n / f), min, max); idle hours stay idle
    assert uncertainty.scaled_replicas([0, 4, 10], 2.0, 1, 64).tolist() == [0, 2, 5]
    assert uncertainty.scaled_replicas([0, 4, 10], 0.5, 1, 12).tolist() == [0, 8, 12]
    assert uncertainty.scaled_replicas([1, 3], 4.0, 1, 64).tolist() == [1, 1]
    pr = uncertainty.plan_ranges("trtllm", "nvidia", replicas_by_hour=[2, 4], cost_usd_by_hour=[10.0, 20.0],
                                 min_replicas=1, max_replicas=64, monthly_cost_usd=1000.0,
                                 cost_usd_per_million_output_tokens=2.0, cost_usd_per_request=0.01,
                                 output_tokens_per_s_per_replica=1000.0, ttft_p95_s=0.5, e2e_p95_s=10.0)
    b = uncertainty.band_for("trtllm", "nvidia", RATE)
    hi = uncertainty.scaled_replicas([2, 4], math.exp(b.log_low), 1, 64)
    assert pr.peak_replicas.high == hi.max() and pr.peak_replicas.value == 4
    ratio = (10.0 * hi[0] / 2 + 20.0 * hi[1] / 4) / 30.0
    assert pr.monthly_cost_usd.high == pytest.approx(1000.0 * ratio)
    assert pr.cost_usd_per_request.high / pr.cost_usd_per_request.value == pytest.approx(ratio)


# ------------------------------------------------------------------ coverage on held-out sources


def _rank_ends(q: np.ndarray) -> tuple[float, float]:
    """Split-conformal 10% / 90% order statistics, written out again (1-based ranks floor(0.1 (n+1)), ceil(0.9 (n+1)))."""
    x, n = np.sort(q), len(q)
    lo, hi = int(np.floor(0.1 * (n + 1))), int(np.ceil(0.9 * (n + 1)))
    return (x[lo - 1] if lo >= 1 else -np.inf), (x[hi - 1] if hi <= n else np.inf)


def test_loso_coverage_of_the_ranges_as_built() -> None:
    # independent recomputation from the stored file: each point's band from the OTHER sources only, its
    # engine x vendor class (>= 9 points) shrunk toward every class by sources S / (S + 5)
    df = catalog.read_csv_typed(catalog.data_dir() / uncertainty.LOSO_FILE, uncertainty.LOSO_COLUMNS)
    df["q"] = -df["log_ratio"]
    df["kind"] = np.where(df["metric"].isin(["ttft_s", "tpot_s", "e2e_s"]), TIME, RATE)
    inside = []
    for _, row in df.iterrows():
        other = df[(df["source_group"] != row["source_group"]) & (df["kind"] == row["kind"])]
        lo, hi = _rank_ends(other["q"].to_numpy())
        cls = other[(other["engine"] == row["engine"]) & (other["vendor"] == row["vendor"])]
        if len(cls) >= 9:
            w = cls["source_group"].nunique() / (cls["source_group"].nunique() + 5.0)
            c_lo, c_hi = _rank_ends(cls["q"].to_numpy())
            lo, hi = w * c_lo + (1 - w) * lo, w * c_hi + (1 - w) * hi
        inside.append(min(lo, 0.0) <= row["q"] <= max(hi, 0.0))
    df["inside"] = inside
    cov = uncertainty.loso_coverage()
    assert cov.points == len(df) and cov.share == pytest.approx(df["inside"].mean())
    assert {g.group: g.share for g in cov.by_engine} == pytest.approx(df.groupby("engine")["inside"].mean().to_dict())
    assert {g.group: g.share for g in cov.by_vendor} == pytest.approx(df.groupby("vendor")["inside"].mean().to_dict())
    print(f"\nLOSO coverage of the nominal 80% range as the app builds it: {cov.share:.1%} of {cov.points}; "
          + ", ".join(f"{g.group} {g.share:.0%} ({g.points})" for g in (*cov.by_engine, *cov.by_vendor, *cov.by_kind))
          + f"; stored flags: {cov.bench_share:.1%}")


def test_loso_coverage_pinned() -> None:
    # Computed on data/calibration_loso.csv as written by bench/fit_performance.py (refit of 2026-11-29 23:47 UTC on
    # measurements.csv sha256 d357e096..., with one fitted MoE grouped-GEMM factor, performance.MOE_GEMM_EFFICIENCY):
    # 128 of 159 held-out points (80.5%) inside the range the app shows (conformal ranks, class shrunk toward all by
    # sources). By engine trtllm 87% (102), vllm 74% (34), lmdeploy 100% (5), sglang 50% (18: the dstack DeepSeek-R1
    # runs are 2-3x slower than every other source, so few other sources' errors cover them); by vendor nvidia 83%
    # (126), amd 70% (33); rates 82% (125), times 74% (34). Before the MoE factor (23:10 UTC refit, attention DP
    # modelled): 117 of 159 (73.6%); trtllm 79%, vllm 76%, lmdeploy 40%, sglang 44%; nvidia 74%, amd 73%.
    # A refit rewrites the file: the sha256 check fails first when the measurements change; rerun and re-pin.
    _, _, sha = fit_performance.read_loso()
    assert sha == fit_performance.measurements_sha256()
    cov = uncertainty.loso_coverage()
    assert (round(cov.share * cov.points), cov.points) == (128, 159)
    assert round(cov.bench_share * cov.points) == 128  # the stored flags follow the same rule


def test_bench_coverage_is_the_stored_share() -> None:
    # what bench/bench_performance.py prints ("all" row, 80% cov) from the same stored file
    s, lr, _ = fit_performance.read_loso()
    printed = {g.group: g for g in fit_performance.loso_table(s, lr)}["all"].coverage_80
    assert uncertainty.loso_coverage().bench_share == pytest.approx(printed)


def test_nominal_80_percent_range_covers_70_to_90_percent() -> None:
    # issue 12: the nominal 80% range covers 70-90% of held-out points (leave-one-source-out, each point's range
    # built without its source): 80.5% on the refit of 2026-11-29 23:47 UTC (see test_loso_coverage_pinned)
    assert 0.70 <= uncertainty.loso_coverage().share <= 0.90


@pytest.mark.parametrize("k", [2.0, 20.0])
def test_coverage_does_not_hinge_on_the_shrinkage_prior(k: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # SHRINK_SOURCES = 5 is assumed, not fitted: a prior 2.5x weaker or 4x stronger keeps the coverage in 70-90%
    # (79.2% at k = 2 and at k = 20 on the 23:47 UTC refit; every class at its own ranks alone would be k = 0).
    # A prior 5x weaker (k = 1) keeps 123 of 159 (77.4%; 69.8% on the 23:10 UTC refit before the MoE factor), pinned
    # below so the margin stays visible.
    monkeypatch.setattr(uncertainty, "SHRINK_SOURCES", k)
    assert 0.70 <= uncertainty.loso_coverage().share <= 0.90


def test_coverage_with_a_five_times_weaker_prior_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    # k = 1 on the 23:47 UTC refit (measurements.csv sha256 d357e096...): 123 of 159 held-out points (77.4%; 111,
    # one below 70%, on the 23:10 UTC refit before the MoE grouped-GEMM factor)
    monkeypatch.setattr(uncertainty, "SHRINK_SOURCES", 1.0)
    cov = uncertainty.loso_coverage()
    assert (round(cov.share * cov.points), cov.points) == (123, 159)


# ------------------------------------------------------------------ ranges of results, reports, figures, page


def _ordered(r: Range) -> bool:
    return r.low <= r.value <= r.high


@pytest.mark.parametrize("params", [{}, {"hw": "mi300x", "cloud": "azure", "reg": "eastus"}, {"eng": "sglang"}, {"eng": "trtllm", "m": "llama-2-7b"}])
def test_plan_ranges_contain_the_plan(params: dict[str, str]) -> None:
    plan = capacity.plan(_scenario(**params))
    rg = plan.ranges
    assert rg is not None
    pairs = [(rg.monthly_cost_usd, plan.monthly_cost_usd), (rg.peak_replicas, plan.peak_replicas),
             (rg.cost_usd_per_million_output_tokens, plan.cost_usd_per_million_output_tokens),
             (rg.cost_usd_per_request, plan.cost_usd_per_request), (rg.ttft_p95_s, plan.ttft_p95_s),
             (rg.e2e_p95_s, plan.e2e_p95_s), (rg.output_tokens_per_s_per_replica, plan.output_tokens_per_s_per_replica)]
    assert all(r.value == v and _ordered(r) for r, v in pairs)
    assert rg.monthly_cost_usd.high > rg.monthly_cost_usd.value  # measured throughput below the model's is in the band
    engine = str(plan.scenario.engine.name)
    assert engine in rg.peak_replicas.basis or "every engine" in rg.peak_replicas.basis


def test_performance_ranges_report_rows_and_figures() -> None:
    r = analysis.performance_analysis(Scenario())
    rg = r.ranges
    assert rg is not None and rg.best_output_tokens_per_s is not None
    assert rg.ttft_s.value == r.estimate.ttft_s and rg.max_output_tokens_per_s.value == r.unlimited.output_tokens_per_s
    assert all(_ordered(x) for x in (rg.ttft_s, rg.tpot_s, rg.e2e_s, rg.output_tokens_per_s, rg.max_output_tokens_per_s))
    rep = report.performance_report(r.scenario, r)
    for name, rng in (("ttft_s", rg.ttft_s), ("tpot_s", rg.tpot_s), ("max_output_tokens_per_s_per_replica",
                                                                     rg.max_output_tokens_per_s)):
        assert rep.value(f"{name}_low") == rng.low <= rep.value(name) <= rep.value(f"{name}_high") == rng.high
    csv_text, json_text = report.to_csv(rep), report.to_json(rep)
    assert "output,tpot_s_low," in csv_text and '"tpot_s_high"' in json_text
    fig = figures.batch_figure(r)
    bands = [t for t in fig.data if t.name and t.name.endswith("80% range")]
    assert [t.name for t in bands] == ["output tokens/s 80% range", "TPOT 80% range", "TTFT 80% range"]
    tput, first = bands[0], r.batch_sweep.output_tokens_per_s[0]  # polygon: upper edge out, lower edge back
    assert len(tput.y) == 2 * len(r.batch_sweep.batch)
    assert tput.y[0] == pytest.approx(first * math.exp(rg.rate_band.log_high))
    assert tput.y[-1] == pytest.approx(first * math.exp(rg.rate_band.log_low))
    assert r.context_sweep is not None
    ctx = figures.context_figure(r.context_sweep, rg)
    assert sum(1 for t in ctx.data if t.fill == "toself") == 2
    assert figures.range_text(rg.max_output_tokens_per_s, unit="tok/s").startswith(
        f"{r.unlimited.output_tokens_per_s:,.0f} tok/s (")


def test_capacity_report_rows() -> None:
    s = Scenario()
    plan = capacity.plan(s)
    rep = report.capacity_report(s, plan)
    for name in ("monthly_cost_usd", "cost_usd_per_million_output_tokens", "cost_usd_per_request", "p95_ttft_s",
                 "p95_e2e_s", "peak_replicas"):
        assert rep.value(f"{name}_low") <= rep.value(name) <= rep.value(f"{name}_high")
    assert rep.value("monthly_cost_usd_high") == plan.ranges.monthly_cost_usd.high  # type: ignore[union-attr]
    assert any(r.section == "assumption" and r.name == "ranges" and "ceil(n_h / f)" in str(r.value) for r in rep.rows)


def test_ranges_are_cheap() -> None:
    # the ranges are a scaling of the plan, not a second plan (a plan at other efficiencies misses the layout cache)
    import time

    plan = capacity.plan(Scenario())
    t0 = time.perf_counter()
    for _ in range(20):
        uncertainty.plan_ranges("vllm", "nvidia", replicas_by_hour=plan.replicas, cost_usd_by_hour=plan.cost_usd_by_hour,
                                min_replicas=1, max_replicas=64, monthly_cost_usd=plan.monthly_cost_usd,
                                cost_usd_per_million_output_tokens=plan.cost_usd_per_million_output_tokens,
                                cost_usd_per_request=plan.cost_usd_per_request,
                                output_tokens_per_s_per_replica=plan.output_tokens_per_s_per_replica,
                                ttft_p95_s=plan.ttft_p95_s, e2e_p95_s=plan.e2e_p95_s)
    assert (time.perf_counter() - t0) / 20 < 0.03


def test_performance_page_shows_the_ranges() -> None:
    at = AppTest.from_file("../pages/performance.py", default_timeout=30)
    at.run()
    assert not at.exception
    r = analysis.performance_analysis(Scenario())
    assert r.ranges is not None
    expected = figures.ranges_caption(r.ranges)
    assert any(c.value == expected for c in at.caption)
    text = figures.range_text(r.ranges.max_output_tokens_per_s, unit="tok/s")
    assert f"max output {text}" in expected and "–" in text


def test_loso_file_columns_match_the_bench() -> None:
    assert uncertainty.LOSO_COLUMNS == fit_performance.LOSO_COLUMNS
    assert uncertainty.MIN_POINTS == fit_performance.RANGE_MIN_POINTS
