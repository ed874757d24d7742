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

Sources: Zhong et al., "DistServe", OSDI 2024 (arXiv:2401.09670) §2-3 (goodput, M/D/1 prefill, KV
transfer bandwidth); Patel et al., "Splitwise", ISCA 2024 (arXiv:2311.18677) §IV (phase split, KV
transfer over InfiniBand); the planner's own sources (:mod:`estimator.capacity`). Units: SI inside
(bytes, seconds, requests/s), USD.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator import capacity, catalog, engines, memory, performance, pricing
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
    "LINK_KINDS",
    "DisaggPlan",
    "KvLink",
    "PoolPlan",
    "kv_link",
    "kv_transfer_bytes",
    "kv_transfer_s",
    "link_per_gpu",
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
    replica: ReplicaModel
    sat: float
    loads: FloatArray
    ttft: FloatArray
    e2e: FloatArray
    tpot: FloatArray
    occupancy_cap: float


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


def _curve(inp: capacity._Inputs, hw: HardwareSpec, tp: int, workload: Workload, context: int) -> _Curve:
    """Replica model (``simulate.replica_model``) and queueing curve (``capacity.queue_metrics``) of one instance."""
    s, a = inp.s, inp.s.assumptions
    es = engines.for_scenario(s, hw, tp)
    replica = replica_model(
        inp.model, hw, s.model.weight_dtype, tp=tp, kv_dtype=s.model.kv_dtype, context_tokens=context,
        efficiency=capacity._efficiency(s), memory_utilization=capacity._utilization(s, inp.model, hw, tp),
        runtime_overhead_bytes=a.runtime_overhead_gb * 1e9, max_num_seqs=es.max_seqs,
        token_budget=es.prefill_chunk_tokens)
    sat = capacity.saturation_rps(replica, workload)
    loads = np.asarray(capacity.LOAD_GRID_FRACTIONS) * sat
    q = capacity.queue_metrics(replica, loads, workload, saturation=sat)
    occ = np.asarray(q.occupancy, dtype=float)
    limit = capacity.SLOT_OCCUPANCY_LIMIT * replica.max_batch
    occ_cap = float(np.interp(limit, occ, loads)) if occ[-1] > limit else float(loads[-1])
    return _Curve(tp=tp, replica=replica, sat=sat, loads=loads, ttft=np.asarray(q.ttft_p95_s, dtype=float),
                  e2e=np.asarray(q.e2e_p95_s, dtype=float), tpot=np.asarray(q.tpot_s, dtype=float),
                  occupancy_cap=occ_cap)


def _pool_scenario(s: Scenario, hw: HardwareSpec) -> Scenario:
    """The scenario with the pool's accelerator (its own cheapest instance when it differs)."""
    if hw.hardware_id == s.deploy.hardware_id:
        return s
    return s.replace(deploy=s.deploy.model_copy(update={"hardware_id": hw.hardware_id, "instance_id": ""}))


def _tps(inp: capacity._Inputs, hw: HardwareSpec, requested: int, context: int) -> list[int]:
    """Tensor-parallel degrees to try for a pool: the requested one, or those the colocated planner would try."""
    if requested > 0:
        return [requested]
    return [t for t, p in capacity._tp_candidates(_pool_scenario(inp.s, hw), inp.model, hw, context) if p == 1]


def _price(s: Scenario, hw: HardwareSpec, devices: int) -> tuple[Instance, float]:
    inst = capacity._pick_instance(_pool_scenario(s, hw), hw, devices)
    return inst, pricing.instance_price_usd_per_h(inst, pricing.PricingModel(s.deploy.pricing.value))


def _curves(inp: capacity._Inputs, hw: HardwareSpec, tps: list[int], workload: Workload,
            context: int) -> dict[int, _Curve | str]:
    """Each degree's curve, or why it cannot run."""
    out: dict[int, _Curve | str] = {}
    for tp in tps:
        try:
            out[tp] = _curve(inp, hw, tp, workload, context)
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
        prefill=_curves(inp, hw_p, _tps(inp, hw_p, s.serving.prefill_tp, pre_ctx), pre_w, pre_ctx),
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


def _share_usd_per_rps(s: Scenario, hw: HardwareSpec, tp: int, lam: float) -> float:
    """Monthly cost of one instance's share of its machine per request/s it serves."""
    inst, price = _price(s, hw, tp)
    share = tp / inst.accelerator_count if tp <= inst.accelerator_count else math.ceil(tp / inst.accelerator_count)
    return price * share * capacity.MONTH_OVER_WEEK * 168.0 / lam


def _pair(st: _Setup, cp: _Curve, cd: _Curve) -> _Pair | str:
    """Size one pair: the prefill load within the TTFT goal (KV transfer of the p95 prompt added), then the
    decode load within what the prefill side's p95 TTFT leaves of the end-to-end goal."""
    s = st.inp.s
    link = kv_link(st.hw_p, st.hw_d, s.serving.kv_link, cp.tp, cd.tp, capacity._efficiency(s))
    t_kv = float(kv_transfer_s(st.kv_p95, link.bandwidth_bytes_per_s, link.latency_s))
    pre = _load(st.inp, cp, (s.slo.ttft_p95_s, math.inf), (t_kv, t_kv))
    if pre.lam_cap <= 0:
        return f"prefill TP {cp.tp} misses the TTFT goal at any load (KV transfer {t_kv * 1e3:,.1f} ms)"
    ttft = pre.at(pre.ttft, pre.lam_cap)
    dec = _load(st.inp, cd, (math.inf, s.slo.e2e_p95_s), (0.0, ttft))
    if dec.lam_cap <= 0:
        return f"decode TP {cd.tp} misses the end-to-end goal after a {ttft:,.2f} s TTFT"
    try:
        usd_p = _share_usd_per_rps(s, st.hw_p, cp.tp, pre.lam_cap)
        usd_d = _share_usd_per_rps(s, st.hw_d, cd.tp, dec.lam_cap)
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
        raise InvalidInputError(f"no disaggregated layout of {st.inp.model.name} meets the goals (p95 TTFT "
                                f"{st.inp.s.slo.ttft_p95_s:g} s, end to end {st.inp.s.slo.e2e_p95_s:g} s): "
                                + "; ".join(dict.fromkeys(reasons)))
    no = "does not meet the goals with any layout of the other pool"
    return best, _options(st.prefill, bp, dict.fromkeys(st.prefill, no)), _options(st.decode, bd,
                                                                                      dict.fromkeys(st.decode, no))
