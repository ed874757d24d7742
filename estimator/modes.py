"""Inference modes (Amazon SageMaker real-time, serverless, asynchronous, batch transform): their
published limits, read from ``data/inference_modes.csv`` with a source for every figure, and the
feasibility of a workload in each mode with reasons in plain words.

Also reads the hosted-API token prices (``data/api_prices.csv``) used for buy-vs-build.

Both CSVs are read with explicit column types through DuckDB (no type sniffing), one cursor per
thread, like ``estimator.catalog``. Schemas: :data:`MODE_COLUMNS`, :data:`API_PRICE_COLUMNS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog
from estimator.errors import CatalogError, InvalidInputError
from estimator.scenario import InferenceMode

__all__ = [
    "MODE_COLUMNS",
    "API_PRICE_COLUMNS",
    "BYTES_PER_TOKEN",
    "MODE_NAMES",
    "ModeLimit",
    "ModeSpec",
    "ModeDemand",
    "ModeCheck",
    "ApiPrice",
    "mode_specs",
    "mode_spec",
    "check_mode",
    "api_prices",
    "sources_rows",
]

MODE_COLUMNS: dict[str, str] = catalog.TABLES["inference_modes"][1]
"""Schema of ``data/inference_modes.csv`` (one row per limit of a mode)."""

API_PRICE_COLUMNS: dict[str, str] = catalog.TABLES["api_prices"][1]
"""Schema of ``data/api_prices.csv`` (USD per million tokens)."""

BYTES_PER_TOKEN: float = 4.0
"""Payload bytes per token of English text: "1 token is about 4 characters" (OpenAI Help Center,
"What are tokens and how to count them?"), one byte per character in UTF-8. JSON framing is
ignored. Used to turn token lengths into request and response payload sizes."""

MODE_NAMES: dict[InferenceMode, str] = {
    InferenceMode.REALTIME: "Real-time endpoint",
    InferenceMode.SERVERLESS: "Serverless inference",
    InferenceMode.ASYNC: "Asynchronous inference",
    InferenceMode.BATCH: "Batch transform",
}

def _read(file_name: str, columns: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of a catalog table (loaded by ``estimator.catalog`` through DuckDB with explicit types,
    header and provenance checked); ``columns`` must be the catalog's schema for that file."""
    name = next((n for n, (f, _) in catalog.TABLES.items() if f == file_name), None)
    if name is None or catalog.TABLES[name][1] != columns:
        raise CatalogError(f"{file_name} is not registered in estimator.catalog.TABLES with this schema")
    frame = catalog.table_frame(name)
    return [
        {str(k): (None if isinstance(v, float) and v != v else v) for k, v in row.items()}  # NaN -> None
        for row in frame.to_dict(orient="records")
    ]


class ModeLimit(BaseModel):
    """One published (or assumed) limit of an inference mode."""

    model_config = ConfigDict(frozen=True)

    mode: InferenceMode
    limit: str
    value: float
    unit: str
    assumed: bool
    source: str
    as_of: date
    notes: str = ""


class ModeSpec(BaseModel):
    """All limits of one inference mode, by name."""

    model_config = ConfigDict(frozen=True)

    mode: InferenceMode
    name: str
    limits: dict[str, ModeLimit]

    def value(self, limit: str, default: float | None = None) -> float:
        """The limit's value; ``default`` when the mode has no such limit (else an error)."""
        if limit in self.limits:
            return self.limits[limit].value
        if default is None:
            raise CatalogError(f"inference_modes.csv has no {limit!r} for {self.mode.value}")
        return default

    def flag(self, limit: str) -> bool:
        return self.value(limit, 0.0) > 0.5


@cache
def mode_specs() -> dict[InferenceMode, ModeSpec]:
    """Every mode's limits from ``data/inference_modes.csv``."""
    by_mode: dict[InferenceMode, dict[str, ModeLimit]] = {}
    for r in _read("inference_modes.csv", MODE_COLUMNS):
        try:
            mode = InferenceMode(r["mode"])
        except ValueError:
            raise CatalogError(f"inference_modes.csv: unknown mode {r['mode']!r}") from None
        if mode == InferenceMode.AUTO:
            raise CatalogError("inference_modes.csv: 'auto' is not a mode")
        lim = ModeLimit(mode=mode, limit=r["limit"], value=float(r["value"]), unit=r["unit"] or "",
                        assumed=bool(r["assumed"]), source=r["source"], as_of=r["as_of"], notes=r["notes"] or "")
        if lim.limit in by_mode.setdefault(mode, {}):
            raise CatalogError(f"inference_modes.csv: {mode.value}/{lim.limit} appears twice")
        by_mode[mode][lim.limit] = lim
    missing = set(MODE_NAMES) - set(by_mode)
    if missing:
        raise CatalogError(f"inference_modes.csv lacks modes {sorted(m.value for m in missing)}")
    return {m: ModeSpec(mode=m, name=MODE_NAMES[m], limits=by_mode[m]) for m in MODE_NAMES}


