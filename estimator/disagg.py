"""Disaggregated prefill/decode serving (xPyD): separate pools, the KV cache sent between them.

What it answers
---------------
Given a :class:`~estimator.scenario.Scenario`, :func:`plan` sizes two pools instead of one colocated
fleet: **prefill instances** (``x``) that compute each prompt and its first token, sized for the
TTFT goal, and **decode instances** (``y``) that receive the prompt's KV cache and generate the rest
of the reply, sized for the end-to-end goal (hence a time-per-output-token budget). Each pool has
its own accelerator (``serving.prefill_hardware_id``; the decode pool uses ``deploy.hardware_id``)
and tensor-parallel degree. The KV cache crosses a link (NVLink, InfiniBand/RoCE/EFA, PCIe) whose
time is part of TTFT. The result, :class:`DisaggPlan`, gives the best ``x:y`` ratio for the traffic
and goals, the pool sizes, the monthly cost, p95 TTFT, TPOT, the KV bytes and seconds per request,
and the same numbers for colocated serving (:func:`estimator.capacity.plan`) at the same goals.

Model
-----
Both pools reuse the planner's validated pieces: the replica iteration model
(:func:`estimator.simulate.replica_model`, fitted to :mod:`estimator.performance`'s roofline), the
continuous-batching queueing model (:func:`estimator.capacity.queue_metrics`: chunked prefill,
M/G/1 with vacations, Erlang C slot waits) and the planner's autoscaled weekly fleet.

- **Prefill instance**: a replica whose requests end at their first token (output of one token),
  so it only prefills; prompts that arrive together are batched up to the engine's token budget
  (DistServe §3.1 batches prefill only up to the compute-bound length; the queue becomes M/D/1
  for uniform prompts, its Eq. 1). ``TTFT = queue TTFT + t_kv``.
- **KV transfer**: ``t_kv = KV(n) / (e_comm min(t_p B_p, t_d B_d)) + latency`` with ``KV(n)`` the
  prompt's KV-cache bytes (:func:`estimator.memory.kv_cache_bytes`), ``t`` the tensor-parallel
  degrees (each GPU sends its own shard over its own link) and ``B`` the per-GPU, per-direction
  link bandwidth from ``data/hardware.csv`` (:func:`link_per_gpu`). Not overlapped with the
  prefill (conservative: Splitwise, Patel et al. ISCA 2024 §IV-C, overlaps it layer by layer).
- **Decode instance**: the transferred KV cache enters like a prefix-cache hit
  (``DECODE_KV_HIT_RATE`` of the prompt cached: only its last token is computed there), then the
  reply is decoded with continuous batching; its p95 end-to-end time must fit in what the prefill
  side leaves of the end-to-end goal.
- **Fleet**: ``n_h = ceil(lambda_h / lambda*)`` per pool and hour under the scenario's autoscaling
  (``capacity._fleet``); the same accelerator in both pools shares instances (devices packed),
  different accelerators rent their own. ``x:y = lambda*_d : lambda*_p`` (requests/s each instance
  serves within the goals), reduced to small integers.

Published anchors (:func:`anchor_checks`, ``bench/bench_disagg.py``) test the disaggregation and queueing model,
not the roofline: where a paper's 2023 engine was slower than this planner's calibrated roofline, the anchor uses
the authors' own published per-iteration latencies (DistServe's profiles, :data:`DISTSERVE_OPT13B_A100`, through
:func:`profiled_replica`; Splitwise's measured time between tokens, :data:`SPLITWISE_TBT_MS`), and DistServe's goals
are read at P90 (:func:`ttft_quantile_s`), not the planner's p95. The colocated baseline of DistServe's Figure 1 is
modelled as the paper ran it, vLLM 0.2 with whole-prompt prefill iterations that stall the decodes
(:func:`prefill_first_tpot_s`); the DistServe simulator's published placement (:func:`distserve_placement`) is
searched as the simulator does, one prefill and one decode instance per node; Splitwise's serialized transfer
crosses the 400 Gb/s link the paper states, as one stream; Splitwise's pool ratios come from its own iso-power
search (:func:`splitwise_provisioning`: BLOOM-176B, the simulator's measured performance model, memory and SLOs,
the Azure traces, the most requests/s from 40 machines), not from :func:`plan`, whose objective differs (the
cheapest pair per request/s at the scenario's p95 goals, independent per-instance queues).

Sources: Zhong et al., "DistServe", OSDI 2024 (arXiv:2401.09670) §2-3 (goodput, M/D/1 prefill, KV
transfer bandwidth); Patel et al., "Splitwise", ISCA 2024 (arXiv:2311.18677) §IV (phase split, KV
transfer over InfiniBand); the planner's own sources (:mod:`estimator.capacity`). Units: SI inside
(bytes, seconds, requests/s), USD.
"""

from __future__ import annotations

import csv
import functools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator import capacity, catalog, engines, memory, performance, pricing
from estimator.anchors import AnchorCheck
from estimator.capacity import CapacityPlan, Workload
from estimator.errors import DoesNotFitError, EstimatorError, InvalidInputError
from estimator.scenario import InferenceMode, Scenario
from estimator.simulate import ReplicaModel, replica_model
from estimator.specs import HardwareSpec, Instance, ModelSpec
from estimator.traffic import TokenDistribution
from estimator.units import DType

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "DECODE_KV_HIT_RATE",
    "DISTSERVE_OPT13B_A100",
    "GOAL_QUANTILE",
    "AnchorCheck",
    "IterationProfile",
    "Placement",
    "distserve_fig1",
    "distserve_placement",
    "profiled_replica",
    "sharegpt_opt13b_workload",
    "SplitwiseProvisioning",
    "azure_trace_workload",
    "splitwise_provisioning",
    "ttft_quantile_s",
    "anchor_checks",
    "LINK_KINDS",
    "DisaggPlan",
    "KvLink",
    "PoolPlan",
    "kv_link",
    "kv_transfer_bytes",
    "kv_transfer_s",
    "link_per_gpu",
    "clear_cache",
    "plan",
    "required_link_bytes_per_s",
]

LINK_KINDS: tuple[str, ...] = ("auto", "nvlink", "network", "pcie")
"""KV-cache links: ``nvlink`` (the accelerator's intra-node link, both instances in one node),
``network`` (InfiniBand/RoCE/EFA: the per-GPU share of the node's NICs), ``pcie`` (the PCIe link
of a PCIe card), ``auto`` (intra-node when both pools use one accelerator and fit in a node)."""

DECODE_KV_HIT_RATE: float = 0.999
"""Share of the prompt a decode instance finds in its KV cache (received from the prefill instance):
it computes only ``max(round(n (1 - h)), 1)`` tokens, one or a few (the queueing model's prefix-cache
rule with ``h`` just below 1, which it requires)."""

_CACHE_SIZE = 16


class KvLink(BaseModel):
    """The link the KV cache crosses from a prefill to a decode instance (bytes/s, seconds)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    per_gpu_bytes_per_s: float = Field(gt=0, description="per direction, prefill side's GPU link")
    bandwidth_bytes_per_s: float = Field(gt=0, description="effective: e_comm x min(t_p B_p, t_d B_d)")
    latency_s: float = Field(ge=0)


class PoolOption(BaseModel):
    """One tensor-parallel degree considered for a pool."""

    model_config = ConfigDict(frozen=True)

    tp: int
    feasible: bool
    max_rps_per_instance: float = 0.0
    usd_per_rps_month: float | None = None
    reason: str = ""


class PoolPlan(BaseModel):
    """One pool (prefill or decode): what runs, how much each instance serves, the fleet and its cost."""

    model_config = ConfigDict(frozen=True)

    role: str
    hardware_id: str
    hardware_name: str
    instance_id: str
    instance_type: str
    accelerators_per_instance: int
    price_usd_per_instance_h: float
    tp: int
    pp: int = 1
    max_batch: int
    saturation_rps: float
    slo_rps: float
    max_rps_per_instance: float = Field(description="plan load: SLO, target utilization and slot limits")
    ttft_p95_s: float
    e2e_p95_s: float
    tpot_s: float
    peak_instances: int
    mean_instances: float
    monthly_cost_usd: float
    options: tuple[PoolOption, ...]


class DisaggPlan(BaseModel):
    """Disaggregated serving of a scenario and colocated serving at the same goals (SI units, USD)."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    model_name: str
    input_tokens_mean: float = Field(description="mean prompt tokens planned (the scenario's distribution)")
    prefill: PoolPlan
    decode: PoolPlan
    ratio_prefill: int = Field(ge=1)
    ratio_decode: int = Field(ge=1)
    capacity_ratio: float = Field(gt=0, description="lambda*_d / lambda*_p: prefill instances per decode instance")
    link: KvLink
    kv_bytes_per_token: float
    kv_bytes_mean: float = Field(description="KV cache sent per request at the mean prompt")
    kv_bytes_p95: float
    kv_transfer_s_mean: float
    kv_transfer_s_p95: float
    kv_link_utilization_peak: float = Field(description="KV traffic at the peak over the pool's link capacity")
    ttft_goal_s: float
    e2e_goal_s: float
    tpot_budget_s: float = Field(description="(e2e goal - TTFT p95) / (p95 output - 1)")
    ttft_p95_s: float
    e2e_p95_s: float
    tpot_s: float
    monthly_cost_usd: float
    cost_usd_per_million_output_tokens: float
    peak_accelerators: int
    colocated_monthly_cost_usd: float | None
    colocated_ttft_p95_s: float | None
    colocated_e2e_p95_s: float | None
    colocated_tpot_s: float | None
    colocated_peak_accelerators: int | None
    colocated_tp: int | None
    colocated_note: str = ""
    notes: tuple[str, ...] = ()

    @property
    def ratio_text(self) -> str:
        return f"{self.ratio_prefill}P:{self.ratio_decode}D"

    @property
    def cost_ratio(self) -> float | None:
        """Disaggregated over colocated monthly cost (< 1: disaggregation is cheaper)."""
        c = self.colocated_monthly_cost_usd
        return self.monthly_cost_usd / c if c else None


# ----------------------------------------------------------------------------- KV transfer


def kv_transfer_bytes(model: ModelSpec, prompt_tokens: npt.ArrayLike, kv_dtype: DType | str) -> FloatArray:
    """Bytes of KV cache a prefill instance sends for a prompt of ``n`` tokens.

    ``KV(n) = kv_per_token x T_kv(n)``, ``kv_per_token = 2 L h_kv d_h s`` (K and V, ``L`` layers,
    ``h_kv`` KV heads of ``d_h``, ``s`` bytes per element; MLA: the latent) and ``T_kv`` the cached
    positions (window-capped), :func:`estimator.memory.kv_cache_bytes`. DistServe §3.3: 512 tokens of
    OPT-66B (64 layers, 72 x 128 heads, fp16) are 2 x 64 x 9216 x 2 x 512 = 1.21e9 B ("1.13GB" = GiB).
    """
    return np.asarray(memory.kv_cache_bytes(model, np.asarray(prompt_tokens, dtype=float), kv_dtype), dtype=float)


def kv_transfer_s(kv_bytes: npt.ArrayLike, bandwidth_bytes_per_s: float, latency_s: float = 0.0) -> FloatArray:
    """Seconds to send ``kv_bytes`` over a link: ``t_kv = bytes / bandwidth + latency`` (bytes/s, s)."""
    if not (bandwidth_bytes_per_s > 0 and math.isfinite(bandwidth_bytes_per_s)):
        raise InvalidInputError(f"link bandwidth must be a positive number of bytes/s, got {bandwidth_bytes_per_s}")
    return np.asarray(kv_bytes, dtype=float) / bandwidth_bytes_per_s + latency_s


def required_link_bytes_per_s(kv_bytes: float, arrival_rps: float) -> float:
    """Sustained link bandwidth the KV traffic needs: ``KV bytes per request x requests/s`` (bytes/s).

    DistServe §3.3: 1.13 GB x 10 requests/s = 11.3 GB/s, "or equivalently 90Gbps".
    """
    return float(kv_bytes) * float(arrival_rps)


