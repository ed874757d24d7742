"""KV-cache tiers: the LRU session model, tier capacities, TTFT, anchors, the capacity page section."""

from __future__ import annotations

import csv
import heapq
import math
import random
from collections import OrderedDict
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estimator import catalog, entrypoints, kv_tiers
from estimator.errors import InvalidInputError
from estimator.scenario import Scenario, encode_value, from_query_params, to_query_params

ROOT = Path(__file__).resolve().parent.parent


def _profile(turns: float = 4.0, system: float = 100.0, u: float = 50.0, o: float = 150.0,
             gap: float = 60.0) -> kv_tiers.SessionProfile:
    return kv_tiers.SessionProfile(turns=turns, system_tokens=system, new_tokens_per_turn=u, output_tokens=o,
                                   gap_s=gap)


def test_occupancy_matches_the_closed_form_by_hand() -> None:
    # T = 4, S = 100, u + o = 200, g = 60 s, lambda = 0.5 /s, b = 1000 B, tau = 60 s:
    # B = 1000 (100 + 0.5 x 200 x [6 x 60 x (1 - e^-1) + 4 x 60]) = 1000 x (100 + 100 x 467.5634) = 46,856,340 B
    p = _profile()
    expected = 1000 * (100 + 0.5 * 200 * (6 * 60 * (1 - math.exp(-1)) + 240))
    assert kv_tiers.lru_occupancy_bytes(60.0, 0.5, p, 1000.0) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(46_856_340, rel=1e-6)


def test_characteristic_time_solves_the_occupancy_equation() -> None:
    p = _profile()
    for cap in (1e6, 5e7, 1e9):
        tau = kv_tiers.lru_characteristic_time_s(cap, 0.5, p, 1000.0)
        assert kv_tiers.lru_occupancy_bytes(tau, 0.5, p, 1000.0) == pytest.approx(cap, rel=1e-6)
    # smaller than the system prompt: nothing survives
    assert kv_tiers.lru_characteristic_time_s(50_000.0, 0.5, p, 1000.0) == 0.0


def test_tier_hits_are_inclusive_and_token_weighted() -> None:
    p = _profile()
    gpu_only = kv_tiers.tier_hits((5e7, 0.0, 0.0), 0.5, p, 1000.0)
    tau = kv_tiers.lru_characteristic_time_s(5e7, 0.5, p, 1000.0)
    # h_gpu = [T S + (1 - e^-tau/g) H] / P_tot with H = 6 x 200, P_tot = 4 x 150 + 1200
    assert gpu_only.gpu == pytest.approx((400 + (1 - math.exp(-tau / 60)) * 1200) / 1800, rel=1e-9)
    assert gpu_only.host == gpu_only.ssd == 0.0
    # a host tier smaller than the GPU adds nothing (inclusive); a larger one adds hits, all capped by reuse
    assert kv_tiers.tier_hits((5e7, 1e7, 0.0), 0.5, p, 1000.0).host == pytest.approx(0.0, abs=1e-12)
    tiers = kv_tiers.tier_hits((5e7, 2e8, 1e12), 0.5, p, 1000.0)
    assert tiers.host > 0 and tiers.ssd > 0
    assert gpu_only.total < tiers.total <= 1600 / 1800 + 1e-12  # at most T S + H of P_tot


def _simulate_lru(cap: float, sessions_per_s: float, p: kv_tiers.SessionProfile, b: float, n: int = 20_000) -> float:
    """Discrete-event LRU over whole session prefixes: Poisson sessions, exponential gaps, evict the least
    recently used until the bytes fit; token-weighted hit share of the prompts after a warm-up fifth."""
    rng = random.Random(1)
    events: list[tuple[float, int, int]] = []
    t = 0.0
    for i in range(n):
        t += rng.expovariate(sessions_per_s)
        heapq.heappush(events, (t, i, 1))
    cache: OrderedDict[int, float] = OrderedDict()
    used, step = p.system_tokens * b, p.new_tokens_per_turn + p.output_tokens
    hit = total = 0.0
    while events:
        t, i, k = heapq.heappop(events)
        if i >= n // 5:
            hit += p.system_tokens + ((k - 1) * step if i in cache else 0.0)
            total += p.system_tokens + p.new_tokens_per_turn + (k - 1) * step
        used -= cache.pop(i, 0.0)
        cache[i] = k * step * b
        used += cache[i]
        while used > cap and cache:
            used -= cache.popitem(last=False)[1]
        if k < p.turns:
            heapq.heappush(events, (t + rng.expovariate(1 / p.gap_s), i, k + 1))
    return hit / total


@pytest.mark.parametrize("cap", [5e7, 2e8, 6e8])
def test_che_approximation_matches_an_lru_simulation(cap: float) -> None:
    # the closed form against a simulated LRU cache (measured here: 0.301/0.302, 0.670/0.668, 0.921/0.921)
    p = _profile(turns=6)
    model = kv_tiers.tier_hits((cap, 0.0, 0.0), 1.0, p, 1000.0).gpu
    assert model == pytest.approx(_simulate_lru(cap, 1.0, p, 1000.0), abs=0.02)


def test_session_profile_reproduces_the_plan_mean_prompt() -> None:
    p = kv_tiers.session_profile(4000.0, 250.0, 8.0, 500.0, 30.0)
    assert p.mean_prompt_tokens == pytest.approx(4000.0)
    with pytest.raises(InvalidInputError, match="cannot hold"):
        kv_tiers.session_profile(1000.0, 250.0, 20.0, 500.0, 30.0)


