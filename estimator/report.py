"""Reports: one ``Report`` per page and scenario, rendered to CSV or JSON.

The page, the CSV export and the CLI render the same ``Report``, so they cannot disagree.
CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are prefixed with a single quote (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog, engines, entrypoints, memory
from estimator.errors import EstimatorError
from estimator.scenario import QUERY_KEYS, Scenario, to_query_params
from estimator.specs import ModelSpec

if TYPE_CHECKING:  # the results' modules are heavy; reports import them only to type their input
    from estimator.analysis import MemoryAnalysis, PerformanceAnalysis, TrainingAnalysis
    from estimator.capacity import CapacityPlan
    from estimator.lifetime import LifetimePlan
    from estimator.recommend import Recommendation
    from estimator.uncertainty import Range
    from estimator.variants import Exploration

__all__ = [
    "Row",
    "Report",
    "escape_cell",
    "to_csv",
    "to_json",
    "comparison_csv",
    "memory_report",
    "training_report",
    "performance_report",
    "capacity_report",
    "variants_report",
    "lifetime_report",
    "recommend_report",
    "REPORTS",
    "build_report",
    "input_rows",
]

CSV_COLUMNS = ["section", "name", "value", "unit", "source", "as_of"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


class Row(BaseModel):
    """One line of a report: a named quantity with its unit and, where external, its source."""

    model_config = ConfigDict(frozen=True)

    section: str = Field(pattern=r"^(input|output|assumption|source|warning)$")
    name: str
    value: float | int | str | bool | None
    unit: str = ""
    source: str = ""
    as_of: str = ""


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    page: str
    title: str
    scenario: Scenario
    rows: tuple[Row, ...]

    def outputs(self) -> dict[str, Any]:
        return {r.name: r.value for r in self.rows if r.section == "output"}

    def value(self, name: str) -> Any:
        for r in self.rows:
            if r.name == name and r.section == "output":
                return r.value
        raise KeyError(name)


def escape_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas in text cells; numbers pass through unchanged.

    Every line of a multi-line cell is guarded (a spreadsheet may start a row at any line break,
    and some treat a lone CR as one), and CR or CRLF become LF so that the CSV writer quotes the
    cell (OWASP "CSV Injection").

    >>> escape_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> escape_cell(-3.5), escape_cell("-3.5"), escape_cell("@sum")
    (-3.5, '-3.5', "'@sum")
    >>> escape_cell("x\\r=1+1")
    "x\\n'=1+1"
    """
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_escape_line(line) for line in text.split("\n"))


def _escape_line(line: str) -> str:
    if not line.startswith(_DANGEROUS):
        return line
    try:
        float(line)
        return line  # a plain negative number written as text is not a formula
    except ValueError:
        return "'" + line


def _finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no inf/NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
        return float(f"{value:.12g}")
    return value


def to_csv(report: Report) -> str:
    """The report as CSV: columns section, name (with its unit suffix), value, unit, source, as_of."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        writer.writerow([escape_cell(_cell(getattr(r, c))) for c in CSV_COLUMNS])
    return buf.getvalue()


def to_json(report: Report) -> str:
    """The report and its scenario as JSON (the scenario part can be imported again)."""
    return json.dumps(
        {
            "page": report.page,
            "title": report.title,
            "scenario": report.scenario.model_dump(mode="json"),
            "link_params": to_query_params(report.scenario),
            "rows": [_finite_json(r.model_dump(mode="json")) for r in report.rows],
        },
        indent=2,
        allow_nan=False,
        default=str,
    )


def comparison_csv(reports: Sequence[Report], labels: Sequence[str]) -> str:
    """Side-by-side CSV: one line per (section, name, unit), one column per scenario."""
    keys: list[tuple[str, str, str]] = []
    values: dict[tuple[str, str, str], dict[int, Any]] = {}
    for i, rep in enumerate(reports):
        for r in rep.rows:
            if r.section == "source":
                continue
            k = (r.section, r.name, r.unit)
            if k not in values:
                keys.append(k)
                values[k] = {}
            values[k][i] = r.value
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "name", "unit", *[escape_cell(str(label)) for label in labels]])
    for k in keys:
        writer.writerow([*k, *[escape_cell(_cell(values[k].get(i, ""))) for i in range(len(reports))]])
    return buf.getvalue()


def input_rows(scenario: Scenario, sections: Sequence[str]) -> list[Row]:
    """The scenario's inputs of ``sections`` as report rows (name = section.field)."""
    rows = []
    for (section, field), _key in QUERY_KEYS.items():
        if section not in sections:
            continue
        value = getattr(getattr(scenario, section), field)
        if isinstance(value, ModelSpec):  # an imported model: its architecture, field by field
            rows += [Row(section="input", name=f"{section}.{field}.{k}", value=v if not isinstance(v, StrEnum) else v.value)
                     for k, v in value.model_dump(exclude={"as_of"}).items()]
            continue
        if value is None and (section, field) == ("model", "custom"):
            value = ""  # a catalog model
        if isinstance(value, tuple):
            value = ",".join(x if isinstance(x, str) else f"{x:g}" for x in value)
        elif hasattr(value, "value"):
            value = value.value
        unit = _unit_of(field)
        rows.append(Row(section="input", name=f"{section}.{field}", value=value, unit=unit))
    return rows


