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

Published anchors (:func:`anchor_checks`, ``bench/bench_disagg.py``): the colocated baseline of DistServe's
Figure 1 is modelled as the paper ran it, vLLM 0.2 with whole-prompt prefill iterations that stall the decodes
(:func:`prefill_first_tpot_s`), not as the planner's own colocated replica (mixed iterations); Splitwise's
serialized transfer crosses the 400 Gb/s link the paper states, as one stream.

Sources: Zhong et al., "DistServe", OSDI 2024 (arXiv:2401.09670) §2-3 (goodput, M/D/1 prefill, KV
transfer bandwidth); Patel et al., "Splitwise", ISCA 2024 (arXiv:2311.18677) §IV (phase split, KV
transfer over InfiniBand); the planner's own sources (:mod:`estimator.capacity`). Units: SI inside
(bytes, seconds, requests/s), USD.
"""

from __future__ import annotations

import csv
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
    "AnchorCheck",
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


def _curve(inp: capacity._Inputs, hw: HardwareSpec, layout: tuple[int, int], workload: Workload, context: int,
           prefill_only: bool = False) -> _Curve:
    """Replica model (``simulate.replica_model``) and queueing curve (``capacity.queue_metrics``) of one instance
    of ``layout`` = (tensor parallel, pipeline parallel)."""
    s, a = inp.s, inp.s.assumptions
    tp, pp = layout
    es = engines.for_scenario(s, hw, tp)
    replica = replica_model(
        inp.model, hw, s.model.weight_dtype, tp=tp, pp=pp, kv_dtype=s.model.kv_dtype, context_tokens=context,
        efficiency=capacity._efficiency(s), memory_utilization=capacity._utilization(s, inp.model, hw, tp, pp),
        runtime_overhead_bytes=a.runtime_overhead_gb * 1e9, max_num_seqs=es.max_seqs,
        token_budget=es.prefill_chunk_tokens)
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
    link = kv_link(st.hw_p, st.hw_d, s.serving.kv_link, cp.devices, cd.devices, capacity._efficiency(s))
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
    """Forget earlier plans (tests, benchmarks of the cold path)."""
    with _cache_lock:
        _cache.clear()


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


def distserve_fig1() -> dict[str, float]:
    """DistServe Figure 1 (OPT-13B, one A100-80GB per instance, 512 + 64 tokens, Poisson arrivals) at its goals,
    :data:`DISTSERVE_FIG1_SLO` (P90 TTFT 0.4 s, P90 TPOT 0.04 s): requests/s one GPU serves within them when it
    only prefills (p95 TTFT of the prefill queue), only decodes (TPOT of the decode queue) or runs both as the
    vLLM of the paper did (whole-prompt prefill iterations: the engine's chunk set to the 512-token prompt,
    p95 TTFT of the queueing model and P90 TPOT of :func:`prefill_first_tpot_s`), and the per-GPU gain
    ``1 / (1/P + 1/D) / C`` (each request takes ``1/P`` of a prefill GPU and ``1/D`` of a decode GPU; the paper's
    2P1D: min(2 x 5.6, 10) / 3 = 3.3 against 1.6). ``colocated_mixed`` is the planner's own colocated plan at the
    same goals (TPOT read as end to end ``0.4 + 63 x 0.04`` s): its queueing model gives every running sequence a
    token in the iteration that prefills a prompt (mixed iterations, as vLLM >= 0.6 and Sarathi-Serve), so it
    cannot show the stalls; its engine chunk (8192 tokens) already takes the 512-token prompt whole."""
    ttft_goal, tpot_goal = DISTSERVE_FIG1_SLO
    s = _anchor_scenario("opt-13b", "a100-80gb-sxm", (512, 64), (ttft_goal, ttft_goal + 63 * tpot_goal), 1)
    s = s.replace(engine={"prefill_chunk_tokens": 512})
    st = _setup(s)
    pre_c, dec_c = st.prefill[1], st.decode[1]
    if isinstance(pre_c, str) or isinstance(dec_c, str):
        raise InvalidInputError(f"OPT-13B does not run on one A100: {pre_c if isinstance(pre_c, str) else dec_c}")
    inp = st.inp
    col_c = _curve(inp, inp.hw, (1, 1), Workload(prompt=inp.din, output=inp.dout), inp.context)
    tpot90 = np.array([prefill_first_tpot_s(col_c.replica, 512, 64, lam, 0.9) for lam in col_c.loads])
    pre = capacity._max_load(pre_c.loads, pre_c.ttft, np.zeros_like(pre_c.loads), ttft_goal, math.inf)
    dec = capacity._max_load(dec_c.loads, np.zeros_like(dec_c.loads), dec_c.tpot, math.inf, tpot_goal, use_ttft=False)
    col = capacity._max_load(col_c.loads, col_c.ttft, tpot90, ttft_goal, tpot_goal)
    mixed = capacity.plan(s).slo_rps_per_replica
    return {"prefill": pre, "decode": dec, "colocated": col, "colocated_mixed": mixed,
            "gain": 1.0 / (1.0 / pre + 1.0 / dec) / col}


def splitwise_second_token() -> float:
    """Splitwise §VI-A: a serialized KV transfer's share of the second token's latency, ``t_kv / TBT``, for a
    1500-token prompt (the coding trace's median) of Llama-2-70B (assumed) between two DGX-H100, tensor parallel 8.

    The link is the one the paper states for its H100 setup, "400 Gbps" InfiniBand (§VI-A: "200 vs 400 Gbps"
    for A100 and H100), carrying the serialized transfer as one stream: :func:`kv_link` with one GPU a side
    (``0.7 x 400 Gb/s`` + the network latency), not the eight NICs of a DGX in parallel. Its measured per-layer
    transfer leaves ~5 ms exposed on H100 (§VI-A); the serialized times are only in Figure 14's image."""
    hw = catalog.get_hardware("h100-sxm")
    link = kv_link(hw, hw, "network", 1, 1)
    t_kv = float(kv_transfer_s(kv_transfer_bytes(catalog.get_model("llama-2-70b"), 1500, "fp16"),
                               link.bandwidth_bytes_per_s, link.latency_s))
    tbt = performance.estimate("llama-2-70b", "h100-sxm", "fp16", 1, 1500, 2, tp=8).tpot_s
    return t_kv / tbt


def splitwise_ratio(prompt_tokens: int, output_tokens: int) -> float:
    """Splitwise-HH pool ratio (prefill per decode instance, ``lambda*_d / lambda*_p``) for a trace's medians:
    Llama-2-70B fp16 on DGX-H100 (tensor parallel 8, Azure East US), p95 TTFT 1 s and end-to-end 20 s (assumed)."""
    s = _anchor_scenario("llama-2-70b", "h100-sxm", (prompt_tokens, output_tokens), (1.0, 20.0), 8,
                         ("azure", "eastus"), "network")
    return plan(s).capacity_ratio


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
        "pd-splitwise-hh-conversation": lambda: splitwise_ratio(1020, 129),
        "pd-splitwise-hh-coding": lambda: splitwise_ratio(1500, 13),
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