def link_per_gpu(hw: HardwareSpec, kind: str) -> tuple[float, str]:
    """Per-GPU, per-direction bandwidth (bytes/s) of a link kind on ``hw``, and its name.

    ``data/hardware.csv`` stores ``intra_node_gbps`` as the bidirectional aggregate (NVLink 4: 900 GB/s;
    PCIe 5 x16: 128 GB/s), so one direction is half (the convention of ``performance.link_for``);
    ``inter_node_gbps`` is the node's NIC line rate per GPU, per direction (H100: 3200 Gb/s EFA / 8 =
    50 GB/s). ``nvlink`` needs an NVLink/fabric intra-node link, ``pcie`` a PCIe one.
    """
    intra = performance._link_kind(hw.intra_node_link)
    if kind == "network":
        if hw.inter_node_bandwidth_bytes_per_s <= 0:
            raise InvalidInputError(f"the catalog gives no network bandwidth for {hw.name}")
        return hw.inter_node_bandwidth_bytes_per_s, "network"
    want = {"nvlink": ("nvlink", "fabric"), "pcie": ("pcie",)}.get(kind)
    if want is None:
        raise InvalidInputError(f"unknown KV link {kind!r}; choose one of {', '.join(LINK_KINDS)}")
    if intra not in want or hw.intra_node_bandwidth_bytes_per_s <= 0:
        raise InvalidInputError(f"{hw.name}'s intra-node link is {hw.intra_node_link}, not {kind}; choose 'network' "
                                "or 'auto'")
    return hw.intra_node_bandwidth_bytes_per_s / 2.0, hw.intra_node_link


def kv_link(prefill_hw: HardwareSpec, decode_hw: HardwareSpec, kind: str, prefill_tp: int, decode_tp: int,
            efficiency: performance.Efficiency | None = None) -> KvLink:
    """The KV link between a prefill instance of ``prefill_tp`` GPUs and a decode instance of ``decode_tp``.

    ``auto``: the intra-node link when both pools use the same accelerator and ``t_p + t_d`` fit in a
    node (DistServe §4.2 places the two in one node to use NVLink), else ``network``. Effective
    bandwidth ``e_comm min(t_p B_p, t_d B_d)`` (each GPU sends its shard of the heads in parallel;
    ``e_comm`` = ``performance.COMMUNICATION_EFFICIENCY`` unless overridden); latency
    ``performance.LINK_LATENCY_S x LINK_LATENCY_RATIO[kind]``.
    """
    eff = efficiency or performance.Efficiency()
    if kind == "auto":
        same = prefill_hw.hardware_id == decode_hw.hardware_id
        kind = (_intra_kind(prefill_hw) if same and prefill_tp + decode_tp <= prefill_hw.max_per_node
                and prefill_hw.intra_node_bandwidth_bytes_per_s > 0 else "network")
    elif kind in ("nvlink", "pcie") and prefill_hw.hardware_id != decode_hw.hardware_id:
        raise InvalidInputError(f"{kind} joins GPUs inside one node; prefill on {prefill_hw.name} and decode on "
                                f"{decode_hw.name} are different machines: choose 'network' or 'auto'")
    bw_p, name = link_per_gpu(prefill_hw, kind)
    bw_d, _ = link_per_gpu(decode_hw, kind)
    total = eff.communication * min(prefill_tp * bw_p, decode_tp * bw_d)
    ratio = performance.LINK_LATENCY_RATIO["network" if kind == "network" else performance._link_kind(name)]
    return KvLink(kind=kind, name=name, per_gpu_bytes_per_s=bw_p, bandwidth_bytes_per_s=total,
                  latency_s=eff.link_latency_s * ratio)


def _intra_kind(hw: HardwareSpec) -> str:
    k = performance._link_kind(hw.intra_node_link)
    return "pcie" if k == "pcie" else "nvlink" if k in ("nvlink", "fabric") else "network"


# ----------------------------------------------------------------------------- pools


@dataclass(frozen=True)
class _Curve:
    """One instance of a pool: replica model, saturation and p95 latencies on the planner's load grid."""

    tp: int
    pp: int
    replica: ReplicaModel
    sat: float
    loads: FloatArray
    ttft: FloatArray
    e2e: FloatArray
    tpot: FloatArray
    occupancy_cap: float

    @property
    def devices(self) -> int:
        return self.tp * self.pp


@dataclass(frozen=True)
class _Load:
    """A curve's plan load within the goals: SLO load, plan load (requests/s) and p95 totals on the grid (s)."""

    curve: _Curve
    lam_slo: float
    lam_cap: float
    ttft: FloatArray
    e2e: FloatArray

    def at(self, arr: FloatArray, rps: float) -> float:
        """``arr`` (a latency on the load grid) at ``rps`` per instance, the top of the curve beyond it."""
        finite = np.where(np.isfinite(arr), arr, np.nan)
        fill = float(np.nanmax(finite)) if np.any(np.isfinite(finite)) else math.inf
        return float(np.interp(rps, self.curve.loads, np.nan_to_num(finite, nan=fill)))


@dataclass(frozen=True)
class _Pool:
    """A pool's layout, instance and price, plan load and weekly fleet."""

    role: str
    hw: HardwareSpec
    inst: Instance
    price: float
    load: _Load
    fleet: capacity._Fleet
    options: tuple[PoolOption, ...]


def _prefill_saturation_rps(replica: ReplicaModel, workload: Workload) -> float:
    """Largest arrival rate (requests/s) a prefill-only instance sustains: ``1 / E[D(n)]``.

    ``D(n)`` is the prompt's prefill on the idle replica without the request overhead (admission and HTTP
    overlap other prompts' compute), the mean over the prompt quadrature: the M/D/1 utilization
    ``R D < 1`` of DistServe §3.1 Eq. 1 for a mix of lengths. (The colocated planner's saturation is the
    decode slots' limit, which a replica that never decodes does not reach.)
    """
    _ctx, pref = workload._prompt_points(64)
    d = np.asarray(replica.prefill_alone_s(pref), dtype=float) - replica.request_overhead_s
    return 1.0 / max(float(np.mean(d)), 1e-12)


def _replica(inp: capacity._Inputs, hw: HardwareSpec, layout: tuple[int, int], context: int) -> ReplicaModel:
    """The planner's replica model (``simulate.replica_model``) of one instance of ``layout`` = (tensor, pipeline)."""
    s, a = inp.s, inp.s.assumptions
    tp, pp = layout
    es = engines.for_scenario(s, hw, tp)
    return replica_model(
        inp.model, hw, s.model.weight_dtype, tp=tp, pp=pp, kv_dtype=s.model.kv_dtype, context_tokens=context,
        efficiency=capacity._efficiency(s, hw), memory_utilization=capacity._utilization(s, inp.model, hw, tp, pp),
        runtime_overhead_bytes=a.runtime_overhead_gb * 1e9, max_num_seqs=es.max_seqs,
        token_budget=es.prefill_chunk_tokens)


def _curve(inp: capacity._Inputs, hw: HardwareSpec, layout: tuple[int, int], workload: Workload, context: int,
           prefill_only: bool = False) -> _Curve:
    """Replica model (``simulate.replica_model``) and queueing curve (``capacity.queue_metrics``) of one instance
    of ``layout`` = (tensor parallel, pipeline parallel)."""
    tp, pp = layout
    replica = _replica(inp, hw, layout, context)
    sat = _prefill_saturation_rps(replica, workload) if prefill_only else capacity.saturation_rps(replica, workload)
    loads = np.asarray(capacity.LOAD_GRID_FRACTIONS) * sat
    q = capacity.queue_metrics(replica, loads, workload, saturation=sat)
    occ = np.asarray(q.occupancy, dtype=float)
    limit = capacity.SLOT_OCCUPANCY_LIMIT * replica.max_batch
    occ_cap = float(np.interp(limit, occ, loads)) if occ[-1] > limit else float(loads[-1])
    return _Curve(tp=tp, pp=pp, replica=replica, sat=sat, loads=loads, ttft=np.asarray(q.ttft_p95_s, dtype=float),
                  e2e=np.asarray(q.e2e_p95_s, dtype=float), tpot=np.asarray(q.tpot_s, dtype=float),
                  occupancy_cap=occ_cap)


def _pool_scenario(s: Scenario, hw: HardwareSpec) -> Scenario:
    """The scenario with the pool's accelerator (its own cheapest instance when it differs)."""
    if hw.hardware_id == s.deploy.hardware_id:
        return s
    return s.replace(deploy=s.deploy.model_copy(update={"hardware_id": hw.hardware_id, "instance_id": ""}))


def _tps(inp: capacity._Inputs, hw: HardwareSpec, requested: int, context: int) -> list[tuple[int, int]]:
    """Layouts (tensor, pipeline parallel) to try for a pool: the requested degree, or those the colocated planner
    would try (powers of two within a node that fit, else the smallest multi-node layout)."""
    if requested > 0:
        return [(requested, 1)]
    return capacity._tp_candidates(_pool_scenario(inp.s, hw), inp.model, hw, context)


def _price(s: Scenario, hw: HardwareSpec, devices: int) -> tuple[Instance, float]:
    inst = capacity._pick_instance(_pool_scenario(s, hw), hw, devices)
    return inst, pricing.instance_price_usd_per_h(inst, pricing.PricingModel(s.deploy.pricing.value))


def _curves(inp: capacity._Inputs, hw: HardwareSpec, layouts: list[tuple[int, int]], workload: Workload,
            context: int, prefill_only: bool = False) -> dict[int, _Curve | str]:
    """Each layout's curve (by tensor-parallel degree), or why it cannot run."""
    out: dict[int, _Curve | str] = {}
    for tp, pp in layouts:
        try:
            out[tp] = _curve(inp, hw, (tp, pp), workload, context, prefill_only)
        except (InvalidInputError, DoesNotFitError) as exc:
            out[tp] = str(exc)
    return out


def _load(inp: capacity._Inputs, cur: _Curve, goals: tuple[float, float], extra: tuple[float, float]) -> _Load:
    """Plan load ``min(lambda_SLO, u sat, occupancy cap)`` (as the colocated planner) with ``extra`` seconds added
    to the curve's p95 TTFT and end to end; ``goals`` = (TTFT, e2e) in seconds, ``inf`` = not checked."""
    ttft, e2e = cur.ttft + extra[0], cur.e2e + extra[1]
    use_ttft = math.isfinite(goals[0])
    lam_slo = capacity._max_load(cur.loads, ttft, e2e, goals[0], goals[1], use_ttft)
    lam_cap = min(lam_slo, inp.auto.target_utilization * cur.sat, cur.occupancy_cap)
    return _Load(curve=cur, lam_slo=lam_slo, lam_cap=lam_cap, ttft=ttft, e2e=e2e)


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Setup:
    """The scenario resolved for both pools: accelerators, token mixes, KV bytes and each degree's curve."""

    inp: capacity._Inputs
    hw_p: HardwareSpec
    hw_d: HardwareSpec
    kv_per_token: float
    kv_mean: float
    kv_p95: float
    prefill: dict[int, _Curve | str]
    decode: dict[int, _Curve | str]


def _p95(d: TokenDistribution) -> float:
    return float(min(d.p95, d.max_tokens))


def _setup(s: Scenario) -> _Setup:
    """Inputs as the colocated planner reads them, then each pool's candidate curves."""
    inp = capacity._resolve_inputs(s, None, None)
    hw_d = inp.hw
    hw_p = catalog.get_hardware(s.serving.prefill_hardware_id) if s.serving.prefill_hardware_id else hw_d
    memory.require_runnable(hw_p, s.model.weight_dtype)
    one = TokenDistribution.from_mean_p95(1.0, 1.0)
    pre_w = Workload(prompt=inp.din, output=one, prefix_cache_hit_rate=s.traffic.prefix_cache_hit_rate)
    dec_w = Workload(prompt=inp.din, output=inp.dout, prefix_cache_hit_rate=DECODE_KV_HIT_RATE)
    block = engines.for_scenario(s, hw_p).kv_block_tokens
    pre_ctx = math.ceil(engines.resident_tokens(inp.din.mean, 1.0, block))
    kv_tok = memory.kv_cache_bytes_per_token(inp.model, s.model.kv_dtype)
    return _Setup(
        inp=inp, hw_p=hw_p, hw_d=hw_d, kv_per_token=kv_tok,
        kv_mean=float(kv_transfer_bytes(inp.model, inp.din.effective_mean, s.model.kv_dtype)),
        kv_p95=float(kv_transfer_bytes(inp.model, _p95(inp.din), s.model.kv_dtype)),
        prefill=_curves(inp, hw_p, _tps(inp, hw_p, s.serving.prefill_tp, pre_ctx), pre_w, pre_ctx, True),
        decode=_curves(inp, hw_d, _tps(inp, hw_d, s.serving.decode_tp, inp.context), dec_w, inp.context),
    )