def range_rows(ranges: Sequence[tuple[str, Range | None, str]]) -> list[Row]:
    """``<name>_low`` and ``<name>_high`` output rows of each nominal 80% range (its basis as the
    source; non-finite ends empty); ranges that are None give no rows."""
    rows = []
    for name, rng, unit in ranges:
        if rng is None:
            continue
        for end, v in (("low", rng.low), ("high", rng.high)):
            rows.append(Row(section="output", name=f"{name}_{end}", value=v if math.isfinite(v) else None, unit=unit,
                            source=rng.basis))
    return rows


def _unit_of(name: str) -> str:
    for suffix, unit in (("_s", "s"), ("_gb", "GB"), ("_usd", "USD"), ("_rps", "requests/s"),
                         ("requests_per_day", "requests/day"), ("_tokens", "tokens"),
                         ("_gco2e_per_kwh", "gCO2e/kWh"), ("_kwh", "kWh"), ("pue", "ratio"), ("batch", "sequences"), ("rate", "fraction"), ("fraction", "fraction"),
                         ("utilization", "fraction")):
        if name.endswith(suffix):
            return unit
    if name.startswith(("input_", "output_")):
        return "tokens"
    return ""


def memory_report(scenario: Scenario, result: MemoryAnalysis | None = None) -> Report:
    """Report of the Model & memory page for ``scenario`` (its :func:`memory_analysis` result)."""
    r = result if result is not None else entrypoints.compute("memory", scenario)
    model, hw, tp, mem, fit, a = r.model, r.hardware, r.tp, r.memory, r.fit, scenario.assumptions
    best_batch, best_ctx = r.max_batch, r.max_context_tokens
    es = engines.for_scenario(scenario, hw, tp)
    rows = input_rows(scenario, ("model", "deploy", "engine", "memory", "assumptions"))
    out = [
        ("tensor_parallel", tp, ""),
        ("weights_total_bytes", mem.weights_bytes, "bytes"),
        ("kv_cache_total_bytes", mem.kv_cache_bytes, "bytes"),
        ("kv_cache_per_token_bytes", r.kv_cache_per_token_bytes, "bytes"),
        ("activations_per_device_bytes", mem.per_device_activation_bytes, "bytes"),
        ("per_device_total_bytes", mem.per_device_total_bytes, "bytes"),
        ("device_budget_bytes", mem.device_budget_bytes, "bytes"),
        ("fits", bool(mem.fits), ""),
        ("accelerators_needed", fit.devices if fit.fits else None, "devices"),
        ("max_batch", best_batch, "sequences"),
        ("max_context_tokens", best_ctx, "tokens"),
    ]
    if r.training is not None:
        t = r.training
        out += [
            ("training_zero_stage", t.zero_stage, ""),
            ("training_per_device_bytes", t.chosen.total_bytes, "bytes"),
            ("training_fits_device", bool(t.fits_device), ""),
            ("training_min_devices", t.fit.devices if t.fit.fits else None, "devices"),
        ]
    rows += [Row(section="output", name=n, value=v, unit=u) for n, v, u in out]
    if r.training_error:
        rows.append(Row(section="warning", name="training_memory", value=r.training_error))
    rows += [
        Row(section="assumption", name="memory_budget_fraction", value=r.budget_bytes / hw.memory_bytes,
            unit="fraction", source=f"{es.label} memory fraction {es.memory_fraction:.2f} under its rule "
            f"({es.rule.value.replace('_', ' ')}), data/engines.csv"
            + (" (overridden)" if a.memory_utilization is not None else "")),
        Row(section="assumption", name="runtime_overhead_gb", value=a.runtime_overhead_gb, unit="GB",
            source="estimate: CUDA context, workspaces, NCCL buffers, fragmentation"),
        Row(section="assumption", name="quant_group_size", value=memory.QUANT_GROUP_SIZE, unit="weights",
            source="GPTQ/AWQ default group size (arXiv:2210.17323, arXiv:2306.00978)"),
    ]
    rows += _sources(model_ids=[model.model_id], hardware_ids=[hw.hardware_id])
    return Report(page="memory", title=f"{model.name} on {tp} x {hw.name}", scenario=scenario, rows=tuple(rows))


def _sources(
    model_ids: Sequence[str] = (), hardware_ids: Sequence[str] = (), instance_ids: Sequence[str] = ()
) -> list[Row]:
    """Source rows (``source``, ``as_of``) of the catalog entries a report used."""
    rows = []
    for mid in model_ids:
        m = catalog.get_model(mid)
        rows.append(Row(section="source", name=f"model:{mid}", value="assumed" if m.assumed else "published",
                        source=m.source, as_of=str(m.as_of or "")))
    for hid in hardware_ids:
        h = catalog.get_hardware(hid)
        rows.append(Row(section="source", name=f"hardware:{hid}", value="assumed" if h.assumed else "published",
                        source=h.source, as_of=str(h.as_of or "")))
    for iid in instance_ids:
        inst = catalog.get_instance(iid)
        rows.append(Row(section="source", name=f"instance:{iid}", value="price snapshot",
                        source=inst.source, as_of=str(inst.as_of or "")))
    return rows


REPORTS: dict[str, Callable[..., Report]] = {"memory": memory_report}
"""Page name -> report builder ``(scenario, result=None) -> Report``; ``result`` is the page's
entry-point result (:mod:`estimator.entrypoints`), computed (once, cached) when not given."""


