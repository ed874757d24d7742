"""Disaggregated prefill/decode (estimator.disagg): KV transfer arithmetic, links, published anchors, the
default scenario's colocated vs disaggregated comparison, the scenario fields and the capacity page section."""

from __future__ import annotations

import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from estimator import capacity, catalog, disagg, memory, performance
from estimator.anchors import ANCHOR_TOLERANCE
from estimator.errors import InvalidInputError
from estimator.scenario import Scenario, from_query_params, to_query_params

TOLERANCE = ANCHOR_TOLERANCE  # issue 14: within 25%


@pytest.fixture(scope="module")
def default_pair() -> tuple[capacity.CapacityPlan, disagg.DisaggPlan]:
    s = Scenario().replace(serving={"disaggregated": True})
    colo = capacity.plan(s)
    return colo, disagg.plan(s, colo)


@pytest.fixture(scope="module")
def checks() -> dict[str, disagg.AnchorCheck]:
    return {c.anchor_id: c for c in disagg.anchor_checks()}


# ------------------------------------------------------------------ KV transfer arithmetic


def test_transfer_time_is_bytes_over_bandwidth_plus_latency() -> None:
    # t_kv = bytes / bandwidth + latency: 1 GB over 100 GB/s is 10 ms; a 37 us latency adds to it
    assert float(disagg.kv_transfer_s(1e9, 100e9)) == pytest.approx(0.010, rel=1e-12)
    assert float(disagg.kv_transfer_s(1e9, 100e9, 37e-6)) == pytest.approx(0.010037, rel=1e-12)
    assert disagg.kv_transfer_s([0.0, 2e9], 50e9).tolist() == pytest.approx([0.0, 0.04])
    with pytest.raises(InvalidInputError):
        disagg.kv_transfer_s(1e9, 0.0)


def test_kv_bytes_per_request() -> None:
    # Llama-2-7B: 2 (K, V) x 32 layers x 32 heads x 128 x 2 B = 512 KiB per token; 4096 tokens = 2 GiB
    # (the memory module's doctest, Kwon et al. 2023 §3)
    m = catalog.get_model("llama-2-7b")
    assert float(disagg.kv_transfer_bytes(m, 4096, "fp16")) == 2 * 2**30
    # GQA: Llama-3.1-70B keeps 8 KV heads of 128 over 80 layers: 2 x 80 x 8 x 128 x 2 B = 327,680 B per token
    m70 = catalog.get_model("llama-3.1-70b")
    assert memory.kv_cache_bytes_per_token(m70, "bf16") == 327_680
    # DistServe §3.3 (arXiv:2401.09670): "the KV cache size of a single 512-token request on OPT-66B is
    # approximately 1.13GB" = 2 x 64 x 9216 x 2 B x 512 = 1.208e9 B = 1.125 GiB
    assert float(disagg.kv_transfer_bytes(disagg.opt_66b(), 512, "fp16")) == 2 * 64 * 9216 * 2 * 512


def test_required_bandwidth() -> None:
    # DistServe §3.3: 1.13 GB x 10 requests/s = 11.3 GB/s
    assert disagg.required_link_bytes_per_s(1.13e9, 10.0) == pytest.approx(11.3e9)


def test_link_bandwidths_come_from_the_hardware_catalog() -> None:
    h100 = catalog.get_hardware("h100-sxm")
    # data/hardware.csv: NVLink4 900 GB/s bidirectional -> 450 GB/s a direction; network 50 GB/s per GPU
    # (p5.48xlarge: 3200 Gb/s EFA / 8 GPUs)
    assert disagg.link_per_gpu(h100, "nvlink") == (h100.intra_node_bandwidth_bytes_per_s / 2, "NVLink4")
    assert disagg.link_per_gpu(h100, "nvlink")[0] == pytest.approx(450e9)
    assert disagg.link_per_gpu(h100, "network")[0] == pytest.approx(50e9)
    with pytest.raises(InvalidInputError, match="not pcie"):
        disagg.link_per_gpu(h100, "pcie")
    a10g = catalog.get_hardware("a10g")  # PCIe4 x16: 64 GB/s bidirectional
    assert disagg.link_per_gpu(a10g, "pcie")[0] == pytest.approx(32e9)


