"""Tests for estimator.variants: sweep, Pareto frontier, accuracy axis, compression, elastic, long context."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator import catalog, memory, performance
from estimator import variants as V
from estimator.errors import CatalogError, EstimatorError, InvalidInputError
from estimator.units import DType

LLAMA8 = "llama-3.1-8b"


@pytest.fixture(scope="module")
def small_sweep() -> V.SweepResult:
    vs = [V.base_variant(m) for m in (LLAMA8, "mixtral-8x7b", "mistral-7b", "nlarge-l", "led-base", "deepseek-v2-lite")]
    spec = V.sweep_spec(hardware_ids=("h100-sxm", "l4", "a100-80gb-sxm", "mi300x", "tpu-v5e", "t4"),
                        dtypes=("bf16", "fp8", "int8", "int4"))
    return V.sweep(vs, spec)


# ---------------------------------------------------------------- Pareto frontier


def test_pareto_front_small_example() -> None:
    # (1, 10) and (2, 20) trade off; (3, 15) is dominated by (2, 20); (2, 5) by (2, 20).
    assert V.pareto_front([1, 2, 3, 2], [10, 20, 15, 5]).tolist() == [True, True, False, False]


def test_pareto_front_ties_and_nans() -> None:
    mask = V.pareto_front([1, 1, 2, np.nan, 0.5], [5, 5, 5, 99, np.inf])
    assert mask.tolist() == [True, True, False, False, False]  # identical points do not dominate each other


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=0, max_size=40))
def test_pareto_front_is_exactly_the_non_dominated_set(pts: list[tuple[float, float]]) -> None:
    c = np.array([p[0] for p in pts], dtype=float)
    q = np.array([p[1] for p in pts], dtype=float)
    mask = V.pareto_front(c, q)
    for i, p in enumerate(pts):
        dominated = any(_dominates(o, p) for j, o in enumerate(pts) if j != i)
        assert mask[i] == (not dominated)
    # every point off the front is dominated by one on it
    front = [p for p, m in zip(pts, mask, strict=True) if m]
    for p, m in zip(pts, mask, strict=True):
        if not m:
            assert any(_dominates(f, p) for f in front)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30), st.randoms())
def test_pareto_front_does_not_depend_on_order(pts: list[tuple[float, float]], rnd) -> None:
    perm = list(range(len(pts)))
    rnd.shuffle(perm)
    a = V.pareto_front([p[0] for p in pts], [p[1] for p in pts])
    b = V.pareto_front([pts[i][0] for i in perm], [pts[i][1] for i in perm])
    assert [a[i] for i in perm] == b.tolist()


def test_pareto_front_rejects_mismatched_lengths() -> None:
    with pytest.raises(InvalidInputError):
        V.pareto_front([1, 2], [1])


# ---------------------------------------------------------------- the sweep


def test_sweep_matches_the_public_performance_api(small_sweep: V.SweepResult) -> None:
    f = small_sweep.frame
    gen = f[f["generates"] & (f["architecture"] == "decoder")]
    rng = np.random.default_rng(7)
    for k in rng.choice(len(gen), 60, replace=False):
        r = gen.iloc[int(k)]
        e = performance.estimate_arrays(r["model_id"], r["hardware_id"], r["dtype"], int(r["batch"]),
                                        int(r["input_tokens"]), int(r["output_tokens"]), int(r["tp"]), 1)
        for mine, theirs in (("ttft_s", "ttft_s"), ("tpot_s", "tpot_s"), ("e2e_s", "e2e_s"),
                             ("tokens_per_s", "output_tokens_per_s"),
                             ("memory_per_device_bytes", "memory_per_device_bytes")):
            assert math.isclose(float(r[mine]), float(e[theirs]), rel_tol=1e-9), (r["model_id"], mine)
        assert bool(r["fits"]) == bool(e["fits"])


def test_sweep_cost_energy_equations(small_sweep: V.SweepResult) -> None:
    r = small_sweep.frame.dropna(subset=["price_usd_per_device_h"]).iloc[5]
    usd_per_s = r["price_usd_per_device_h"] * r["tp"] / 3600.0
    assert math.isclose(r["cost_usd_per_1m_tokens"], usd_per_s / r["tokens_per_s"] * 1e6, rel_tol=1e-12)
    assert math.isclose(r["cost_usd_per_1k_requests"], usd_per_s / (r["batch"] / r["e2e_s"]) * 1e3, rel_tol=1e-12)
    assert math.isclose(r["tokens_per_usd"], r["tokens_per_s"] / usd_per_s, rel_tol=1e-12)
    h = catalog.get_hardware(r["hardware_id"])
    power = h.tdp_w + 0.5 * h.tdp_w  # utilization 1: TDP, plus the host share (carbon.HOST_OVERHEAD_FRACTION)
    assert math.isclose(r["energy_kwh_per_1m_tokens"], power * r["tp"] / r["tokens_per_s"] * 1e6 / 3.6e6, rel_tol=1e-9)


def test_sweep_leaves_out_what_cannot_run(small_sweep: V.SweepResult) -> None:
    f = small_sweep.frame
    assert not ((f["hardware_id"] == "t4") & (f["dtype"] == "fp8")).any()  # no fp8 on Turing
    assert not ((f["hardware_id"] == "tpu-v5e") & (f["dtype"] == "fp8")).any()
    # tensor parallel degrees divide the heads and stay in one node (L4 instances: 8 per node)
    heads = {m: catalog.get_model(m).n_heads for m in f["model_id"].unique()}
    assert all(heads[m] % t == 0 for m, t in zip(f["model_id"], f["tp"], strict=True))


@pytest.mark.parametrize("model_id", [LLAMA8, "mixtral-8x7b", "nlarge-xl", "deepseek-v2-lite"])
def test_int4_never_needs_more_memory_than_bf16(model_id: str) -> None:
    spec = V.sweep_spec(hardware_ids=("h100-sxm", "a100-80gb-sxm", "l4"), dtypes=("bf16", "int4"))
    f = V.sweep([V.base_variant(model_id)], spec).frame
    piv = f.pivot_table(index=["hardware_id", "tp", "batch"], columns="dtype", values="memory_per_device_bytes")
    assert (piv["int4"] <= piv["bf16"]).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([m.model_id for m in catalog.list_models()]),
       st.integers(min_value=1, max_value=8192), st.integers(min_value=1, max_value=256))
def test_int4_weights_never_exceed_bf16(model_id: str, context: int, batch: int) -> None:
    m = catalog.get_model(model_id)
    assert memory.weights_bytes(m, "int4") <= memory.weights_bytes(m, "bf16")
    ctx = min(context, m.max_context)
    a = memory.inference_memory(m, "int4", "bf16", ctx, batch).per_device_total_bytes
    b = memory.inference_memory(m, "bf16", "bf16", ctx, batch).per_device_total_bytes
    assert a <= b


def test_encoder_only_models_cost_one_forward_pass() -> None:
    spec = V.sweep_spec(hardware_ids=("a10g",), dtypes=("fp16",), tps=(1,), batches=(32,), input_tokens=128,
                        output_tokens=1)
    f = V.sweep([V.base_variant("distilbert-base")], spec).frame
    r = f.iloc[0]
    assert math.isnan(r["tpot_s"]) and r["e2e_s"] == r["ttft_s"]
    assert math.isclose(r["tokens_per_s"], 32 * 128 / r["ttft_s"])


def test_context_longer_than_the_window_is_reported() -> None:
    spec = V.sweep_spec(hardware_ids=("a10g",), dtypes=("fp16",), input_tokens=1000, output_tokens=250)
    res = V.sweep([V.base_variant("bert-base")], spec)
    assert res.frame.empty
    assert any("context window of 512" in s for s in res.skipped)


def test_sweep_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        V.sweep([], V.sweep_spec(hardware_ids=("h100-sxm",)))
    with pytest.raises(InvalidInputError, match="Invalid sweep settings"):
        V.sweep_spec(hardware_ids=("h100-sxm",), dtypes=())
    with pytest.raises(InvalidInputError, match="Invalid sweep settings"):
        V.sweep_spec(hardware_ids=("h100-sxm",), batches=(0,))
    with pytest.raises(EstimatorError, match="h100"):
        V.sweep_spec(hardware_ids=("h100",))


def test_best_configs_respects_limits_and_picks_the_minimum(small_sweep: V.SweepResult) -> None:
    f = small_sweep.frame
    best = V.best_configs(f, "cost_usd_per_1m_tokens", max_ttft_s=0.5, max_tpot_s=0.05)
    assert (best["ttft_s"] <= 0.5).all() and best["fits"].all()
    assert not best.duplicated(["variant_id", "dtype"]).any()
    for r in best.itertuples():
        grp = f[(f.variant_id == r.variant_id) & (f["dtype"] == r.dtype) & f.fits & (f.ttft_s <= 0.5)
                & (f.tpot_s.fillna(0) <= 0.05)]
        assert math.isclose(r.cost_usd_per_1m_tokens, grp["cost_usd_per_1m_tokens"].min())
    assert V.best_configs(f, "ttft_s", max_ttft_s=1e-6).empty  # nothing meets an impossible limit
    assert V.best_configs(f, hardware_ids=[]).empty
    with pytest.raises(InvalidInputError):
        V.best_configs(f, "tokens_per_usd")
    with pytest.raises(InvalidInputError):
        V.best_configs(f, max_ttft_s=-1.0)


# ---------------------------------------------------------------- accuracy data


def test_accuracy_table_is_clean() -> None:
    acc = V.load_accuracy()
    assert acc["score"].between(0, 100).all()
    assert set(acc["status"]) <= {"P", "S", "D", "UNVERIFIED"}
    assert set(acc["model_id"]) <= {m.model_id for m in catalog.list_models()}
    assert set(acc["benchmark"]) <= set(V.BENCHMARKS)
    assert (acc["source"].str.len() > 10).all()


def test_published_scores_pinned() -> None:
    acc = V.load_accuracy().set_index(["model_id", "benchmark"])
    # Llama 3.1 model card, base pretrained table: MMLU (5-shot) 66.7 / 79.3 / 85.2
    assert acc.loc[("llama-3.1-8b", "MMLU"), "score"] == 66.7
    assert acc.loc[("llama-3.1-405b", "MMLU"), "score"] == 85.2
    # Llama 2 paper Table 3: MMLU 45.3 / 54.8 / 68.9
    assert acc.loc[("llama-2-70b", "MMLU"), "score"] == 68.9
    # DeepSeek-V3 README base-model table: MMLU 87.1
    assert acc.loc[("deepseek-v3", "MMLU"), "score"] == 87.1


def test_distilbert_retains_97_percent_of_bert_glue() -> None:
    # Sanh et al. 2019 (arXiv:1910.01108) Table 1: GLUE dev macro 79.5 (BERT-base) vs 77.0 (DistilBERT),
    # "retaining 97% of its language understanding capabilities"; Table 3: 110M -> 66M params, 668 s -> 410 s.
    r, tech, src = V.distillation_retention(110e6, 66e6)
    assert tech == "distill-distilbert-glue"
    assert r == pytest.approx(77.0 / 79.5) and round(r, 2) == 0.97
    row = V.load_compression().set_index("technique_id").loc["distill-distilbert-glue"]
    assert row["speedup"] == pytest.approx(668 / 410, abs=0.01)  # "60% faster"
    assert 1 - row["student_params"] / row["base_params"] == pytest.approx(0.40, abs=0.005)  # "40% smaller"
    assert "1910.01108" in src


def test_quantization_retention_uses_the_nearest_size() -> None:
    # Neural Magic w4a16 cards: Llama-3.1-8B-Instruct 67.57 vs 69.32; 70B 78.54 vs 78.67 (OpenLLM v1)
    r8, t8, _ = V.quantization_retention("int4", 8.0e9)
    r70, t70, _ = V.quantization_retention("int4", 70e9)
    assert (t8, t70) == ("int4-w4a16-llama31-8b", "int4-w4a16-llama31-70b")
    assert r8 == pytest.approx(67.57 / 69.32) and r70 == pytest.approx(78.54 / 78.67)
    assert r8 < r70  # 4-bit costs small models more
    r1, t1, _ = V.quantization_retention("int4", 1.2e9)
    assert t1 == "int4-spinquant-llama32-1b" and r1 == pytest.approx(47.3 / 49.3)
    assert V.quantization_retention("bf16", 8e9) == (1.0, "", "")
    with pytest.raises(InvalidInputError):
        V.quantization_retention("int4", 0.0)


def test_pruning_retention_sparsegpt() -> None:
    # SparseGPT zero-shot table, OPT-175B: dense 70.29, 2:4 69.11, 50% unstructured 70.52
    r, tech, _ = V.pruning_retention("2:4", 7e9)
    assert tech == "prune-sparsegpt-24-opt175b" and r == pytest.approx(69.11 / 70.29)
    r_u, _, _ = V.pruning_retention("unstructured", 7e9)
    assert r_u == pytest.approx(70.52 / 70.29)


def test_bad_accuracy_file_is_rejected(tmp_path: Path) -> None:
    src = (catalog.data_dir() / "accuracy.csv").read_text(encoding="utf-8").splitlines()
    bad = [src[0], src[1].replace(",45.3,", ",120,", 1)]
    p = tmp_path / "accuracy.csv"
    p.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="0-100"):
        V.load_accuracy(p)
    p.write_text(src[0].replace("score", "points") + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="header"):
        V.load_accuracy(p)


def test_user_scores_validated() -> None:
    ok = V.validate_user_scores([{"model_id": "nlarge-m", "benchmark": "MMLU", "score": 41.0, "note": "our eval"},
                                 {"model_id": None, "benchmark": None, "score": None}])
    assert ok.to_dict("records") == [{"model_id": "nlarge-m", "benchmark": "MMLU", "score": 41.0, "note": "our eval"}]
    with pytest.raises(InvalidInputError, match="row 1: score 120 is outside 0-100"):
        V.validate_user_scores(pd.DataFrame([{"model_id": "nlarge-m", "benchmark": "MMLU", "score": 120}]))
    with pytest.raises(InvalidInputError, match="outside 0-100"):
        V.validate_user_scores([{"model_id": "nlarge-m", "benchmark": "MMLU", "score": -3}])
    with pytest.raises(InvalidInputError, match="not a catalog model"):
        V.validate_user_scores([{"model_id": "gpt-5", "benchmark": "MMLU", "score": 90}])


# ---------------------------------------------------------------- proxy and score table


def test_loss_proxy_matches_chinchilla() -> None:
    # Hoffmann et al. 2022 eq. 2 with the published constants: L(70e9, 1.4e12) = 1.9366 (facts.md 1.3)
    assert V.loss_proxy(catalog.get_model("chinchilla-70b")) == pytest.approx(1.9366, abs=1e-4)
    tok, _, assumed = V.training_tokens(catalog.get_model("nlarge-m"))
    assert assumed and tok == pytest.approx(20 * catalog.get_model("nlarge-m").params_total)
    tok, _, _ = V.training_tokens(catalog.get_model("nlarge-m"), tokens_per_param=1000)
    assert tok == pytest.approx(1000 * catalog.get_model("nlarge-m").params_total)
    with pytest.raises(InvalidInputError):
        V.training_tokens(catalog.get_model("nlarge-m"), tokens_per_param=0)


def test_proxy_fit_is_sane() -> None:
    fit = V.fit_proxy("MMLU")
    assert fit.n >= 10 and fit.c1 < 0 and fit.r2 > 0.5
    lo, hi = fit.predict([3.5, 1.8])
    assert 25 <= lo < hi <= 100
    # anchoring at a model's own loss returns its score
    assert fit.anchored(2.0, 2.0, 66.7) == pytest.approx(66.7, abs=1e-6)
    with pytest.raises(InvalidInputError, match="multiple-choice"):
        V.fit_proxy("GLUE")


def _score(tab: pd.DataFrame, vid: str, dt: str) -> pd.Series:
    return tab[(tab.variant_id == vid) & (tab["dtype"] == dt)].iloc[0]


def test_score_table_routes() -> None:
    vs = [V.base_variant(LLAMA8), V.base_variant("nlarge-m"), V.pruned_variant(LLAMA8, "2:4"),
          V.distilled_variant(LLAMA8, "llama-3.2-3b"), V.distilled_variant("nlarge-m", "nlarge-s"),
          *V.elastic_family("llama-3.1-70b", (1.0, 0.5))]
    tab = V.score_table(vs, ["bf16", "int4"], "MMLU")
    base = _score(tab, LLAMA8, "bf16")
    assert base["score"] == 66.7 and base["score_kind"] == "published" and "[P]" in base["score_source"]
    q = _score(tab, LLAMA8, "int4")
    assert q["score"] == pytest.approx(66.7 * 67.57 / 69.32) and "int4 what-if" in q["score_kind"]
    pr = _score(tab, f"{LLAMA8}~2of4", "bf16")
    assert pr["score"] == pytest.approx(66.7 * 69.11 / 70.29) and pr["score_kind"] == "what-if"
    assert (tab["variant_id"] == f"{LLAMA8}~2of4").sum() == 1  # 2:4 only in 16-bit weights
    ds = _score(tab, "llama-3.2-3b<llama-3.1-8b", "bf16")
    assert ds["score"] == 58.0 and "own score" in ds["score_source"]  # the student's published score
    nl = _score(tab, "nlarge-m", "bf16")
    assert nl["score_kind"] == "proxy" and "Chinchilla" in nl["score_source"]
    nls = _score(tab, "nlarge-s<nlarge-m", "bf16")
    assert nls["score_kind"] == "what-if" and nls["score"] >= 25.0  # never below chance
    full = _score(tab, "llama-3.1-70b~w1", "bf16")
    half = _score(tab, "llama-3.1-70b~w0.5", "bf16")
    assert full["score"] == pytest.approx(79.3, abs=0.5)  # anchored on the parent's published 79.3
    assert half["score"] < full["score"] and half["score_kind"] == "proxy (anchored)"
    assert tab["score"].dropna().between(0, 100).all()


def test_user_score_overrides_published_and_proxy_can_be_off() -> None:
    user = V.validate_user_scores([{"model_id": LLAMA8, "benchmark": "MMLU", "score": 70.0, "note": "mine"}])
    tab = V.score_table([V.base_variant(LLAMA8), V.base_variant("nlarge-m")], ["bf16"], "MMLU", user, proxy=False)
    r = _score(tab, LLAMA8, "bf16")
    assert r["score"] == 70.0 and r["score_kind"] == "user" and "mine" in r["score_source"]
    assert math.isnan(_score(tab, "nlarge-m", "bf16")["score"])  # no proxy, no score


# ---------------------------------------------------------------- compression variants


def test_two_of_four_spec_and_hardware() -> None:
    m = catalog.get_model(LLAMA8)
    v = V.pruned_variant(m, "2:4")
    emb = memory.embedding_params(m)
    assert v.model.params_total == pytest.approx(emb + 0.5625 * (m.params_total - emb))
    assert v.model.params_active == pytest.approx(emb + 0.5 * (m.params_active - emb))
    spec = V.sweep_spec(hardware_ids=("h100-sxm", "t4", "v100-sxm2"), dtypes=("bf16", "fp16", "int4"))
    f = V.sweep([v, V.base_variant(m)], spec).frame
    sp = f[f.variant_id == v.variant_id]
    assert set(sp["hardware_id"]) == {"h100-sxm"} and set(sp["dtype"]) <= {"bf16", "fp16"}
    dense = f[(f.variant_id == m.model_id) & (f.hardware_id == "h100-sxm") & (f["dtype"] == "bf16")]
    j = sp.merge(dense, on=["hardware_id", "dtype", "tp", "batch"], suffixes=("_s", "_d"))
    assert (j["memory_per_device_bytes_s"] < j["memory_per_device_bytes_d"]).all()
    assert (j["tpot_s_s"] <= j["tpot_s_d"]).all()


def test_unstructured_pruning_costs_the_same() -> None:
    m = catalog.get_model("mistral-7b")
    spec = V.sweep_spec(hardware_ids=("a100-80gb-sxm",), dtypes=("bf16",))
    f = V.sweep([V.base_variant(m), V.pruned_variant(m, "unstructured")], spec).frame
    a = f[f.variant_id == m.model_id]["cost_usd_per_1m_tokens"].to_numpy()
    b = f[f.variant_id == f"{m.model_id}~sp50"]["cost_usd_per_1m_tokens"].to_numpy()
    assert np.allclose(a, b)


def test_distillation_needs_a_smaller_student() -> None:
    with pytest.raises(InvalidInputError, match="smaller"):
        V.distilled_variant("llama-3.2-1b", LLAMA8)
    with pytest.raises(InvalidInputError):
        V.pruned_variant(LLAMA8, "1:8")


# ---------------------------------------------------------------- elastic sub-networks


def test_subnetwork_spec_shapes() -> None:
    p = catalog.get_model("llama-3.1-70b")  # 64 query heads in 8 GQA groups, d_ff 28672, 80 layers
    full = V.subnetwork_spec(p, 1.0)
    assert full.params_total == pytest.approx(p.params_total, rel=1e-12)
    half = V.subnetwork_spec(p, 0.5, depth=0.5)
    assert (half.n_heads, half.n_kv_heads, half.d_ff, half.n_layers) == (32, 4, 14336, 40)
    assert half.n_heads % half.n_kv_heads == 0 and half.d_model == p.d_model
    assert half.params_total < 0.3 * p.params_total
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(InvalidInputError):
            V.subnetwork_spec(p, bad)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["llama-3.1-8b", "nlarge-prod", "nlarge-l", "mixtral-8x7b", "gemma-2-9b"]),
       st.floats(min_value=0.05, max_value=1.0), st.floats(min_value=0.05, max_value=1.0))
def test_subnetworks_are_nested(model_id: str, w1: float, w2: float) -> None:
    p = catalog.get_model(model_id)
    a, b = sorted((w1, w2))
    sa, sb = V.subnetwork_spec(p, a), V.subnetwork_spec(p, b)
    assert sa.params_total <= sb.params_total + 1e-6 <= p.params_total * (1 + 1e-9) + 1e-6
    assert sa.n_heads <= sb.n_heads and sa.params_active <= sa.params_total


def test_router_overhead_formula() -> None:
    p = catalog.get_model("nlarge-prod")
    ro = V.router_overhead(p, 4, hidden=256)
    # two routers per layer, each d -> 256 -> 4
    assert ro.routers == 48 and ro.params == 48 * (4096 * 256 + 256 * 4)
    assert ro.flops_per_token == 2 * ro.params
    with pytest.raises(InvalidInputError):
        V.router_overhead(p, 0)


def test_elastic_deployment_holds_less_than_separate_models() -> None:
    t = V.elastic_vs_separate("llama-3.1-70b", (1.0, 0.5, 0.25), "h100-sxm", "bf16")
    tot = t[t.deployment == "total"].set_index("approach")
    assert tot.loc["one elastic model", "weights_bytes"] < tot.loc["separate models", "weights_bytes"]
    assert tot.loc["one elastic model", "devices"] <= tot.loc["separate models", "devices"]
    assert tot.loc["one elastic model", "cost_usd_per_month"] < tot.loc["separate models", "cost_usd_per_month"]


def test_select_subnetwork_by_latency_budget() -> None:
    fam = V.elastic_family("nlarge-prod", (1.0, 0.5, 0.25))
    spec = V.sweep_spec(hardware_ids=("l4",), dtypes=("bf16",), tps=(1,), batches=(1,))
    pts = V.attach_scores(V.best_configs(V.sweep(fam, spec).frame, "tpot_s"), V.score_table(fam, ["bf16"], "MMLU"))
    fastest = float(pts["tpot_s"].min())
    chosen = V.select_subnetwork(pts, latency_budget_s=fastest * 1.0001)
    assert chosen["tpot_s"] == fastest
    loose = V.select_subnetwork(pts, latency_budget_s=10.0)
    assert loose["score"] == pts["score"].max()  # the most accurate when everything qualifies
    with pytest.raises(InvalidInputError, match="no sub-network meets the budget"):
        V.select_subnetwork(pts, latency_budget_s=fastest / 10)
    with pytest.raises(InvalidInputError):
        V.select_subnetwork(pts.iloc[0:0], latency_budget_s=1.0)


# ---------------------------------------------------------------- long context


def test_long_context_trends_and_published_points() -> None:
    vs = [V.base_variant(m) for m in ("led-large", "bigbird-large", "llama-3.2-1b")]
    res = V.long_context(vs, "a100-80gb-sxm", "bf16", (1024, 4096, 16384, 65536), 256)
    f = res.frame.drop_duplicates(["variant_id", "input_tokens"])
    llama = f[f.variant_id == "llama-3.2-1b"].sort_values("input_tokens")
    assert llama["cost_usd_per_1k_requests"].is_monotonic_increasing
    assert llama["e2e_s"].is_monotonic_increasing
    led = f[f.variant_id == "led-large"]
    assert set(led["input_tokens"]) == {1024, 4096, 16384}  # LED's window is 16,384 input tokens
    assert any("bigbird" in s.lower() and "4,096" in s for s in res.skipped)
    arxiv = res.frame[res.frame["benchmark"] == "arXiv ROUGE-1"]
    assert set(zip(arxiv.variant_id, arxiv.input_tokens, strict=True)) >= {("led-large", 4096), ("led-large", 16384),
                                                                          ("bigbird-large", 4096)}
    with pytest.raises(InvalidInputError):
        V.long_context(vs, "a100-80gb-sxm", "bf16", ())


def test_whole_catalog_sweep_is_fast_enough() -> None:
    vs = [V.base_variant(m) for m in catalog.list_models()]
    spec = V.sweep_spec(hardware_ids=tuple(h.hardware_id for h in catalog.list_hardware()), dtypes=tuple(DType))
    res = V.sweep(vs, spec)
    assert len(res.frame) > 50_000
    assert res.elapsed_s < 5.0  # the benchmark (bench/bench_variants.py) targets < 1 s; this only guards regressions


# ---------------------------------------------------------------- fast paths match their references


def _best_configs_duckdb(frame: pd.DataFrame, objective: str, by: tuple[str, ...], limits: dict[str, float],
                         hardware_ids: list[str] | None) -> pd.DataFrame:
    """The DuckDB window query ``best_configs`` used before it moved to numpy (the reference)."""
    import duckdb

    where = [f"isfinite({objective})", "fits"]
    params: list[object] = []
    for col, lim in limits.items():
        where.append(f"coalesce({col}, 0) <= ?")
        params.append(lim)
    if hardware_ids is not None:
        where.append("list_contains(?, hardware_id)")
        params.append(hardware_ids)
    part = ", ".join(f'"{c}"' for c in by)
    con = duckdb.connect(":memory:")
    try:
        con.register("s", frame)
        return con.execute(f"SELECT * FROM s WHERE {' AND '.join(where)} QUALIFY row_number() OVER (PARTITION BY "
                           f"{part} ORDER BY {objective} ASC, tokens_per_s DESC, hardware_id) = 1", params).df()
    finally:
        con.close()


@pytest.mark.parametrize(("objective", "by", "limits", "hw"), [
    ("cost_usd_per_1m_tokens", ("variant_id", "dtype"), {}, None),
    ("cost_usd_per_1m_tokens", ("variant_id", "dtype"), {"ttft_s": 0.5, "tpot_s": 0.05}, None),
    ("ttft_s", ("variant_id",), {"e2e_s": 20.0}, ["h100-sxm", "l4"]),
    ("energy_kwh_per_1m_tokens", ("variant_id", "dtype", "hardware_id"), {"tpot_s": 0.1}, None),
    ("tpot_s", ("dtype",), {}, ["mi300x", "tpu-v5e", "t4"]),
])
def test_best_configs_matches_the_duckdb_reference(small_sweep: V.SweepResult, objective: str, by: tuple[str, ...],
                                                   limits: dict[str, float], hw: list[str] | None) -> None:
    kw = {f"max_{k}": v for k, v in limits.items()}
    got = V.best_configs(small_sweep.frame, objective, by, hardware_ids=hw, **kw)
    ref = _best_configs_duckdb(small_sweep.frame, objective, by, limits, hw)
    assert len(got) == len(ref) > 0
    assert got[objective].is_monotonic_increasing  # sorted by the objective
    key = list(by)
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  ref.sort_values(key).reset_index(drop=True), check_dtype=False)


def _quantization_retention_reference(dtype: str, params: float) -> tuple[float, str, str]:
    """The per-call pandas lookup ``quantization_retention`` made before it was vectorized."""
    df = V.load_compression()
    rows = df[(df["kind"] == "quantization") & (df["weight_dtype"] == dtype) & df["used_for_whatif"]]
    r = rows.iloc[int(np.argmin(np.abs(np.log(rows["base_params"].to_numpy(float)) - math.log(params))))]
    return float(r["retention"]), str(r["technique_id"]), f"{r['source']} ({r['base_model']})"


def test_vectorized_quantization_retention_matches_the_per_model_lookup() -> None:
    sizes = [m.params_total for m in catalog.list_models()] + [1e8, 3.3e9, 8e9, 70e9, 1e13]
    for d in ("fp8", "int8", "int4"):
        q = V.quantization_retentions(d, sizes)
        assert q.retention.shape == (len(sizes),)
        for k, p in enumerate(sizes):
            ref = _quantization_retention_reference(d, p)
            assert (float(q.retention[k]), q.technique_id[k], q.source[k]) == ref
            assert V.quantization_retention(d, p) == ref
    assert V.quantization_retentions("bf16", sizes).retention.tolist() == [1.0] * len(sizes)
    with pytest.raises(InvalidInputError, match="positive size"):
        V.quantization_retentions("int4", [8e9, -1.0])


def test_attach_scores_keeps_the_row_order() -> None:
    frame = pd.DataFrame({"variant_id": ["b", "a", "b"], "dtype": ["int4", "bf16", "bf16"], "x": [1, 2, 3]})
    scores = pd.DataFrame({"variant_id": ["a", "b"], "dtype": ["bf16", "bf16"], "score": [50.0, 60.0],
                           "score_kind": ["published"] * 2, "score_source": ["s"] * 2, "score_status": ["P"] * 2})
    out = V.attach_scores(frame, scores)
    assert out["x"].tolist() == [1, 2, 3]
    assert math.isnan(out["score"].iloc[0]) and out["score"].iloc[1:].tolist() == [50.0, 60.0]


# ---------------------------------------------------------------- the page's one result


def _scenario(**variants: object):
    from estimator.scenario import Scenario

    s = Scenario()
    return s.replace(variants={**s.variants.model_dump(), **variants})


@pytest.fixture(scope="module")
def explored() -> V.Exploration:
    return V.explore_for_scenario(_scenario())


def test_exploration_holds_every_tab(explored: V.Exploration) -> None:
    ex = explored
    assert ex.problem == "" and not ex.scored.empty and ex.frontier_points["on_frontier"].all()
    # compression: every row has a 16-bit reference; the 16-bit base rows themselves are left out
    assert ex.compression is not None and not ex.compression.empty
    assert np.isfinite(ex.compression["weights vs 16-bit base"]).all()
    assert not ((ex.compression["kind"] == "base") & (ex.compression["dtype"] == "bf16")).any()
    # DistilBERT vs BERT: GLUE scores published
    assert ex.encoders is not None and set(ex.encoders["variant_id"]) == {"bert-base", "distilbert-base<bert-base"}
    assert ex.encoders["score"].notna().all()
    # elastic: the family, a pick within the default 20 ms budget, one comparison per chosen format
    el = ex.elastic
    assert el is not None and len(el.family) == 4 and el.widths == (1.0, 0.75, 0.5, 0.25)
    assert el.pick is not None and float(el.pick["tpot_s"]) <= el.budget_ms / 1e3
    assert set(el.deployments) == {"bf16", "fp8", "int4"} and not el.deployment_errors
    assert el.hardware_id == ex.spec.hardware_ids[0] and el.context_tokens == V.ELASTIC_CONTEXT_TOKENS
    # long context: a sweep per length, published points and the default budget (1.5 x the cheapest, rounded up)
    lc = ex.long_context
    assert lc is not None and lc.result is not None and not lc.result.frame.empty and not lc.published.empty
    cheapest = lc.published["cost_usd_per_1k_requests"].min()
    assert lc.budget_usd_per_1k == pytest.approx(math.ceil(1.5 * cheapest * 1e4) / 1e4)
    assert (lc.published["within"] == (lc.published["cost_usd_per_1k_requests"] <= lc.budget_usd_per_1k)).all()
    # reference tables
    assert ex.reference is not None and (ex.reference.accuracy["benchmark"] == "MMLU").all()
    assert ex.reference.proxy_fit is not None and not ex.reference.model_sources.empty


def test_exploration_elastic_and_long_context_follow_the_scenario() -> None:
    ex = V.explore_for_scenario(_scenario(elastic_parent="none", lc_model_ids=(), elastic_tpot_budget_ms=0.1))
    assert ex.elastic is None and ex.long_context is not None and ex.long_context.result is None
    ex = V.explore_for_scenario(_scenario(elastic_tpot_budget_ms=0.1, elastic_hardware_id="h200",
                                          lc_budget_usd_per_1k=0.0))
    assert ex.elastic is not None and ex.elastic.pick is None and "no sub-network meets" in ex.elastic.pick_error
    assert ex.elastic.hardware_id == "h200"
    assert ex.long_context is not None and not ex.long_context.published["within"].any()


def test_exploration_says_why_nothing_qualifies() -> None:
    ex = V.explore_for_scenario(_scenario(model_ids=("llama-3.1-405b",), hardware_ids=("t4",), prune_ids=(),
                                          distill_pairs=(), elastic_parent="none"))
    assert ex.best.empty and "none fits in memory" in ex.problem
    assert ex.compression is None and ex.elastic is None


def test_changing_the_benchmark_reuses_the_sweep(explored: V.Exploration) -> None:
    other = V.explore_for_scenario(_scenario(benchmark="HellaSwag", x_axis="ttft_s"))
    assert other.result is explored.result  # same cached sweep
    assert other.long_context is not None and explored.long_context is not None
    assert other.long_context.result is explored.long_context.result


def test_frontier_order_is_deterministic_for_tied_points(explored: V.Exploration) -> None:
    # Llama 3.2 3B and "Llama 3.2 3B distilled from Llama 3.1 8B" are the same model: equal cost and score
    again = V.explore_for_scenario(_scenario(), None)
    assert explored.frontier_points["variant_id"].tolist() == again.frontier_points["variant_id"].tolist()


def test_both_16_bit_formats_do_not_break_the_compression_table() -> None:
    ex = V.explore_for_scenario(_scenario(dtypes=("bf16", "fp16", "int4"), model_ids=(LLAMA8, "mistral-7b"),
                                          distill_pairs=(), elastic_parent="none"))
    tab = ex.compression  # the page's old reindex raised on the duplicate 16-bit base rows
    assert tab is not None and "int4" in set(tab["dtype"])
    assert not ((tab["kind"] == "base") & tab["dtype"].isin(["bf16", "fp16"])).any()
    assert np.isfinite(tab["cost vs 16-bit base"]).all()


def test_long_prompts_do_not_break_the_variants_page_issue_11() -> None:
    # a mean above the default p95 (3,000 input, 800 output tokens) used to fail in sweep_key's scenario
    from estimator import report
    from estimator.scenario import from_query_params

    scenario, ignored = from_query_params({"in": "4000", "in95": "4000", "out": "1000", "out95": "1000"})
    assert not ignored
    ex = V.explore_for_scenario(scenario)
    assert ex.spec.input_tokens == 4000 and ex.spec.output_tokens == 1000
    assert (ex.result.frame["input_tokens"] == 4000).all() and not ex.frontier_points.empty
    rep = report.variants_report(scenario, ex)
    inputs = {r.name: r.value for r in rep.rows if r.section == "input"}
    assert inputs["tokens.input_mean"] == 4000 and inputs["tokens.output_mean"] == 1000
    assert rep.value("frontier_points") == len(ex.frontier_points)
    assert report.variants_report(scenario).value("frontier_points") == len(ex.frontier_points)


def test_the_entry_point_computes_once_per_scenario() -> None:
    from estimator import entrypoints

    scenario = _scenario(benchmark="ARC-Challenge")
    entrypoints.cache_clear()
    before = entrypoints.calls("variants")
    first = entrypoints.compute("variants", scenario)
    assert entrypoints.compute("variants", scenario) is first
    assert entrypoints.calls("variants") == before + 1