@dataclass(frozen=True)
class _Pair:
    """A (prefill, decode) layout pair within the goals and its cost per request/s (USD a month)."""

    pre: _Load
    dec: _Load
    link: KvLink
    usd_per_rps: float
    usd_p: float
    usd_d: float


def _share_usd_per_rps(s: Scenario, hw: HardwareSpec, devices: int, lam: float) -> float:
    """Monthly cost of one instance's share of its machine(s) per request/s it serves."""
    inst, price = _price(s, hw, devices)
    g = inst.accelerator_count
    share = devices / g if devices <= g else math.ceil(devices / g)
    return price * share * capacity.MONTH_OVER_WEEK * 168.0 / lam


def _pair(st: _Setup, cp: _Curve, cd: _Curve) -> _Pair | str:
    """Size one pair: the prefill load within the TTFT goal (KV transfer of the p95 prompt added), then the
    decode load within what the prefill side's p95 TTFT leaves of the end-to-end goal."""
    s = st.inp.s
    link = kv_link(st.hw_p, st.hw_d, s.serving.kv_link, cp.devices, cd.devices, capacity._efficiency(s, st.hw_p))
    t_kv = float(kv_transfer_s(st.kv_p95, link.bandwidth_bytes_per_s, link.latency_s))
    pre = _load(st.inp, cp, (s.slo.ttft_p95_s, math.inf), (t_kv, t_kv))
    if pre.lam_cap <= 0:
        return f"prefill TP {cp.tp} misses the TTFT goal at any load (KV transfer {t_kv * 1e3:,.1f} ms)"
    ttft = pre.at(pre.ttft, pre.lam_cap)
    dec = _load(st.inp, cd, (math.inf, s.slo.e2e_p95_s), (0.0, ttft))
    if dec.lam_cap <= 0:
        return f"decode TP {cd.tp} misses the end-to-end goal after a {ttft:,.2f} s TTFT"
    try:
        usd_p = _share_usd_per_rps(s, st.hw_p, cp.devices, pre.lam_cap)
        usd_d = _share_usd_per_rps(s, st.hw_d, cd.devices, dec.lam_cap)
    except InvalidInputError as exc:
        return str(exc)
    return _Pair(pre=pre, dec=dec, link=link, usd_per_rps=usd_p + usd_d, usd_p=usd_p, usd_d=usd_d)


def _options(curves: dict[int, _Curve | str], best: dict[int, tuple[float, float]],
             why: dict[int, str]) -> tuple[PoolOption, ...]:
    out = []
    for tp, cur in curves.items():
        if tp in best:
            out.append(PoolOption(tp=tp, feasible=True, max_rps_per_instance=best[tp][1], usd_per_rps_month=best[tp][0]))
        else:
            out.append(PoolOption(tp=tp, feasible=False, reason=cur if isinstance(cur, str) else why.get(tp, "")))
    return tuple(out)


def _choose(st: _Setup) -> tuple[_Pair, tuple[PoolOption, ...], tuple[PoolOption, ...]]:
    """The cheapest (prefill TP, decode TP) pair per request/s; ``InvalidInputError`` when none meets the goals."""
    best: _Pair | None = None
    bp: dict[int, tuple[float, float]] = {}
    bd: dict[int, tuple[float, float]] = {}
    why: list[str] = []
    for cp in st.prefill.values():
        for cd in st.decode.values():
            if isinstance(cp, str) or isinstance(cd, str):
                continue
            pr = _pair(st, cp, cd)
            if isinstance(pr, str):
                why.append(pr)
                continue
            if cp.tp not in bp or pr.usd_p < bp[cp.tp][0]:
                bp[cp.tp] = (pr.usd_p, pr.pre.lam_cap)
            if cd.tp not in bd or pr.usd_d < bd[cd.tp][0]:
                bd[cd.tp] = (pr.usd_d, pr.dec.lam_cap)
            if best is None or pr.usd_per_rps < best.usd_per_rps:
                best = pr
    if best is None:
        reasons = [c for c in (*st.prefill.values(), *st.decode.values()) if isinstance(c, str)] + why
        if not reasons:
            reasons = [f"no layout of {st.inp.model.name} fits on {st.hw_p.name} and {st.hw_d.name}"]
        raise InvalidInputError(f"no disaggregated layout of {st.inp.model.name} meets the goals (p95 TTFT "
                                f"{st.inp.s.slo.ttft_p95_s:g} s, end to end {st.inp.s.slo.e2e_p95_s:g} s): "
                                + "; ".join(dict.fromkeys(reasons)))
    no = "does not meet the goals with any layout of the other pool"
    return best, _options(st.prefill, bp, dict.fromkeys(st.prefill, no)), _options(st.decode, bd,
                                                                                      dict.fromkeys(st.decode, no))


@dataclass(frozen=True)
class _Fleets:
    """Both pools' weekly fleets and what they cost (USD per week), the accelerators at the peak hour."""

    pre: _Pool
    dec: _Pool
    weekly_usd: float
    weekly_p_usd: float
    weekly_d_usd: float
    peak_accelerators: int


def _pool(st: _Setup, role: str, hw: HardwareSpec, load: _Load, options: tuple[PoolOption, ...]) -> _Pool:
    inp = st.inp
    inst, price = _price(inp.s, hw, load.curve.devices)
    fleet = capacity._fleet(inp.mean, inp.peak, inp.frac, load.lam_cap, load.lam_slo, load.curve.sat, inp.auto,
                            inp.burst_s, load.curve.devices, inst.accelerator_count, scale_to_zero=False,
                            floor_one=True)
    return _Pool(role=role, hw=hw, inst=inst, price=price, load=load, fleet=fleet, options=options)


def _fleets(st: _Setup, pair: _Pair, opt_p: tuple[PoolOption, ...], opt_d: tuple[PoolOption, ...]) -> _Fleets:
    """Hourly fleets of both pools; on one instance type the two pools' devices share instances.

    ``instances_h = ceil((n_p t_p + n_d t_d) / G)`` for ``G`` accelerators per instance when both pools use
    it (DistServe §4.2 places a prefill and a decode instance in one node); else each pool rents its own.
    """
    pre = _pool(st, "prefill", st.hw_p, pair.pre, opt_p)
    dec = _pool(st, "decode", st.hw_d, pair.dec, opt_d)
    tp_p, tp_d = pair.pre.curve.devices, pair.dec.curve.devices
    g = pre.inst.accelerator_count
    dev_p, dev_d = pre.fleet.replica_hours * tp_p, dec.fleet.replica_hours * tp_d
    if pre.inst.instance_id == dec.inst.instance_id and max(tp_p, tp_d) <= g:
        inst_h = np.ceil((dev_p + dev_d) / g - 1e-9)
        weekly = float(np.sum(inst_h)) * pre.price
        share_p = float(np.sum(dev_p)) / max(float(np.sum(dev_p + dev_d)), 1e-12)
        wp, wd = weekly * share_p, weekly * (1.0 - share_p)
    else:
        wp = float(np.sum(pre.fleet.instance_hours)) * pre.price
        wd = float(np.sum(dec.fleet.instance_hours)) * dec.price
        weekly = wp + wd
    peak = int(np.max(pre.fleet.replicas * tp_p + dec.fleet.replicas * tp_d))
    return _Fleets(pre=pre, dec=dec, weekly_usd=weekly, weekly_p_usd=wp, weekly_d_usd=wd, peak_accelerators=peak)


def _peak_load(pool: _Pool) -> float:
    """Per-instance load in the busiest hour (requests/s), at most the top of the curve."""
    rps = float(np.max(pool.fleet.per_replica_peak_rps)) if pool.fleet.per_replica_peak_rps.size else 0.0
    return min(rps, float(pool.load.curve.loads[-1]))


def _pool_plan(pool: _Pool, weekly_usd: float, role_ttft: float, role_e2e: float, tpot: float) -> PoolPlan:
    cur = pool.load.curve
    return PoolPlan(
        role=pool.role, hardware_id=pool.hw.hardware_id, hardware_name=pool.hw.name,
        instance_id=pool.inst.instance_id, instance_type=pool.inst.instance_type,
        accelerators_per_instance=pool.inst.accelerator_count, price_usd_per_instance_h=pool.price, tp=cur.tp, pp=cur.pp,
        max_batch=cur.replica.max_batch, saturation_rps=cur.sat, slo_rps=pool.load.lam_slo,
        max_rps_per_instance=pool.load.lam_cap, ttft_p95_s=role_ttft, e2e_p95_s=role_e2e, tpot_s=tpot,
        peak_instances=int(np.max(pool.fleet.replicas)), mean_instances=float(np.mean(pool.fleet.replica_hours)),
        monthly_cost_usd=weekly_usd * capacity.MONTH_OVER_WEEK, options=pool.options,
    )


def _ratio(lam_p: float, lam_d: float) -> tuple[int, int, float]:
    """``x:y = lambda*_d : lambda*_p`` as small integers (denominator at most 4), and the exact ratio."""
    r = lam_d / lam_p
    f = Fraction(r).limit_denominator(4)
    if f.numerator == 0:
        return 1, max(1, round(1.0 / r)) if r > 0 else 1, r
    return f.numerator, f.denominator, r


def _colocated(s: Scenario, colocated: CapacityPlan | None) -> tuple[CapacityPlan | None, str]:
    if colocated is not None:
        return colocated, ""
    try:
        return capacity.plan(s), ""
    except EstimatorError as exc:
        return None, f"Colocated serving cannot be planned at these goals: {exc}"


def _assemble(st: _Setup, pair: _Pair, fl: _Fleets, colo: CapacityPlan | None, colo_note: str) -> DisaggPlan:
    inp, s, link = st.inp, st.inp.s, pair.link
    rp, rd = _peak_load(fl.pre), _peak_load(fl.dec)
    ttft = fl.pre.load.at(fl.pre.load.ttft, rp)
    ttft_plan = fl.pre.load.at(fl.pre.load.ttft, fl.pre.load.lam_cap)
    dec_e2e = fl.dec.load.at(fl.dec.load.e2e, rd) - ttft_plan  # the decode side alone
    tpot = fl.dec.load.at(fl.dec.load.curve.tpot, rd)
    x, y, r = _ratio(pair.pre.lam_cap, pair.dec.lam_cap)
    monthly = fl.weekly_usd * capacity.MONTH_OVER_WEEK
    req_week = float(np.sum(inp.mean)) * 3600.0
    out_month = req_week * inp.dout.effective_mean * capacity.MONTH_OVER_WEEK
    kv_peak = float(np.max(inp.peak)) * st.kv_mean
    link_cap = max(int(np.max(fl.pre.fleet.replicas)), 1) * link.bandwidth_bytes_per_s
    out_p95 = _p95(inp.dout)
    notes = []
    if kv_peak > link_cap:
        notes.append(f"At the peak the KV traffic ({kv_peak / 1e9:,.1f} GB/s) exceeds what the prefill instances' "
                     f"{link.name} links carry ({link_cap / 1e9:,.1f} GB/s): the link, not compute, limits the plan.")
    cc = colo.mode_check(InferenceMode.REALTIME).monthly_cost_usd if colo is not None else None
    return DisaggPlan(
        model_id=inp.model.model_id, model_name=inp.model.name, input_tokens_mean=inp.din.effective_mean,
        prefill=_pool_plan(fl.pre, fl.weekly_p_usd, ttft, ttft, 0.0),
        decode=_pool_plan(fl.dec, fl.weekly_d_usd, 0.0, dec_e2e, tpot),
        ratio_prefill=x, ratio_decode=y, capacity_ratio=r, link=link, kv_bytes_per_token=st.kv_per_token,
        kv_bytes_mean=st.kv_mean, kv_bytes_p95=st.kv_p95,
        kv_transfer_s_mean=float(kv_transfer_s(st.kv_mean, link.bandwidth_bytes_per_s, link.latency_s)),
        kv_transfer_s_p95=float(kv_transfer_s(st.kv_p95, link.bandwidth_bytes_per_s, link.latency_s)),
        kv_link_utilization_peak=kv_peak / link_cap, ttft_goal_s=s.slo.ttft_p95_s, e2e_goal_s=s.slo.e2e_p95_s,
        tpot_budget_s=max(s.slo.e2e_p95_s - ttft, 0.0) / max(out_p95 - 1.0, 1.0),
        ttft_p95_s=ttft, e2e_p95_s=ttft + dec_e2e, tpot_s=tpot, monthly_cost_usd=monthly,
        cost_usd_per_million_output_tokens=monthly / (out_month / 1e6) if out_month > 0 else math.inf,
        peak_accelerators=fl.peak_accelerators, colocated_monthly_cost_usd=cc,
        colocated_ttft_p95_s=colo.ttft_p95_s if colo else None, colocated_e2e_p95_s=colo.e2e_p95_s if colo else None,
        colocated_tpot_s=colo.tpot_s_at_plan_load if colo else None,
        colocated_peak_accelerators=colo.peak_replicas * colo.devices_per_replica if colo else None,
        colocated_tp=colo.tp if colo else None, colocated_note=colo_note, notes=tuple(notes),
    )


