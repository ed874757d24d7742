"""KV-cache tiers: prefix-cache reuse with offload to host memory and local SSD.

A multi-turn (chat, agentic) session sends its whole history again at every turn. The part already
in a cache skips prefill; the planner's ``traffic.prefix_cache_hit_rate`` is that share of prompt
tokens (:mod:`estimator.capacity` discounts prefill by it). This module computes the rate that the
capacity of each tier buys, and the time to first token when the hit part has to be loaded from a
slower tier:

- **capacity** per replica: the GPU KV budget left after the weights, activations and the requests
  in flight (:func:`estimator.memory.batch_memory`), the instance's host DRAM share
  (``data/instances.csv`` ``ram_gb``) and a local NVMe SSD (an input);
- **bandwidth**: the host link of each accelerator (PCIe generation or NVLink-C2C,
  :data:`HOST_LINKS`) and the SSD's read bandwidth (an input, default :data:`SSD_READ_BYTES_PER_S`);
- **hit rate**: an LRU cache over sessions in the characteristic-time approximation
  (Che et al. 2002, IEEE JSAC 20(7); Fricker et al. 2012 for variable sizes), closed form for
  exponential gaps between turns (:func:`lru_characteristic_time_s`, :func:`tier_hits`);
- **TTFT**: prefill of the missed tokens plus the load time of the hit part from its tier
  (:func:`tiered_ttft_s`).

Anchors (``data/serving_anchors.csv``, ``bench/bench_kv_tiers.py``, ``tests/test_kv_tiers.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog, engines, memory, performance
from estimator.errors import InvalidInputError
from estimator.specs import HardwareSpec, ModelSpec

if TYPE_CHECKING:
    from estimator.capacity import CapacityPlan
    from estimator.scenario import Scenario

__all__ = [
    "HOST_LINKS",
    "HOST_LINK_EFFICIENCY",
    "SSD_READ_BYTES_PER_S",
    "HostLink",
    "SessionProfile",
    "TierCapacity",
    "TierHits",
    "TierOption",
    "KvTierAnalysis",
    "host_link",
    "session_profile",
    "lru_occupancy_bytes",
    "lru_characteristic_time_s",
    "tier_hits",
    "tiered_ttft_s",
    "analyze",
    "SettledOption",
    "settle",
    "effective_prefix_hit_rate",
    "with_hit_rate",
    "MAX_HIT_RATE",
    "kv_generation_bytes_per_s",
    "ttft_reduction",
    "anchor_predictions",
]

GB = 1e9
GIB = 2.0**30


@dataclass(frozen=True)
class HostLink:
    """The link between one accelerator and host memory: name and bytes/s in one direction."""

    name: str
    bytes_per_s: float


_PCIE = {  # x16, one direction: 16 / 32 / 64 GB/s (PCI-SIG: 8 / 16 / 32 GT/s per lane x 16 lanes, 128b/130b)
    "PCIe3": HostLink("PCIe Gen3 x16", 16e9),
    "PCIe4": HostLink("PCIe Gen4 x16", 32e9),
    "PCIe5": HostLink("PCIe Gen5 x16", 64e9),
}
_C2C = HostLink("NVLink-C2C", 450e9)  # 900 GB/s bidirectional (NVIDIA Grace Hopper / GB200 NVL72 datasheets)

HOST_LINKS: dict[str, HostLink] = {
    "v100-sxm2": _PCIE["PCIe3"],
    "a100-40gb-sxm": _PCIE["PCIe4"], "a100-80gb-sxm": _PCIE["PCIe4"],
    "h100-sxm": _PCIE["PCIe5"], "h100-nvl": _PCIE["PCIe5"], "h200": _PCIE["PCIe5"], "h20": _PCIE["PCIe5"],
    "h800": _PCIE["PCIe5"], "b200": _PCIE["PCIe5"], "b300": _PCIE["PCIe5"],
    "gb200": _C2C, "gb300": _C2C,
    "mi300x": _PCIE["PCIe5"], "mi325x": _PCIE["PCIe5"], "mi355x": _PCIE["PCIe5"],
    "gaudi2": _PCIE["PCIe4"], "gaudi3": _PCIE["PCIe5"],
}
"""Host link per accelerator where ``data/hardware.csv``'s ``intra_node_link`` is not PCIe itself.