def test_kv_link_auto_and_effective_bandwidth() -> None:
    h100, h200 = catalog.get_hardware("h100-sxm"), catalog.get_hardware("h200")
    same = disagg.kv_link(h100, h100, "auto", 2, 4)
    assert same.kind == "nvlink"  # 2 + 4 GPUs fit in one 8-GPU node
    # e_comm (0.70) x min(t_p B, t_d B) = 0.7 x 2 x 450 GB/s
    assert same.bandwidth_bytes_per_s == pytest.approx(0.7 * 2 * 450e9)
    assert disagg.kv_link(h100, h100, "auto", 8, 8).kind == "network"  # 16 GPUs: two nodes
    cross = disagg.kv_link(h200, h100, "auto", 4, 4)
    assert cross.kind == "network"
    assert cross.bandwidth_bytes_per_s == pytest.approx(0.7 * 4 * 50e9)
    with pytest.raises(InvalidInputError, match="one node"):
        disagg.kv_link(h200, h100, "nvlink", 4, 4)


# ------------------------------------------------------------------ published anchors


def test_distserve_kv_anchors_within_tolerance(checks: dict[str, disagg.AnchorCheck]) -> None:
    # DistServe §3.3: 1.13 GB per 512-token OPT-66B request; 90 Gbps at 10 requests/s (binary units)
    for aid in ("pd-distserve-kv-opt66b", "pd-distserve-kv-bandwidth"):
        assert abs(checks[aid].ratio - 1.0) <= TOLERANCE, checks[aid]
    assert checks["pd-distserve-kv-opt66b"].predicted == pytest.approx(1.125)
    assert checks["pd-distserve-kv-bandwidth"].predicted == pytest.approx(90.0)


REPRODUCED_SYSTEM_ANCHORS: dict[str, float] = {
    # DistServe Figure 1's per-GPU gain of 2P1D over colocated vLLM (2.1x), with the vLLM per-iteration profile the
    # DistServe authors publish (github.com/LLMServe/DistServe simdistserve/estimators/profile_data, latest version)
    # and P90 goals: 1.92. Weak: its terms (P 7.4, D 17.0, C 2.7) are each 32-70 % high and cancel in the ratio.
    "pd-distserve-fig1-gain": 1.92,
    # DistServe simulator README: OPT-13B, ShareGPT, 4 x A100, P90 TTFT 0.2 s / P90 TPOT 0.1 s -> "Best per GPU
    # rate: 1.56, tp_prefill=2, tp_decode=1"; ours with the same DistServe-engine profiles, the measured ShareGPT
    # histogram and the queueing model: 1.85 per GPU at prefill TP 2 + decode TP 1
    "pd-distserve-sim-per-gpu": 1.849,
    "pd-distserve-sim-tp-prefill": 2.0,
    "pd-distserve-sim-tp-decode": 1.0,
    # Splitwise §VI-B iso-power Splitwise-HH designs, 25P:15T (conversation) and 35P:5T (coding), searched as the
    # authors did (splitwise-sim configs/experiment/splitwise_hh_isopower.yaml: 40 DGX-H100, 5..35 token machines):
    # BLOOM-176B with their measured performance model, the Azure 2023 traces, Table 6's nine slowdown SLOs, their
    # batch and memory limits; the split with the most requests/s within the SLOs. Both exact on the swept grid.
    "pd-splitwise-hh-conversation": 25 / 15,
    "pd-splitwise-hh-coding": 7.0,
}


def test_system_level_anchors_reproduced(checks: dict[str, disagg.AnchorCheck]) -> None:
    # issue 14: at least two published system-level disaggregation results within 25 %; the KV-size arithmetic of
    # DistServe §3.3 passes as well. The set is pinned exactly: a regression fails, an improvement must move here.
    for aid, ours in REPRODUCED_SYSTEM_ANCHORS.items():
        assert checks[aid].predicted == pytest.approx(ours, rel=0.02), checks[aid]
        assert checks[aid].within(TOLERANCE), checks[aid]
    passing = {aid for aid, c in checks.items() if c.within(TOLERANCE)}
    assert passing == {*REPRODUCED_SYSTEM_ANCHORS, "pd-distserve-kv-opt66b", "pd-distserve-kv-bandwidth"}
    assert len(passing) == 8