_cache: OrderedDict[str, DisaggPlan] = OrderedDict()
_cache_lock = threading.Lock()


def plan(scenario: Scenario, colocated: CapacityPlan | None = None) -> DisaggPlan:
    """Disaggregated prefill/decode serving for ``scenario`` and colocated serving at the same goals.

    Notes
    -----
    1. Each pool's candidate tensor-parallel degrees (those the colocated planner would try, or
       ``serving.prefill_tp`` / ``serving.decode_tp``) through the replica and queueing models.
    2. For every (prefill, decode) pair: the KV link (:func:`kv_link`); the prefill plan load
       ``lambda*_p`` with p95 ``TTFT = queue TTFT + t_kv(p95 prompt) <= TTFT goal``; the decode plan load
       ``lambda*_d`` with ``TTFT_p95(lambda*_p) + decode p95 e2e <= e2e goal``; both capped at the target
       utilization of saturation and the slot-occupancy limit, as colocated. The pair with the lowest
       ``sum(price share / lambda*)`` (USD per request/s) wins.
    3. Weekly fleets per pool (``n_h = ceil(lambda_h / lambda*)``), instances shared when both pools use one
       instance type; month = week x 730/168.
    4. ``x:y = lambda*_d : lambda*_p`` reduced (:func:`_ratio`); colocated: ``capacity.plan`` (real-time mode).

    ``colocated`` is the scenario's capacity plan when the caller has it. Results are cached per scenario.
    Raises :class:`InvalidInputError` when no layout pair meets the goals.
    """
    key = scenario.model_dump_json()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        st = _setup(scenario)
        pair, opt_p, opt_d = _choose(st)
        fl = _fleets(st, pair, opt_p, opt_d)
        colo, note = _colocated(scenario, colocated)
        result = _assemble(st, pair, fl, colo, note)
    except EstimatorError:
        raise
    except Exception as exc:  # a numerical corner the model does not cover: say so, never a traceback
        raise EstimatorError(f"The disaggregated plan could not be computed ({type(exc).__name__}: {exc}).") from exc
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def clear_cache() -> None:
    """Forget earlier plans and anchor computations (tests, benchmarks of the cold path)."""
    with _cache_lock:
        _cache.clear()
    _fig1.cache_clear()
    _placement.cache_clear()
    _splitwise_provisioning.cache_clear()


# ----------------------------------------------------------------------------- published anchors




def opt_66b() -> ModelSpec:
    """OPT-66B's shape (Zhang et al. 2022, OPT, arXiv:2205.01068 Table 1: 64 layers, 72 heads, d_model 9216;
    head dim 9216 / 72 = 128, FFN 4 d_model, vocabulary and context as OPT-13B), for DistServe's §3.3 example."""
    base = catalog.get_model("opt-13b")
    return base.model_copy(update={
        "model_id": "opt-66b", "name": "OPT 66B", "params_total": 66e9, "params_active": 66e9, "n_layers": 64,
        "d_model": 9216, "n_heads": 72, "n_kv_heads": 72, "head_dim": 128, "d_ff": 4 * 9216,
        "source": "Zhang et al. 2022, OPT, arXiv:2205.01068 Table 1", "assumed": False})


def _anchor_scenario(model: str, hw: str, tokens: tuple[int, int], goals: tuple[float, float], tp: int,
                     cloud: tuple[str, str] = ("aws", "us-east-1"), link: str = "auto") -> Scenario:
    """A scenario for an anchor's setup: constant prompt and output lengths, fp16, fixed layouts."""
    return Scenario().replace(
        model={"model_id": model, "weight_dtype": "fp16", "kv_dtype": "fp16"},
        deploy={"hardware_id": hw, "tp": tp, "provider": cloud[0], "region": cloud[1]},
        tokens={"input_mean": tokens[0], "input_p95": tokens[0], "output_mean": tokens[1], "output_p95": tokens[1]},
        slo={"ttft_p95_s": goals[0], "e2e_p95_s": goals[1]}, autoscaling={"target_utilization": 1.0},
        serving={"disaggregated": True, "prefill_tp": tp, "decode_tp": tp, "kv_link": link})


DISTSERVE_FIG1_SLO: tuple[float, float] = (0.4, 0.04)
"""DistServe Figure 1's goals: P90 TTFT 0.4 s and P90 TPOT 0.04 s (Zhong et al., "Throughput is Not All You Need",
hao-ai-lab.github.io/blogs/distserve, 2024-03-17: "Suppose we set the SLO of P90 TTFT as 0.4 seconds and P90 TPOT as
0.04 seconds (the horizontal line in Figure 6)"; the figure is the paper's Figure 1)."""

GOAL_QUANTILE: float = 0.90
"""DistServe's goals are attained by 90 % of requests (P90 TTFT and P90 TPOT: §2.1 and the simulator's default
``--prefill-percentage 90 --decode-percentage 90``), not the planner's p95."""


class IterationProfile(BaseModel):
    """A published per-iteration latency fit of one engine, model, accelerator and tensor-parallel degree (ms).

    DistServe's simulator form (github.com/LLMServe/DistServe ``simdistserve/estimators/time_estimator.py``):

        prefill  t = a + b sum(n_i) + c sum(n_i^2)          (prompts of n_i tokens batched in one iteration)
        decode   t = a + b sum(ctx_i) + c B                  (B running sequences of context ctx_i; the small-batch
                                                             coefficients below ``large_batch_from``, else large)

    fitted by the DistServe authors to their own A100-80GB measurements, for their engine and for vLLM.
    """

    model_config = ConfigDict(frozen=True)

    engine: str
    tp: int = Field(ge=1)
    prefill_ms: tuple[float, float, float]
    decode_small_ms: tuple[float, float, float]
    decode_large_ms: tuple[float, float, float]
    large_batch_from: int = Field(default=95, ge=2)


DISTSERVE_PROFILE_SOURCE = ("Zhong et al., DistServe artifact, github.com/LLMServe/DistServe (commit 82831f1, 2025-04-06; "
                            "the profiles last changed in 4c68ed9, 2024-05-01, 'Realign the curve') "
                            "simdistserve/estimators/profile_data/profiler-a100-80g.distserve.json and "
                            "profiler-a100-80g.vllm.json (facebook/opt-13b on A100-80GB)")

DISTSERVE_OPT13B_A100: dict[tuple[str, int], IterationProfile] = {
    ("distserve", 1): IterationProfile(
        engine="distserve", tp=1, prefill_ms=(18.10254647486372, 0.1019122572698738, 7.122264314252114e-06),
        decode_small_ms=(19.934702624895458, 0.0006269356524350583, 0.03850697740828398),
        decode_large_ms=(7.1661889468253595, 0.0005798000403396046, 0.15831096191764046)),
    ("distserve", 2): IterationProfile(
        engine="distserve", tp=2, prefill_ms=(14.742973695171262, 0.06857720739764, 2.4495727400243586e-06),
        decode_small_ms=(13.294796350285385, 0.00034109219700723494, 0.06296393225243659),
        decode_large_ms=(10.638741913126715, 0.00031183369638295723, 0.08562913604102729)),
    ("distserve", 4): IterationProfile(
        engine="distserve", tp=4, prefill_ms=(12.062297033449054, 0.03808140082550695, 5.226249731787869e-07),
        decode_small_ms=(10.256231678259395, 0.00018786702316166354, 0.03269273629225551),
        decode_large_ms=(10.483514938375274, 0.00017120888562939117, 0.04566648525887034)),
    ("vllm", 1): IterationProfile(
        engine="vllm", tp=1, prefill_ms=(22.052204789310185, 0.14050923870128956, 8.076584822611088e-06),
        decode_small_ms=(23.475041008414784, 0.000592934466077393, 0.060726861260369455),
        decode_large_ms=(20.206356173691958, 0.0004907727036234946, 0.1200031385587413)),
}
"""DistServe's published OPT-13B / A100-80GB iteration profiles (:data:`DISTSERVE_PROFILE_SOURCE`, the latest version),
by (engine, TP). Earlier versions of the same files (2024-04-25) differ by up to 40 % (vLLM prefill
``15.8 + 0.100 n`` ms against ``22.1 + 0.141 n``): the authors refitted them to their end-to-end runs."""

_PREFILL_GRID_TOKENS: tuple[float, ...] = (1.0, 512.0, 2048.0, 8192.0, 32768.0)


def profiled_replica(base: ReplicaModel, profile: IterationProfile, role: str, token_budget: int) -> ReplicaModel:
    """``base`` (its slots) with the iteration times of a published :class:`IterationProfile` (seconds).

    :class:`~estimator.simulate.ReplicaModel`'s ``T(N, A, K) = G(N) + max(f_A A, k K)`` holds the profile exactly:
    a prompt of ``n`` tokens has ``A = n (n + 1) / 2`` query-key pairs, so ``c n^2 = 2 c A`` (``f_A = 2 c``); a decode
    step reads ``K = sum(ctx)`` cached tokens (``k = b_decode``). ``role``: ``prefill`` (``G`` is the prefill line at
    every size, the instance never decodes), ``decode`` (the decode lines: small batches below ``large_batch_from``,
    large above; a received prompt's one new token is a decode-sized step) or ``colocated`` (decode lines up to 511
    tokens, the prefill line from 512: the engine runs prefill-only and decode-only iterations, vLLM 0.2).
    ``token_budget``: tokens one prefill iteration takes (prompts batched up to it). The replica has one ``k``: both
    decode lines use the small-batch fit's ``b`` (the large-batch fit's is 8-17 % lower, so steps above the
    threshold come out slightly slow: conservative). Slots (``max_batch``) stay ``base``'s, the planner's memory model.
    """
    ap, bp, cp = (x / 1e3 for x in profile.prefill_ms)
    (a_s, b_s, c_s), (a_l, _b_l, c_l) = ((x / 1e3 for x in t) for t in (profile.decode_small_ms, profile.decode_large_ms))
    thr = float(profile.large_batch_from)
    decode_pts = [(1.0, a_s + c_s), (thr - 1.0, a_s + c_s * (thr - 1.0)), (thr, a_l + c_l * thr)]
    if role == "prefill":
        pts = [(n, ap + bp * n) for n in _PREFILL_GRID_TOKENS]
        attn, kv = 2.0 * cp, 0.0
    elif role == "decode":
        pts = [*decode_pts, (8192.0, a_l + c_l * 8192.0)]
        attn, kv = 0.0, b_s
    elif role == "colocated":
        top = 511.0
        pts = [p for p in decode_pts if p[0] < top] + [(top, (a_l if top >= thr else a_s) + (c_l if top >= thr else c_s)
                                                              * top)]
        pts += [(n, ap + bp * n) for n in _PREFILL_GRID_TOKENS if n >= 512.0]
        attn, kv = 2.0 * cp, b_s
    else:
        raise InvalidInputError(f"unknown profiled replica role {role!r}: prefill, decode or colocated")
    return base.model_copy(update={
        "token_grid": tuple(p[0] for p in pts), "token_part_s": tuple(p[1] for p in pts), "attn_s_per_pair": attn,
        "kv_s_per_token": kv, "request_overhead_s": 0.0, "prefill_token_weight": 1.0, "token_budget": token_budget,
        "description": f"{profile.engine} TP {profile.tp} published profile ({role})"})