def build_report(scenario: Scenario, page: str = "memory", result: Any = None) -> Report:
    """The report of ``page`` for ``scenario``, rendered from ``result`` when the caller already has
    the page's entry-point result; raises ``EstimatorError`` for unknown pages."""
    try:
        builder = REPORTS[page]
    except KeyError:
        raise EstimatorError(f"unknown report {page!r}; choose one of {', '.join(REPORTS)}") from None
    return builder(scenario, result)


def training_report(scenario: Scenario, result: TrainingAnalysis | None = None) -> Report:
    """Report of the Training budget page for ``scenario`` (its ``analysis.training_analysis``):
    the plan, and the five cheapest instances that can run it."""
    analysis = result if result is not None else entrypoints.compute("training", scenario)
    plan = analysis.plan
    rows = input_rows(scenario, ("model", "deploy", "memory", "assumptions", "train", "lora"))
    out = [
        ("params", plan.params, "parameters"),
        ("params_active", plan.params_active, "parameters"),
        ("tokens", plan.tokens, "tokens"),
        ("tokens_per_param", plan.tokens_per_param, "tokens/parameter"),
        ("flops", plan.flops, "FLOP"),
        ("mfu", plan.mfu, "fraction"),
        ("gpu_hours", plan.gpu_hours, "accelerator-hours"),
        ("n_accelerators", plan.n_accelerators, "devices"),
        ("data_parallel", plan.dp, ""),
        ("tensor_parallel", plan.tp, ""),
        ("pipeline_parallel", plan.pp, ""),
        ("wall_clock_days", plan.wall_clock_days, "days"),
        ("instance_id", plan.instance_id or "", ""),
        ("price_usd_per_accelerator_h", plan.price_usd_per_accelerator_h, "USD/h"),
        ("cost_usd", plan.cost_usd, "USD"),
        ("energy_kwh", plan.energy_kwh, "kWh"),
        ("operational_co2e_kg", plan.operational_co2e_kg, "kgCO2e"),
        ("embodied_co2e_kg", plan.embodied_co2e_kg, "kgCO2e"),
        ("co2e_kg", plan.co2e_kg, "kgCO2e"),
        ("grid_gco2e_per_kwh", plan.grid_gco2e_per_kwh, "gCO2e/kWh"),
        ("pue", plan.pue, "ratio"),
        ("chinchilla_loss", plan.chinchilla_loss, "nats/token"),
        ("fits_in_memory", bool(plan.memory.fits), ""),
    ]
    rows += [Row(section="output", name=n, value=v, unit=u) for n, v, u in out]
    rows += [Row(section="warning", name=f"warning_{i + 1}", value=w) for i, w in enumerate(plan.warnings)]
    rows += [Row(section="assumption", name=f"assumption_{i + 1}", value=a) for i, a in enumerate(plan.assumptions)]
    rows += _instance_rows(analysis.instances)
    if plan.model_id:
        rows += _sources(model_ids=[plan.model_id])
    rows += _sources(hardware_ids=[plan.hardware_id])
    rows += _sources(instance_ids=[plan.instance_id] if plan.instance_id else [])
    title = f"Training {plan.model_name}: {plan.params / 1e9:,.3g}B parameters on {plan.tokens / 1e12:,.3g}T tokens"
    return Report(page="training", title=title, scenario=scenario, rows=tuple(rows))


def _instance_rows(frame: Any, top: int = 5) -> list[Row]:
    """The ``top`` cheapest instances of a training comparison that can run it across nodes."""
    if frame is None or frame.empty:
        return []
    ok = frame[frame["multi-node"]] if "multi-node" in frame else frame
    rows = []
    for i, r in enumerate(ok.head(top).to_dict("records"), start=1):
        p = f"instance_{i}"
        rows += [Row(section="output", name=f"{p}.instance_id", value=str(r["instance"])),
                 Row(section="output", name=f"{p}.cost_usd", value=r.get("cost (USD)"), unit="USD"),
                 Row(section="output", name=f"{p}.wall_clock_days", value=r.get("days"), unit="days"),
                 Row(section="output", name=f"{p}.co2e_t", value=r.get("tCO2e"), unit="tCO2e")]
    return rows


REPORTS["training"] = training_report