SXM/OAM parts reach the CPU over PCIe x16 of their generation (A100: Gen4; H100/H200/B200: Gen5,
"the 128 GB/s PCIe connection" of x86 H100 servers, NVIDIA technical blog "GH200 Superchip
accelerates inference by 2x in multiturn interactions", 2024); Grace-based GB200/GB300 use
NVLink-C2C at 900 GB/s bidirectional. Others without an entry: PCIe Gen4 (assumed)."""

HOST_LINK_EFFICIENCY: float = 0.8
"""Share of the link's one-direction rate a KV load achieves (assumed: DMA copies of 0.5-2 MB blocks,
vLLM blog "Inside vLLM's new KV offloading connector", 2026; PCIe protocol overhead ~ 10-20%)."""

SSD_READ_BYTES_PER_S: float = 7.0e9
"""Sequential read of one PCIe Gen4 x4 NVMe drive: "up to 7,000 MB/s" (NVMe glossary, nuvorix.com;
vendor data sheets of Gen4 data-center drives). An input: Gen5 drives read ~14 GB/s, RAID-0 adds up."""


def host_link(hardware: HardwareSpec) -> HostLink:
    """The accelerator's host link: its own PCIe link when ``intra_node_link`` is PCIe (PCIe cards),
    else :data:`HOST_LINKS`, else PCIe Gen4 (assumed)."""
    link = hardware.intra_node_link
    if link in _PCIE:
        return _PCIE[link]
    return HOST_LINKS.get(hardware.hardware_id, _PCIE["PCIe4"])


# ------------------------------------------------------------------ traffic profile


class SessionProfile(BaseModel):
    """A multi-turn session: ``T`` turns, shared system prompt ``S``, new user tokens ``u`` and output
    ``o`` per turn, exponential gaps of mean ``g`` between turns. Tokens; seconds."""

    model_config = ConfigDict(frozen=True)

    turns: float = Field(ge=1.0)
    system_tokens: float = Field(ge=0.0)
    new_tokens_per_turn: float = Field(gt=0.0)
    output_tokens: float = Field(gt=0.0)
    gap_s: float = Field(gt=0.0)

    @property
    def history_tokens(self) -> float:
        """Reusable history over a session, ``sum_{k=2}^T (k-1)(u+o) = T(T-1)/2 (u+o)``."""
        return self.turns * (self.turns - 1) / 2 * (self.new_tokens_per_turn + self.output_tokens)

    @property
    def prompt_tokens(self) -> float:
        """Prompt tokens over a session, ``T (S + u) + T(T-1)/2 (u+o)``."""
        return self.turns * (self.system_tokens + self.new_tokens_per_turn) + self.history_tokens

    @property
    def mean_prompt_tokens(self) -> float:
        return self.prompt_tokens / self.turns


def session_profile(mean_prompt_tokens: float, output_tokens: float, turns: float, system_tokens: float,
                    gap_s: float) -> SessionProfile:
    """The session whose mean prompt over its turns is the planner's mean prompt ``I``.

    ``I = S + u + (T-1)/2 (u + o)``, so ``u = (I - S - (T-1) o / 2) / (1 + (T-1)/2)``: the traffic's
    token mix stays the one the capacity plan uses. Raises when ``I`` is too short for ``S`` and
    the history of ``T`` turns.
    """
    half = (turns - 1) / 2
    u = (mean_prompt_tokens - system_tokens - half * output_tokens) / (1 + half)
    if u < 1:
        raise InvalidInputError(
            f"a mean prompt of {mean_prompt_tokens:,.0f} tokens cannot hold a {system_tokens:,.0f}-token system prompt "
            f"and the history of {turns:g} turns with {output_tokens:,.0f} output tokens each: raise the mean prompt, "
            "or lower the turns or the system prompt")
    return SessionProfile(turns=turns, system_tokens=system_tokens, new_tokens_per_turn=u,
                          output_tokens=output_tokens, gap_s=gap_s)


# ------------------------------------------------------------------ LRU model


def lru_occupancy_bytes(tau_s: float, sessions_per_s: float, profile: SessionProfile, kv_bytes_per_token: float) -> float:
    """Bytes an LRU cache holds when every prefix stays ``tau`` seconds after its last use.

    Notes
    -----
    Characteristic-time (Che) approximation of LRU (Che, Tung & Wang 2002, IEEE JSAC 20(7) eq. 3;
    Fricker, Robert & Roberts 2012 for objects of different sizes): an object is in the cache iff it
    was used within the last ``tau``, and Little's law gives the bytes held. After turn ``k`` a
    session's private prefix is ``k (u + o)`` tokens; it is used again after a gap ``G`` (exponential,
    mean ``g``) unless it was the last turn, so it occupies the cache ``E[min(G, tau)] = g (1 - e^{-tau/g})``
    for ``k < T`` and ``tau`` after the last turn. With the shared system prompt held once::

        B(tau) = S b + lambda_s b (u + o) [ T(T-1)/2 g (1 - e^{-tau/g}) + T tau ]

    ``lambda_s`` sessions per second reach the replica (sessions stick to one replica, as prefix-aware
    routers do), ``b`` is KV bytes per token. Units: bytes.
    """
    g, t = profile.gap_s, profile.turns
    per_session = (profile.new_tokens_per_turn + profile.output_tokens) * (
        t * (t - 1) / 2 * g * -math.expm1(-tau_s / g) + t * tau_s)
    return kv_bytes_per_token * (profile.system_tokens + sessions_per_s * per_session)


def lru_characteristic_time_s(capacity_bytes: float, sessions_per_s: float, profile: SessionProfile,
                              kv_bytes_per_token: float) -> float:
    """The ``tau_C`` with ``B(tau_C) = C`` (:func:`lru_occupancy_bytes`), by bisection; 0 when the cache
    cannot even hold the shared system prompt. ``B`` grows without bound in ``tau``, so one root exists.
    Units: seconds."""
    if sessions_per_s <= 0 or kv_bytes_per_token <= 0:
        raise InvalidInputError("sessions per second and KV bytes per token must be positive")
    if capacity_bytes <= lru_occupancy_bytes(0.0, sessions_per_s, profile, kv_bytes_per_token):
        return 0.0
    lo, hi = 0.0, profile.gap_s
    while lru_occupancy_bytes(hi, sessions_per_s, profile, kv_bytes_per_token) < capacity_bytes:
        lo, hi = hi, hi * 2
        if hi > 1e15:
            return hi
    for _ in range(200):
        mid = (lo + hi) / 2
        if lru_occupancy_bytes(mid, sessions_per_s, profile, kv_bytes_per_token) < capacity_bytes:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    return (lo + hi) / 2


class TierHits(BaseModel):
    """Share of prompt tokens served by each tier (the rest is prefilled), for one tier set-up."""

    model_config = ConfigDict(frozen=True)

    gpu: float = Field(ge=0.0, le=1.0)
    host: float = Field(ge=0.0, le=1.0)
    ssd: float = Field(ge=0.0, le=1.0)
    characteristic_time_s: tuple[float, float, float]

    @property
    def total(self) -> float:
        return self.gpu + self.host + self.ssd


def tier_hits(capacities_bytes: tuple[float, float, float], sessions_per_s: float, profile: SessionProfile,
              kv_bytes_per_token: float) -> TierHits:
    """Prefix hit rate per tier (GPU, host, SSD), token-weighted over a session's turns.

    Notes
    -----
    The tiers are inclusive (write-through: LMCache and SGLang HiCache copy every block to the host
    as it is written), so the reach of tiers ``1..i`` is ``C_{<=i} = max(C_1..C_i)`` and its
    characteristic time ``tau_i`` solves ``B(tau_i) = C_{<=i}``. A turn finds its history in tier
    ``<= i`` iff the gap since the previous turn was shorter than ``tau_i``: ``P_i = 1 - e^{-tau_i/g}``.
    The shared system prompt is always in the GPU tier when it fits (it is used by every request).
    Token-weighted over the session::

        h_gpu = [T S + P_1 H] / P_tot,    h_i = (P_i - P_{i-1}) H / P_tot   (i = host, SSD)

    with ``H = T(T-1)/2 (u+o)`` reusable history and ``P_tot = T(S+u) + H`` prompt tokens.
    """
    reach = 0.0
    taus: list[float] = []
    probs: list[float] = []
    for cap in capacities_bytes:
        if cap < 0:
            raise InvalidInputError(f"tier capacity must be zero or more bytes, got {cap}")
        reach = max(reach, cap)
        tau = lru_characteristic_time_s(reach, sessions_per_s, profile, kv_bytes_per_token)
        taus.append(tau)
        probs.append(-math.expm1(-tau / profile.gap_s))
    total, hist = profile.prompt_tokens, profile.history_tokens
    system = profile.turns * profile.system_tokens if taus[0] > 0 else 0.0
    return TierHits(
        gpu=(system + probs[0] * hist) / total,
        host=(probs[1] - probs[0]) * hist / total,
        ssd=(probs[2] - probs[1]) * hist / total,
        characteristic_time_s=(taus[0], taus[1], taus[2]),
    )


def tiered_ttft_s(prefill_s: float, prefix_prefill_s: float, step_s: float, hit_bytes: tuple[float, float],
                  load_bytes_per_s: tuple[float, float]) -> float:
    """Time to first token with a cached prefix: prefill of the missed part plus the loads.

    Notes
    -----
    ``TTFT = [t_pre(I) - t_pre(I_hit) + t_step] + sum_tier bytes_tier / bw_tier``: ``t_pre`` is the
    roofline prefill time of a prompt (:func:`estimator.performance.estimate`, batch 1), so the
    difference is the work of the missed tokens including their attention over the cached prefix,
    and ``t_step`` the fixed per-step cost it cancels. GPU hits load nothing; host and SSD hits are
    copied to the GPU before the missed part runs (no overlap: an upper bound; LMCache and HiCache
    overlap layer by layer). Units: seconds.
    """
    load = sum(b / bw for b, bw in zip(hit_bytes, load_bytes_per_s, strict=True) if b > 0)
    return max(prefill_s - prefix_prefill_s, 0.0) + step_s + load


# ------------------------------------------------------------------ one replica of a plan


class TierCapacity(BaseModel):
    """Per replica: bytes each tier holds for cached prefixes and the load bandwidth of host and SSD."""

    model_config = ConfigDict(frozen=True)

    gpu_bytes: float = Field(ge=0.0)
    host_bytes: float = Field(ge=0.0)
    ssd_bytes: float = Field(ge=0.0)
    host_load_bytes_per_s: float = Field(gt=0.0)
    ssd_load_bytes_per_s: float = Field(gt=0.0)
    host_link: str
    in_flight_bytes: float = Field(ge=0.0)


class TierOption(BaseModel):
    """One tier set-up (GPU only, + host, + SSD): hit rate per tier, mean TTFT and its parts."""

    model_config = ConfigDict(frozen=True)

    name: str
    hits: TierHits
    hit_rate: float = Field(ge=0.0, lt=1.0)
    ttft_s: float = Field(gt=0.0)
    prefill_s: float = Field(ge=0.0)
    load_s: float = Field(ge=0.0)


class KvTierAnalysis(BaseModel):
    """Everything the page's KV-tier section shows for one capacity plan."""

    model_config = ConfigDict(frozen=True)

    profile: SessionProfile
    sessions_per_s_per_replica: float = Field(gt=0.0)
    kv_bytes_per_token: float = Field(gt=0.0)
    capacity: TierCapacity
    no_cache_ttft_s: float = Field(gt=0.0)
    options: tuple[TierOption, ...]

    @property
    def effective(self) -> TierOption:
        """The set-up with every tier the scenario configures (the last option)."""
        return self.options[-1]