def ttft_quantile_s(replica: ReplicaModel, arrival_rps: npt.ArrayLike, workload: Workload, q: float) -> FloatArray:
    """TTFT quantile ``q`` (s) of the queueing model at each arrival rate (``inf`` at or past saturation).

    The distribution :func:`estimator.capacity.queue_metrics` reads its p95 from (its TTFT quadrature plus the
    slot wait), read at another quantile: DistServe's goals are P90 (:data:`GOAL_QUANTILE`).
    """
    lam = np.atleast_1d(np.asarray(arrival_rps, dtype=float))
    kern = capacity._Kernel.of(replica, capacity._Mix.of(workload, replica.window))
    sat = capacity._saturation_rps(kern)
    lam_c = np.minimum(lam, sat * (1.0 - 1e-6))
    b_op = capacity._operating_batch(kern, lam_c)
    st = capacity._state(kern, lam_c[:, None], b_op[:, None]).squeezed()
    tq, t_mean = capacity._ttft_quantiles(kern, lam_c, b_op, st)
    wait = capacity._slot_wait(replica.max_batch, kern.mix, lam_c, b_op, t_mean, st.tpot)
    nq = tq.shape[1]
    tt = (tq[:, :, None] + wait.values[:, None, :]).reshape(lam.size, -1)
    tw = np.broadcast_to(wait.weights[:, None, :] / nq, (lam.size, nq, wait.values.shape[1])).reshape(lam.size, -1)
    order = np.argsort(tt, axis=-1)
    out = capacity._sorted_weighted_quantile(np.take_along_axis(tt, order, -1), np.take_along_axis(tw, order, -1), q)
    return np.where(lam < sat * (1.0 - 1e-6), np.asarray(out, dtype=float), np.inf)


@dataclass(frozen=True)
class _Goodput:
    """Per-instance goodput (requests/s) within P90 goals: a prefill-only and a decode-only instance."""

    prefill_rps: float
    decode_rps: float


def _phase_goodputs(pre: ReplicaModel, dec: ReplicaModel, workload: Workload, goals: tuple[float, float]) -> _Goodput:
    """Largest load a prefill-only instance serves within the P90 TTFT goal (prompts end at their first token) and a
    decode-only instance within the TPOT goal (prompts arrive with their KV cache: :data:`DECODE_KV_HIT_RATE`).

    Decode TPOT is the queueing model's mean step time per token: in a decode-only instance every running sequence
    shares the same steps, so a request's TPOT varies little around it (P90 ~ mean)."""
    one = TokenDistribution.from_mean_p95(1.0, 1.0)
    pw = Workload(prompt=workload.prompt, output=one)
    sat_p = _prefill_saturation_rps(pre, pw)
    lp = np.asarray(capacity.LOAD_GRID_FRACTIONS) * sat_p
    t90 = ttft_quantile_s(pre, lp, pw, GOAL_QUANTILE)
    dw = Workload(prompt=workload.prompt, output=workload.output, prefix_cache_hit_rate=DECODE_KV_HIT_RATE)
    sat_d = capacity.saturation_rps(dec, dw)
    ld = np.asarray(capacity.LOAD_GRID_FRACTIONS) * sat_d
    tpot = np.asarray(capacity.queue_metrics(dec, ld, dw, saturation=sat_d).tpot_s, dtype=float)
    return _Goodput(prefill_rps=capacity._max_load(lp, t90, np.zeros_like(lp), goals[0], math.inf),
                    decode_rps=capacity._max_load(ld, np.zeros_like(ld), tpot, math.inf, goals[1], use_ttft=False))


def prefill_first_tpot_s(replica: ReplicaModel, prompt_tokens: float, output_tokens: float, arrival_rps: float,
                         quantile: float = 0.5) -> float:
    """TPOT (s) of a colocated replica that runs each prompt's prefill whole, in an iteration of its own.

    vLLM 0.2 (DistServe §6.1's baseline: v0.2.3, "the last version released before the paper submission", per
    the DistServe artifact's evaluation docs, github.com/LLMServe/DistServe) schedules waiting prompts first,
    whole (``max_num_batched_tokens`` >= the prompt), in prefill-only iterations; running sequences get no token
    in them (the interference of DistServe §2; its maintainers, github.com/LLMServe/DistServe issue #18: the
    vLLM baseline "only does prefill" in such an iteration). With ``mu = lambda tau`` arrivals per iteration,
    a boundary starts a prefill iteration of ``a = mu / pi`` prompts with probability ``pi = 1 - e^{-mu}``:

        tau  = pi D(a n) + (1 - pi) T_d(b)        (mean iteration; D: prefill of a n tokens, T_d: decode step)
        TPOT = tau / (1 - pi)                      (a token only in decode steps)
        b    = lambda (L - 1) TPOT                 (Little's law)

    A request's own TPOT is ``T_d(b) + N D(a n) / (L - 1)`` with ``N`` the prefill iterations among its
    ``L - 1`` decode steps, ``N ~ Poisson((L - 1) pi / (1 - pi))``; ``quantile`` picks its percentile
    (DistServe reports P90). ``n``, ``L``: prompt and output tokens (constant); ``replica.iteration_s`` as
    :class:`~estimator.simulate.ReplicaModel`. ``inf`` past saturation (``b`` beyond the slots).
    """
    n, dec = float(prompt_tokens), max(float(output_tokens) - 1.0, 1.0)
    ctx = n + dec / 2.0
    lam, b, tau = float(arrival_rps), 1.0, 0.0
    pi = d_p = t_d = 0.0
    for _ in range(200):
        t_d = float(replica.iteration_s(b, b * ctx, b * (ctx + 1.0)))
        tau = tau or t_d
        mu = lam * tau
        pi = -math.expm1(-mu)
        a = mu / pi if pi > 1e-12 else 1.0
        d_p = float(replica.iteration_s(a * n * replica.prefill_token_weight, a * n * (n + 1.0) / 2.0, a * n))
        tau_new = pi * d_p + (1.0 - pi) * t_d
        b_new = lam * dec * tau_new / max(1.0 - pi, 1e-12)
        if b_new > replica.max_batch or pi > 1.0 - 1e-9:
            return math.inf
        if abs(b_new - b) < 1e-6 * max(b, 1.0) and abs(tau_new - tau) < 1e-9:
            break
        b, tau = 0.5 * (b + b_new), tau_new
    mean_n = dec * pi / (1.0 - pi)
    return t_d + _poisson_quantile(mean_n, quantile) * d_p / dec


def _poisson_quantile(mean: float, q: float) -> float:
    """Smallest ``k`` with ``P(N <= k) >= q`` for ``N ~ Poisson(mean)`` (summed pmf ``e^-m m^k / k!``)."""
    if mean <= 0:
        return 0.0
    k, pmf = 0, math.exp(-mean)
    cdf = pmf
    while cdf < q and k < 100_000:
        k += 1
        pmf *= mean / k
        cdf += pmf
    return float(k)


FIG1_ENGINES: tuple[str, ...] = ("vllm", "distserve", "roofline")
"""Per-iteration latencies Figure 1 can be modelled with: the published vLLM or DistServe-engine profile
(:data:`DISTSERVE_OPT13B_A100`), or the planner's roofline replica."""

VLLM_02_BATCHED_TOKENS = 2048
"""Tokens one vLLM 0.2 prefill iteration batches without chunked prefill: ``max_num_batched_tokens`` defaults to
``max(max_model_len, 2048)`` (vllm/config.py, SchedulerConfig), 2048 for OPT's 2048-token context."""


def distserve_fig1(engine: str = "vllm") -> dict[str, float]:
    """DistServe Figure 1 (OPT-13B, one A100-80GB per instance, 512 + 64 tokens, Poisson arrivals) at its goals,
    :data:`DISTSERVE_FIG1_SLO` (P90 TTFT 0.4 s, P90 TPOT 0.04 s): requests/s one GPU serves within them when it
    only prefills or only decodes (:func:`_phase_goodputs`), or runs both as the vLLM 0.2 of the paper did:
    whole-prompt prefill iterations that stall the decodes, P90 TTFT of the queueing model (:func:`ttft_quantile_s`)
    and P90 TPOT of :func:`prefill_first_tpot_s`; ``colocated_mixed`` is the same replica under the planner's
    mixed iterations (every running sequence gets a token in the iteration that prefills a prompt: Sarathi-Serve,
    vLLM >= 0.6). ``gain`` = ``1 / (1/P + 1/D) / C`` (each request takes ``1/P`` of a prefill GPU and ``1/D`` of a
    decode GPU; the paper's 2P1D: min(2 x 5.6, 10) / 3 = 3.3 against 1.6).

    ``engine`` picks the iteration latencies (:data:`FIG1_ENGINES`): ``vllm`` (default; the published profile of
    the engine Figure 1's "existing systems" ran, the same for the three curves so that only the phase mix
    differs), ``distserve`` (DistServe's own engine) or ``roofline`` (this planner's replica)."""
    return dict(_fig1(engine))


@functools.lru_cache(maxsize=4)
def _fig1(engine: str) -> tuple[tuple[str, float], ...]:
    if engine not in FIG1_ENGINES:
        raise InvalidInputError(f"unknown engine {engine!r}; choose one of {', '.join(FIG1_ENGINES)}")
    ttft_goal, tpot_goal = DISTSERVE_FIG1_SLO
    s = _anchor_scenario("opt-13b", "a100-80gb-sxm", (512, 64), (ttft_goal, ttft_goal + 63 * tpot_goal), 1)
    s = s.replace(engine={"prefill_chunk_tokens": VLLM_02_BATCHED_TOKENS})
    inp = capacity._resolve_inputs(s, None, None)
    base = _replica(inp, inp.hw, (1, 1), inp.context)
    if engine == "roofline":
        pre = dec = col = base
    else:
        prof = DISTSERVE_OPT13B_A100[(engine, 1)]
        pre, dec, col = (profiled_replica(base, prof, role, VLLM_02_BATCHED_TOKENS)
                         for role in ("prefill", "decode", "colocated"))
    w = Workload(prompt=inp.din, output=inp.dout)
    g = _phase_goodputs(pre, dec, w, DISTSERVE_FIG1_SLO)
    sat = capacity.saturation_rps(col, w)
    loads = np.asarray(capacity.LOAD_GRID_FRACTIONS) * sat
    t90 = ttft_quantile_s(col, loads, w, GOAL_QUANTILE)
    stall = np.array([prefill_first_tpot_s(col, 512, 64, lam, GOAL_QUANTILE) for lam in loads])
    mixed_tpot = np.asarray(capacity.queue_metrics(col, loads, w, saturation=sat).tpot_s, dtype=float)
    colo = capacity._max_load(loads, t90, stall, ttft_goal, tpot_goal)
    mixed = capacity._max_load(loads, t90, mixed_tpot, ttft_goal, tpot_goal)
    gain = 1.0 / (1.0 / g.prefill_rps + 1.0 / g.decode_rps) / colo if colo > 0 else math.inf
    return (("prefill", g.prefill_rps), ("decode", g.decode_rps), ("colocated", colo), ("colocated_mixed", mixed),
            ("gain", gain))