def performance_report(scenario: Scenario, result: PerformanceAnalysis | None = None) -> Report:
    """Report of the Latency & throughput page: one static batch, the throughput-optimal and the best
    continuous batch within the latency limits, the second accelerator and the calibration summary.
    Figures that do not exist (no batch meets the limits, an undefined intensity) are empty."""
    r = result if result is not None else entrypoints.compute("performance", scenario)
    model, hw, tp, pp, batch, eff = r.model, r.hardware, r.tp, r.pp, r.batch, r.efficiency
    est, unlimited, best = r.estimate, r.unlimited, r.best
    rows = input_rows(scenario, ("model", "deploy", "engine", "tokens", "slo", "assumptions", "perf", "moe"))
    rows.append(Row(section="input", name="memory.batch", value=batch, unit="sequences"))
    rows.append(Row(section="input", name="train.pp", value=pp, unit=""))
    out: list[tuple[str, Any, str]] = [
        ("tensor_parallel", tp, ""), ("pipeline_parallel", pp, ""),
        ("ttft_s", est.ttft_s, "s"), ("tpot_s", est.tpot_s, "s"), ("e2e_s", est.e2e_s, "s"),
        ("output_tokens_per_s_per_replica", est.output_tokens_per_s, "tokens/s"),
        ("output_tokens_per_s_per_request", est.output_tokens_per_s_per_request, "tokens/s"),
        ("requests_per_s", est.requests_per_s, "requests/s"),
        ("prefill_bound", est.prefill_bound, ""), ("decode_bound", est.decode_bound, ""),
        ("prefill_intensity_flops_per_byte", est.prefill_intensity_flops_per_byte, "FLOP/byte"),
        ("decode_intensity_flops_per_byte", est.decode_intensity_flops_per_byte, "FLOP/byte"),
        ("max_output_tokens_per_s_per_replica", unlimited.output_tokens_per_s, "tokens/s"),
        ("max_throughput_batch", unlimited.batch, "sequences"),
        ("best_batch", best.batch if best else None, "sequences"),
        ("best_output_tokens_per_s_per_replica", best.output_tokens_per_s if best else None, "tokens/s"),
        ("best_ttft_s", best.ttft_s if best else None, "s"), ("best_tpot_s", best.tpot_s if best else None, "s"),
        ("best_batch_limited_by", best.limited_by if best else "no batch meets the limits", ""),
    ]
    for c in r.comparison[1:]:
        out += [("compare.hardware_id", c.hardware_id, ""), ("compare.tensor_parallel", c.tp, ""),
                ("compare.ttft_s", c.ttft_s, "s"), ("compare.tpot_s", c.tpot_s, "s"),
                ("compare.max_output_tokens_per_s_per_replica", c.max_output_tokens_per_s, "tokens/s")]
    rows += [Row(section="output", name=n, value=v if not isinstance(v, float) or math.isfinite(v) else None,
                 unit=u) for n, v, u in out]
    rg = r.ranges
    if rg is not None:
        rows += range_rows([("ttft_s", rg.ttft_s, "s"), ("tpot_s", rg.tpot_s, "s"), ("e2e_s", rg.e2e_s, "s"),
                            ("output_tokens_per_s_per_replica", rg.output_tokens_per_s, "tokens/s"),
                            ("max_output_tokens_per_s_per_replica", rg.max_output_tokens_per_s, "tokens/s"),
                            ("best_output_tokens_per_s_per_replica", rg.best_output_tokens_per_s, "tokens/s")])
    if r.best_message:
        rows.append(Row(section="warning", name="best_batch_under_limits", value=r.best_message))
    rows += [Row(section="warning", name="compare", value=c.note) for c in r.comparison[1:] if c.note]
    rows += [Row(section="assumption", name=f"efficiency.{k}", value=v,
                 source="fitted to data/measurements.csv (estimator.performance)") for k, v in eff.model_dump().items()]
    cal = r.calibration
    rows += [Row(section="assumption", name=f"calibration.{n}", value=v, unit="fraction",
                 source=f"model vs {cal.scored_points} published measurements at these efficiencies")
             for n, v in (("median_abs_error", cal.median_abs_error), ("worst_abs_error", cal.worst_abs_error),
                          ("within_2x", cal.within_2x))]
    rows += _sources(model_ids=[model.model_id], hardware_ids=[hw.hardware_id])
    return Report(page="performance", title=f"{model.name} on {tp} x {hw.name}", scenario=scenario, rows=tuple(rows))


REPORTS["performance"] = performance_report