@pytest.mark.parametrize(("anchor_id", "ours"), [
    # Not reproduced within 25 % (data/serving_anchors.csv notes say why); pinned at what the model gives so a
    # change shows. DistServe Figure 1 (OPT-13B on A100, 512 + 64 tokens, P90 TTFT 0.4 s, P90 TPOT 0.04 s) with the
    # authors' published vLLM profile: prefill-only 7.4 vs 5.6, decode-only 17.0 vs 10, colocated 2.7 vs 1.6
    ("pd-distserve-fig1-prefill", 7.377),
    ("pd-distserve-fig1-decode", 17.02),
    ("pd-distserve-fig1-colocated", 2.681),
    # Splitwise §VI-A: serialized transfer +64 % on the second token; 491 MB over 0.7 x 400 Gb/s (14.2 ms) against
    # the paper's measured 30.5 ms time between tokens (splitwise-sim data/perf_model.csv) gives 47 %
    ("pd-splitwise-second-token", 0.4669),
])
def test_unreproduced_anchors_are_pinned(checks: dict[str, disagg.AnchorCheck], anchor_id: str, ours: float) -> None:
    c = checks[anchor_id]
    assert c.predicted == pytest.approx(ours, rel=0.05)
    assert abs(c.ratio - 1.0) > TOLERANCE  # honest: outside 25 %; move it to the test above when it is within


def test_profiled_replica_is_the_published_fit() -> None:
    # DistServe's simulator (simdistserve/estimators/time_estimator.py): prefill a + b sum(n) + c sum(n^2), decode
    # a + b sum(ctx) + c B (ms), here the vLLM OPT-13B TP-1 profile; the replica model must give the same times
    prof = disagg.DISTSERVE_OPT13B_A100[("vllm", 1)]
    s = disagg._anchor_scenario("opt-13b", "a100-80gb-sxm", (512, 64), (0.4, 2.92), 1)
    inp = capacity._resolve_inputs(s, None, None)
    base = disagg._replica(inp, inp.hw, (1, 1), inp.context)
    pre = disagg.profiled_replica(base, prof, "prefill", 2048)
    a, b, c = prof.prefill_ms
    assert float(pre.prefill_alone_s(512)) == pytest.approx((a + b * 512 + c * 512**2) / 1e3, rel=1e-3)
    two = float(pre.iteration_s(1024, 2 * 512 * 513 / 2, 1024))  # two 512-token prompts in one iteration
    assert two == pytest.approx((a + b * 1024 + c * 2 * 512**2) / 1e3, rel=1e-3)
    dec = disagg.profiled_replica(base, prof, "decode", 2048)
    a, b, c = prof.decode_small_ms
    assert float(dec.iteration_s(40, 40 * 544, 40 * 544)) == pytest.approx((a + b * 40 * 544 + c * 40) / 1e3, rel=1e-9)
    a, b, c = prof.decode_large_ms
    assert float(dec.iteration_s(100, 100 * 544, 100 * 544)) == pytest.approx(
        (a + prof.decode_small_ms[1] * 100 * 544 + c * 100) / 1e3, rel=1e-9)  # large-batch line (b of the small)
    col = disagg.profiled_replica(base, prof, "colocated", 2048)
    assert float(col.prefill_alone_s(512)) == pytest.approx(float(pre.prefill_alone_s(512)), rel=1e-9)
    assert col.max_batch == base.max_batch  # slots stay the planner's memory model's
    with pytest.raises(InvalidInputError):
        disagg.profiled_replica(base, prof, "both", 2048)


