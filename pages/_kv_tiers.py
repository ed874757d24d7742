"""Capacity page section: KV-cache tiers (GPU only vs + host DRAM vs + local SSD), ``estimator.kv_tiers``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from estimator import entrypoints, kv_tiers
from estimator.capacity import CapacityPlan
from estimator.errors import EstimatorError
from estimator.formatting import duration, money
from estimator.scenario import Scenario
from pages._ui import lazy_expander, show_error

D = Scenario().kv_tiers


def kv_tiers_section(scenario: Scenario, plan: CapacityPlan) -> None:
    """Inputs of the multi-turn profile and the tiers, then the comparison (only when switched on)."""
    with st.expander("KV-cache tiers: prefix reuse in GPU, host DRAM and local SSD", icon=":material/layers:",
                     expanded=scenario.kv_tiers.enabled):
        if not st.toggle("Model multi-turn prefix reuse with KV offload", D.enabled, key="kvt", bind="query-params"):
            st.caption("Off: the plan uses the prefix-cache hit rate typed above.")
            return
        c1, c2, c3 = st.columns(3)
        inputs = {
            "enabled": True,
            "turns": c1.number_input("Turns per session", 1.0, 1000.0, D.turns, 1.0, key="kvtn",
                                     bind="query-params"),
            "system_tokens": c1.number_input("Shared system prompt (tokens)", 0, 1_000_000, D.system_tokens, 100,
                                             key="kvsys", bind="query-params"),
            "gap_s": c2.number_input("Mean time between turns (s)", 1.0, 86_400.0, D.gap_s, 10.0, key="kvgap",
                                     bind="query-params", help="Agentic tool loops: seconds; people in a chat: minutes."),
            "host_fraction": c2.slider("Host DRAM share for KV", 0.0, 1.0, D.host_fraction, 0.05, key="kvhf",
                                       bind="query-params"),
            "ssd_gb": c3.number_input("Local SSD for KV per instance (GB)", 0.0, 1e6, D.ssd_gb, 100.0, key="kvssd",
                                      bind="query-params"),
            "ssd_read_gbps": c3.number_input("SSD read bandwidth per instance (GB/s)", 0.1, 1000.0, D.ssd_read_gbps,
                                             0.5, key="kvsbw", bind="query-params",
                                             help="Default: one PCIe Gen4 x4 NVMe drive, ~7 GB/s."),
        }
        try:
            scenario = scenario.replace(kv_tiers=inputs)  # the widgets' values, also on a link's first run
            a = kv_tiers.analyze(scenario, plan)
            settled = kv_tiers.settle(scenario, plan, lambda s: entrypoints.compute("capacity", s))
        except EstimatorError as exc:
            show_error(exc)
            return
        except ValueError as exc:  # a value the schema refuses
            st.error(f"KV-cache tiers: {exc}", icon=":material/error:")
            return
        _table(a, settled, plan)
        best = settled[-1].hit_rate
        st.button(f"Use {best:.0%} as the plan's prefix-cache hit rate", key="_kvt_apply", on_click=_apply,
                  args=(best,), help="Sets the prefix-cache hit rate above to what every configured tier buys.")
        _how_computed(a)


def _apply(hit_rate: float) -> None:
    """Callback (a click): the planner's prefix-cache hit rate becomes the tiers' rate."""
    st.session_state["pch"] = min(round(hit_rate, 2), 0.95)


def _table(a: kv_tiers.KvTierAnalysis, settled: tuple[kv_tiers.SettledOption, ...], plan: CapacityPlan) -> None:
    c = a.capacity
    st.caption(f"Per replica of this plan: GPU {c.gpu_bytes / 1e9:,.0f} GB free for prefixes (after "
               f"{c.in_flight_bytes / 1e9:,.0f} GB of requests in flight), host {c.host_bytes / 1e9:,.0f} GB over "
               f"{c.host_link} ({c.host_load_bytes_per_s / 1e9:,.0f} GB/s), SSD {c.ssd_bytes / 1e9:,.0f} GB "
               f"({c.ssd_load_bytes_per_s / 1e9:,.1f} GB/s); {a.profile.new_tokens_per_turn:,.0f} new and "
               f"{a.profile.output_tokens:,.0f} output tokens per turn.")
    rows = [{"Tiers": "no reuse", "Prefix hit rate": "0%", "GPU / host / SSD": "-",
             "Mean TTFT (no queueing)": duration(a.no_cache_ttft_s), "of which loads": "-",
             "Peak replicas": "-", "Sessions/s per replica": "-", "Monthly cost": "-"}]
    for x in settled:
        o = x.option
        rows.append({"Tiers": o.name, "Prefix hit rate": f"{x.hit_rate:.0%}",
                     "GPU / host / SSD": f"{o.hits.gpu:.0%} / {o.hits.host:.0%} / {o.hits.ssd:.0%}",
                     "Mean TTFT (no queueing)": duration(o.ttft_s),
                     "of which loads": duration(o.load_s) if o.load_s >= 1e-4 else "0 ms",
                     "Peak replicas": x.peak_replicas, "Sessions/s per replica": f"{x.sessions_per_s_per_replica:,.3g}",
                     "Monthly cost": money(x.monthly_cost_usd)})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Each set-up at the fleet its own hit rate sizes: fewer replicas share the same traffic, so each "
               f"keeps prefixes for less time (now {plan.scenario.traffic.prefix_cache_hit_rate:.0%}: "
               f"{money(plan.monthly_cost_usd)}).")


def _how_computed(a: kv_tiers.KvTierAnalysis) -> None:
    exp = lazy_expander("How this is computed (KV-cache tiers)", "how_kvt_method", icon=":material/functions:")
    if exp is None:
        return
    with exp:
        st.markdown("A session of $T$ turns shares a system prompt $S$; turn $k$ adds $u$ user and $o$ output tokens, "
                    "so its history is $(k-1)(u+o)$. $u$ follows from the plan's mean prompt "
                    "$I = S + u + \\tfrac{T-1}{2}(u+o)$. Gaps between turns are exponential with mean $g$.")
        st.latex(r"B(\tau) = S\,b + \lambda_s\, b\,(u+o)\Big[\tfrac{T(T-1)}{2}\, g\,(1-e^{-\tau/g}) + T\tau\Big]")
        st.markdown("is the KV a least-recently-used cache holds when a prefix stays $\\tau$ after its last use "
                    "(characteristic-time approximation: Che et al. 2002, Fricker et al. 2012), $b$ bytes per token, "
                    "$\\lambda_s$ sessions per second per replica (sticky routing). A tier set-up of reach $C$ "
                    "(inclusive tiers: $C_{\\le i} = \\max_j C_j$) keeps prefixes for $\\tau_C$ with $B(\\tau_C) = C$, "
                    "and a turn finds its history there with probability $1 - e^{-\\tau_C/g}$.")
        st.latex(r"h = \frac{T S + (1-e^{-\tau_C/g})\,\tfrac{T(T-1)}{2}(u+o)}{T(S+u) + \tfrac{T(T-1)}{2}(u+o)}")
        st.latex(r"\mathrm{TTFT} = t_{pre}(I) - t_{pre}(h I) + t_{step} + \sum_{tier} \frac{h_{tier} I\, b}{BW_{tier}}")
        st.markdown(
            "GPU capacity: the engine budget left after weights, a prefill chunk's activations, the runtime and the "
            "requests in flight (Little's law at the peak hour). Host: the instance's DRAM (`data/instances.csv`) times "
            "the share above; SSD: the input. Loads: PCIe of the accelerator's generation (or NVLink-C2C on Grace "
            f"parts) at {kv_tiers.HOST_LINK_EFFICIENCY:.0%} efficiency per device; SSD at its read bandwidth. Loads "
            "are not overlapped with compute (an upper bound). Each set-up is re-planned at its hit rate, which "
            "discounts prefill and so needs fewer replicas, each with more sessions: the rate shown is the fixed point "
            "$h = F(h)$ of the hit rate at the fleet it sizes (bisection). The load time is not in the planner's "
            "TTFT.\n\n"
            "Checked against AttentionStore (Gao et al. 2024, arXiv:2403.19708: KV written at 13.9 GB/s by "
            "LLaMA-65B on 4 x A100) and SGLang HiCache (LMSYS blog 2025-09-10: hit rate 40% -> 80% cut TTFT 56%): "
            "`bench/bench_kv_tiers.py`, `data/serving_anchors.csv`.")
        t = a.effective.hits.characteristic_time_s
        st.caption(f"Characteristic times: GPU {duration(t[0])}, + host {duration(t[1])}, + SSD {duration(t[2])}.")
