"""The engine-aware calibration (issue 12 parts 2-3): the merged measurements, the engine x vendor
fit with shrinkage, its stored constants and the coverage of the nominal 80% range.

Numbers come from ``data/measurements.csv`` (every row with its source) and from
``bench/fit_performance.py``, which wrote ``data/calibration_engines.csv`` and
``data/calibration_loso.csv``; the tests recompute what they check from those files.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimator import catalog, performance
from estimator.errors import InvalidInputError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fit_performance

ENGINES = {"vllm", "sglang", "trtllm", "lmdeploy"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return performance.load_measurements()


def _vendor(hardware_id: str) -> str:
    return performance.vendor_family(hardware_id)


# ------------------------------------------------------------------ the merged file


def test_merged_file_loads_with_provenance_and_engine(frame: pd.DataFrame) -> None:
    assert frame["measurement_id"].is_unique
    for col in ("source", "as_of", "engine", "url", "metric", "value", "scenario"):
        assert frame[col].notna().all(), col
    assert (frame["source"].str.strip().str.len() > 20).all()
    assert (frame["engine"].str.strip() != "").all()
    assert set(frame["engine"]) <= ENGINES
    # engine and version columns are in the catalog schema, in the file's order
    assert list(catalog.TABLES["measurements"][1])[-4:] == ["engine", "engine_version", "concurrency", "attention_dp"]
    # every online row is either at a fixed concurrency or excluded/skipped with a reason
    online = frame[frame["scenario"] == "online"]
    assert (online["concurrency"].notna() | online["excluded_reason"].notna()).all()


def test_coverage_counts_of_the_issue(frame: pd.DataFrame) -> None:
    # issue 12 part 2: >= 100 points, >= 20 per engine, >= 20 on AMD, >= 10 on Blackwell (B200/GB200)
    assert len(frame) >= 100
    counts = frame["engine"].value_counts()
    for engine in ("vllm", "sglang", "trtllm"):
        assert counts.get(engine, 0) >= 20, (engine, counts.to_dict())
    amd = frame["hardware_id"].map(_vendor) == "amd"
    assert amd.sum() >= 20
    assert frame["hardware_id"].isin(["b200", "gb200"]).sum() >= 10
    # not only peak throughput: latencies at a stated concurrency or batch
    assert frame["metric"].isin(["ttft_s", "tpot_s"]).sum() >= 20


def test_old_rows_carry_their_engine(frame: pd.DataFrame) -> None:
    by_id = frame.set_index("measurement_id")
    assert by_id.loc["trtllm017-h100-l31_8b-128-128", "engine"] == "trtllm"
    assert by_id.loc["trtllm017-h100-l31_8b-128-128", "engine_version"] == "0.17"
    assert by_id.loc["nim18-h100-l33_70b-tp2-ttft-5000", "engine"] == "trtllm"  # NIM's TensorRT-LLM profile
    assert by_id.loc["mlperf41-amd-1xmi300x-l2_70b-offline", "engine"] == "vllm"
    assert by_id.loc["lmdeploy010-a100-l2_7b-b64-128-2048", "engine"] == "lmdeploy"


def test_unrepresentable_rows_are_excluded_with_a_reason(frame: pd.DataFrame) -> None:
    by_id = frame.set_index("measurement_id")
    decode_only = ["sglang-blog-largeep-h100-dsv3-decode", "sglang-blog-gb200p1-dsv3-decode",
                   "sglang-blog-gb200p2-dsv3-decode-fp4moe-fp8attn", "sglang-blog-gb200p2-dsv3-decode-fp8moe-bf16attn",
                   "sglang-blog-mtp-h200-dsv3-decode-overlap", "vllm-blog-wideep-h200-dsr1-decode"]
    for mid in decode_only:
        assert "disaggregated" in by_id.loc[mid, "excluded_reason"], mid
    mori = [m for m in by_id.index if m.startswith("lmsys-mori-")]
    assert len(mori) == 4
    assert all("disaggregated" in by_id.loc[m, "excluded_reason"] for m in mori)


def test_rows_the_catalog_lacks_are_skipped_and_counted(frame: pd.DataFrame) -> None:
    extra = frame.head(3).copy()
    extra["measurement_id"] = ["x-model", "x-hw", "x-len"]
    extra.loc[extra.index[0], "model_id"] = "no-such-model-yet"
    extra.loc[extra.index[1], "hardware_id"] = "no-such-gpu-yet"
    extra["input_tokens"] = extra["input_tokens"].astype("Float64")
    extra.loc[extra.index[2], "input_tokens"] = pd.NA
    table = performance.calibration_table(frame=pd.concat([frame.head(5), extra], ignore_index=True))
    assert len(table) == 5
    assert table.attrs["skipped"] == {"model not in the catalog": 1, "accelerator not in the catalog": 1,
                                      "input/output length or parallelism not stated": 1}
    pred = performance.predict_measurements(extra)
    assert np.isnan(pred).all()


def test_every_model_and_accelerator_of_the_data_is_in_the_catalog(frame: pd.DataFrame) -> None:
    # the other helpers of issue 12 added gpt-oss, qwen3, deepseek-r1, llama-4, kimi-k2, gb200, b300, mi355x:
    # once they exist, nothing is skipped for a missing id
    table = performance.calibration_table()
    skipped = table.attrs["skipped"]
    assert "model not in the catalog" not in skipped and "accelerator not in the catalog" not in skipped
    # what is skipped is rows whose source leaves out a length or the concurrency
    assert set(skipped) <= {"input/output length or parallelism not stated", "online run without a fixed concurrency"}
    assert len(table) + sum(skipped.values()) == len(frame)


# ------------------------------------------------------------------ the per-cell fit


def test_shrinkage_weights() -> None:
    g = performance.Efficiency()
    c = g.model_copy(update={"compute": 0.3, "memory": 0.5, "step_overhead_s": 2e-3})
    zero = performance.shrink_efficiency(c, g, 0)  # no points: the global fit
    assert zero.model_dump() == pytest.approx(g.model_dump(), rel=1e-9)
    zg, zc = performance.efficiency_to_z(g), performance.efficiency_to_z(c)
    half = performance.efficiency_to_z(performance.shrink_efficiency(c, g, 10, k=10))
    assert half == pytest.approx(zg + 0.5 * (zc - zg))
    many = performance.shrink_efficiency(c, g, 10_000)
    assert many.compute == pytest.approx(0.3, rel=3e-3) and many.memory == pytest.approx(0.5, rel=3e-3)
    with pytest.raises(InvalidInputError):
        performance.shrink_efficiency(c, g, 3, k=-1)


def test_cell_fit_is_deterministic_and_shrinks_toward_global_with_few_points() -> None:
    s = fit_performance.load_scored()
    # a small cell: the first 4 SGLang-on-AMD points beside 12 TensorRT-LLM points (fast, still a real fit)
    sg = [i for i, k in enumerate(s.keys) if k == ("sglang", "amd")][:4]
    tr = [i for i, k in enumerate(s.keys) if k == ("trtllm", "nvidia")][:12]
    idx = sg + tr
    rows = [s.prep.rows[i] for i in idx]
    keys = [s.keys[i] for i in idx]
    a = fit_performance.fit_cells(rows, s.measured[idx], keys, iters=150)
    b = fit_performance.fit_cells(rows, s.measured[idx], keys, iters=150)
    assert a == b
    small, n = a.cells[("sglang", "amd")]
    assert n == 4
    zg = performance.efficiency_to_z(a.global_eff)
    z_raw = performance.efficiency_to_z(a.raw[("sglang", "amd")])
    z_small = performance.efficiency_to_z(small)
    w = 4 / (4 + performance.SHRINK_POINTS)
    assert z_small == pytest.approx(zg + w * (z_raw - zg))
    assert np.linalg.norm(z_small - zg) <= w * np.linalg.norm(z_raw - zg) + 1e-12


# ------------------------------------------------------------------ stored constants


def test_stored_constants_are_fresh_and_sourced() -> None:
    path = catalog.data_dir() / performance.CALIBRATION_FILE
    df = catalog.read_csv_typed(path, performance.CALIBRATION_COLUMNS)
    assert (df["source"] == "fitted by bench/fit_performance.py").all()
    # fitted on the measurements as they are now (rerun bench/fit_performance.py after editing them)
    assert set(df["measurements_sha256"]) == {fit_performance.measurements_sha256()}
    assert df["as_of"].notna().all()
    cells = performance.calibration_cells()
    assert ("all", "all") in cells
    for key in [("vllm", "nvidia"), ("vllm", "amd"), ("sglang", "nvidia"), ("sglang", "amd"), ("trtllm", "nvidia")]:
        cell = cells[key]
        assert cell.points > 0 and 0 < cell.weight < 1
        assert cell.weight == pytest.approx(cell.points / (cell.points + performance.SHRINK_POINTS), abs=1e-4)
        assert cell.log_residual_p10 < cell.log_residual_p90
        assert performance.efficiency_for(*key) == cell.efficiency


def test_efficiency_for_picks_the_cell_and_falls_back_to_the_global_constants() -> None:
    cells = performance.calibration_cells()
    assert performance.efficiency_for("vLLM", "AMD") == cells[("vllm", "amd")].efficiency
    assert performance.efficiency_for("TensorRT-LLM", "nvidia") == cells[("trtllm", "nvidia")].efficiency
    # no cell (no TensorRT-LLM rows on AMD; LMDeploy has no cell): the module's constants, unchanged
    assert performance.efficiency_for("trtllm", "amd") == performance.Efficiency()
    fallback = performance.calibration_for("lmdeploy", "nvidia")
    assert not fallback.fitted and fallback.efficiency == performance.Efficiency()
    assert fallback.log_residual_p10 == cells[("all", "all")].log_residual_p10


def test_blackwell_is_its_own_calibration_family_with_a_vendor_fallback() -> None:
    from estimator import catalog as cat

    families = {h.hardware_id: performance.calibration_family(h) for h in cat.list_hardware()}
    blackwell = {h for h, f in families.items() if f == performance.BLACKWELL_FAMILY}
    assert blackwell == set(performance.BLACKWELL_DATACENTER)
    # NVIDIA's data-centre Blackwell parts are the NVLink 5 ones of data/hardware.csv
    assert blackwell == {h.hardware_id for h in cat.list_hardware() if h.intra_node_link == "NVLink5"}
    assert families["h100-sxm"] == families["rtx-pro-6000"] == "nvidia" and families["mi355x"] == "amd"
    cells = performance.calibration_cells()
    # TensorRT-LLM's 40 Blackwell points have their own cell; an engine without Blackwell points uses its NVIDIA cell
    own = cells[("trtllm", performance.BLACKWELL_FAMILY)]
    assert own.points == 40 and own.efficiency != cells[("trtllm", "nvidia")].efficiency
    assert performance.efficiency_for("TensorRT-LLM", "nvidia-blackwell") == own.efficiency
    assert ("vllm", performance.BLACKWELL_FAMILY) not in cells
    assert performance.efficiency_for("vllm", "nvidia-blackwell") == cells[("vllm", "nvidia")].efficiency
    assert not performance.calibration_for("lmdeploy", "nvidia-blackwell").fitted
    # a scenario on a B200 runs with the Blackwell cell of its engine
    from estimator.scenario import Deployment, EngineInputs, Scenario

    s = Scenario(deploy=Deployment(hardware_id="b200"), engine=EngineInputs(name="trtllm"))
    assert performance.efficiency_for_scenario(s) == own.efficiency


def test_prediction_range_orients_rates_and_times() -> None:
    cell = performance.calibration_for("vllm", "amd")
    lo, hi = performance.prediction_range(1000.0, "output_tokens_per_s", cell)
    assert lo == pytest.approx(1000 * math.exp(cell.log_residual_p10))
    assert hi == pytest.approx(1000 * math.exp(cell.log_residual_p90))
    tlo, thi = performance.prediction_range(0.05, "tpot_s", cell)
    assert tlo == pytest.approx(0.05 * math.exp(-cell.log_residual_p90))
    assert thi == pytest.approx(0.05 * math.exp(-cell.log_residual_p10))


# ------------------------------------------------------------------ leave-one-source-out


def test_loso_coverage_of_the_nominal_80_percent_range() -> None:
    s, lr, sha = fit_performance.read_loso()
    assert sha == fit_performance.measurements_sha256()
    table = {g.group: g for g in fit_performance.loso_table(s, lr)}
    share = table["all"].coverage_80
    inside = fit_performance.coverage_mask(s, lr)
    assert share == pytest.approx(inside.mean())
    stored = catalog.read_csv_typed(catalog.data_dir() / fit_performance.LOSO_FILE, fit_performance.LOSO_COLUMNS)
    assert stored["in_range_80"].mean() == pytest.approx(share)
    print(f"\nLOSO coverage of the nominal 80% range: {share:.1%} of {len(lr)} held-out points")
    # What bench/fit_performance.py printed on measurements.csv sha256 d357e096... (2026-11-30 04:22 UTC refit, with
    # one fitted MoE grouped-GEMM factor moe_gemm and Blackwell as its own calibration family; the range the app
    # shows: conformal 10%/90% ranks of the engine x vendor class shrunk toward all classes by sources): 128 of 159
    # held-out points (80.5%) inside their range, within the 70-90% issue 12 asks for (128 before the Blackwell cells
    # too; 117 = 73.6% on the 2026-11-29 23:10 UTC refit before the MoE factor). Pinned as computed; the sha256 check
    # above fails first when the data change.
    assert int(inside.sum()) == 128 and len(lr) == 159


def test_moe_grouped_gemm_factor_is_fitted_with_its_error_and_reaches_the_app() -> None:
    from estimator.scenario import Scenario

    cells = performance.calibration_cells()
    glob = cells[("all", "all")]
    # one factor for all cells (fit_performance.CELL_FIXED): each cell keeps the global value and its error
    assert fit_performance.CELL_FIXED == ("moe_gemm",)
    for key, cell in cells.items():
        assert cell.efficiency.moe_gemm == pytest.approx(glob.efficiency.moe_gemm, rel=1e-5), key
        assert dict(cell.std_error)["moe_gemm"] == dict(glob.std_error)["moe_gemm"], key
    # the global refit (2026-11-29, sha256 d357e096...): 0.332 +- 0.028 on 70 MoE points from 6 sources;
    # MOE_GEMM_EFFICIENCY is that value rounded; every engine x vendor cell carries it (efficiency_for), and the
    # app's scenarios run with their engine x vendor cell (efficiency_for_scenario); only the fallback constants
    # (no cell: an engine or vendor without measurements) keep moe_gemm = 1 (fitted without it)
    assert round(glob.efficiency.moe_gemm, 2) == performance.MOE_GEMM_EFFICIENCY
    assert dict(glob.std_error)["moe_gemm"] == pytest.approx(0.028, abs=0.001)
    assert performance.efficiency_for("vLLM", "nvidia").moe_gemm == pytest.approx(0.332, abs=0.001)
    assert performance.efficiency_for_scenario(Scenario()) == performance.efficiency_for("vllm", "nvidia")
    assert performance.Efficiency().moe_gemm == 1.0
    assert performance.calibration_start().moe_gemm == performance.MOE_GEMM_START


def test_loso_by_architecture_class() -> None:
    # bench/fit_performance.py on sha256 d357e096... (2026-11-30 04:22 UTC, Blackwell its own calibration family):
    # median |pred/meas - 1| of the held-out points, dense 15.2% (89 points), MoE 22.2% (70), all 17.4% (159);
    # within 1.5x 135 of 159. With NVIDIA as one family (2026-11-29 23:47 UTC): dense 18.6%, MoE 23.3%, all 19.4%,
    # 132 within 1.5x. Without the MoE factor (23:10 UTC refit, attention DP modelled): dense 16.7%, MoE 36.7%,
    # all 25.4%; 72% within 1.5x.
    s, lr, _ = fit_performance.read_loso()
    table = {g.group: g for g in fit_performance.loso_table(s, lr)}
    assert (table["class dense"].points, table["class moe"].points) == (89, 70)
    assert table["class dense"].median_abs_error == pytest.approx(0.152, abs=0.001)
    assert table["class moe"].median_abs_error == pytest.approx(0.222, abs=0.001)
    assert table["all"].median_abs_error == pytest.approx(0.174, abs=0.001)
    assert table["all"].within_1_5x == pytest.approx(135 / 159)


@pytest.mark.slow
def test_stored_loso_prediction_reproduces_for_one_source() -> None:
    # refit without the smallest multi-point source and predict it: the stored held-out values come back
    s, lr, _ = fit_performance.read_loso()
    groups = pd.Series(s.group).value_counts()
    g = sorted(groups[groups >= 2].index, key=lambda x: (groups[x], x))[0]
    held = [i for i, gg in enumerate(s.group) if gg == g]
    train = [i for i, gg in enumerate(s.group) if gg != g]
    full = fit_performance.fit_cells(s.prep.rows, s.measured, s.keys)
    fit = fit_performance.fit_cells([s.prep.rows[i] for i in train], s.measured[train], [s.keys[i] for i in train],
                                    full.global_eff)
    pred = fit_performance.predict_fit(fit, [s.prep.rows[i] for i in held], [s.keys[i] for i in held])
    assert np.log(pred / s.measured[held]) == pytest.approx(lr[held], abs=1e-5)


def test_large_batch_excess_of_deepseek_runs_is_not_per_sequence_host_time(frame: pd.DataFrame) -> None:
    # dstack DeepSeek-R1 runs (data/measurements.csv rows dstack-ds_r1-*-tpot, 3200 in / 800 out, 8 GPUs): the
    # published TPOT grows per added sequence between concurrency 4 and 128 by 0.37 (vLLM H200) to 0.81 ms (SGLang
    # MI300X); the calibrated model's TPOT (each run's engine x vendor cell) grows 0.30-0.44 ms. The gap, 50-513 us
    # per sequence, is 5-51x SEQUENCE_OVERHEAD_S: why that constant stays assumed, not fitted per cell (its docstring)
    tpot = frame[frame["measurement_id"].str.startswith("dstack-ds_r1-") & (frame["metric"] == "tpot_s")]
    published = {("sglang", "h200"): 0.542e-3, ("sglang", "mi300x"): 0.813e-3, ("vllm", "h200"): 0.372e-3,
                 ("vllm", "mi300x"): 0.507e-3}
    gaps = []
    for (engine, hw), g in tpot.groupby(["engine", "hardware_id"]):
        lo, hi = g.loc[g["concurrency"].idxmin()], g.loc[g["concurrency"].idxmax()]
        assert (lo["concurrency"], hi["concurrency"]) == (4, 128)
        slope = (hi["value"] - lo["value"]) / 124
        assert slope == pytest.approx(published[(engine, hw)], abs=0.5e-6), (engine, hw)
        eff = performance.efficiency_for(engine, performance.calibration_family(hw))
        model = [performance.max_throughput("deepseek-r1", hw, str(r["dtype"]), 3200, 800, tp=8,
                                            batch_cap=int(r["concurrency"]), efficiency=eff).tpot_s for r in (lo, hi)]
        model_slope = (model[1] - model[0]) / 124
        assert 0.29e-3 < model_slope < 0.45e-3, (engine, hw, model_slope)
        gaps.append(slope - model_slope)
    assert len(gaps) == 4
    assert min(gaps) >= 5 * performance.SEQUENCE_OVERHEAD_S - 1e-6 and max(gaps) <= 52 * performance.SEQUENCE_OVERHEAD_S