def test_p90_ttft_reads_the_queueing_distribution() -> None:
    # the same distribution queue_metrics reads its p95 from: q = 0.95 gives its p95 exactly; P90 <= p95
    s = disagg._anchor_scenario("opt-13b", "a100-80gb-sxm", (512, 64), (0.4, 2.92), 1)
    inp = capacity._resolve_inputs(s, None, None)
    rep = disagg._replica(inp, inp.hw, (1, 1), inp.context)
    w = capacity.Workload(prompt=inp.din, output=inp.dout)
    loads = [0.5, 2.0, 4.0]
    q = capacity.queue_metrics(rep, loads, w)
    assert disagg.ttft_quantile_s(rep, loads, w, 0.95) == pytest.approx(q.ttft_p95_s, rel=1e-9)
    assert all(disagg.ttft_quantile_s(rep, loads, w, 0.90) <= q.ttft_p95_s)
    assert disagg.ttft_quantile_s(rep, [1e4], w, 0.9)[0] == math.inf


def test_sharegpt_histogram_and_placement() -> None:
    # the 1,600 requests of DistServe's measured ShareGPT run (distserve-c21d12-1600-16.exp): prompt mean 758.7,
    # output mean 186.1 tokens (binned by 128 tokens, each bin at its own mean)
    w = disagg.sharegpt_opt13b_workload()
    assert w.prompt.mean == pytest.approx(758.7, abs=0.1) and w.output.mean == pytest.approx(186.1, abs=0.1)
    assert sum(c for _, c in disagg.SHAREGPT_OPT13B_PROMPT_HIST) == 1600
    pl = disagg.distserve_placement()
    assert [p.per_gpu_rps for p in pl] == sorted((p.per_gpu_rps for p in pl), reverse=True)
    assert all(p.tp_prefill + p.tp_decode <= 4 for p in pl)
    best = pl[0]
    assert best.per_gpu_rps == pytest.approx(min(best.prefill_rps, best.decode_rps) / 3)


def test_splitwise_measured_time_between_tokens() -> None:
    # splitwise-sim data/perf_model.csv, Llama-2-70B on H100 TP 8, batch 1: 29.819 ms at 1024, 31.227 ms at 2048
    # prompt tokens -> 30.47 ms at 1500; the 1500-token KV cache is 1500 x 327,680 B = 491.5 MB
    hw = catalog.get_hardware("h100-sxm")
    link = disagg.kv_link(hw, hw, "network", 1, 1)
    t_kv = 1500 * 327_680 / link.bandwidth_bytes_per_s + link.latency_s
    assert disagg.splitwise_second_token() == pytest.approx(t_kv / 30.473e-3, rel=1e-3)
    # the A100 setup (200 Gb/s stated; 44.781 and 45.511 ms measured at 1024 and 2048 -> 45.12 ms at 1500): 0.63,
    # the published 0.64 — the paper does not say which setup its 64 % is from
    t_a100 = 1500 * 327_680 / (0.7 * 200e9 / 8) + link.latency_s
    assert disagg.splitwise_second_token("a100") == pytest.approx(t_a100 / 45.118e-3, rel=1e-3)


def test_prefill_first_baseline_shows_the_interference() -> None:
    # DistServe Figure 1 setup: whole-prompt prefill iterations (vLLM 0.2) stall decodes, so the colocated GPU
    # serves fewer requests within the goals than the planner's replica, whose iterations carry the decodes along
    # with the prompt (Sarathi-Serve / vLLM >= 0.6), and the disaggregation gain grows from ~1.0x to 1.37x
    f1 = disagg.distserve_fig1()
    assert f1["colocated"] < 0.8 * f1["colocated_mixed"]
    assert 1.0 / (1.0 / f1["prefill"] + 1.0 / f1["decode"]) / f1["colocated_mixed"] < f1["gain"]