def capacity_report(scenario: Scenario, result: CapacityPlan | None = None) -> Report:
    """Report of the Capacity planner page: the plan's headline figures, hourly replicas, every
    mode's feasibility with reasons, pricing options, assumptions and sources."""
    plan = result if result is not None else entrypoints.compute("capacity", scenario)
    rows = input_rows(scenario, ("model", "deploy", "engine", "traffic", "tokens", "slo", "autoscaling", "assumptions",
                                 "tco", "serving", "kv_tiers", "recommend"))
    out: list[tuple[str, Any, str]] = [
        ("instance_id", plan.instance_id, ""),
        ("tensor_parallel", plan.tp, ""),
        ("devices_per_replica", plan.devices_per_replica, "devices"),
        ("recommended_mode", plan.recommended_mode.value if plan.recommended_mode else "", ""),
        ("monthly_cost_usd", plan.monthly_cost_usd, "USD/month"),
        ("cost_usd_per_hour", plan.cost_usd_per_hour, "USD/h"),
        ("cost_usd_per_day", plan.cost_usd_per_day, "USD/day"),
        ("cost_usd_per_year", plan.cost_usd_per_year, "USD/year"),
        ("cost_usd_per_million_output_tokens", plan.cost_usd_per_million_output_tokens, "USD/1M tokens"),
        ("cost_usd_per_request", plan.cost_usd_per_request, "USD/request"),
        ("p95_ttft_s", plan.ttft_p95_s, "s"),
        ("p95_e2e_s", plan.e2e_p95_s, "s"),
        ("peak_replicas", plan.peak_replicas, "replicas"),
        ("mean_replicas", plan.mean_replicas, "replicas"),
        ("utilization_mean", plan.utilization_mean, "fraction"),
        ("max_rps_per_replica", plan.max_rps_per_replica, "requests/s"),
        ("output_tokens_per_s_per_replica", plan.output_tokens_per_s_per_replica, "tokens/s"),
        ("energy_kwh_per_month", plan.energy_kwh_per_month, "kWh/month"),
        ("operational_co2e_kg_per_month", plan.operational_co2e_kg_per_month, "kgCO2e/month"),
        ("embodied_co2e_kg_per_month", plan.embodied_co2e_kg_per_month, "kgCO2e/month"),
        ("co2e_kg_per_month", plan.co2e_kg_per_month, "kgCO2e/month"),
        ("co2e_g_per_million_output_tokens", plan.co2e_g_per_million_output_tokens, "gCO2e/1M tokens"),
        ("late_requests_per_week", plan.late_requests_per_week, "requests/week"),
        ("dropped_requests_per_week", plan.dropped_requests_per_week, "requests/week"),
        ("break_even_requests_per_day", plan.break_even_requests_per_day, "requests/day"),
        ("greenest_region", f"{plan.greenest_region.provider}:{plan.greenest_region.region}"
         if plan.greenest_region else "", ""),
        ("cheapest_region", f"{plan.cheapest_region.provider}:{plan.cheapest_region.region}"
         if plan.cheapest_region else "", ""),
    ]
    rows += [Row(section="output", name=n, value=v, unit=u) for n, v, u in out]
    rg = plan.ranges
    if rg is not None:
        rows += range_rows([("monthly_cost_usd", rg.monthly_cost_usd, "USD/month"),
                            ("cost_usd_per_million_output_tokens", rg.cost_usd_per_million_output_tokens, "USD/1M tokens"),
                            ("cost_usd_per_request", rg.cost_usd_per_request, "USD/request"),
                            ("p95_ttft_s", rg.ttft_p95_s, "s"), ("p95_e2e_s", rg.e2e_p95_s, "s"),
                            ("peak_replicas", rg.peak_replicas, "replicas"),
                            ("output_tokens_per_s_per_replica", rg.output_tokens_per_s_per_replica, "tokens/s")])
        rows.append(Row(section="assumption", name="ranges", value=rg.assumption,
                        source="estimator.uncertainty (data/calibration_loso.csv)"))
    rows += [Row(section="output", name=f"replicas_hour_{i:03d}", value=r, unit="replicas")
             for i, r in enumerate(plan.replicas)]
    for opt in plan.pricing_options:
        rows.append(Row(section="output", name=f"monthly_cost_usd_{opt.pricing.value}",
                        value=opt.monthly_cost_usd, unit="USD/month", source=opt.note))
    for check in plan.modes:
        verdict = "feasible" if check.feasible and check.meets_slo else "not feasible"
        rows.append(Row(section="output", name=f"mode_{check.mode.value}", value=verdict,
                        source="; ".join(check.reasons)))
    rows += [Row(section="warning", name=f"warning_{i + 1}", value=w) for i, w in enumerate(plan.warnings)]
    rows += [Row(section="assumption", name=a.name, value=a.value, source=a.source) for a in plan.assumptions]
    rows += _sources(model_ids=[plan.model_id], hardware_ids=[plan.hardware_id])
    rows += _sources(instance_ids=[plan.instance_id] if plan.instance_id else [])
    rows += _tco_rows(plan)
    rows += _speculative_rows(plan)
    rows += _disagg_rows(plan)
    title = f"{plan.model_name} on {plan.hardware_name}: {plan.peak_replicas} replicas at peak"
    return Report(page="capacity", title=title, scenario=scenario, rows=tuple(rows))


REPORTS["capacity"] = capacity_report


def _speculative_rows(plan: CapacityPlan) -> list[Row]:
    """With vs without speculative decoding for the plan (:func:`estimator.speculative.for_plan`): the drafter,
    acceptance length and, per batch, TPOT, throughput, speedup and cost per 1M output tokens."""
    from estimator import speculative  # only the capacity report needs it

    try:
        r = speculative.for_plan(plan)
    except EstimatorError as exc:
        return [Row(section="output", name="speculative", value="not available", source=str(exc))]
    src = "estimator.speculative; Leviathan et al. 2023 eq. 1; data/speculative_acceptance.csv"
    out: list[tuple[str, Any, str, str]] = [
        ("speculative_method", r.method, "", "off in the scenario: EAGLE-3 as a what-if"
         if plan.scenario.serving.speculative == "off" else "scenario"),
        ("speculative_drafter", r.drafter, "", src),
        ("speculative_spec_tokens", r.spec_tokens, "tokens", ""),
        ("speculative_acceptance_length", r.acceptance_length, "tokens", r.acceptance_source),
        ("speculative_drafter_weights_bytes", r.drafter_weight_bytes, "bytes", src),
        ("speculative_break_even_batch", r.break_even_batch, "sequences", "smallest batch compared where it is slower"),
    ]
    rows = [Row(section="output", name=n, value=v, unit=u, source=s) for n, v, u, s in out]
    for p in r.points:
        rows += [Row(section="output", name=f"speculative_b{p.batch}_{field}", value=getattr(p, field), unit=unit,
                     source=src)
                 for field, unit in (("tpot_off_s", "s"), ("tpot_on_s", "s"), ("speedup", "ratio"),
                                     ("tokens_per_s_off", "tokens/s"), ("tokens_per_s_on", "tokens/s"),
                                     ("cost_usd_per_million_off", "USD/1M tokens"),
                                     ("cost_usd_per_million_on", "USD/1M tokens"))]
    return rows


