"""Expert parallelism with DP attention (estimator/expert_parallel.py), its scenario section, figures and
the performance page's MoE section."""

from __future__ import annotations

import itertools
import math

import pytest
from streamlit.testing.v1 import AppTest

from estimator import catalog, expert_parallel, memory, performance
from estimator.errors import InvalidInputError
from estimator.expert_parallel import EPConfig
from estimator.scenario import MoEInputs, Scenario, from_query_params, to_query_params
from pages.figures import moe as figures

DSV3 = "deepseek-v3"


def _m(model_id: str = DSV3):  # type: ignore[no-untyped-def]
    return catalog.get_model(model_id)


def _h(hw: str):  # type: ignore[no-untyped-def]
    return catalog.get_hardware(hw)


# ---------------------------------------------------------------- layout and memory


def test_experts_per_gpu_matches_deepseeks_deployment() -> None:
    # DeepSeek-V3/R1 Inference System Overview: prefill EP32 "each GPU handles 9 routed experts", decode
    # EP144 "each GPU manages 2 routed experts", both with 32 redundant experts (256 + 32 = 288).
    assert expert_parallel.experts_per_gpu(_m(), 32, 32) == 9
    assert expert_parallel.experts_per_gpu(_m(), 144, 32) == 2
    # SGLang large-scale EP blog: 288 experts allow EP72 (4 per GPU)
    assert expert_parallel.experts_per_gpu(_m(), 72, 32) == 4
    with pytest.raises(InvalidInputError):
        expert_parallel.experts_per_gpu(_m(), 0)


def test_memory_per_gpu_falls_with_ep() -> None:
    hw = _h("h100-sxm")
    mems = [expert_parallel.ep_memory(_m(), hw, EPConfig(ep=n), 64, 4096) for n in expert_parallel.DEFAULT_EP_SIZES]
    experts = [m.expert_weights_bytes for m in mems]
    totals = [m.total_bytes for m in mems]
    assert all(a >= b for a, b in itertools.pairwise(experts))
    assert all(a >= b for a, b in itertools.pairwise(totals))
    assert totals[0] > 2 * totals[-1]
    # replicated parts do not depend on the degree (DP attention): attention, shared, dense, embeddings
    assert len({m.replicated_weights_bytes for m in mems}) == 1
    assert len({m.kv_cache_bytes for m in mems}) == 1


def test_memory_parts_add_up_to_the_model() -> None:
    # EP1 holds every expert: replicated + experts = the whole checkpoint (memory.weights_bytes)
    for model_id, dtype in ((DSV3, "fp8"), ("qwen3-235b-a22b", "bf16"), ("gpt-oss-120b", "mxfp4"), ("kimi-k2", "fp8")):
        m = _m(model_id)
        mem = expert_parallel.ep_memory(m, _h("gb200"), EPConfig(ep=1, dtype=dtype), 1, 1000)
        assert mem.replicated_weights_bytes + mem.expert_weights_bytes == pytest.approx(memory.weights_bytes(m, dtype))
        assert mem.expert_weights_bytes == pytest.approx(
            memory.routed_expert_params(m) * (1.0 if dtype == "fp8" else 2.0 if dtype == "bf16" else 0.53125))
    # DeepSeek-V3 in fp8: 58 MoE layers x 256 experts x 3 x 7168 x 2048 = 653.7e9 routed parameters (config.json)
    assert memory.routed_expert_params(_m()) == 58 * 256 * 3 * 7168 * 2048


def test_kv_cache_per_gpu_with_and_without_dp_attention() -> None:
    # MLA's latent is not split by tensor parallelism (SGLang v0.4: DP attention removes the duplication):
    # without DP attention each GPU holds the KV cache of all n B sequences.
    hw = _h("h200")
    dp = expert_parallel.ep_memory(_m(), hw, EPConfig(ep=16), 8, 4096)
    tp = expert_parallel.ep_memory(_m(), hw, EPConfig(ep=16, dp_attention=False), 8, 4096)
    assert tp.kv_cache_bytes == pytest.approx(16 * dp.kv_cache_bytes)
    assert dp.kv_cache_bytes == pytest.approx(8 * 4096 * 61 * 576 * 2)  # L (d_c + d_rope) bytes per token
    assert tp.replicated_weights_bytes == pytest.approx(dp.replicated_weights_bytes / 16)
    # GQA (Qwen3, 4 KV heads) splits down to one head per rank: 4/16 -> 1 head of 4
    q = _m("qwen3-235b-a22b")
    q_dp = expert_parallel.ep_memory(q, hw, EPConfig(ep=16), 8, 4096)
    q_tp = expert_parallel.ep_memory(q, hw, EPConfig(ep=16, dp_attention=False), 8, 4096)
    assert q_tp.kv_cache_bytes == pytest.approx(16 * q_dp.kv_cache_bytes / 4)