def test_prefill_first_tpot_equations() -> None:
    # at no load TPOT is the decode step alone (Little's law: the batch tends to 0, the model's continuous
    # relaxation); under load the stalls of D(a n) per prefill iteration raise it, and the P90 sits above the
    # median (Poisson count of stalls during a request)
    s = disagg._anchor_scenario("opt-13b", "a100-80gb-sxm", (512, 64), (0.4, 2.92), 1)
    st = disagg._setup(s)
    rep = st.decode[1].replica  # type: ignore[union-attr]
    t_d1 = float(rep.iteration_s(0.0, 0.0, 0.0))
    assert disagg.prefill_first_tpot_s(rep, 512, 64, 1e-6) == pytest.approx(t_d1, rel=1e-3)
    lo, hi = (disagg.prefill_first_tpot_s(rep, 512, 64, 3.0, q) for q in (0.5, 0.9))
    assert t_d1 < lo < hi
    assert disagg.prefill_first_tpot_s(rep, 512, 64, 1e4) == math.inf  # past saturation
    # the Poisson quantile: P(N <= 0) = e^-1 = 0.37 < 0.5 <= P(N <= 1) = 0.74 for a mean of 1
    assert disagg._poisson_quantile(1.0, 0.5) == 1.0 and disagg._poisson_quantile(1.0, 0.3) == 0.0


def test_anchor_file_rows_have_sources(checks: dict[str, disagg.AnchorCheck]) -> None:
    assert len(checks) >= 12
    assert all(("DistServe" in c.source) != ("Splitwise" in c.source) for c in checks.values())


def test_splitwise_direction_coding_needs_more_prefill(checks: dict[str, disagg.AnchorCheck]) -> None:
    # Splitwise §VI-B: "we provision more prompt machines under Splitwise-HH (35P, 5T) for the coding trace,
    # while we provision more token machines (25P, 15T) for the conversation trace"
    assert checks["pd-splitwise-hh-coding"].predicted > checks["pd-splitwise-hh-conversation"].predicted


def test_azure_trace_histograms_keep_the_trace_statistics() -> None:
    # github.com/Azure/AzurePublicDataset data/AzureLLMInferenceTrace_{code,conv}.csv (commit 7909210): 8,819 coding
    # requests, prompt mean 2,047.8 and output mean 27.9 tokens; 19,366 conversation requests, 1,154.7 and 211.1
    # (splitwise-sim generate_trace.py's docstrings: code 2048 / 28, conv 1155 / 211); the paper's medians (§III-A):
    # coding 1500 (1,469 in the released subset) and 13, conversation 1020 and 129
    for trace, hists, n, (pm, om), (pmed, omed) in (
            ("code", (disagg.AZURE_CODE_PROMPT_HIST, disagg.AZURE_CODE_OUTPUT_HIST), 8819, (2047.8, 27.9), (1404, 12)),
            ("conv", (disagg.AZURE_CONV_PROMPT_HIST, disagg.AZURE_CONV_OUTPUT_HIST), 19366, (1154.7, 211.1),
             (967, 142))):
        assert all(sum(c for _, c in h) == n for h in hists)
        w = disagg.azure_trace_workload(trace)
        assert (w.prompt.mean, w.output.mean) == (pytest.approx(pm, rel=2e-3), pytest.approx(om, rel=1e-2))
        # the histogram's median is the mean of the bin holding the data's median (coding 1469 in 1280-1536 and 13 in
        # 12-14; conversation 1020 in 768-1024 and 129 in 128-160)
        assert (float(w.prompt.quantile(0.5)), float(w.output.quantile(0.5))) == (pmed, omed)


def test_splitwise_performance_model_lines() -> None:
    # splitwise-sim data/perf_model.csv, BLOOM-176B TP 8, medians by batch tokens: a 2048-token prompt 251.964 ms on
    # H100 and 536.055 ms on A100; interp1d extrapolates the first segment below 128 tokens (the token line at one
    # sequence: 35.739 - (36.154 - 35.739) x 127 / 128 = 35.327 ms)
    assert disagg._splitwise_line_s("h100_prompt", 2048) == pytest.approx(0.251964)
    assert disagg._splitwise_line_s("a100_prompt", 1536) == pytest.approx((287.467 + 536.055) / 2e3)
    assert disagg._splitwise_line_s("h100_token", 1) == pytest.approx(35.327e-3, rel=1e-4)
    # the replica model: prompts up to 2048 tokens take the line exactly; 4096 and 8192 (two and four chunks plus the
    # fitted attention term, 1.82e-8 s per query-key pair) 580 and 1466 ms against the measured 649.6 and 1411.6 ms
    pre, dec = disagg._splitwise_replicas(disagg.azure_trace_workload("conv"))
    for n in (128.0, 1024.0, 1500.0, 2048.0):
        assert float(pre.prefill_alone_s(n)) == pytest.approx(float(disagg._splitwise_line_s("h100_prompt", n)),
                                                               rel=1e-3)
    assert disagg.splitwise_attention_s_per_pair() == pytest.approx(1.82e-8, rel=0.01)
    assert float(pre.prefill_alone_s(4096.0)) == pytest.approx(0.580, rel=0.01)
    assert float(pre.prefill_alone_s(8192.0)) == pytest.approx(1.466, rel=0.01)
    # token machine: 8 x 80 GiB - 329 GB = 358.2 GB for KV at 4,014,080 B/token (2 x 70 x 14336 x 2 B): 89,234
    # tokens; a conversation request books 1,154.7 + 1 + 211.1 tokens -> 65 slots
    assert dec.max_batch == 65
    assert float(dec.iteration_s(40.0, 0.0, 0.0)) == pytest.approx(float(disagg._splitwise_line_s("h100_token", 40)))