def mode_spec(mode: InferenceMode | str) -> ModeSpec:
    """Limits of one mode (``realtime``, ``serverless``, ``async``, ``batch``)."""
    try:
        m = InferenceMode(mode)
    except ValueError:
        raise InvalidInputError(f"unknown inference mode {mode!r}; choose one of "
                                f"{', '.join(x.value for x in MODE_NAMES)}") from None
    if m == InferenceMode.AUTO:
        raise InvalidInputError("'auto' is not a mode: it asks the planner to pick one")
    return mode_specs()[m]


class ModeDemand(BaseModel):
    """What a workload asks of a mode, as served in that mode (seconds, bytes)."""

    model_config = ConfigDict(frozen=True)

    request_bytes_p95: float = Field(ge=0)
    response_bytes_p95: float = Field(ge=0)
    memory_needed_bytes: float = Field(ge=0, description="model + KV + runtime the mode must hold")
    needs_gpu: bool = Field(description="True when the model cannot be served on CPU within the mode's limits")
    ttft_p95_s: float = Field(ge=0, description="first-token latency in this mode (streaming or not)")
    e2e_p95_s: float = Field(ge=0, description="processing time of one request in this mode")
    peak_concurrency: float = Field(default=0.0, ge=0)
    ttft_slo_s: float = Field(gt=0)
    e2e_slo_s: float = Field(gt=0)
    stable: bool = True
    weights_bytes: float = Field(default=0.0, ge=0)
    invocation_p95_s: float | None = Field(default=None, ge=0, description="per-invocation time for the limit "
                                           "(default: the end-to-end latency)")
    results_after_job: bool = Field(default=False, description="results arrive when a scheduled job ends (batch)")


class ModeCheck(BaseModel):
    """Feasibility of one mode: limits respected, SLO met, cost, and why (plain words)."""

    model_config = ConfigDict(frozen=True)

    mode: InferenceMode
    name: str
    feasible: bool = Field(description="within every published limit of the mode")
    meets_slo: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    monthly_cost_usd: float | None = None
    ttft_p95_s: float | None = None
    e2e_p95_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.feasible and self.meets_slo

    @property
    def verdict(self) -> str:
        if self.ok:
            return "feasible, meets the SLO"
        if self.feasible:
            return "feasible, misses the SLO"
        return "not feasible"


def _fmt_bytes(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:,.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:,.1f} MB"
    return f"{n / 1e3:,.0f} KB"


def _fmt_s(s: float) -> str:
    if not math.isfinite(s):
        return "unbounded (the queue grows: the load exceeds the replicas' capacity)"
    if s >= 3600:
        return f"{s / 3600:,.1f} h"
    if s >= 10:
        return f"{s:,.0f} s"
    return f"{s:,.2f} s"


_MODE_LABELS: dict[str, str] = {"realtime": "real-time", "serverless": "serverless", "async": "asynchronous",
                                "batch": "batch transform"}


def _payload_reasons(spec: ModeSpec, label: str, demand: ModeDemand) -> list[str]:
    """p95 request and response against the payload limit (per record for batch transform)."""
    pay = spec.value("record_max_bytes" if spec.mode == InferenceMode.BATCH else "payload_max_bytes")
    reasons = []
    if demand.request_bytes_p95 > pay:
        reasons.append(f"p95 request {_fmt_bytes(demand.request_bytes_p95)} exceeds the {_fmt_bytes(pay)} "
                       f"{label} payload limit")
    if demand.response_bytes_p95 > pay:
        reasons.append(f"p95 response {_fmt_bytes(demand.response_bytes_p95)} exceeds the {_fmt_bytes(pay)} "
                       f"{label} payload limit")
    return reasons


def _resource_reasons(spec: ModeSpec, label: str, demand: ModeDemand) -> list[str]:
    """Accelerators (serverless is CPU-only), memory and concurrency limits (serverless)."""
    reasons = []
    if not spec.flag("gpu") and demand.needs_gpu:
        reasons.append(f"{label} runs on CPU only and this model needs an accelerator")
    mem_max = spec.value("memory_max_bytes", math.inf)
    if demand.memory_needed_bytes > mem_max:
        if demand.weights_bytes > 0:
            reasons.append(f"weights need {_fmt_bytes(demand.weights_bytes)} ({_fmt_bytes(demand.memory_needed_bytes)} "
                           f"with KV cache and runtime); {label} allows {mem_max / 2**30:,.0f} GB")
        else:
            reasons.append(f"the model needs {_fmt_bytes(demand.memory_needed_bytes)}; {label} allows "
                           f"{mem_max / 2**30:,.0f} GB")
    conc = spec.value("max_concurrency", math.inf)
    if demand.peak_concurrency > conc:
        reasons.append(f"needs {demand.peak_concurrency:,.0f} concurrent requests at peak; {label} allows "
                       f"{conc:,.0f} per endpoint")
    return reasons