def _disagg_rows(plan: CapacityPlan) -> list[Row]:
    """Colocated vs disaggregated prefill/decode at the plan's goals (:func:`estimator.disagg.plan`): the best
    x:y ratio, each pool's layout and size, the KV transfer per request, cost, p95 TTFT and TPOT."""
    from estimator import disagg  # only the capacity report needs it

    try:
        r = disagg.plan(plan.scenario, plan)
    except EstimatorError as exc:
        return [Row(section="output", name="disagg", value="not available", source=str(exc))]
    src = "estimator.disagg; DistServe (arXiv:2401.09670), Splitwise (arXiv:2311.18677)"
    out: list[tuple[str, Any, str]] = [
        ("disagg_enabled", plan.scenario.serving.disaggregated, ""),
        ("disagg_mode", "disaggregated (chosen; the capacity_* headline above stays colocated)"
         if plan.scenario.serving.disaggregated else "colocated (disaggregated is a what-if)", ""),
        ("disagg_ratio", r.ratio_text, "prefill:decode"), ("disagg_capacity_ratio", r.capacity_ratio, "ratio"),
        ("disagg_monthly_cost_usd", r.monthly_cost_usd, "USD/month"),
        ("disagg_colocated_monthly_cost_usd", r.colocated_monthly_cost_usd, "USD/month"),
        ("disagg_cost_ratio", r.cost_ratio, "ratio"),
        ("disagg_ttft_p95_s", r.ttft_p95_s, "s"), ("disagg_e2e_p95_s", r.e2e_p95_s, "s"), ("disagg_tpot_s", r.tpot_s, "s"),
        ("disagg_peak_accelerators", r.peak_accelerators, "accelerators"),
        ("disagg_kv_link", r.link.name, ""), ("disagg_kv_link_bytes_per_s", r.link.bandwidth_bytes_per_s, "bytes/s"),
        ("disagg_kv_bytes_per_request", r.kv_bytes_mean, "bytes"), ("disagg_kv_transfer_s", r.kv_transfer_s_mean, "s"),
    ]
    for pool in (r.prefill, r.decode):
        out += [(f"disagg_{pool.role}_hardware", pool.hardware_id, ""), (f"disagg_{pool.role}_tp", pool.tp, ""),
                (f"disagg_{pool.role}_instance", pool.instance_id, ""),
                (f"disagg_{pool.role}_rps_per_instance", pool.max_rps_per_instance, "requests/s"),
                (f"disagg_{pool.role}_peak_instances", pool.peak_instances, "instances"),
                (f"disagg_{pool.role}_monthly_cost_usd", pool.monthly_cost_usd, "USD/month")]
    return [Row(section="output", name=n, value=v, unit=u, source=src) for n, v, u in out]


def _tco_rows(plan: CapacityPlan) -> list[Row]:
    """Rent vs buy vs API (:func:`estimator.tco.compare`): monthly TCO lines, break-even months, and each
    option's monthly cost and USD per 1M input, cached-input and output tokens; the inputs' sources."""
    from estimator import tco  # heavy (performance); only the capacity report needs it

    t = tco.compare(plan)
    if not t.available:
        return [Row(section="output", name="tco_buy", value="not available", source=t.reason)]
    out: list[tuple[str, Any, str]] = [
        ("tco_servers", t.servers, "servers"), ("tco_server", t.server.name if t.server else "", ""),
        ("tco_capex_usd", t.capex_usd, "USD"), ("tco_capex_usd_per_month", t.capex_usd_per_month, "USD/month"),
        ("tco_power_usd_per_month", t.power_usd_per_month, "USD/month"),
        ("tco_colocation_usd_per_month", t.colocation_usd_per_month, "USD/month"),
        ("tco_operations_usd_per_month", t.operations_usd_per_month, "USD/month"),
        ("tco_monthly_usd", t.monthly_tco_usd, "USD/month"),
        ("tco_input_output_price_ratio", t.input_output_price_ratio, "ratio"),
        ("tco_break_even_vs_rent_month", t.break_even_rent_month, "month"),
        ("tco_break_even_vs_api_month", t.break_even_api_month, "month"),
    ]
    rows = [Row(section="output", name=n, value=v, unit=u) for n, v, u in out]
    for o in t.options:
        rows += [Row(section="output", name=f"tco_{o.key}_{field}", value=getattr(o, field), unit=unit,
                     source=f"{o.option}. {o.note}".strip())
                 for field, unit in (("monthly_usd", "USD/month"), ("input_usd_per_mtok", "USD/1M input tokens"),
                                     ("cached_input_usd_per_mtok", "USD/1M cached input tokens"),
                                     ("output_usd_per_mtok", "USD/1M output tokens"), ("break_even_month", "month"))]
    rows += [Row(section="assumption", name=f"tco_{r['item'].split(' ')[0]}", value=r["value"], source=r["source"],
                 as_of=str(r["as_of"] or "")) for r in tco.sources_rows(t)]
    return rows