DISTSERVE_SIM_SLO: tuple[float, float] = (0.2, 0.1)
"""Goals of the DistServe simulator's published example (github.com/LLMServe/DistServe simdistserve/README.md):
``--prefill-target 200 --decode-target 100`` ms at P90 each (``--prefill-percentage 90 --decode-percentage 90``)."""

SHAREGPT_OPT13B_PROMPT_HIST: tuple[tuple[int, int], ...] = (
    (46, 198), (196, 144), (325, 151), (454, 147), (576, 115), (702, 122), (833, 118), (963, 107), (1087, 101),
    (1211, 78), (1336, 73), (1478, 81), (1596, 57), (1720, 52), (1851, 39), (1968, 17))
"""DistServe's ShareGPT workload for OPT-13B, prompt lengths: (mean tokens, requests) of each 128-token bin of the
1,600 requests of its measured run ``distserve-c21d12-1600-16.exp`` (github.com/LLMServe/DistServe commit 20a1633,
2024-04-23, simdistserve/benchmarks/alignment/data-ground-truth/opt-13b-sharegpt/): mean 759, p90 1543 tokens."""

SHAREGPT_OPT13B_OUTPUT_HIST: tuple[tuple[int, int], ...] = (
    (33, 916), (195, 198), (319, 222), (438, 104), (569, 77), (698, 37), (805, 22), (962, 14), (1070, 6), (1185, 3),
    (1809, 1))
"""Output lengths of the same 1,600 requests, binned as :data:`SHAREGPT_OPT13B_PROMPT_HIST`: mean 186 tokens."""


def sharegpt_opt13b_workload() -> Workload:
    """The measured ShareGPT token mix (:data:`SHAREGPT_OPT13B_PROMPT_HIST`, :data:`SHAREGPT_OPT13B_OUTPUT_HIST`) as
    empirical distributions (:meth:`TokenDistribution.from_histogram`), capped at OPT's 2048-token context. The
    histogram, not a lognormal fitted to its mean and p95, because the goals are P90 and the lognormal's p90 prompt
    (1378) falls short of the data's (1543)."""
    def dist(h: tuple[tuple[int, int], ...]) -> TokenDistribution:
        return TokenDistribution.from_histogram([t for t, _ in h], [c for _, c in h], 2048.0)
    return Workload(prompt=dist(SHAREGPT_OPT13B_PROMPT_HIST), output=dist(SHAREGPT_OPT13B_OUTPUT_HIST))


@dataclass(frozen=True)
class Placement:
    """One (prefill TP, decode TP) pair of the DistServe placement search: each instance's goodput and the pair's
    per-GPU rate ``min(lambda_p, lambda_d) / (t_p + t_d)`` (requests/s)."""

    tp_prefill: int
    tp_decode: int
    prefill_rps: float
    decode_rps: float

    @property
    def per_gpu_rps(self) -> float:
        return min(self.prefill_rps, self.decode_rps) / (self.tp_prefill + self.tp_decode)


def distserve_placement(gpus: int = 4) -> tuple[Placement, ...]:
    """DistServe's placement search for OPT-13B on one node of ``gpus`` A100-80GB with the ShareGPT workload
    (:func:`sharegpt_opt13b_workload`) at :data:`DISTSERVE_SIM_SLO`, every pair with ``t_p + t_d <= gpus``, best
    per-GPU rate first.

    DistServe (Zhong et al., OSDI 2024, §4.1 Algorithm 1; simulator ``simdistserve``) sizes one prefill and one decode
    instance, takes the largest rate both attain (P90 TTFT of the prefill instance, P90 TPOT of the decode
    instance, each separately) and divides by their GPUs. Here each instance's iteration times are the published
    DistServe-engine profile (:data:`DISTSERVE_OPT13B_A100`, prompts batched without limit as the simulator's default)
    and its slots the planner's memory model; the queueing model gives the goodputs (:func:`_phase_goodputs`).
    The KV transfer (NVLink inside the node) is not added, as the simulator does not model it."""
    return _placement(gpus)


@functools.lru_cache(maxsize=2)
def _placement(gpus: int) -> tuple[Placement, ...]:
    w = sharegpt_opt13b_workload()
    s = Scenario().replace(
        model={"model_id": "opt-13b", "weight_dtype": "fp16", "kv_dtype": "fp16"},
        deploy={"hardware_id": "a100-80gb-sxm", "tp": 1},
        tokens={"input_mean": round(w.prompt.mean), "input_p95": round(w.prompt.p95),
                "output_mean": round(w.output.mean), "output_p95": round(w.output.p95)})
    inp = capacity._resolve_inputs(s, None, None)
    tps = sorted(tp for eng, tp in DISTSERVE_OPT13B_A100 if eng == "distserve")
    base = {tp: _replica(inp, inp.hw, (tp, 1), inp.context) for tp in tps}
    out = []
    for tp_p in tps:
        for tp_d in tps:
            if tp_p + tp_d > gpus:
                continue
            pre = profiled_replica(base[tp_p], DISTSERVE_OPT13B_A100[("distserve", tp_p)], "prefill", 32768)
            dec = profiled_replica(base[tp_d], DISTSERVE_OPT13B_A100[("distserve", tp_d)], "decode", 32768)
            g = _phase_goodputs(pre, dec, w, DISTSERVE_SIM_SLO)
            out.append(Placement(tp_prefill=tp_p, tp_decode=tp_d, prefill_rps=g.prefill_rps, decode_rps=g.decode_rps))
    return tuple(sorted(out, key=lambda p: -p.per_gpu_rps))


SPLITWISE_TBT_MS: tuple[tuple[float, float], ...] = ((1024.0, 29.819), (2048.0, 31.227))
"""Splitwise's measured time between tokens of Llama-2-70B on DGX-H100 (tensor parallel 8, batch 1), at prompts of
1024 and 2048 tokens: the mean of five runs each (ms) in the authors' performance model,
github.com/Mutinifni/splitwise-sim data/perf_model.csv (commit 8f99e7d, 2024-04-25), column ``token_time``."""


SPLITWISE_A100_TBT_MS: tuple[tuple[float, float], ...] = ((1024.0, 44.781), (2048.0, 45.511))
"""As :data:`SPLITWISE_TBT_MS` on DGX-A100 (tensor parallel 8): the mean ``token_time`` of the five runs of
``llama2-70b, a100-80gb, batch_size 1, token_size 128`` at 1024 and 2048 prompt tokens (ms)."""

_SECOND_TOKEN_SETUPS: dict[str, tuple[str, tuple[tuple[float, float], ...], float]] = {
    "h100": ("h100-sxm", SPLITWISE_TBT_MS, 400e9), "a100": ("a100-80gb-sxm", SPLITWISE_A100_TBT_MS, 200e9)}


def splitwise_second_token(setup: str = "h100") -> float:
    """Splitwise §VI-A: a serialized KV transfer's share of the second token's latency, ``t_kv / TBT``, for a
    1500-token prompt (the coding trace's median) of Llama-2-70B (assumed) between two DGX machines, tensor parallel 8.

    ``TBT`` is the paper's own measured time between tokens (:data:`SPLITWISE_TBT_MS`, interpolated to 1500
    tokens: 30.5 ms on H100; :data:`SPLITWISE_A100_TBT_MS`, 45.1 ms on A100), not the roofline's (13 ms at TP 8), so
    the anchor tests the transfer, not the 2023 engine. The link is the one the paper states for the ``setup``,
    "400 Gbps" InfiniBand for H100 and 200 for A100 (§V-A, §VI-A: "200 vs 400 Gbps"), carrying the serialized
    transfer as one stream: ``e_comm x rate`` (``performance.COMMUNICATION_EFFICIENCY``, 0.7) plus the network
    latency, as :func:`kv_link` with one GPU a side. The paper does not say which setup its "64 %" is from (Figure
    15 shows both); the anchor assumes H100. Its measured per-layer transfer leaves ~5 ms exposed on H100 and ~8 ms on
    A100 (§VI-A); the serialized times are only in Figure 14's image."""
    if setup not in _SECOND_TOKEN_SETUPS:
        raise InvalidInputError(f"unknown Splitwise setup {setup!r}: h100 or a100")
    hw_id, tbt_ms, rate_bit_s = _SECOND_TOKEN_SETUPS[setup]
    hw = catalog.get_hardware(hw_id)
    eff = performance.Efficiency()
    link = kv_link(hw, hw, "network", 1, 1, eff)
    bandwidth = eff.communication * rate_bit_s / 8.0
    t_kv = float(kv_transfer_s(kv_transfer_bytes(catalog.get_model("llama-2-70b"), 1500, "fp16"), bandwidth,
                               link.latency_s))
    (n0, t0), (n1, t1) = tbt_ms
    tbt = (t0 + (t1 - t0) * (1500.0 - n0) / (n1 - n0)) / 1e3
    return t_kv / tbt


# ----------------------------------------------------------------------------- Splitwise provisioning (§IV-D, §VI-B)

SPLITWISE_SIM_SOURCE = ("Patel et al., SplitwiseSim, github.com/Mutinifni/splitwise-sim commit 8f99e7d (2024-04-25): "
                        "data/perf_model.csv, performance_model.py, configs/ and notebooks/")

SPLITWISE_BLOOM_MS: dict[str, tuple[tuple[float, float], ...]] = {
    "h100_prompt": ((128, 48.284), (256, 51.179), (512, 76.142), (1024, 132.217), (2048, 251.964), (4096, 649.598),
                    (8192, 1411.575)),
    "h100_token": ((128, 35.739), (256, 36.154), (512, 36.166), (1024, 36.334), (2048, 36.739)),
    "a100_prompt": ((128, 79.668), (256, 99.164), (512, 174.382), (1024, 287.467), (2048, 536.055), (4096, 1332.643),
                    (8192, 3591.468)),
    "a100_token": ((128, 47.612), (256, 47.707), (512, 49.313), (1024, 49.442), (2048, 50.188), (4096, 51.631),
                   (8192, 54.274)),
}
"""Splitwise's performance model of BLOOM-176B on DGX-H100 and DGX-A100 (tensor parallel 8), ms: the median
``prompt_time`` and ``token_time`` of data/perf_model.csv grouped by ``prompt_size x batch_size`` (batch tokens), the
points its ``DatabasePerformanceModel`` interpolates (``interp1d``, extrapolated linearly) (:data:`SPLITWISE_SIM_SOURCE`).
The simulator reads an iteration of prompts at its total tokens on the prompt line and an iteration of ``B`` token
phases at ``B`` on the token line (``get_iteration_duration``): the decode step is ~36 ms at any batch on H100."""

SPLITWISE_SLO_SLOWDOWNS: tuple[tuple[float, float, float, float], ...] = (
    (0.50, 2.0, 1.25, 1.25), (0.90, 3.0, 1.5, 1.5), (0.99, 6.0, 5.0, 5.0))
"""Splitwise's SLOs (ISCA 2024 §V-B, Table 6, "slowdown compared to a request running on DGX-A100 under no
contention"; all nine must hold): (quantile, TTFT, TBT, E2E) slowdown limits, as ``get_slo`` in
notebooks/plots.ipynb of :data:`SPLITWISE_SIM_SOURCE`. The reference of a request of ``n`` prompt and ``L`` output
tokens (``add_baseline_perf``): TTFT = the A100 prompt line at ``n``, TBT = the A100 token line read at ``n``, E2E =
TTFT + (L - 1) TBT."""

SPLITWISE_HH_MACHINES = 40
"""Iso-power budget of Splitwise-HH: 40 DGX-H100 (§VI-B: "the power for 40 DGX-H100 machines")."""

SPLITWISE_HH_TOKEN_SWEEP: tuple[int, ...] = tuple(range(5, 40, 5))
"""Token machines swept by the authors' iso-power search (configs/experiment/splitwise_hh_isopower.yaml,
``+sweep: range(5, 40, 5)``; prompt machines = 40 - sweep): 5, 10, ..., 35."""

SPLITWISE_SIM_BATCH_TOKENS = 2048
"""Tokens one Splitwise prompt iteration batches (configs/start_state/splitwise.yaml ``max_batch_tokens``; §IV-B)."""