def _response_time_reasons(spec: ModeSpec, label: str, demand: ModeDemand) -> list[str]:
    """p95 response (or invocation) time against the mode's limit; an unstable queue never meets it."""
    limit_s = spec.value("response_max_s")
    inv = demand.e2e_p95_s if demand.invocation_p95_s is None else demand.invocation_p95_s
    if demand.stable and inv <= limit_s:
        return []
    what = "invocation" if demand.results_after_job else "response"
    return [f"p95 {what} {_fmt_s(inv)} exceeds the {_fmt_s(limit_s)} {label} limit"]


def _slo_reasons(spec: ModeSpec, demand: ModeDemand) -> list[str]:
    """p95 TTFT and end-to-end against the goals; a batch job's results arrive when it ends, and a
    mode without streaming delivers the first token with the whole response."""
    d = demand
    if d.results_after_job and (d.ttft_p95_s > d.ttft_slo_s or d.e2e_p95_s > d.e2e_slo_s):
        return [f"results arrive when the scheduled job finishes (about {_fmt_s(d.e2e_p95_s)}) against a "
                f"{_fmt_s(d.ttft_slo_s)} TTFT and {_fmt_s(d.e2e_slo_s)} end-to-end goal"]
    reasons = []
    if d.ttft_p95_s > d.ttft_slo_s:
        if not spec.flag("streaming"):
            reasons.append(f"no response streaming: the first token arrives with the whole response "
                           f"(p95 {_fmt_s(d.ttft_p95_s)}) against a {_fmt_s(d.ttft_slo_s)} TTFT goal")
        else:
            reasons.append(f"p95 TTFT {_fmt_s(d.ttft_p95_s)} misses the {_fmt_s(d.ttft_slo_s)} goal")
    if d.e2e_p95_s > d.e2e_slo_s and not d.results_after_job:
        reasons.append(f"p95 end-to-end {_fmt_s(d.e2e_p95_s)} misses the {_fmt_s(d.e2e_slo_s)} goal")
    return reasons


def check_mode(mode: InferenceMode | str, demand: ModeDemand) -> tuple[bool, bool, list[str]]:
    """``(within limits, meets SLO, reasons)`` for ``demand`` in ``mode``.

    Limits checked (each from ``data/inference_modes.csv``): request and response payload,
    response time, memory (serverless), accelerators (serverless is CPU-only), concurrency
    (serverless). The SLO: p95 TTFT and p95 end-to-end in that mode, where a mode without
    response streaming delivers the first token with the whole response. A mode outside a limit
    does not meet the SLO either.

    >>> d = ModeDemand(request_bytes_p95=12_000, response_bytes_p95=3_200, memory_needed_bytes=150e9,
    ...                needs_gpu=True, ttft_p95_s=0.4, e2e_p95_s=84, ttft_slo_s=1, e2e_slo_s=120)
    >>> check_mode("realtime", d)[2]
    ['p95 response 84 s exceeds the 60 s real-time limit']
    """
    spec = mode_spec(mode)
    label = _MODE_LABELS[spec.mode.value]
    limits = (_payload_reasons(spec, label, demand) + _resource_reasons(spec, label, demand)
              + _response_time_reasons(spec, label, demand))
    slo = _slo_reasons(spec, demand)
    within = not limits
    return within, within and not slo, limits + slo


class ApiPrice(BaseModel):
    """A hosted API's per-token prices (USD per million tokens)."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str
    catalog_model_id: str = ""
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    assumed: bool = False
    source: str
    as_of: date
    notes: str = ""

    @property
    def label(self) -> str:
        return f"{self.provider} {self.model}"

    def cost_usd(self, input_tokens: float, output_tokens: float) -> float:
        """``C = I p_in / 1e6 + O p_out / 1e6`` (USD)."""
        return (input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok) / 1e6


@cache
def api_prices() -> tuple[ApiPrice, ...]:
    """Hosted API prices from ``data/api_prices.csv``."""
    out = []
    for r in _read("api_prices.csv", API_PRICE_COLUMNS):
        out.append(ApiPrice(
            provider=r["provider"], model=r["model"], catalog_model_id=r["catalog_model_id"] or "",
            input_usd_per_mtok=r["input_usd_per_mtok"], output_usd_per_mtok=r["output_usd_per_mtok"],
            assumed=bool(r["assumed"]), source=r["source"], as_of=r["as_of"], notes=r["notes"] or "",
        ))
    return tuple(out)


def sources_rows(modes: Iterable[InferenceMode] | None = None) -> list[dict[str, Any]]:
    """``item, value, source, as_of, assumed`` rows of the mode limits, for source tables."""
    rows = []
    for m, spec in mode_specs().items():
        if modes is not None and m not in set(modes):
            continue
        for lim in spec.limits.values():
            rows.append({"item": f"{spec.name}: {lim.limit}", "value": f"{lim.value:g} {lim.unit}".strip(),
                         "source": lim.source, "as_of": lim.as_of, "assumed": lim.assumed})
    return rows