def test_splitwise_slos_are_table_6() -> None:
    # splitwise-sim notebooks/plots.ipynb get_slo: TTFT 2 / 3 / 6, TBT and E2E 1.25 / 1.5 / 5 at P50 / P90 / P99
    assert disagg.SPLITWISE_SLO_SLOWDOWNS == ((0.5, 2.0, 1.25, 1.25), (0.9, 3.0, 1.5, 1.5), (0.99, 6.0, 5.0, 5.0))
    assert disagg.SPLITWISE_HH_TOKEN_SWEEP == (5, 10, 15, 20, 25, 30, 35)


def test_mgc_wait_is_mm1_for_one_exponential_server() -> None:
    # c = 1 and c_s^2 = 1: P(W > t) = rho exp(-(mu - lambda) t) (M/M/1, e.g. Kleinrock 1975 vol. 1 §3.2)
    svc = -np.log(1.0 - (np.arange(4000) + 0.5) / 4000) * 0.2  # exponential service, mean 0.2 s
    v, w = disagg._mgc_wait(1, np.array([2.5]), svc)
    rho, mu = 2.5 * float(svc.mean()), 1.0 / float(svc.mean())
    assert float(w[0, 0]) == pytest.approx(1.0 - rho, rel=1e-3)
    k = v.shape[1] - 1  # equally likely exponential quantiles of the conditional wait, rate mu - lambda
    assert v[0, 1:] == pytest.approx(-np.log(1.0 - (np.arange(k) + 0.5) / k) / (mu - 2.5), rel=1e-3)


def test_splitwise_provisioning_search() -> None:
    # the iso-power search: the swept splits' best is the paper's, the cluster rate is the smaller pool's; one pool
    # of many machines queues as M/G/c, so it serves more per machine than a few machines do (pooling)
    conv, code = disagg.splitwise_provisioning("conv"), disagg.splitwise_provisioning("code")
    assert (40 - conv.best_token, conv.best_token) == (25, 15)
    assert (40 - code.best_token, code.best_token) == (35, 5)
    # 35P:5T is the sweep's edge: with any token count the coding trace would take 37P:3T (the paper's Figure 12,
    # iso-throughput at 70 requests/s, picks 27P:3T); conversation would take 23P:17T
    assert code.unconstrained_ratio == pytest.approx(37 / 3)
    assert conv.unconstrained_ratio == pytest.approx(23 / 17)
    # requests/s within the nine SLOs: conversation 126.5 (Figure 17 calls 130 requests/s a high load), coding 107
    assert conv.cluster_rps == pytest.approx(126.5, rel=0.02)
    assert code.cluster_rps == pytest.approx(107.0, rel=0.02)
    by_t = {t: (p, d) for t, p, d in code.splits}
    assert by_t[5][0] / 35 > 1.3 * by_t[35][0] / 5  # prompt pool: 3.05 per machine of 35, 2.25 of 5
    # conversation: both pools reach the top of the load grid (97 % of capacity) before an SLO binds, so the split
    # is the capacity balance (prompt 6.04, token 8.44 requests/s per machine); coding: P90 TTFT binds the prompt pool
    conv_t = {t: (p, d) for t, p, d in conv.splits}
    assert conv_t[15][1] / 15 == pytest.approx(conv_t[3][1] / 3) and conv_t[15][0] / 25 == pytest.approx(6.04, rel=0.01)