def test_max_batch_fills_memory() -> None:
    hw, cfg = _h("h100-sxm"), EPConfig(ep=72, redundant_experts=32)
    b = expert_parallel.max_batch_per_gpu(_m(), hw, cfg, 2100)
    assert expert_parallel.ep_memory(_m(), hw, cfg, b, 2100).fits
    assert not expert_parallel.ep_memory(_m(), hw, cfg, b + 1, 2100).fits
    # SGLang ran 256 sequences of ~2000 tokens per H100 at EP72: our memory model must admit it
    assert b >= 256
    assert expert_parallel.max_batch_per_gpu(_m(), hw, EPConfig(ep=8), 2100) == 0  # 671B in fp8 on 8 x 80 GB


# ---------------------------------------------------------------- all-to-all arithmetic


def test_dispatch_bytes_per_element() -> None:
    # DeepEP FP8 dispatch: 1 B per element + one fp32 scale per 128 channels; BF16 otherwise; NVFP4 0.5625 B
    assert expert_parallel.dispatch_bytes_per_element(performance.default_compute_dtype(_h("h800"), "fp8")) == 1.03125
    assert expert_parallel.dispatch_bytes_per_element(performance.default_compute_dtype(_h("h100-sxm"), "bf16")) == 2.0
    assert expert_parallel.dispatch_bytes_per_element(performance.default_compute_dtype(_h("gb200"), "nvfp4")) == 0.5625


def test_a2a_bytes_arithmetic() -> None:
    # DeepEP low-latency benchmark (docs/legacy.md): 128 tokens, top-8, hidden 7168, FP8 + scales, EP128 on
    # 8-GPU nodes: 128 x 8 x 7168 x 1.03125 = 7,569,408 B of token copies, 120/128 leave the node, 7/128 stay in it
    b = expert_parallel.a2a_bytes_per_gpu(128, 8, 7168, 1.03125, 128, 8)
    assert b.inter_bytes == 7_569_408 * 120 / 128 == 7_096_320
    assert b.intra_bytes == 7_569_408 * 7 / 128
    # within one node every remote copy goes over NVLink
    one = expert_parallel.a2a_bytes_per_gpu(100, 8, 1000, 2.0, 8, 8)
    assert (one.intra_bytes, one.inter_bytes) == (100 * 8 * 1000 * 2.0 * 7 / 8, 0.0)
    # a GB200 NVL72 domain keeps EP72 on NVLink
    nvl = expert_parallel.a2a_bytes_per_gpu(100, 8, 1000, 2.0, 72, 72)
    assert nvl.inter_bytes == 0.0 and nvl.intra_bytes == 100 * 8 * 1000 * 2.0 * 71 / 72
    # normal kernels (prefill) send a token once per remote node: EP32 = 4 nodes, top-8 uniform:
    # (N - 1)(1 - (1 - 1/N)^k) = 3 (1 - 0.75^8) = 2.69966 remote nodes per token
    d = expert_parallel.a2a_bytes_per_gpu(1000, 8, 7168, 1.0, 32, 8, dedup_nodes=True)
    assert d.inter_bytes == pytest.approx(1000 * 3 * (1 - 0.75**8) * 7168)
    assert d.intra_bytes == pytest.approx(1000 * 8 * 7168 * 7 / 8)
    with pytest.raises(InvalidInputError):
        expert_parallel.a2a_bytes_per_gpu(-1, 8, 7168, 1.0, 32, 8)