def variants_report(scenario: Scenario, result: Exploration | None = None) -> Report:
    """Report of the Compare variants page: the sweep's size and the Pareto frontier of accuracy
    against the chosen x-axis, each frontier point with its configuration and where its score
    comes from. Scores entered on the page live in the browser session only and are not included."""
    ex = result if result is not None else entrypoints.compute("variants", scenario)
    v = scenario.variants
    rows = input_rows(scenario, ("tokens", "slo", "deploy", "variants", "model"))
    rows = [r for r in rows if r.name.split(".")[0] == "variants" or r.name.startswith("model.custom.")
            or r.name in ("tokens.input_mean", "tokens.output_mean", "slo.ttft_p95_s", "deploy.pricing")]
    frame = ex.result.frame
    out: list[tuple[str, Any, str]] = [
        ("configurations_evaluated", len(frame), "configurations"),
        ("configurations_fitting", int(frame["fits"].sum()) if not frame.empty else 0, "configurations"),
        ("points_shown", len(ex.scored), "variant x format"),
        ("points_without_score", len(ex.unscored), "variant x format"),
        ("frontier_points", int(ex.scored["on_frontier"].sum()) if not ex.scored.empty else 0, "points"),
    ]
    rows += [Row(section="output", name=n, value=val, unit=u) for n, val, u in out]
    fr = ex.frontier_points
    for i, r in enumerate(fr.to_dict("records"), start=1):
        p = f"frontier_{i:02d}"
        point: list[tuple[str, Any, str]] = [
            ("label", str(r["label"]), ""),
            ("variant_id", str(r["variant_id"]), ""),
            ("kind", str(r["kind"]), ""),
            ("model_id", str(r.get("planner_model_id") or r.get("anchor_model_id") or ""), ""),
            ("hardware_id", str(r["hardware_id"]), ""),
            ("dtype", str(r["dtype"]), ""),
            ("tp", int(r["tp"]), "devices"),
            ("batch", int(r["batch"]), "sequences"),
            ("accuracy", float(r["score"]), f"{v.benchmark} score (0-100)"),
            ("cost_usd_per_1m_tokens", float(r["cost_usd_per_1m_tokens"]), "USD/1M tokens"),
            ("tpot_s", float(r["tpot_s"]), "s"),
        ]
        if v.x_axis not in ("cost_usd_per_1m_tokens", "tpot_s"):
            point.append((v.x_axis, float(r[v.x_axis]), _X_UNITS.get(v.x_axis, "")))
        rows += [Row(section="output", name=f"{p}.{n}", value=val, unit=u) for n, val, u in point]
        rows.append(Row(section="source", name=f"score:{p}", value=str(r["score_kind"]),
                        source=str(r["score_source"])))
    for i, note in enumerate(ex.notes, start=1):
        rows.append(Row(section="warning", name=f"not_added_{i}", value=note))
    if frame.empty:
        rows.append(Row(section="warning", name="nothing_evaluated",
                        value="none of the chosen models can run in the chosen formats on the chosen accelerators"))
    elif ex.best.empty:
        rows.append(Row(section="warning", name="nothing_qualifies",
                        value="no configuration fits in memory and meets the latency limits"))
    rows.append(Row(section="assumption", name="user_scores", value="not included",
                    source="scores entered on the page live in the browser session only"))
    models = sorted({str(r["planner_model_id"]) for r in fr.to_dict("records") if r.get("planner_model_id")})
    models = [m for m in models if m in {x.model_id for x in catalog.list_models()}]
    rows += _sources(model_ids=models, hardware_ids=sorted(set(fr["hardware_id"].astype(str))) if not fr.empty else [])
    title = f"{v.benchmark} vs {v.x_axis}: {len(fr)} points on the Pareto frontier"
    return Report(page="variants", title=title, scenario=scenario, rows=tuple(rows))


_X_UNITS = {"cost_usd_per_1k_requests": "USD/1k requests", "ttft_s": "s", "e2e_s": "s",
            "energy_kwh_per_1m_tokens": "kWh/1M tokens"}

REPORTS["variants"] = variants_report