def _replica_capacity(s: Scenario, plan: CapacityPlan, model: ModelSpec, hw: HardwareSpec,
                      kv_per_token: float, rps: float) -> TierCapacity:
    """GPU, host and SSD bytes per replica for cached prefixes, and the load bandwidths.

    ``C_gpu = (M u - W/(t p) - A/t - O) p / s_kv - N_fly (I + O_out) b``: the engine budget ``u M``
    (:func:`estimator.engines.memory_utilization`, the planner's rule) left after the weights, one prefill
    chunk's activations and the runtime (per device, as :func:`estimator.memory.batch_memory`), over the
    replica, minus the KV of the requests in flight
    (``N_fly = min(B_max, lambda_r e2e_p95)``, Little's law). ``C_host = RAM f_host n/N`` and
    ``C_ssd = SSD n/N`` for ``n`` devices of an instance of ``N``. Loads: ``n x link x eta`` from
    host, ``min(SSD_read n/N, host link)`` from SSD.
    """
    k = s.kv_tiers
    i, o = plan.input_tokens_mean, plan.output_tokens_mean
    context = max(1, min(model.max_context, round(i + o)))
    es = engines.for_scenario(s, hw, plan.tp)  # the engine's own budget rule, as the planner applies it
    util = engines.memory_utilization(es, model, hw, plan.weight_dtype, plan.kv_dtype, tp=plan.tp, pp=plan.pp,
                                      runtime_overhead_bytes=s.assumptions.runtime_overhead_gb * GB)
    terms = memory.batch_memory(model, plan.weight_dtype, plan.kv_dtype, context, hardware=hw, tp=plan.tp,
                                pp=plan.pp, prefill_chunk_tokens=memory.PREFILL_CHUNK_TOKENS,
                                memory_utilization=util, runtime_overhead_bytes=s.assumptions.runtime_overhead_gb * GB)
    one = terms.at(1)
    budget = terms.device_budget_bytes or 0.0
    free_dev = max(0.0, budget - (one.per_device_total_bytes - one.per_device_kv_cache_bytes))
    kv_replica = free_dev * plan.pp / terms.kv_share
    in_flight = min(float(plan.max_batch), rps * plan.e2e_p95_s) * (i + o) * kv_per_token
    inst = catalog.get_instance(plan.instance_id)
    share = plan.devices_per_replica / inst.accelerator_count
    link = host_link(hw)
    host_bw = plan.devices_per_replica * link.bytes_per_s * HOST_LINK_EFFICIENCY
    return TierCapacity(
        gpu_bytes=max(0.0, kv_replica - in_flight), host_bytes=inst.ram_gb * GIB * k.host_fraction * share,
        ssd_bytes=k.ssd_gb * GB * share, host_load_bytes_per_s=host_bw,
        ssd_load_bytes_per_s=min(k.ssd_read_gbps * GB * share, host_bw), host_link=link.name,
        in_flight_bytes=in_flight,
    )