def test_a2a_time_by_hand() -> None:
    # H800 (hardware.csv): NVLink 400 GB/s bidirectional -> 200 GB/s per direction; IB 50 GB/s per GPU;
    # link efficiency 0.70 and 37 us NVLink latency (estimator.performance defaults)
    eff = performance.Efficiency()
    data = expert_parallel.A2ABytes(intra_bytes=413_952.0, inter_bytes=7_096_320.0)
    t = expert_parallel.a2a_time_s(data, _h("h800"), eff)
    assert t == pytest.approx(7_096_320 / (50e9 * 0.70))  # the network path is the slower: 202.8 us
    intra_only = expert_parallel.a2a_time_s(expert_parallel.A2ABytes(1.4e6, 0.0), _h("h800"), eff)
    assert intra_only == pytest.approx(1.4e6 / (200e9 * 0.70) + 37e-6)
    assert expert_parallel.a2a_time_s(expert_parallel.A2ABytes(0.0, 0.0), _h("h800"), eff) == 0.0


# ---------------------------------------------------------------- step times


def test_decode_step_parts() -> None:
    hw = _h("h100-sxm")
    base = expert_parallel.decode_step(_m(), hw, EPConfig(ep=72, redundant_experts=32), 256, 2000)
    assert base.tokens_per_s_per_gpu == pytest.approx(256 / base.step_s)
    assert base.step_s == pytest.approx(base.replicated_s + base.attention_s + base.activations_s + base.experts_s
                                        + base.dispatch_s + base.combine_s + base.allreduce_s + base.overhead_s)
    assert 0 < base.communication_share < 1 and base.allreduce_s == 0.0
    # the combine returns 16-bit outputs, the dispatch sends FP8: about twice the bytes, both network-bound
    assert base.combine_s / base.dispatch_s == pytest.approx(2.0 / 1.03125, rel=1e-9)
    # imbalance scales the busiest GPU's expert GEMMs (compute-bound here) and its all-to-all
    imb = expert_parallel.decode_step(_m(), hw, EPConfig(ep=72, redundant_experts=32, imbalance=1.5), 256, 2000)
    assert imb.experts_s == pytest.approx(1.5 * base.experts_s)
    assert imb.dispatch_s == pytest.approx(1.5 * base.dispatch_s)
    assert imb.attention_s == base.attention_s
    # tensor-parallel attention all-reduces instead of the all-to-alls
    tp = expert_parallel.decode_step(_m(), hw, EPConfig(ep=8, dp_attention=False), 16, 2000)
    assert tp.allreduce_s > 0 and tp.dispatch_s == tp.combine_s == 0.0
    with pytest.raises(InvalidInputError):
        expert_parallel.decode_step(_m(), hw, EPConfig(ep=8), 0, 2000)


def test_prefill_step_parts() -> None:
    p = expert_parallel.prefill_step(_m(), _h("h100-sxm"), EPConfig(ep=32, redundant_experts=32), 16384, 4096)
    assert p.tokens_per_s_per_gpu == pytest.approx(16384 / p.step_s)
    assert p.attention_s > 0 and p.experts_s > 0 and p.dispatch_s > 0
    # longer prompts cost more attention for the same tokens
    q = expert_parallel.prefill_step(_m(), _h("h100-sxm"), EPConfig(ep=32, redundant_experts=32), 16384, 8192)
    assert q.attention_s == pytest.approx(2 * p.attention_s, rel=1e-3) and q.experts_s == p.experts_s
    with pytest.raises(InvalidInputError):
        expert_parallel.prefill_step(_m(), _h("h100-sxm"), EPConfig(ep=32), 0, 4096)


# ---------------------------------------------------------------- published anchors


PINNED = {  # anchor id -> model / published as measured by bench/bench_expert_parallel.py (2026-11-29)
    # decode re-pinned 2026-11-29 when performance.moe_dispatch_bytes_per_token (MegaBlocks permute/un-permute
    # traffic) joined the activation bytes: 0.912, 0.877, 1.044, 1.571 before
    "ep-sglang-h100-decode-ep72": 0.888,
    "ep-deepseek-profile-decode-ep128": 0.859,
    "ep-deepseek-blog-decode-ep144": 1.024,
    "ep-sglang-h100-prefill-ep32": 0.764,
    "ep-deepseek-profile-prefill-ep32": 0.723,
    "ep-deepseek-blog-prefill-ep32": 1.408,
    "ep-deepep-ll-dispatch-ep128": 1.056,
    "ep-deepep-ll-combine-ep128": 1.066,
    "ep-deepep-ll-dispatch-ep32": 1.046,
    "ep-sglang-gb200-decode-ep48-fp4": 1.438,
}
REPRODUCED = {  # within 25% of the published figure
    "ep-sglang-h100-decode-ep72", "ep-deepseek-profile-decode-ep128", "ep-deepseek-blog-decode-ep144",
    "ep-sglang-h100-prefill-ep32", "ep-deepep-ll-dispatch-ep128", "ep-deepep-ll-combine-ep128",
    "ep-deepep-ll-dispatch-ep32",
}