# ------------------------------------------------------------------ the default scenario


def test_default_scenario_comparison(default_pair: tuple[capacity.CapacityPlan, disagg.DisaggPlan]) -> None:
    colo, p = default_pair
    s = colo.scenario
    # the same goals: both plans meet them
    assert p.ttft_p95_s <= s.slo.ttft_p95_s and p.e2e_p95_s <= s.slo.e2e_p95_s
    assert p.colocated_monthly_cost_usd == colo.mode_check("realtime").monthly_cost_usd
    assert p.colocated_ttft_p95_s == colo.ttft_p95_s
    # pinned (bench/bench_disagg.py prints the same): Llama-3.1-70B bf16 on H100 p5.48xlarge, 2M requests/day,
    # 1000 + 250 tokens, vLLM's calibrated factors on NVIDIA: prefill TP 2 and decode TP 4 sharing nodes over
    # NVLink, 21P:4D; disaggregation costs ~23 % more than chunked-prefill colocated serving (vLLM's docs:
    # "Disaggregated prefill DOES NOT improve throughput")
    assert (p.prefill.tp, p.decode.tp, p.ratio_text, p.link.kind) == (2, 4, "21P:4D", "nvlink")
    assert p.cost_ratio == pytest.approx(1.229, rel=0.05)
    assert p.capacity_ratio == pytest.approx(p.decode.max_rps_per_instance / p.prefill.max_rps_per_instance)
    # the KV cache of the mean prompt crosses NVLink: bytes / (0.7 x lanes x 450 GB/s) + the fitted link latency,
    # the lanes those of the smaller pool's instance (prefill TP 2)
    lat = performance.efficiency_for_scenario(s).link_latency_s
    kv = memory.kv_cache_bytes_per_token(catalog.get_model("llama-3.1-70b"), "bf16") * colo.input_tokens_mean
    assert p.kv_bytes_mean == pytest.approx(kv, rel=1e-9)
    assert p.kv_transfer_s_mean == pytest.approx(kv / (0.7 * min(p.prefill.tp, p.decode.tp) * 450e9) + lat,
                                                 rel=1e-9)
    # the pools' costs add up; TTFT includes the transfer (the prefill pool's TTFT is the plan's)
    assert p.prefill.monthly_cost_usd + p.decode.monthly_cost_usd == pytest.approx(p.monthly_cost_usd)
    assert p.prefill.ttft_p95_s == p.ttft_p95_s
    assert 0 < p.tpot_s <= p.tpot_budget_s


def test_ttft_grows_with_a_slower_link() -> None:
    base = Scenario().replace(serving={"disaggregated": True, "prefill_tp": 4, "decode_tp": 4, "kv_link": "network"})
    nv = disagg.plan(base.replace(serving={**base.serving.model_dump(), "kv_link": "nvlink"}))
    net = disagg.plan(base)
    assert net.link.kind == "network" and nv.link.kind == "nvlink"
    # 0.7 x 4 x 50 GB/s against 0.7 x 4 x 450 GB/s: nine times slower, plus a 5x latency (the fitted NVLink one)
    lat = performance.efficiency_for_scenario(base).link_latency_s
    assert net.kv_transfer_s_mean - 5 * lat == pytest.approx(9 * (nv.kv_transfer_s_mean - lat), rel=1e-6)
    assert net.prefill.max_rps_per_instance <= nv.prefill.max_rps_per_instance


def test_heterogeneous_prefill_pool() -> None:
    s = Scenario().replace(serving={"disaggregated": True, "prefill_hardware_id": "h200"})
    p = disagg.plan(s)
    assert p.prefill.hardware_id == "h200" and p.decode.hardware_id == "h100-sxm"
    assert p.link.kind == "network"  # two machines
    assert p.prefill.instance_id != p.decode.instance_id
    assert math.isfinite(p.monthly_cost_usd) and p.monthly_cost_usd > 0


