"""Rent vs buy vs API: total cost of ownership of buying the servers a capacity plan needs.

Entry point :func:`compare` takes a :class:`~estimator.capacity.CapacityPlan` (its scenario's
``tco`` section holds the buyer's inputs) and returns a :class:`TcoComparison`: the monthly TCO
of owning the fleet beside the plan's cloud pricing models and the same model's cheapest hosted
API, break-even months from cumulative (discounted) cost curves, and a price sheet in USD per
1M input, cached-input and output tokens for every option.

Owning, per month (``i = r / 12``, the annual cost of capital ``r`` compounded monthly, over
``n = 12 x depreciation years`` months):

* capex: the purchase ``P`` levelized with the capital recovery factor
  ``A = P i / (1 - (1 + i)^-n)`` (``P / n`` at ``i = 0``);
* power and cooling: the owned fleet's IT energy x PUE x the electricity price;
* colocation: the fleet's provisioned IT power (kW at full load) x the colocation rent;
* operations: a share of capex per year / 12.

The owned fleet is sized for the plan's busiest hour (no autoscaling once bought); servers that
are not serving draw idle power. No resale value at the end of the life; traffic is flat over it
(the plan's month repeats).

Input/output split: by API price ratios. A self-hosted option's monthly cost ``C`` is spread over
the month's tokens in the proportions of the reference API's price sheet (the cheapest hosted API
serving the same model, else the median ratio of ``data/api_prices.csv``): with ``rho = p_in /
p_out`` and ``kappa = p_cached / p_in`` (1 where no cached-input price is published),

    p_out = C / (rho (T_in + kappa T_cached) + T_out),   p_in = rho p_out,   p_cached = kappa p_in

so ``C = p_in T_in + p_cached T_cached + p_out T_out`` exactly. Why this rather than the replica's
prefill/decode time share: the sheet is read against the API's, and equal proportions make every
column comparable option by option (at a 1:1 API the self-hosted price per token is simply ``C /
tokens``); and the capacity plan does not expose its prefill/decode time split, which a page may not
recompute outside the plan's entry point (``tests/test_call_counts.py``). The caveat: prompt-heavy
traffic costs a self-hosted replica relatively less per input token than a decode-bound API ratio
implies, and vice versa.

Sources: capital recovery factor, e.g. engineersedge.com "Capital Recovery Factors Formula and
Calculator" (CRF = i (1+i)^n / ((1+i)^n - 1), table: 8 %, 4 years -> 0.30192); the defaults and
their sources are in ``data/tco_defaults.csv``, server prices in ``data/server_prices.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from estimator import carbon, catalog, modes
from estimator.errors import CatalogError, InvalidInputError
from estimator.scenario import InferenceMode, TcoInputs
from estimator.units import HOURS_PER_MONTH

if TYPE_CHECKING:
    from estimator.capacity import CapacityPlan

__all__ = [
    "DEFAULT_COLUMNS",
    "SERVER_COLUMNS",
    "SOURCES",
    "PriceSheetRow",
    "ResolvedInput",
    "ServerPrice",
    "TcoComparison",
    "annuity_factor",
    "break_even_month",
    "capital_recovery_factor",
    "colocation_usd_per_month",
    "compare",
    "cumulative_cost_usd",
    "default_server",
    "defaults",
    "monthly_rate",
    "operations_usd_per_month",
    "power_usd_per_month",
    "price_ratios",
    "server_prices",
    "servers_needed",
    "sources_rows",
]

SERVER_COLUMNS: dict[str, str] = {
    "server_id": "VARCHAR", "hardware_id": "VARCHAR", "name": "VARCHAR", "accelerators": "INTEGER",
    "price_usd": "DOUBLE", "is_default": "BOOLEAN", "assumed": "BOOLEAN", "source": "VARCHAR", "as_of": "DATE",
    "notes": "VARCHAR",
}
"""Schema of ``data/server_prices.csv`` (one purchasable server per row)."""

DEFAULT_COLUMNS: dict[str, str] = {
    "parameter": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR", "assumed": "BOOLEAN", "source": "VARCHAR",
    "as_of": "DATE", "notes": "VARCHAR",
}
"""Schema of ``data/tco_defaults.csv`` (one default per ``TcoInputs`` field)."""

SOURCES: tuple[str, ...] = (
    "Capital recovery factor CRF = i(1+i)^n / ((1+i)^n - 1): engineersedge.com 'Capital Recovery Factors Formula "
    "and Calculator' (annual table: 8 %, 4 years -> 0.30192); the annuity / amortised-loan payment formula",
    "Discounted cumulative cost and payback: present value of a level monthly series, sum_k v^k, v = 1/(1+i)",
    "Server prices: data/server_prices.csv (Epoch AI 'Hardware prices' dataset, github.com/epoch-research/"
    "training-cost-trends)",
    "Defaults: data/tco_defaults.csv (EIA Electric Power Annual 2023, Uptime Institute 2023 PUE, CBRE North "
    "America Data Center Trends H2 2024, hyperscaler 10-K useful lives, Epoch AI 1 GW data-center cost model)",
    "Server power: accelerator TDP plus the host share h x TDP (estimator.carbon, Latif et al. 2024: 8 x H100 "
    "node at 8.4 kW)",
)

_FIELDS: tuple[str, ...] = ("depreciation_years", "cost_of_capital", "electricity_usd_per_kwh", "pue",
                            "colocation_usd_per_kw_month", "operations_share_per_year")
_MONTH_OVER_WEEK = HOURS_PER_MONTH / 168.0
_TOL = 1e-9


class ServerPrice(BaseModel):
    """One purchasable server (``data/server_prices.csv``)."""

    model_config = ConfigDict(frozen=True)

    server_id: str
    hardware_id: str
    name: str
    accelerators: int = Field(gt=0)
    price_usd: float = Field(gt=0)
    is_default: bool = False
    assumed: bool = False
    source: str
    as_of: str
    notes: str = ""


class ResolvedInput(BaseModel):
    """One TCO input as used: the user's value or the sourced default."""

    model_config = ConfigDict(frozen=True)

    parameter: str
    value: float
    unit: str
    user_set: bool
    assumed: bool = False
    source: str = ""
    as_of: str = ""
    notes: str = ""