def test_anchors_are_sourced() -> None:
    anchors = expert_parallel.load_anchors()
    assert {a.anchor_id for a in anchors} == set(PINNED)
    for a in anchors:
        assert a.source and a.url.startswith("https://") and a.as_of is not None and a.published_value > 0


def test_anchors_reproduced() -> None:
    # Published values (data/serving_anchors.csv): SGLang 96 x H100 blog (decode 22,282 per node at EP72, B=256,
    # KV 2000; prefill 59,337 per node at EP32 with perfect EPLB), DeepSeek profile-data (18,598 decode per node
    # at EP128) and Day-6 overview (14,800 decode per node), DeepEP low-latency table (192/369/155 us).
    results = {r.anchor.anchor_id: r for r in expert_parallel.reproduce_anchors()}
    for anchor_id, ratio in PINNED.items():
        assert results[anchor_id].ratio == pytest.approx(ratio, abs=0.005), anchor_id
    for anchor_id in REPRODUCED:
        assert abs(results[anchor_id].ratio - 1.0) <= 0.25, anchor_id
    # the bar: at least two published results, from two different publishers, within 25%
    assert len({results[a].anchor.source.split(",")[0] for a in REPRODUCED}) >= 2


# ---------------------------------------------------------------- plan


@pytest.mark.parametrize(("model_id", "dtype", "hw"), [
    (DSV3, "fp8", "h100-sxm"), ("deepseek-r1", "fp8", "gb200"), ("qwen3-235b-a22b", "fp8", "h200"),
    ("gpt-oss-120b", "mxfp4", "b200"), ("kimi-k2", "fp8", "mi300x"),
])
def test_plan_best_ep_meets_the_target(model_id: str, dtype: str, hw: str) -> None:
    p = expert_parallel.plan(_m(model_id), _h(hw), EPConfig(ep=8, dtype=dtype), 1000, 250, tpot_target_s=0.05)
    m = _m(model_id)  # degrees up to one expert per GPU (DeepSeek/Kimi: all; Qwen3/GPT-OSS, 128 experts: to 128)
    assert [r.ep for r in p.rows] == [n for n in expert_parallel.DEFAULT_EP_SIZES if n <= m.n_experts]
    assert p.best_ep is not None and p.chosen_ep == p.best_ep
    best = p.row(p.best_ep)
    assert best is not None and best.decode is not None and best.prefill is not None
    assert best.decode.step_s <= 0.05 and best.memory.fits and best.batch_per_gpu >= 1
    feasible = [r for r in p.rows if r.fits and r.meets_tpot]
    assert best.decode_tokens_per_s_per_gpu == max(r.decode_tokens_per_s_per_gpu for r in feasible)
    for r in feasible:  # the batch is the largest meeting the target
        if r.batch_per_gpu < r.max_batch_memory:
            nxt = expert_parallel.decode_step(_m(model_id), _h(hw), EPConfig(ep=r.ep, dtype=dtype),
                                              r.batch_per_gpu + 1, 1000 + 125)
            assert nxt.step_s > 0.05


def test_plan_refuses_dense_models_and_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="not a mixture-of-experts"):
        expert_parallel.plan(_m("llama-3.1-70b"), _h("h100-sxm"), EPConfig(ep=8), 1000, 250)
    with pytest.raises(InvalidInputError):
        expert_parallel.plan(_m(), _h("h100-sxm"), EPConfig(ep=8), 1000, 250, tpot_target_s=0.0)
    with pytest.raises(InvalidInputError):
        expert_parallel.plan(_m(), _h("h100-sxm"), EPConfig(ep=8), 1000, 250, ep_sizes=(0,))
    # Mixtral's 8 experts: only EP8 of the defaults, and a degree of more experts than exist only when chosen
    mix = expert_parallel.plan(_m("mixtral-8x7b"), _h("h100-sxm"), EPConfig(ep=1, dtype="bf16"), 1000, 250)
    assert [r.ep for r in mix.rows] == [8]
    mix = expert_parallel.plan(_m("mixtral-8x7b"), _h("h100-sxm"), EPConfig(ep=1, dtype="bf16"), 1000, 250,
                               chosen_ep=16)
    assert [r.ep for r in mix.rows] == [8, 16]