def _prefill_s(model: ModelSpec, hw: HardwareSpec, plan: CapacityPlan, tokens: float) -> float:
    """Roofline prefill time of one prompt of ``tokens`` on the plan's layout (batch 1)."""
    n = max(1, min(model.max_context - 1, round(tokens)))
    return performance.estimate(model, hw, plan.weight_dtype, 1, n, 1, plan.tp, plan.pp,
                                kv_dtype=plan.kv_dtype).ttft_s


def analyze(s: Scenario, plan: CapacityPlan) -> KvTierAnalysis:
    """GPU only vs + host DRAM vs + local SSD for the plan's replica and the scenario's sessions.

    The per-replica request rate is the plan's peak-hour load ``lambda_r = peak_rps / peak_replicas``;
    sessions arrive at ``lambda_r / T``. Raises ``InvalidInputError`` when the mean prompt cannot hold
    the session profile (:func:`session_profile`).
    """
    k = s.kv_tiers
    model, hw = catalog.get_model(plan.model_id), catalog.get_hardware(plan.hardware_id)
    profile = session_profile(plan.input_tokens_mean, plan.output_tokens_mean, k.turns, k.system_tokens, k.gap_s)
    rps = plan.peak_rps / max(plan.peak_replicas, 1)
    if rps <= 0:
        raise InvalidInputError("the plan serves no requests at its peak hour")
    sessions = rps / profile.turns
    b = memory.kv_cache_bytes_per_token(model, plan.kv_dtype)
    if b <= 0:
        raise InvalidInputError(f"{model.name} keeps no KV cache: nothing to reuse")
    cap = _replica_capacity(s, plan, model, hw, b, rps)
    prompt = profile.mean_prompt_tokens
    full = _prefill_s(model, hw, plan, prompt)
    step = _prefill_s(model, hw, plan, 1)
    setups = (("GPU only", (cap.gpu_bytes, 0.0, 0.0)), ("+ host DRAM", (cap.gpu_bytes, cap.host_bytes, 0.0)),
              ("+ local SSD", (cap.gpu_bytes, cap.host_bytes, cap.ssd_bytes)))
    options = []
    for name, caps in setups:
        hits = tier_hits(caps, sessions, profile, b)
        hit_tokens = hits.total * prompt
        cached = _prefill_s(model, hw, plan, hit_tokens) if hit_tokens >= 1 else step
        loaded = (hits.host * prompt * b, hits.ssd * prompt * b)
        bws = (cap.host_load_bytes_per_s, cap.ssd_load_bytes_per_s)
        ttft = tiered_ttft_s(full, cached, step, loaded, bws)
        load = sum(x / bw for x, bw in zip(loaded, bws, strict=True))
        options.append(TierOption(name=name, hits=hits, hit_rate=min(hits.total, MAX_HIT_RATE), ttft_s=ttft,
                                  prefill_s=ttft - load, load_s=load))
    return KvTierAnalysis(profile=profile, sessions_per_s_per_replica=sessions, kv_bytes_per_token=b,
                          capacity=cap, no_cache_ttft_s=full, options=tuple(options))