def lifetime_report(scenario: Scenario, result: LifetimePlan | None = None) -> Report:
    """Report of the Training page's lifetime mode (``estimator.lifetime.lifetime_plan``): the
    Chinchilla-optimal and the lifetime-optimal model side by side, break-even traffic, and the sweep."""
    plan = result if result is not None else entrypoints.compute("lifetime", scenario)
    rows = input_rows(scenario, ("deploy", "traffic", "tokens", "slo", "train", "lifetime"))
    head = [
        ("fit", plan.fit, ""), ("objective", plan.objective, ""), ("loss", plan.loss, "nats/token"),
        ("budget_flops", plan.budget_flops, "FLOP"), ("requests_per_day", plan.requests_per_day, "requests/day"),
        ("inference_tokens", plan.inference_tokens, "tokens"),
        ("flops_optimal_params", plan.flops_optimal_params, "parameters"),
        ("flops_optimal_tokens", plan.flops_optimal_tokens, "tokens"),
        ("flops_saved_fraction", plan.flops_saved_fraction, "fraction"),
        ("savings_usd", plan.savings_usd, "USD"), ("savings_fraction", plan.savings_fraction, "fraction"),
        ("break_even_requests_per_day_usd", plan.break_even_requests_per_day_usd, "requests/day"),
        ("break_even_requests_per_day_flops", plan.break_even_requests_per_day_flops, "requests/day"),
        ("summary", plan.summary, ""),
    ]
    rows += [Row(section="output", name=n, value=v, unit=u) for n, v, u in head]
    units = {"params": "parameters", "tokens": "tokens", "tokens_per_param": "tokens/parameter", "training_flops": "FLOP",
             "training_cost_usd": "USD", "training_days": "days", "training_co2e_t": "tCO2e",
             "serving_usd_per_month": "USD/month", "serving_co2e_t_per_month": "tCO2e/month",
             "peak_replicas": "replicas", "mean_replicas": "replicas", "devices_per_replica": "devices",
             "lifetime_serving_usd": "USD", "lifetime_serving_co2e_t": "tCO2e", "total_usd": "USD",
             "total_co2e_t": "tCO2e", "inference_flops": "FLOP", "total_flops": "FLOP"}
    for prefix, option in (("chinchilla", plan.chinchilla), ("lifetime", plan.lifetime)):
        rows += [Row(section="output", name=f"{prefix}.{k}", value=getattr(option, k), unit=u) for k, u in units.items()]
        rows.append(Row(section="output", name=f"{prefix}.model_name", value=option.model_name))
        rows.append(Row(section="assumption", name=f"{prefix}.shape", value=option.shape_notes))
    rows += [Row(section="output", name=f"sweep_{i + 1}", value=(
        f"params={n:.4g}; tokens={d:.4g}; training_usd={a:.0f}; serving_usd={b:.0f}; exact={e}"))
        for i, (n, d, a, b, e) in enumerate(zip(plan.sweep.params, plan.sweep.tokens, plan.sweep.training_usd,
                                                plan.sweep.serving_usd, plan.sweep.exact, strict=True)) if e]
    rows += [Row(section="assumption", name=f"assumption_{i + 1}", value=a) for i, a in enumerate(plan.assumptions)]
    rows += [Row(section="source", name=f"source_{i + 1}", value=s) for i, s in enumerate(plan.sources)]
    rows += [Row(section="source", name="loss_fit", value=plan.fit, source=plan.fit_source)]
    title = (f"Lifetime sizing: {plan.lifetime.params / 1e9:,.3g}B on {plan.lifetime.tokens / 1e12:,.3g}T tokens "
             f"vs Chinchilla {plan.chinchilla.params / 1e9:,.3g}B")
    return Report(page="lifetime", title=title, scenario=scenario, rows=tuple(rows))


REPORTS["lifetime"] = lifetime_report


_OPTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("replicas", "replicas"), ("monthly_cost_usd", "USD/month"), ("usd_per_million_input_tokens", "USD/1M input tokens"),
    ("usd_per_million_output_tokens", "USD/1M output tokens"), ("ttft_p95_s", "s"), ("e2e_p95_s", "s"),
    ("co2e_t_per_month", "tCO2e/month"),
)
"""Numbers of each planned option in the recommendation report (costs per 1M tokens labelled input or output)."""


def recommend_report(scenario: Scenario, result: Recommendation | None = None) -> Report:
    """Report of the landing page's recommendation (:func:`estimator.recommend.recommend`): the search's size,
    the cheapest feasible option, every exactly planned option in rank order (``option_01_...``), and the
    infeasible options grouped by reason."""
    rec = result if result is not None else entrypoints.compute("recommend", scenario)
    rows = input_rows(scenario, ("model", "engine", "traffic", "tokens", "slo", "autoscaling", "assumptions",
                                 "recommend"))
    rows += [Row(section="output", name=n, value=v, unit=u) for n, v, u in (
        ("layouts_screened", rec.layouts_screened, "layouts"), ("options_screened", rec.options_screened, "options"),
        ("options_planned", rec.options_planned, "options"), ("feasible_plans", len(rec.feasible), "options"),
        ("elapsed_s", rec.elapsed_s, "s"))]
    best = rec.best
    if best is not None:
        rows += [Row(section="output", name=f"best_{f}", value=getattr(best, f)) for f in
                 ("hardware_id", "provider", "region", "instance_id", "pricing", "weight_dtype", "kv_dtype", "tp",
                  "technique")]
        rows += [Row(section="output", name=f"best_{f}", value=getattr(best, f), unit=u) for f, u in _OPTION_FIELDS]
    for i, o in enumerate(rec.options, 1):
        label = f"{o.hardware_id} x{o.tp} {o.weight_dtype} {o.technique}, {o.instance_id} in {o.region}, {o.pricing}"
        rows.append(Row(section="output", name=f"option_{i:02d}", value=label,
                        source="meets the goals" if o.feasible else f"{o.reason}: {o.detail}"))
        rows += [Row(section="output", name=f"option_{i:02d}_{f}", value=_finite_json(getattr(o, f)), unit=u)
                 for f, u in _OPTION_FIELDS]
    rows += [Row(section="output", name=f"infeasible_{j:02d}", value=g.count, unit="options",
                 source=f"{g.reason}: {'; '.join(g.examples)}") for j, g in enumerate(rec.infeasible, 1)]
    rows += [Row(section="assumption", name=f"note_{k}", value=n) for k, n in enumerate(rec.notes, 1)]
    if best is not None:
        rows += _sources(model_ids=[] if scenario.model.custom else [scenario.model.model_id],
                         hardware_ids=[best.hardware_id], instance_ids=[best.instance_id])
    title = (f"Cheapest of {len(rec.feasible)} plans: {best.hardware_id} x{best.tp} {best.weight_dtype} on "
             f"{best.instance_id} ({best.region})" if best is not None else "No option meets the goals")
    return Report(page="recommend", title=title, scenario=scenario, rows=tuple(rows))


REPORTS["recommend"] = recommend_report