SPLITWISE_SIM_MAX_BATCH = 512
"""Sequences one Splitwise machine batches (configs/start_state/splitwise.yaml ``max_batch_size``)."""

SPLITWISE_SIM_KV_BYTES_PER_TOKEN = 2 * 70 * 14336 * 2
"""The simulator's KV cache of BLOOM-176B per token: ``2 x layers x hidden x 2 B`` (request.py
``estimate_kv_cache_size``; configs/model_repo/architectures/bloom-176b.yaml: 70 layers, hidden 14,336)."""

SPLITWISE_SIM_FREE_BYTES = 8 * 85_899_345_920 - 329e9
"""KV-cache memory of one DGX-H100 in the simulator: 8 x 80 GiB (processors/h100-80gb.yaml) less BLOOM-176B's
329 GB of weights (sizes/bloom-176b-fp16.yaml)."""

SPLITWISE_SIM_TRANSFER_BYTES_PER_S = 200 * 1024**3
"""The simulator's KV-cache transfer: each request's prompt KV cache (:data:`SPLITWISE_SIM_KV_BYTES_PER_TOKEN` x
prompt tokens) crosses a link of its own at ``transfer_bandwidth: 200`` x 1024^3 B/s (configs/orchestrator_repo/
schedulers/mixed_pool.yml, scheduler.py ``add_kv_cache_transfer``), after the prompt and before the token phase."""


def _splitwise_kv_s(prompt_tokens: FloatArray) -> FloatArray:
    """Seconds of the simulator's KV transfer for prompts of ``prompt_tokens``: bytes / :data:`SPLITWISE_SIM_TRANSFER_BYTES_PER_S`."""
    return np.asarray(prompt_tokens, dtype=float) * SPLITWISE_SIM_KV_BYTES_PER_TOKEN / SPLITWISE_SIM_TRANSFER_BYTES_PER_S


AZURE_CODE_PROMPT_HIST: tuple[tuple[int, int], ...] = (
    (35, 369), (92, 408), (187, 639), (318, 344), (447, 292), (640, 587), (903, 700), (1134, 679), (1404, 528),
    (1663, 515), (1914, 449), (2297, 859), (2796, 600), (3312, 345), (3815, 264), (4537, 352), (5726, 244),
    (6553, 194), (7426, 451))
"""Prompt tokens of the Azure LLM inference trace 2023, coding (github.com/Azure/AzurePublicDataset commit 7909210,
data/AzureLLMInferenceTrace_code.csv, 8,819 requests, ``ContextTokens``): (mean tokens, requests) of bins with edges
1, 64, 128, 256, 384, 512, 768, 1024, 1280, ..., 2048, 2560, ..., 4096, 5120, ..., 8192; mean 2,048, median 1,469.
The simulator's traces sample this file (generate_trace.py ``rr_code_*``)."""

AZURE_CODE_OUTPUT_HIST: tuple[tuple[int, int], ...] = (
    (6, 1355), (9, 1321), (10, 987), (12, 924), (14, 664), (17, 867), (21, 488), (27, 601), (39, 536), (55, 345),
    (77, 325), (110, 140), (142, 78), (174, 40), (218, 64), (287, 35), (355, 8), (406, 11), (487, 3), (590, 8),
    (690, 4), (841, 13), (1588, 2))
"""Output tokens of the same 8,819 coding requests (``GeneratedTokens``; bins from 1 to 2048): mean 27.9, median 13."""

AZURE_CONV_PROMPT_HIST: tuple[tuple[int, int], ...] = (
    (26, 302), (106, 227), (200, 2072), (366, 1055), (406, 3986), (670, 175), (967, 1978), (1103, 5219), (1345, 1086),
    (1662, 273), (1927, 290), (2299, 544), (2713, 355), (3278, 116), (4064, 1272), (4238, 345), (5551, 51), (6606, 16),
    (7600, 3), (14050, 1))
"""Prompt tokens of the conversation trace (data/AzureLLMInferenceTrace_conv.csv, 19,366 requests), binned as
:data:`AZURE_CODE_PROMPT_HIST` (plus 8192-16384): mean 1,155, median 1,020."""

AZURE_CONV_OUTPUT_HIST: tuple[tuple[int, int], ...] = (
    (7, 1), (11, 6), (12, 80), (14, 94), (18, 195), (20, 4), (28, 183), (41, 819), (55, 1263), (82, 4054), (108, 2896),
    (142, 1375), (173, 1059), (214, 805), (278, 56), (374, 654), (408, 4785), (472, 474), (563, 458), (667, 61),
    (956, 44))
"""Output tokens of the conversation trace: mean 211, median 129."""


def azure_trace_workload(trace: str) -> Workload:
    """The Azure 2023 ``code`` or ``conv`` trace's token mix (:data:`AZURE_CODE_PROMPT_HIST` etc.) as empirical
    distributions, prompt and output drawn independently as the simulator's generate_trace.py samples them."""
    hists = {"code": (AZURE_CODE_PROMPT_HIST, AZURE_CODE_OUTPUT_HIST), "conv": (AZURE_CONV_PROMPT_HIST,
                                                                                AZURE_CONV_OUTPUT_HIST)}
    if trace not in hists:
        raise InvalidInputError(f"unknown Azure trace {trace!r}: code or conv")
    p, o = (TokenDistribution.from_histogram([t for t, _ in h], [c for _, c in h]) for h in hists[trace])
    return Workload(prompt=p, output=o)


def _splitwise_line_s(key: str, tokens: npt.ArrayLike) -> FloatArray:
    """:data:`SPLITWISE_BLOOM_MS` line ``key`` at ``tokens`` (s): linear interpolation, linear extrapolation beyond
    both ends (``interp1d(fill_value="extrapolate")`` as the simulator)."""
    x, y = (np.asarray(v, dtype=float) for v in zip(*SPLITWISE_BLOOM_MS[key], strict=True))
    n = np.asarray(tokens, dtype=float)
    lo = y[0] + (y[1] - y[0]) / (x[1] - x[0]) * (n - x[0])
    hi = y[-1] + (y[-1] - y[-2]) / (x[-1] - x[-2]) * (n - x[-1])
    return np.where(n < x[0], lo, np.where(n > x[-1], hi, np.interp(n, x, y))) / 1e3


def splitwise_attention_s_per_pair() -> float:
    """Attention time per query-key pair (s) that carries the H100 prompt line's superlinearity past the 2048-token
    batch limit: prompts longer than :data:`SPLITWISE_SIM_BATCH_TOKENS` run in ``k`` chunks in the replica model,
    ``k G(n / k) + f_A n (n + 1) / 2`` with ``G(N) = line(N) - f_A N (N + 1) / 2`` (so a prompt of at most 2048 tokens
    takes the line's time exactly). ``f_A`` is the least-squares fit, in relative error, to the measured 4096- and
    8192-token prompts ``y_i``: ``f = sum(x_i / y_i (1 - g_i / y_i)) / sum((x_i / y_i)^2)`` with ``g_i = k line(n / k)``
    and ``x_i = n (n + 1) / 2 - k c (c + 1) / 2`` (``c = n / k``) the pairs beyond the chunks' own. 1.82e-8 s:
    580 and 1466 ms against the measured 650 and 1412."""
    budget = float(SPLITWISE_SIM_BATCH_TOKENS)
    num = den = 0.0
    for n, y_ms in SPLITWISE_BLOOM_MS["h100_prompt"]:
        if n <= budget:
            continue
        k = math.ceil(n / budget)
        c = n / k
        g = k * float(_splitwise_line_s("h100_prompt", c))
        x = n * (n + 1.0) / 2.0 - k * c * (c + 1.0) / 2.0
        y = y_ms / 1e3
        num += x / y * (1.0 - g / y)
        den += (x / y) ** 2
    return num / den