MAX_HIT_RATE: float = 0.99
"""Largest hit rate handed to the planner (``traffic.prefix_cache_hit_rate`` must stay below 1)."""


class SettledOption(BaseModel):
    """One tier set-up at the fleet its own hit rate sizes: the hit rate the re-planned fleet sustains,
    that plan's replicas and cost, and the tier analysis at that plan."""

    model_config = ConfigDict(frozen=True)

    option: TierOption
    hit_rate: float = Field(ge=0.0, lt=1.0, description="self-consistent: F(h) >= h within the tolerance")
    peak_replicas: int = Field(ge=0)
    monthly_cost_usd: float = Field(ge=0.0)
    sessions_per_s_per_replica: float = Field(gt=0.0)


def settle(s: Scenario, plan: CapacityPlan, plan_for: Callable[[Scenario], CapacityPlan],
           tolerance: float = 0.01) -> tuple[SettledOption, ...]:
    """Each set-up's hit rate at the fleet that hit rate sizes (a fixed point).

    Notes
    -----
    A higher hit rate discounts prefill, so the planner needs fewer replicas; each then sees more
    sessions (``lambda_s = lambda / (T R)``) with the same tiers, and keeps prefixes for less time. With
    ``F(h)`` the hit rate of :func:`analyze` at ``plan(h)`` (the scenario with
    ``traffic.prefix_cache_hit_rate = h``), ``F`` falls as ``h`` rises, so ``F(h) = h`` has one crossing;
    bisection on ``[0, F(0)]`` keeps the largest ``h`` with ``F(h) >= h`` to ``tolerance``. ``plan_for``
    computes a plan (the page passes the cached entry point).
    """
    zero = plan_for(with_hit_rate(s, 0.0))
    first = analyze(s, zero)
    out = []
    for i, start in enumerate(first.options):
        lo, hi = 0.0, start.hit_rate
        best = (start, zero, first.sessions_per_s_per_replica)
        while hi - lo > tolerance:
            mid = (lo + hi) / 2
            p = plan_for(with_hit_rate(s, mid))
            a = analyze(s, p)
            if a.options[i].hit_rate >= mid:
                lo, best = mid, (a.options[i], p, a.sessions_per_s_per_replica)
            else:
                hi = mid
        opt, p, sessions = best
        out.append(SettledOption(option=opt, hit_rate=lo, peak_replicas=p.peak_replicas,
                                 monthly_cost_usd=p.monthly_cost_usd, sessions_per_s_per_replica=sessions))
    return tuple(out)