def test_plan_without_target_uses_the_memory_limit() -> None:
    p = expert_parallel.plan(_m(), _h("h200"), EPConfig(ep=8), 2000, 500, ep_sizes=(16, 64), chosen_ep=48)
    assert [r.ep for r in p.rows] == [16, 48, 64] and p.chosen_ep == 48
    for r in p.rows:
        assert r.batch_per_gpu == r.max_batch_memory and r.meets_tpot
    assert math.isclose(p.rows[0].memory.capacity_bytes, _h("h200").memory_bytes * memory.MEMORY_UTILIZATION)


# ---------------------------------------------------------------- scenario, figures


def test_scenario_moe_section_round_trips() -> None:
    assert to_query_params(Scenario()) == {}
    s = Scenario().replace(moe=MoEInputs(expert_parallel=72, dp_attention=False, expert_imbalance=1.3))
    q = to_query_params(s)
    assert {k: q[k] for k in ("ep", "dpa", "eimb")} == {"ep": "72", "dpa": "false", "eimb": "1.3"}
    back, ignored = from_query_params(q)
    assert back == s and ignored == []
    _, ignored = from_query_params({"eimb": "0.5"})  # below perfectly balanced
    assert ignored


def test_plan_for_scenario_and_figures() -> None:
    s = Scenario().replace(model={"model_id": DSV3, "weight_dtype": "fp8", "kv_dtype": "bf16"},
                           moe=MoEInputs(expert_parallel=72, expert_imbalance=1.2))
    p = expert_parallel.plan_for_scenario(s)
    assert p.chosen_ep == 72 and p.config.imbalance == 1.2 and p.tpot_target_s == 0.05
    fig = figures.step_figure(p)
    names = {t.name for t in fig.data}
    assert "dispatch all-to-all" in names and "routed experts (× imbalance)" in names
    frame = figures.ep_frame(p)
    assert list(frame["EP"]) == [r.ep for r in p.rows]
    assert frame["total (GB)"].iloc[-1] < frame["total (GB)"].iloc[1]


# ---------------------------------------------------------------- page


def test_performance_page_deepseek_v3() -> None:
    at = AppTest.from_file("../pages/performance.py", default_timeout=60)
    at.query_params.update({"m": DSV3, "wd": "fp8", "hw": "h200", "ep": "72", "dpa": "1", "eimb": "1.2"})
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]  # 671B in fp8 fits one node of 8 x H200
    labels = {m.label for m in at.metric}
    assert "Best EP degree" in labels and "Decode tok/s per GPU (EP72)" in labels
    assert at.number_input(key="ep").value == 72 and at.number_input(key="eimb").value == pytest.approx(1.2)
    assert any("t_{a2a}" in x.value for x in at.latex)
    # on H100 the page's single-replica analysis explains that one node is too small; the EP section still draws
    at = AppTest.from_file("../pages/performance.py", default_timeout=60)
    at.query_params.update({"m": DSV3, "wd": "fp8", "hw": "h100-sxm", "dpa": "0"})
    at.run()
    assert not at.exception
    assert "Best EP degree" in {m.label for m in at.metric} and at.toggle(key="dpa").value is False


def test_performance_page_dense_model_has_no_moe_section() -> None:
    at = AppTest.from_file("../pages/performance.py", default_timeout=60)
    at.run()
    assert not at.exception
    assert "Best EP degree" not in {m.label for m in at.metric}


def test_performance_page_refuses_bad_moe_link_values() -> None:
    # out of the schema's ranges (EP <= 4096, imbalance >= 1, a yes/no): dropped with a warning, never an exception
    at = AppTest.from_file("../pages/performance.py", default_timeout=60)
    at.query_params.update({"m": "qwen3-235b-a22b", "hw": "h200", "ep": "5000", "eimb": "0.5", "dpa": "maybe"})
    at.run()
    assert not at.exception
    assert at.number_input(key="ep").value == 0 and at.number_input(key="eimb").value == 1.0
    assert at.toggle(key="dpa").value is True
    assert any("ignored" in w.value for w in at.warning)