class PriceSheetRow(BaseModel):
    """One way to serve the plan's traffic, priced per month and per 1M tokens like an API price sheet."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="stable id: buy, a pricing model (on_demand, spot, ...), or api")
    option: str
    kind: str = Field(pattern=r"^(buy|rent|api)$")
    monthly_usd: float = Field(ge=0)
    input_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    break_even_month: int | None = Field(default=None, description="first month buying costs no more (buy rows: None)")
    note: str = ""


class TcoComparison(BaseModel):
    """Buying the plan's fleet beside renting it and the same model's hosted API."""

    model_config = ConfigDict(frozen=True)

    available: bool
    reason: str = ""
    hardware_id: str
    server: ServerPrice | None = None
    servers: int = 0
    accelerators_owned: int = 0
    capex_usd: float = 0.0
    capital_recovery_factor: float = 0.0
    capex_usd_per_month: float = 0.0
    power_usd_per_month: float = 0.0
    colocation_usd_per_month: float = 0.0
    operations_usd_per_month: float = 0.0
    monthly_tco_usd: float = 0.0
    it_energy_kwh_per_month: float = 0.0
    provisioned_kw: float = 0.0
    input_output_price_ratio: float = Field(default=1.0, ge=0, description="rho = p_in / p_out of the split")
    cached_input_price_ratio: float = Field(default=1.0, ge=0, description="kappa = p_cached / p_in")
    ratio_source: str = ""
    input_tokens_per_month: float = 0.0
    cached_input_tokens_per_month: float = 0.0
    output_tokens_per_month: float = 0.0
    options: tuple[PriceSheetRow, ...] = ()
    months: tuple[int, ...] = ()
    curves: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    break_even_rent_month: int | None = None
    break_even_rent_option: str = ""
    break_even_api_month: int | None = None
    break_even_api_option: str = ""
    inputs: tuple[ResolvedInput, ...] = ()
    notes: tuple[str, ...] = ()

    def option(self, name: str) -> PriceSheetRow | None:
        """The price-sheet row called ``name``, if any."""
        return next((o for o in self.options if o.option == name), None)


# ----------------------------------------------------------------------------- data


@cache
def server_prices() -> tuple[ServerPrice, ...]:
    """Every row of ``data/server_prices.csv`` (header, ``source`` and ``as_of`` checked by the catalog)."""
    frame = catalog.read_csv_typed(catalog.data_dir() / "server_prices.csv", SERVER_COLUMNS)
    return tuple(ServerPrice(**{k: (str(v.date()) if k == "as_of" else ("" if v is None or v != v else v))
                                for k, v in row.items()})
                 for row in frame.to_dict(orient="records"))


def default_server(hardware_id: str) -> ServerPrice | None:
    """The default server of ``hardware_id`` (``is_default``, else its first row); ``None`` if none is priced."""
    rows = [s for s in server_prices() if s.hardware_id == hardware_id]
    return next((s for s in rows if s.is_default), rows[0] if rows else None)


@cache
def defaults() -> dict[str, ResolvedInput]:
    """``data/tco_defaults.csv`` by parameter; raises ``CatalogError`` if a ``TcoInputs`` field has no row."""
    frame = catalog.read_csv_typed(catalog.data_dir() / "tco_defaults.csv", DEFAULT_COLUMNS)
    out = {str(r["parameter"]): ResolvedInput(
        parameter=str(r["parameter"]), value=float(r["value"]), unit=str(r["unit"]), user_set=False,
        assumed=bool(r["assumed"]), source=str(r["source"]), as_of=str(r["as_of"].date()),
        notes="" if r["notes"] is None or r["notes"] != r["notes"] else str(r["notes"]))
        for r in frame.to_dict(orient="records")}
    missing = [f for f in _FIELDS if f not in out]
    if missing:
        raise CatalogError(f"tco_defaults.csv has no row for {', '.join(missing)}")
    return out


def _resolve(t: TcoInputs) -> dict[str, ResolvedInput]:
    """Each input: the user's value where set, else the sourced default."""
    base = defaults()
    out = {}
    for f in _FIELDS:
        v = getattr(t, f)
        out[f] = base[f] if v is None else base[f].model_copy(update={"value": float(v), "user_set": True})
    return out