def effective_prefix_hit_rate(s: Scenario, plan: CapacityPlan, plan_for: Callable[[Scenario], CapacityPlan]) -> float:
    """The prefix-cache hit rate every configured tier sustains at the fleet it sizes (:func:`settle`):
    the value for ``traffic.prefix_cache_hit_rate``."""
    return settle(s, plan, plan_for)[-1].hit_rate


def with_hit_rate(s: Scenario, hit_rate: float) -> Scenario:
    """``s`` with ``traffic.prefix_cache_hit_rate`` set to ``hit_rate`` (rounded to 4 decimals)."""
    traffic = s.traffic.model_dump()
    traffic["prefix_cache_hit_rate"] = round(min(max(hit_rate, 0.0), MAX_HIT_RATE), 4)
    return s.replace(traffic=traffic)


def kv_generation_bytes_per_s(model: ModelSpec, hardware: HardwareSpec | str, dtype: str, prompt_tokens: int,
                              batch: int = 1, tp: int = 1, pp: int = 1, kv_dtype: str | None = None) -> float:
    """Rate at which prefill writes KV cache: ``B I b / t_prefill(B, I)`` (bytes/s).

    It sets how fast a tier fills, so how long a prefix survives in it (the ``lambda_s`` term of
    :func:`lru_occupancy_bytes` in bytes per second). AttentionStore (Gao et al. 2024,
    arXiv:2403.19708 §2.3) measures 13.9 GB/s for LLaMA-65B on 4 x A100-80GB.
    """
    kv = kv_dtype or dtype
    e = performance.estimate(model, hardware, dtype, batch, prompt_tokens, 1, tp, pp, kv_dtype=kv)
    return batch * prompt_tokens * memory.kv_cache_bytes_per_token(model, kv) / e.ttft_s