def test_ttft_is_missed_prefill_plus_loads() -> None:
    # 1 s for the whole prompt, 0.3 s for the cached prefix, 10 ms step, 2 GB from host at 50 GB/s
    t = kv_tiers.tiered_ttft_s(1.0, 0.3, 0.01, (2e9, 0.0), (50e9, 7e9))
    assert t == pytest.approx(0.7 + 0.01 + 0.04)


def test_host_links_follow_the_generation() -> None:
    # PCIe x16, one direction: Gen4 32 GB/s, Gen5 64 GB/s (PCI-SIG); NVLink-C2C 900 GB/s bidirectional
    assert kv_tiers.host_link(catalog.get_hardware("h100-sxm")).bytes_per_s == 64e9
    assert kv_tiers.host_link(catalog.get_hardware("a100-80gb-sxm")).bytes_per_s == 32e9
    assert kv_tiers.host_link(catalog.get_hardware("l4")).bytes_per_s == 32e9  # data/hardware.csv: PCIe4
    assert kv_tiers.host_link(catalog.get_hardware("gb200")).name == "NVLink-C2C"


def _anchors() -> dict[str, float]:
    with (ROOT / "data" / "serving_anchors.csv").open(newline="") as fh:
        return {r["anchor_id"]: float(r["published_value"]) for r in csv.DictReader(fh) if r["technique"] == "kv_tiers"}


def test_anchors_within_25_percent() -> None:
    # AttentionStore arXiv:2403.19708 §2.3: 13.9 GB/s of KV from LLaMA-65B prefill on 4 x A100-80GB;
    # LMSYS SGLang HiCache blog 2025-09-10 (Novita): hit rate 40% -> 80% cut the average TTFT 56%
    published = _anchors()
    assert len(published) >= 2
    predicted = kv_tiers.anchor_predictions()
    for anchor_id, value in published.items():
        assert predicted[anchor_id] == pytest.approx(value, rel=0.25), anchor_id


@pytest.fixture(scope="module")
def tiered() -> tuple[Scenario, kv_tiers.KvTierAnalysis]:
    s = Scenario().replace(kv_tiers={"enabled": True, "turns": 8, "system_tokens": 200, "gap_s": 1800.0},
                           tokens={"input_mean": 4000, "input_p95": 12000})
    return s, kv_tiers.analyze(s, entrypoints.compute("capacity", s))


def test_each_tier_buys_hits_and_feeds_the_planner(tiered: tuple[Scenario, kv_tiers.KvTierAnalysis]) -> None:
    s, a = tiered
    gpu, host, ssd = a.options
    assert gpu.hit_rate < host.hit_rate < ssd.hit_rate < 1
    assert ssd.load_s > host.load_s >= 0 == gpu.load_s
    assert all(o.ttft_s < a.no_cache_ttft_s for o in a.options)
    # capacity from data/instances.csv: the instance's RAM (GiB) x share x devices / accelerators
    plan = entrypoints.compute("capacity", s)
    inst = catalog.get_instance(plan.instance_id)
    assert a.capacity.host_bytes == pytest.approx(inst.ram_gb * 2**30 * 0.5 * plan.devices_per_replica
                                                  / inst.accelerator_count)
    fed = kv_tiers.with_hit_rate(s, ssd.hit_rate)
    assert fed.traffic.prefix_cache_hit_rate == round(ssd.hit_rate, 4)
    assert entrypoints.compute("capacity", fed).monthly_cost_usd < plan.monthly_cost_usd


def test_settled_hit_rate_is_a_fixed_point(tiered: tuple[Scenario, kv_tiers.KvTierAnalysis]) -> None:
    s, a = tiered
    plan_for = lambda sc: entrypoints.compute("capacity", sc)  # noqa: E731
    settled = kv_tiers.settle(s, entrypoints.compute("capacity", s), plan_for, tolerance=0.01)
    assert [x.option.name for x in settled] == [o.name for o in a.options]
    for x in settled:
        # F(h) >= h at the settled h, F(h + tolerance) < h + tolerance: the crossing is bracketed
        assert kv_tiers.analyze(s, plan_for(kv_tiers.with_hit_rate(s, x.hit_rate))).options[
            settled.index(x)].hit_rate >= x.hit_rate
        above = x.hit_rate + 0.011
        assert kv_tiers.analyze(s, plan_for(kv_tiers.with_hit_rate(s, above))).options[settled.index(x)].hit_rate < above
    # fewer replicas share the traffic: the settled rate is below the rate at the no-reuse fleet
    assert settled[-1].hit_rate < a.options[-1].hit_rate
    assert settled[0].monthly_cost_usd >= settled[1].monthly_cost_usd >= settled[2].monthly_cost_usd
    assert kv_tiers.effective_prefix_hit_rate(s, entrypoints.compute("capacity", s), plan_for) == settled[-1].hit_rate


def test_scenario_section_round_trips_through_the_link() -> None:
    s = Scenario().replace(kv_tiers={"enabled": True, "turns": 12.0, "ssd_gb": 0.0})
    q = to_query_params(s)
    assert q["kvt"] == encode_value(True) and q["kvtn"] == "12" and q["kvssd"] == "0"
    back, ignored = from_query_params(q)
    assert not ignored and back == s


def test_capacity_page_section_runs() -> None:
    at = AppTest.from_file("../pages/capacity.py", default_timeout=60)
    at.query_params["kvt"] = "true"  # Streamlit writes bound booleans as true/false
    at.query_params["in"] = "4000"
    at.query_params["in95"] = "12000"
    at.query_params["kvtn"] = "8"
    at.run()
    assert not at.exception
    assert any("How this is computed (KV-cache tiers)" in e.label for e in at.expander)
    assert any("+ local SSD" in str(df.value) for df in at.dataframe)