# ----------------------------------------------------------------------------- formulas


def monthly_rate(annual_rate: float) -> float:
    """Monthly rate of a nominal annual rate compounded monthly: ``i = r / 12`` (loan-payment convention).

    >>> monthly_rate(0.12)
    0.01
    """
    if not (math.isfinite(annual_rate) and annual_rate >= 0.0):
        raise InvalidInputError(f"cost of capital must be a finite rate >= 0, got {annual_rate!r}")
    return annual_rate / 12.0


def capital_recovery_factor(rate: float, periods: float) -> float:
    """Capital recovery factor: the level payment per period that repays 1 at ``rate`` over ``periods``.

    .. math:: \\mathrm{CRF} = \\frac{i}{1-(1+i)^{-n}} = \\frac{i(1+i)^n}{(1+i)^n-1},\\qquad \\mathrm{CRF}(0, n) = 1/n

    Units: per period (``rate`` per period, ``periods`` a count). Source: the annuity payment
    formula (engineersedge.com "Capital Recovery Factors", table: i = 8 %, n = 4 -> 0.30192).

    >>> round(capital_recovery_factor(0.08, 4), 5)
    0.30192
    >>> capital_recovery_factor(0.0, 60) == 1 / 60
    True
    """
    if not (math.isfinite(rate) and rate >= 0.0) or not (math.isfinite(periods) and periods > 0):
        raise InvalidInputError(f"need a rate >= 0 and periods > 0, got {rate!r} and {periods!r}")
    if rate < 1e-12:
        return 1.0 / periods
    # 1 - (1+i)^-n as -expm1(-n log1p(i)): no cancellation for small i, so CRF stays >= 1/n (its limit at i = 0)
    return max(rate / -math.expm1(-periods * math.log1p(rate)), 1.0 / periods)