def ttft_reduction(model: ModelSpec, hardware: HardwareSpec | str, dtype: str, prompt_tokens: int,
                   hit_before: float, hit_after: float, tp: int = 1, pp: int = 1) -> float:
    """``1 - TTFT(h_after) / TTFT(h_before)`` for a prompt whose cached share rises from ``h_before`` to
    ``h_after``, loads overlapped with compute (:func:`tiered_ttft_s` with no load term)."""
    def ttft(h: float) -> float:
        def f(n: float) -> float:
            n = max(1, min(model.max_context - 1, round(n)))
            return performance.estimate(model, hardware, dtype, 1, n, 1, tp, pp).ttft_s
        return tiered_ttft_s(f(prompt_tokens), f(h * prompt_tokens), f(1), (0.0, 0.0), (1.0, 1.0))

    return 1.0 - ttft(hit_after) / ttft(hit_before)


def _llama_65b() -> ModelSpec:
    """LLaMA-65B (Touvron et al. 2023, arXiv:2302.13971 Table 2: 80 layers, d 8192, 64 heads, 65.2B
    parameters; d_ff 22016 and vocabulary 32000 from the released config) on llama-2-70b's spec."""
    return catalog.get_model("llama-2-70b").model_copy(update=dict(
        model_id="llama-65b", name="LLaMA 65B", n_kv_heads=64, d_ff=22016, params_total=65.2e9,
        params_active=65.2e9, max_context=2048))


def anchor_predictions() -> dict[str, float]:
    """The model's value for each KV-tier anchor of ``data/serving_anchors.csv``, for the setup its
    ``notes`` record (published values stay in the CSV; ``bench/bench_kv_tiers.py`` compares)."""
    fill = kv_generation_bytes_per_s(_llama_65b(), "a100-80gb-sxm", "fp16", 2000, batch=4, tp=4) / GIB
    cut = ttft_reduction(catalog.get_model("qwen3-235b-a22b"), "h200", "bf16", 25_000, 0.4, 0.8, tp=8)
    return {"kvt-attentionstore-llama65b-fill": fill, "kvt-hicache-novita-qwen3coder": cut}