def _splitwise_replicas(workload: Workload) -> tuple[ReplicaModel, ReplicaModel]:
    """A Splitwise prompt machine and token machine (BLOOM-176B, DGX-H100, TP 8) as replica models.

    Prompt: ``G(N)`` = the H100 prompt line less the attention term of :func:`splitwise_attention_s_per_pair`,
    prompts batched up to 2048 tokens, 512 slots. Token: ``G(B)`` = the H100 token line at ``B`` sequences (no
    context term: the simulator's token time depends on the batch only), slots = the simulator's memory
    (:data:`SPLITWISE_SIM_FREE_BYTES`) over a request's reservation at the trace's means, ``(n + 1 + L)`` tokens of
    :data:`SPLITWISE_SIM_KV_BYTES_PER_TOKEN` (the scheduler books the prompt and token tasks' ``max_memory``),
    at most 512. The rest of the replica (window, parallelism) comes from a Llama-2-70B TP-8 replica and is unused."""
    s = _anchor_scenario("llama-2-70b", "h100-sxm", (1024, 128), (1.0, 20.0), 8)
    inp = capacity._resolve_inputs(s, None, None)
    base = _replica(inp, inp.hw, (8, 1), inp.context)
    f_a = splitwise_attention_s_per_pair()
    grid = np.array([1.0, *np.arange(64.0, SPLITWISE_SIM_BATCH_TOKENS + 1.0, 64.0)])  # G not linear: a fine grid
    g_pre = _splitwise_line_s("h100_prompt", grid) - f_a * grid * (grid + 1.0) / 2.0
    common = {"kv_s_per_token": 0.0, "request_overhead_s": 0.0, "prefill_token_weight": 1.0,
              "token_budget": SPLITWISE_SIM_BATCH_TOKENS}
    pre = base.model_copy(update={**common, "token_grid": tuple(grid), "token_part_s": tuple(g_pre),
                                  "attn_s_per_pair": f_a, "max_batch": SPLITWISE_SIM_MAX_BATCH,
                                  "description": "Splitwise BLOOM-176B DGX-H100 prompt machine"})
    tgrid = np.array([1.0, *[n for n, _ in SPLITWISE_BLOOM_MS["h100_token"]]])
    reserve = SPLITWISE_SIM_KV_BYTES_PER_TOKEN * (workload.prompt.mean + 1.0 + workload.output.mean)
    slots = min(SPLITWISE_SIM_MAX_BATCH, int(SPLITWISE_SIM_FREE_BYTES // reserve))
    dec = base.model_copy(update={**common, "token_grid": tuple(tgrid),
                                  "token_part_s": tuple(_splitwise_line_s("h100_token", tgrid)), "attn_s_per_pair": 0.0,
                                  "max_batch": slots, "description": "Splitwise BLOOM-176B DGX-H100 token machine"})
    return pre, dec


def _weighted_q(values: FloatArray, weights: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """Weighted quantiles ``qs`` along the last axis (rows: load points)."""
    order = np.argsort(values, axis=-1)
    return np.asarray(capacity._sorted_weighted_quantile(np.take_along_axis(values, order, -1),
                                                         np.take_along_axis(weights, order, -1), np.asarray(qs)))


def _slo_excess(slowdowns: FloatArray, column: int) -> FloatArray:
    """Largest ``slowdown_q / limit_q`` over Splitwise's three quantiles (``slowdowns``: loads x quantiles) for the
    metric ``column`` of :data:`SPLITWISE_SLO_SLOWDOWNS` (1 TTFT, 2 TBT, 3 E2E); <= 1 meets the SLOs."""
    lim = np.array([row[column] for row in SPLITWISE_SLO_SLOWDOWNS])
    return np.asarray(np.max(slowdowns / lim, axis=-1), dtype=float)


_SW_QUANTILES: tuple[float, ...] = tuple(row[0] for row in SPLITWISE_SLO_SLOWDOWNS)
_SW_OUTPUT_POINTS = 8
_SW_WAIT_POINTS = 16


def _mgc_wait(servers: int, rps: FloatArray, service_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Wait (s) of an M/G/c queue at each rate: values and weights (rows: rates), zero with probability ``1 - P_W``.

    ``P_W`` = Erlang C of ``c`` servers at ``a = lambda E[S]`` (:func:`estimator.capacity.erlang_c`), the tail
    ``P(W > t) = P_W exp(-2 (c - a) t / ((1 + c_s^2) E[S]))`` (Allen-Cunneen, as :func:`estimator.capacity._slot_wait`),
    ``service_s`` equally likely service times."""
    es = float(np.mean(service_s))
    cs2 = float(np.var(service_s)) / es**2
    a = np.minimum(rps * es, servers * (1.0 - 1e-9))
    pw = np.asarray(capacity.erlang_c(servers, a), dtype=float)
    theta = 2.0 * (servers - a) / ((1.0 + cs2) * es)
    w_q = -np.log(1.0 - (np.arange(_SW_WAIT_POINTS) + 0.5) / _SW_WAIT_POINTS)
    values = np.concatenate([np.zeros((rps.size, 1)), w_q[None, :] / theta[:, None]], axis=1)
    weights = np.concatenate([(1.0 - pw)[:, None], np.repeat((pw / _SW_WAIT_POINTS)[:, None], _SW_WAIT_POINTS, 1)], 1)
    return values, weights


def _prompt_pool_rps(pre: ReplicaModel, workload: Workload, machines: int, tbt_s: float) -> float:
    """Largest cluster rate (requests/s) ``machines`` prompt machines serve within the TTFT and E2E SLOs.

    Splitwise routes each prompt to the machine with the fewest pending tokens (JSQ on work, §IV-A), which queues
    like one M/G/c queue of the ``c`` machines (:func:`_mgc_wait`); a prompt's service is its prefill on an idle
    machine (``pre.prefill_alone_s``). TTFT slowdown ``(W + S(n)) / TTFT_A100(n)``; E2E adds the KV transfer
    (:func:`_splitwise_kv_s`) and ``(L - 1)`` token steps of ``tbt_s`` (the token pool uncongested) over
    ``TTFT_A100(n) + (L - 1) TBT_A100(n)``; quantiles over the
    wait, prompt and output points (prompt and output independent, as the simulator's traces)."""
    n = np.maximum(np.rint(workload.prompt.points(48)), 1.0)
    svc = np.asarray(pre.prefill_alone_s(n), dtype=float)
    rates = np.asarray(capacity.LOAD_GRID_FRACTIONS) * machines / float(np.mean(svc))
    wv, ww = _mgc_wait(machines, rates, svc)
    h = rates.size
    ttft = wv[:, :, None] + svc[None, None, :]
    w = np.broadcast_to(ww[:, :, None] / n.size, ttft.shape)
    base_t, base_tbt = _splitwise_line_s("a100_prompt", n), _splitwise_line_s("a100_token", n)
    ttft_sd = _weighted_q((ttft / base_t).reshape(h, -1), w.reshape(h, -1), _SW_QUANTILES)
    dec = workload._output_points(_SW_OUTPUT_POINTS) - 1.0
    e2e = ((ttft + _splitwise_kv_s(n))[..., None] + dec * tbt_s) / (base_t[:, None] + dec[None, :] * base_tbt[:, None])
    e2e_sd = _weighted_q(e2e.reshape(h, -1), np.repeat(w.reshape(h, -1) / dec.size, dec.size, axis=1), _SW_QUANTILES)
    return capacity._max_load(rates, _slo_excess(ttft_sd, 1), _slo_excess(e2e_sd, 3), 1.0, 1.0)


@dataclass(frozen=True)
class _TokenCurve:
    """One token machine's queueing state on the load grid (requests/s per machine), for the pool's slot waits."""

    kern: capacity._Kernel
    loads: FloatArray
    b_op: FloatArray
    ttft_mean: FloatArray
    tpot: FloatArray


def _token_curve(dec: ReplicaModel, workload: Workload) -> _TokenCurve:
    """The token machine under the planner's continuous-batching model (received prompts hold slots:
    :data:`DECODE_KV_HIT_RATE`): operating batch, the received prompt's first step and the TPOT at each load."""
    dw = Workload(prompt=workload.prompt, output=workload.output, prefix_cache_hit_rate=DECODE_KV_HIT_RATE)
    kern = capacity._Kernel.of(dec, capacity._Mix.of(dw, dec.window))
    loads = np.asarray(capacity.LOAD_GRID_FRACTIONS) * capacity._saturation_rps(kern)
    b_op = capacity._operating_batch(kern, loads)
    st = capacity._state(kern, loads[:, None], b_op[:, None]).squeezed()
    _tq, t_mean = capacity._ttft_quantiles(kern, loads, b_op, st)
    return _TokenCurve(kern=kern, loads=loads, b_op=b_op, ttft_mean=np.asarray(t_mean, dtype=float),
                       tpot=np.asarray(st.tpot, dtype=float))


def _token_pool_rps(cur: _TokenCurve, pre: ReplicaModel, workload: Workload, machines: int) -> float:
    """Largest cluster rate ``machines`` token machines serve within the TBT and E2E SLOs.

    The scheduler sends each request to the token machine with the most free memory (§IV-A), so the pool's slots
    queue together: the slot wait ``W`` is Erlang C over ``machines x slots`` (:func:`estimator.capacity._slot_wait`
    with every machine at ``1/machines`` of the rate). The simulator's TBT of a request is its time after the first
    token over its ``L`` tokens (application.py: ``(response - TTFT) / token_size``), here ``(t_kv + W + (L - 1)
    TPOT) / L`` over ``TBT_A100(n)`` (``t_kv``: :func:`_splitwise_kv_s`); E2E = the idle prompt machine's TTFT +
    ``t_kv + W + (L - 1) TPOT`` over
    ``TTFT_A100(n) + (L - 1) TBT_A100(n)``; quantiles over the wait, prompt and output points."""
    m = float(machines)
    wait = capacity._slot_wait(cur.kern.replica.max_batch * machines, cur.kern.mix, cur.loads * m, cur.b_op * m,
                               cur.ttft_mean, cur.tpot)
    n = np.maximum(np.rint(workload.prompt.points(48)), 1.0)
    out = workload._output_points(_SW_OUTPUT_POINTS)
    base_tbt = _splitwise_line_s("a100_token", n)[:, None]
    base = _splitwise_line_s("a100_prompt", n)[:, None] + (out[None, :] - 1.0) * base_tbt
    after = (wait.values[:, :, None, None] + _splitwise_kv_s(n)[None, None, :, None]
             + (out[None, None, None, :] - 1.0) * cur.tpot[:, None, None, None])
    ttft0 = np.asarray(pre.prefill_alone_s(n), dtype=float)[None, None, :, None]
    h = cur.loads.size
    w = np.broadcast_to(wait.weights[:, :, None, None] / (n.size * out.size), (h, wait.values.shape[1], n.size,
                                                                                out.size)).reshape(h, -1)
    tbt_sd = _weighted_q((after / out / base_tbt).reshape(h, -1), w, _SW_QUANTILES)
    e2e_sd = _weighted_q(((ttft0 + after) / base).reshape(h, -1), w, _SW_QUANTILES)
    return capacity._max_load(cur.loads * m, _slo_excess(tbt_sd, 2), _slo_excess(e2e_sd, 3), 1.0, 1.0)


@dataclass(frozen=True)
class SplitwiseProvisioning:
    """Splitwise-HH iso-power provisioning of a trace over :data:`SPLITWISE_HH_MACHINES` machines: for every split
    ``(token machines, prompt pool requests/s, token pool requests/s)``; the cluster serves the smaller of the two."""

    trace: str
    token_slots: int
    splits: tuple[tuple[int, float, float], ...]

    def _best(self, sweep: tuple[int, ...]) -> tuple[int, float, float]:
        return max((s for s in self.splits if s[0] in sweep), key=lambda s: min(s[1], s[2]))

    @property
    def best_token(self) -> int:
        """Token machines of the best split among the authors' swept ones (:data:`SPLITWISE_HH_TOKEN_SWEEP`)."""
        return self._best(SPLITWISE_HH_TOKEN_SWEEP)[0]

    @property
    def ratio(self) -> float:
        """Prompt per token machines of the best swept split."""
        return (SPLITWISE_HH_MACHINES - self.best_token) / self.best_token

    @property
    def unconstrained_ratio(self) -> float:
        """Prompt per token machines of the best split of the 40 machines with any token count (1 to 39)."""
        t = self._best(tuple(range(1, SPLITWISE_HH_MACHINES)))[0]
        return (SPLITWISE_HH_MACHINES - t) / t

    @property
    def cluster_rps(self) -> float:
        """Requests/s the best swept split serves within all nine SLOs."""
        best = self._best(SPLITWISE_HH_TOKEN_SWEEP)
        return min(best[1], best[2])


def splitwise_provisioning(trace: str) -> SplitwiseProvisioning:
    """Splitwise-HH's iso-power search (§IV-D, §VI-B) for the Azure ``code`` or ``conv`` trace, on this planner's
    replica and queueing models fed with Splitwise's own inputs: BLOOM-176B (the model of the paper's cluster
    designs: §VI-D runs "Llama-70B on a cluster meant for BLOOM-176B"), its measured performance model
    (:data:`SPLITWISE_BLOOM_MS`), the trace's token mix (:func:`azure_trace_workload`), its SLOs
    (:data:`SPLITWISE_SLO_SLOWDOWNS`), its batch and memory limits.

    For each split of the 40 machines, the largest rate the prompt pool serves within its SLOs
    (:func:`_prompt_pool_rps`) and the token pool within its own (:func:`_token_pool_rps`), each pool judged with the
    other uncongested; the cluster serves the smaller, and the split that serves the most wins (iso-power
    throughput). Not modelled: the mixed pool (machines lent to the other pool under overload) and prompt batching
    across queued prompts (at the SLO-bound loads few prompts queue)."""
    return _splitwise_provisioning(trace)


@functools.lru_cache(maxsize=2)
def _splitwise_provisioning(trace: str) -> SplitwiseProvisioning:
    w = azure_trace_workload(trace)
    pre, dec = _splitwise_replicas(w)
    tbt = float(_splitwise_line_s("h100_token", dec.max_batch))
    cur = _token_curve(dec, w)
    splits = tuple((t, _prompt_pool_rps(pre, w, SPLITWISE_HH_MACHINES - t, tbt), _token_pool_rps(cur, pre, w, t))
                   for t in range(1, SPLITWISE_HH_MACHINES))
    return SplitwiseProvisioning(trace=trace, token_slots=dec.max_batch, splits=splits)


def _predict(anchor_id: str) -> float:
    kv = float(kv_transfer_bytes(opt_66b(), 512, "fp16"))
    table = {
        "pd-distserve-kv-opt66b": lambda: kv / 2**30,
        "pd-distserve-kv-bandwidth": lambda: required_link_bytes_per_s(kv, 10.0) * 8 / 2**30,
        "pd-distserve-fig1-gain": lambda: distserve_fig1()["gain"],
        "pd-distserve-fig1-prefill": lambda: distserve_fig1()["prefill"],
        "pd-distserve-fig1-decode": lambda: distserve_fig1()["decode"],
        "pd-distserve-fig1-colocated": lambda: distserve_fig1()["colocated"],
        "pd-splitwise-second-token": splitwise_second_token,
        "pd-splitwise-hh-conversation": lambda: splitwise_provisioning("conv").ratio,
        "pd-splitwise-hh-coding": lambda: splitwise_provisioning("code").ratio,
        "pd-distserve-sim-per-gpu": lambda: distserve_placement()[0].per_gpu_rps,
        "pd-distserve-sim-tp-prefill": lambda: float(distserve_placement()[0].tp_prefill),
        "pd-distserve-sim-tp-decode": lambda: float(distserve_placement()[0].tp_decode),
    }
    fn = table.get(anchor_id)
    if fn is None:
        raise InvalidInputError(f"no prediction for disaggregation anchor {anchor_id!r}")
    return float(fn())


def anchor_checks() -> tuple[AnchorCheck, ...]:
    """Every disaggregation anchor of ``data/serving_anchors.csv`` with this module's prediction."""
    path = Path(catalog.data_dir()) / "serving_anchors.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["technique"] == "disaggregated"]
    return tuple(AnchorCheck(anchor_id=r["anchor_id"], metric=r["metric"], published=float(r["published_value"]),
                             predicted=_predict(r["anchor_id"]), source=r["source"]) for r in rows)