def annuity_factor(rate: float, months: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Present value of 1 paid at the end of each of ``m`` months: ``a(m) = (1 - (1+i)^-m) / i`` (``m`` at i = 0).

    ``a(n) x CRF(i, n) = 1``, so a level monthly cost ``A`` repays ``P = A a(n)``.

    >>> float(annuity_factor(0.0, 12))
    12.0
    """
    m = np.asarray(months, dtype=np.float64)
    if rate < 1e-12:
        return m
    return np.asarray((1.0 - (1.0 + rate) ** -m) / rate, dtype=np.float64)


def cumulative_cost_usd(upfront_usd: float, monthly_usd: float, rate: float,
                        months: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Discounted cumulative cost after ``m`` months: ``C(m) = U + M a(m)`` (USD, present value at month 0).

    >>> cumulative_cost_usd(100.0, 10.0, 0.0, [0, 1, 5]).tolist()
    [100.0, 110.0, 150.0]
    """
    return upfront_usd + monthly_usd * annuity_factor(rate, months)


def break_even_month(buy_usd: npt.ArrayLike, other_usd: npt.ArrayLike, months: npt.ArrayLike) -> int | None:
    """First month ``m >= 1`` at which buying's cumulative cost is at most the other option's; ``None`` if never.

    >>> break_even_month([100, 110, 120, 130], [0, 50, 100, 150], [0, 1, 2, 3])
    3
    """
    b, o, m = (np.asarray(x, dtype=np.float64) for x in (buy_usd, other_usd, months))
    ok = (b <= o * (1.0 + _TOL) + _TOL) & (m >= 1)
    return int(m[int(np.argmax(ok))]) if ok.any() else None


def power_usd_per_month(it_kwh_per_month: float, pue: float, usd_per_kwh: float) -> float:
    """Electricity for the IT load and its cooling: ``E_IT x PUE x price`` (kWh/month x 1 x USD/kWh -> USD/month).

    >>> power_usd_per_month(1000.0, 1.5, 0.10)
    150.0
    """
    return it_kwh_per_month * pue * usd_per_kwh


def colocation_usd_per_month(provisioned_kw: float, usd_per_kw_month: float) -> float:
    """Colocation rent on the contracted IT power: ``kW x USD/kW-month`` (CBRE quotes rent per kW of IT load).

    >>> colocation_usd_per_month(8.4, 184.06)
    1546.104
    """
    return provisioned_kw * usd_per_kw_month


def operations_usd_per_month(capex_usd: float, share_per_year: float) -> float:
    """Operations (staff, support, spares) as a yearly share of capex, per month: ``P f / 12``.

    >>> operations_usd_per_month(1.2e6, 0.1)
    10000.0
    """
    return capex_usd * share_per_year / 12.0


# ----------------------------------------------------------------------------- the owned fleet


@dataclass(frozen=True)
class _Fleet:
    """Servers bought for the busiest hour, their IT energy and provisioned power."""

    server: ServerPrice
    servers: int
    accelerators: int
    it_kwh_month: float
    provisioned_kw: float


def _server_for(plan: CapacityPlan, t: TcoInputs) -> ServerPrice | None:
    """The catalog's server for the plan's accelerator (at the user's price, if given); a server shaped like
    the plan's instance when only the user's price is known; ``None`` without any price."""
    row = default_server(plan.hardware_id)
    if t.server_price_usd is None:
        return row
    if row is not None:
        return row.model_copy(update={"price_usd": float(t.server_price_usd), "source": "user input",
                                      "as_of": "", "assumed": False})
    return ServerPrice(server_id="user", hardware_id=plan.hardware_id, name=f"{plan.accelerators_per_instance} x "
                       f"{plan.hardware_name} server", accelerators=plan.accelerators_per_instance,
                       price_usd=float(t.server_price_usd), source="user input", as_of="")


def servers_needed(peak_replicas: int, devices_per_replica: int, accelerators_per_server: int) -> int:
    """Whole servers holding ``peak_replicas`` replicas: replicas share a server when they fit in one,
    a larger replica spans ``ceil(d / g)`` servers.

    >>> servers_needed(6, 4, 8), servers_needed(3, 16, 8), servers_needed(5, 3, 8)
    (3, 6, 3)
    """
    if peak_replicas <= 0:
        return 0
    if devices_per_replica <= accelerators_per_server:
        return math.ceil(peak_replicas / (accelerators_per_server // devices_per_replica))
    return peak_replicas * math.ceil(devices_per_replica / accelerators_per_server)


def _fleet(plan: CapacityPlan, server: ServerPrice) -> _Fleet:
    """IT energy per month: busy accelerators at ``P(u_h)``, the other owned ones idle, plus the host share
    (``estimator.carbon.power_per_accelerator_w``); provisioned kW at full load."""
    hw = catalog.get_hardware(plan.hardware_id)
    host = plan.scenario.assumptions.host_overhead_fraction
    h = carbon.HOST_OVERHEAD_FRACTION if host is None else host
    n = servers_needed(max(plan.replicas, default=0), plan.devices_per_replica, server.accelerators)
    owned = n * server.accelerators
    busy = np.minimum(np.asarray(plan.replicas, dtype=np.float64) * plan.devices_per_replica, owned)
    u = np.clip(np.asarray(plan.utilization, dtype=np.float64), 0.0, 1.0)
    p_busy = np.asarray(carbon.power_per_accelerator_w(hw.tdp_w, hw.idle_w, u, h), dtype=np.float64)
    p_idle = float(carbon.power_per_accelerator_w(hw.tdp_w, hw.idle_w, 0.0, h))
    week_kwh = float(np.sum(busy * p_busy + (owned - busy) * p_idle)) / 1000.0
    kw = owned * float(carbon.power_per_accelerator_w(hw.tdp_w, hw.idle_w, 1.0, h)) / 1000.0
    return _Fleet(server=server, servers=n, accelerators=owned, it_kwh_month=week_kwh * _MONTH_OVER_WEEK,
                  provisioned_kw=kw)


# ----------------------------------------------------------------------------- tokens and the split


@dataclass(frozen=True)
class _Tokens:
    """Tokens per month of the plan's fleet traffic: uncached input, cached input, output."""

    uncached: float
    cached: float
    output: float


def _tokens(plan: CapacityPlan) -> _Tokens:
    req = plan.fleet_requests_per_day * HOURS_PER_MONTH / 24.0
    pch = plan.scenario.traffic.prefix_cache_hit_rate
    total_in = req * plan.input_tokens_mean
    return _Tokens(uncached=total_in * (1.0 - pch), cached=total_in * pch, output=req * plan.output_tokens_mean)


@dataclass(frozen=True)
class _Ratios:
    """``rho = p_in / p_out`` and ``kappa = p_cached / p_in`` of the split, and where they come from."""

    rho: float
    kappa: float
    source: str


def price_ratios(plan: CapacityPlan) -> tuple[float, float, str]:
    """``(rho, kappa, source)``: the cheapest same-model API's input/output price ratio (cached input billed
    as input: no cached-input prices in ``data/api_prices.csv``), else the median ratio over every row of
    ``data/api_prices.csv``; ``(1, 1, ...)`` without any positive price."""
    ref = next((a for a in plan.api_options if a.same_model and a.output_usd_per_mtok > 0), None)
    if ref is not None:
        return ref.input_usd_per_mtok / ref.output_usd_per_mtok, 1.0, f"{ref.provider} {ref.model} price sheet"
    ratios = [a.input_usd_per_mtok / a.output_usd_per_mtok for a in modes.api_prices() if a.output_usd_per_mtok > 0]
    if not ratios:
        return 1.0, 1.0, "no API prices: every token priced alike"
    return float(np.median(ratios)), 1.0, f"median input/output price ratio of {len(ratios)} hosted APIs"


def _self_hosted_row(key: str, option: str, kind: str, monthly: float, r: _Ratios, tok: _Tokens,
                     note: str = "") -> PriceSheetRow:
    """A self-hosted monthly cost spread over the tokens in the reference sheet's proportions."""
    weighted = r.rho * (tok.uncached + r.kappa * tok.cached) + tok.output
    p_out = monthly / (weighted / 1e6) if weighted > 0 else None
    p_in = None if p_out is None else r.rho * p_out
    return PriceSheetRow(key=key, option=option, kind=kind, monthly_usd=monthly, input_usd_per_mtok=p_in,
                         cached_input_usd_per_mtok=None if p_in is None else r.kappa * p_in,
                         output_usd_per_mtok=p_out, note=note)


# ----------------------------------------------------------------------------- the comparison


def _unavailable(plan: CapacityPlan, reason: str, inputs: dict[str, ResolvedInput]) -> TcoComparison:
    return TcoComparison(available=False, reason=reason, hardware_id=plan.hardware_id,
                         inputs=tuple(inputs.values()))


def _why_not(plan: CapacityPlan, server: ServerPrice | None) -> str:
    if plan.mode == InferenceMode.SERVERLESS:
        return "the plan runs serverless on CPU workers: there is no accelerator fleet to buy"
    if max(plan.replicas, default=0) <= 0:
        return "the plan runs no replica"
    if server is None:
        return (f"data/server_prices.csv has no published server price for {plan.hardware_id}; "
                "enter a server price to compare buying")
    return ""


@dataclass(frozen=True)
class _Owning:
    """Monthly cost lines of owning the fleet."""

    capex: float
    crf: float
    capex_m: float
    power_m: float
    colo_m: float
    ops_m: float

    @property
    def opex_m(self) -> float:
        return self.power_m + self.colo_m + self.ops_m

    @property
    def total_m(self) -> float:
        return self.capex_m + self.opex_m


def _owning(fl: _Fleet, v: dict[str, ResolvedInput]) -> _Owning:
    capex = fl.servers * fl.server.price_usd
    crf = capital_recovery_factor(monthly_rate(v["cost_of_capital"].value), 12.0 * v["depreciation_years"].value)
    return _Owning(capex=capex, crf=crf, capex_m=capex * crf,
                   power_m=power_usd_per_month(fl.it_kwh_month, v["pue"].value, v["electricity_usd_per_kwh"].value),
                   colo_m=colocation_usd_per_month(fl.provisioned_kw, v["colocation_usd_per_kw_month"].value),
                   ops_m=operations_usd_per_month(capex, v["operations_share_per_year"].value))


def _api_row(plan: CapacityPlan, tok: _Tokens) -> PriceSheetRow | None:
    """The cheapest hosted API serving the same model (the plan's API options are sorted that way)."""
    ref = next((a for a in plan.api_options if a.same_model), None)
    if ref is None:
        return None
    monthly = ((tok.uncached + tok.cached) * ref.input_usd_per_mtok + tok.output * ref.output_usd_per_mtok) / 1e6
    return PriceSheetRow(key="api", option=f"API: {ref.provider} {ref.model}", kind="api", monthly_usd=monthly,
                         input_usd_per_mtok=ref.input_usd_per_mtok, cached_input_usd_per_mtok=ref.input_usd_per_mtok,
                         output_usd_per_mtok=ref.output_usd_per_mtok,
                         note=f"data/api_prices.csv ({ref.as_of}); no cached-input price published there: "
                              "cached tokens billed as input")


def _options(plan: CapacityPlan, own: _Owning, r: _Ratios, tok: _Tokens) -> list[PriceSheetRow]:
    rows = [_self_hosted_row("buy", "Buy servers", "buy", own.total_m, r, tok,
                             "capex levelized with the capital recovery factor + power + colocation + operations")]
    for p in plan.pricing_options:
        if p.available and p.monthly_cost_usd is not None:
            rows.append(_self_hosted_row(p.pricing.value, f"Rent: {p.label}", "rent", p.monthly_cost_usd, r, tok,
                                         "spot is a lower bound (interruptions)" if p.pricing.value == "spot" else ""))
    api = _api_row(plan, tok)
    return rows + ([api] if api is not None else [])


def _curves(own: _Owning, rows: list[PriceSheetRow], rate: float,
            months: npt.NDArray[np.float64]) -> tuple[dict[str, tuple[float, ...]], list[PriceSheetRow]]:
    """Discounted cumulative cost of every option and the break-even month of buying against each."""
    buy = cumulative_cost_usd(own.capex, own.opex_m, rate, months)
    curves = {rows[0].option: tuple(float(x) for x in buy)}
    out = [rows[0]]
    for r in rows[1:]:
        other = cumulative_cost_usd(0.0, r.monthly_usd, rate, months)
        curves[r.option] = tuple(float(x) for x in other)
        out.append(r.model_copy(update={"break_even_month": break_even_month(buy, other, months)}))
    return curves, out


def _notes(plan: CapacityPlan, fl: _Fleet, r: _Ratios) -> tuple[str, ...]:
    notes = [
        f"Bought for the busiest hour: {fl.servers} x {fl.server.name} ({fl.accelerators} accelerators) hold the "
        f"plan's {max(plan.replicas, default=0)} peak replicas of {plan.devices_per_replica}; idle servers draw idle power.",
        "No resale value at the end of the depreciation period; traffic stays at this plan's month (growth ignored).",
        "Cumulative costs are discounted to today at the cost of capital; break-even is the first month buying "
        "(paid up front) has cost no more than the other option.",
    ]
    notes.append(f"Self-hosted USD per 1M tokens follow the proportions of the {r.source} (input : output = "
                 f"{r.rho:.3g} : 1, cached input at {r.kappa:.3g} x input).")
    if fl.server.assumed:
        notes.append(f"Server price assumed: {fl.server.notes}")
    return tuple(notes)


def compare(plan: CapacityPlan) -> TcoComparison:
    """Buying the plan's fleet vs renting it (each published pricing model) vs the same model's hosted API.

    Uses ``plan.scenario.tco`` (``None`` fields take the defaults of ``data/tco_defaults.csv``).
    Never raises for a plan it cannot price: the result says why (``available=False``).
    """
    t = plan.scenario.tco
    v = _resolve(t)
    server = _server_for(plan, t)
    reason = _why_not(plan, server)
    if reason or server is None:
        return _unavailable(plan, reason, v)
    fl = _fleet(plan, server)
    own = _owning(fl, v)
    ratios = _Ratios(*price_ratios(plan))
    tok = _tokens(plan)
    rate = monthly_rate(v["cost_of_capital"].value)
    months = np.arange(0, max(1, round(12.0 * v["depreciation_years"].value)) + 1, dtype=np.float64)
    curves, rows = _curves(own, _options(plan, own, ratios, tok), rate, months)
    rent = next((r for r in rows if r.key == plan.pricing.value), None)
    api = next((r for r in rows if r.kind == "api"), None)
    return TcoComparison(
        available=True, hardware_id=plan.hardware_id, server=server, servers=fl.servers,
        accelerators_owned=fl.accelerators, capex_usd=own.capex, capital_recovery_factor=own.crf,
        capex_usd_per_month=own.capex_m, power_usd_per_month=own.power_m, colocation_usd_per_month=own.colo_m,
        operations_usd_per_month=own.ops_m, monthly_tco_usd=own.total_m, it_energy_kwh_per_month=fl.it_kwh_month,
        provisioned_kw=fl.provisioned_kw, input_output_price_ratio=ratios.rho,
        cached_input_price_ratio=ratios.kappa, ratio_source=ratios.source, input_tokens_per_month=tok.uncached,
        cached_input_tokens_per_month=tok.cached, output_tokens_per_month=tok.output, options=tuple(rows),
        months=tuple(int(m) for m in months), curves=curves,
        break_even_rent_month=rent.break_even_month if rent else None, break_even_rent_option=rent.option if rent else "",
        break_even_api_month=api.break_even_month if api else None, break_even_api_option=api.option if api else "",
        inputs=tuple(v.values()), notes=_notes(plan, fl, ratios),
    )


def sources_rows(result: TcoComparison) -> list[dict[str, Any]]:
    """The inputs and the server price with their sources, as rows for a sources table."""
    rows = [{"item": r.parameter, "value": f"{r.value:g} {r.unit}", "source": "user input" if r.user_set else r.source,
             "as_of": "" if r.user_set else r.as_of, "assumed": r.assumed and not r.user_set} for r in result.inputs]
    if result.server is not None:
        s = result.server
        rows.insert(0, {"item": f"server_price ({s.name})", "value": f"${s.price_usd:,.0f} for {s.accelerators} accelerators",
                        "source": s.source, "as_of": s.as_of, "assumed": s.assumed})
    return rows