def test_unmeetable_goal_is_an_input_error() -> None:
    s = Scenario().replace(serving={"disaggregated": True}, slo={"ttft_p95_s": 0.01, "e2e_p95_s": 30.0})
    with pytest.raises(InvalidInputError, match="no disaggregated layout"):
        disagg.plan(s)


# ------------------------------------------------------------------ scenario, report, page


def test_scenario_fields_round_trip_in_links() -> None:
    s, ignored = from_query_params({"pd": "1", "pdhw": "h200", "pdkv": "network", "pdtp": "2", "pddtp": "8"})
    assert ignored == []
    sv = s.serving
    assert (sv.disaggregated, sv.prefill_hardware_id, sv.kv_link, sv.prefill_tp, sv.decode_tp) == (
        True, "h200", "network", 2, 8)
    assert to_query_params(s) == {"pd": "true", "pdhw": "h200", "pdkv": "network", "pdtp": "2", "pddtp": "8"}
    _, bad = from_query_params({"pdkv": "carrier-pigeon"})
    assert bad and bad[0].startswith("pdkv=")


def test_capacity_report_has_the_comparison(default_pair: tuple[capacity.CapacityPlan, disagg.DisaggPlan]) -> None:
    from estimator import report

    colo, p = default_pair
    rows = {r.name: r.value for r in report.REPORTS["capacity"](colo.scenario, colo).rows}
    assert rows["disagg_ratio"] == p.ratio_text
    assert rows["disagg_monthly_cost_usd"] == p.monthly_cost_usd
    assert rows["disagg_colocated_monthly_cost_usd"] == p.colocated_monthly_cost_usd
    assert rows["disagg_kv_transfer_s"] == p.kv_transfer_s_mean
    assert rows["disagg_mode"].startswith("disaggregated (chosen")  # the scenario has serving.disaggregated on
    off = colo.scenario.replace(serving={"disaggregated": False})
    rows_off = {r.name: r.value for r in report.REPORTS["capacity"](off, capacity.plan(off)).rows}
    assert rows_off["disagg_mode"].startswith("colocated")


def test_capacity_page_shows_the_section() -> None:
    at = AppTest.from_file("../pages/capacity.py", default_timeout=60)
    at.query_params["pd"] = "true"  # the encoding links carry (to_query_params)
    at.run()
    assert not at.exception
    assert any(m.label == "Best ratio (prefill : decode)" for m in at.metric)
    assert any("disaggregated prefill/decode" in e.label for e in at.expander)
    assert any("Plan in force: disaggregated" in m.value for m in at.success)
    at.selectbox(key="pdkv").set_value("network").run()
    assert not at.exception


def test_multi_node_layouts_use_pipeline_parallel() -> None:
    # DeepSeek-V3 in fp8 needs 85.5 GB per GPU on 8 x H100 (memory model): the colocated planner's smallest
    # layout is TP 8 x PP 2 over two nodes, and both pools take it; the KV cache then crosses the network
    s = Scenario().replace(model={"model_id": "deepseek-v3", "weight_dtype": "fp8", "kv_dtype": "fp8"})
    p = disagg.plan(s)
    assert (p.prefill.tp, p.prefill.pp, p.decode.tp, p.decode.pp) == (8, 2, 8, 2)
    assert p.link.kind == "network"
    # 16 GPUs send their shards in parallel: 0.7 x 16 x 50 GB/s
    assert p.link.bandwidth_bytes_per_s == pytest.approx(0.7 * 16 * 50e9)


def test_capacity_comparison_table_has_colocated_disaggregated_and_speculative_rows() -> None:
    # Issue 14 "done when": the capacity planner's comparison table shows colocated vs disaggregated and with
    # vs without speculation for the default scenario.
    from estimator import entrypoints, speculative
    from estimator.scenario import Scenario
    from pages._serving import disagg_table

    plan = entrypoints.compute("capacity", Scenario())
    table = disagg_table(disagg.plan(plan.scenario, plan), plan, speculative.for_plan(plan))
    names = list(table["serving"])
    assert names[0] == "colocated" and names[1].startswith("disaggregated") and "eagle3" in names[2]
