"""Size a model for its whole life: training plus the traffic it will serve.

Entry point of the Training page's lifetime mode (``scenario.lifetime``). The quality to match is
the Chinchilla-optimal model for the training budget (``scenario.train``) under one parametric loss
fit; every candidate size N is trained on the tokens that reach the same loss (iso-loss curve,
``scaling.tokens_for_loss``), and served at the scenario's traffic, token mix and SLO on the
scenario's hardware by the capacity planner, with a shape derived from a published family
(``estimator.shapes``). Two optima are reported:

* FLOPs, after Sardana et al. 2024 (arXiv:2401.00448, eq. 2): ``min 6 N D_tr + 2 N D_inf``;
* dollars (and tCO2e alongside): training cost from ``estimator.training.estimate`` plus the
  capacity plan's monthly serving cost over the lifetime.

Pipeline: (1) budget -> target loss and the Chinchilla model; (2) lifetime inference tokens;
(3) exact training estimates and capacity plans at a few sizes (``EXACT_POINTS``), a vectorised
screen over ``SCREEN_POINTS`` sizes that interpolates serving cost between them in log-log;
(4) exact plans at the screen's minimum and at the FLOP optimum, the cheapest exact size wins;
(5) break-even traffic.

Assumptions: serving cost and carbon scale linearly with traffic over the lifetime (monthly
growth compounds the first month's plan); training cost is linear in FLOPs at the scenario's
price and MFU; a derived shape serves like a published model of the same shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from estimator import capacity, imported, scaling, shapes, training
from estimator import traffic as traffic_mod
from estimator.errors import EstimatorError, InvalidInputError
from estimator.scenario import Scenario
from estimator.specs import ModelSpec

__all__ = [
    "EXACT_POINTS",
    "LifetimeOption",
    "LifetimePlan",
    "LifetimeSweep",
    "inference_tokens",
    "lifetime_plan",
    "serve_scenario",
    "serving_scenario",
]

EXACT_POINTS: int = 7
"""Sizes priced exactly (training estimate and capacity plan) across the sweep."""

SCREEN_POINTS: int = 161
"""Sizes in the vectorised screen (serving cost interpolated between the exact points)."""

SMALLEST_FRACTION: float = 1.05
"""The sweep starts this factor above the smallest model that can reach the loss at all."""

SWEEP_ABOVE_CHINCHILLA: float = 1.5
"""The sweep ends this factor above the Chinchilla size (larger models only cost more)."""

DAYS_PER_MONTH: float = 365.0 / 12.0

SOURCES: tuple[str, ...] = (
    "Sardana, Portes, Doubov & Frankle 2024, 'Beyond Chinchilla-Optimal: Accounting for Inference in Language "
    "Model Scaling Laws', arXiv:2401.00448, eq. 2 (6 N D_tr + 2 N D_inf) and Figure 1",
    "Hoffmann et al. 2022, arXiv:2203.15556, eq. 2 (parametric loss) and eq. 4 (efficient frontier)",
    "Besiroglu, Erdil, Barnett & You 2024, arXiv:2404.10102, Table 1 (Epoch refit)",
    "Derived shapes: data/models.csv family members (estimator.shapes)",
    "Serving: this planner's capacity model (estimator.capacity.plan); training: estimator.training.estimate",
)


class LifetimeOption(BaseModel):
    """One model size priced over its life: training once, serving every month."""

    model_config = ConfigDict(frozen=True)

    label: str
    params: float = Field(gt=0)
    tokens: float = Field(gt=0)
    tokens_per_param: float = Field(gt=0)
    model_id: str
    model_name: str
    shape_notes: str
    n_layers: int
    d_model: int
    training_flops: float = Field(gt=0)
    training_cost_usd: float = Field(ge=0)
    training_days: float = Field(gt=0)
    training_co2e_t: float = Field(ge=0)
    serving_usd_per_month: float = Field(ge=0)
    serving_co2e_t_per_month: float = Field(ge=0)
    peak_replicas: int = Field(ge=0)
    mean_replicas: float = Field(ge=0)
    devices_per_replica: int = Field(ge=1)
    instance_type: str
    lifetime_serving_usd: float = Field(ge=0)
    lifetime_serving_co2e_t: float = Field(ge=0)
    total_usd: float = Field(ge=0)
    total_co2e_t: float = Field(ge=0)
    inference_flops: float = Field(ge=0)
    total_flops: float = Field(gt=0)
    spec: ModelSpec = Field(description="the derived shape priced (estimator.shapes)")


class LifetimeSweep(BaseModel):
    """Total lifetime cost against model size; ``exact`` marks sizes priced by a full capacity plan."""

    model_config = ConfigDict(frozen=True)

    params: tuple[float, ...]
    tokens: tuple[float, ...]
    training_usd: tuple[float, ...]
    serving_usd: tuple[float, ...]
    total_usd: tuple[float, ...]
    total_flops: tuple[float, ...]
    exact: tuple[bool, ...]


class LifetimePlan(BaseModel):
    """The Chinchilla-optimal and the lifetime-optimal model side by side, and why."""

    model_config = ConfigDict(frozen=True)

    fit: str
    fit_source: str
    objective: str
    family: str
    loss: float
    budget_flops: float
    lifetime_months: float
    requests_per_day: float
    tokens_per_request: float
    inference_tokens: float
    chinchilla: LifetimeOption
    lifetime: LifetimeOption
    flops_optimal_params: float
    flops_optimal_tokens: float
    flops_saved_fraction: float
    savings_usd: float
    savings_fraction: float
    break_even_requests_per_day_usd: float | None
    break_even_requests_per_day_flops: float | None
    sweep: LifetimeSweep
    summary: str
    assumptions: tuple[str, ...]
    sources: tuple[str, ...] = SOURCES

    @property
    def smaller_than_chinchilla(self) -> bool:
        return self.lifetime.params < self.chinchilla.params


def _growth_months(months: float, monthly_growth: float) -> float:
    """Traffic-months over the lifetime: ``sum_{m < M} (1 + g)^m`` (a partial last month pro rata)."""
    whole = math.floor(months)
    g = 1.0 + monthly_growth
    total = sum(g**m for m in range(whole))
    return total + (months - whole) * g**whole


def inference_tokens(scenario: Scenario) -> tuple[float, float, float]:
    """(requests/day served, tokens per request, lifetime inference tokens) of ``scenario``.

    Notes
    -----
    ``D_inf = R (1 - h_resp) (n_in + n_out) x 30.42 days x sum_{m<M} (1+g)^m``: requests per day R
    from the weekly profile (``traffic.weekly_load``), minus response-cache hits, times the mean
    prompt plus output tokens, over the lifetime with monthly growth g. Prompt and output tokens both
    cost 2N FLOPs (Sardana et al. 2024 eq. 2).
    """
    s = scenario
    rpd = traffic_mod.weekly_load(s.traffic).requests_per_day * (1.0 - s.traffic.response_cache_hit_rate)
    per_request = float(s.tokens.input_mean + s.tokens.output_mean)
    months = _growth_months(s.lifetime.lifetime_months, s.traffic.monthly_growth)
    return rpd, per_request, rpd * per_request * DAYS_PER_MONTH * months


MAX_SERVING_REPLICAS: int = 10_000
"""Replica cap of the lifetime's serving plans (the schema's maximum): a lifetime cost must pay for all of
the traffic, not for a fleet capped by the scenario's autoscaling limit that drops the rest."""


def serving_scenario(scenario: Scenario) -> Scenario:
    """The scenario the lifetime prices serving with: its own, the replica cap raised to serve all traffic."""
    return scenario.replace(autoscaling=scenario.autoscaling.model_copy(update={"max_replicas": MAX_SERVING_REPLICAS}))


@dataclass(frozen=True)
class _Target:
    """The quality to match and the demand to serve, resolved once per plan."""

    s: Scenario
    serve: Scenario
    fit: str
    loss: float
    budget_flops: float
    chinchilla_params: float
    requests_per_day: float
    tokens_per_request: float
    inference_tokens: float
    growth_months: float


def _target(s: Scenario) -> _Target:
    """Budget FLOPs from the training plan, the fit's Chinchilla loss for it, and the lifetime demand."""
    budget = training.plan_for_scenario(s).flops
    fit = s.lifetime.fit
    loss = float(scaling.chinchilla_loss_for_budget(budget, fit))
    n_ch, _ = scaling.chinchilla_params_for_loss(loss, fit)
    rpd, per_request, d_inf = inference_tokens(s)
    return _Target(s=s, serve=serving_scenario(s), fit=fit, loss=loss, budget_flops=float(budget), chinchilla_params=float(n_ch),
                   requests_per_day=rpd, tokens_per_request=per_request, inference_tokens=d_inf,
                   growth_months=_growth_months(s.lifetime.lifetime_months, s.traffic.monthly_growth))


def _price(t: _Target, params: float, label: str) -> LifetimeOption:
    """Train a derived shape of ``params`` to the target loss and serve it: the exact figures.

    Raises ``InvalidInputError`` when the size cannot reach the loss or the planner cannot serve it.
    """
    shape = shapes.derive_shape(float(params), t.s.lifetime.family)
    spec = shape.spec
    n = spec.params_total
    d = float(scaling.tokens_for_loss(n, t.loss, t.fit))
    if not math.isfinite(d) or d > scaling.MAX_COUNT:
        raise InvalidInputError(f"a {n / 1e9:.3g}B model cannot reach loss {t.loss:.4f} with fit {t.fit}")
    tr = training.estimate(params=n, tokens=d, **training.scenario_kwargs(t.s))
    cp = capacity.plan(t.serve, model=spec)
    serve_usd = cp.monthly_cost_usd * t.growth_months
    serve_t = cp.co2e_t_per_month * t.growth_months
    infer = scaling.INFERENCE_FLOPS_PER_PARAM_TOKEN * n * t.inference_tokens
    return LifetimeOption(
        label=label, params=n, tokens=d, tokens_per_param=d / n, model_id=spec.model_id, model_name=spec.name,
        shape_notes=spec.notes, n_layers=spec.n_layers, d_model=spec.d_model, training_flops=tr.flops,
        training_cost_usd=tr.cost_usd, training_days=tr.wall_clock_days, training_co2e_t=tr.co2e_t,
        serving_usd_per_month=cp.monthly_cost_usd, serving_co2e_t_per_month=cp.co2e_t_per_month,
        peak_replicas=cp.peak_replicas, mean_replicas=cp.mean_replicas, devices_per_replica=cp.devices_per_replica,
        instance_type=cp.instance_type, lifetime_serving_usd=serve_usd, lifetime_serving_co2e_t=serve_t,
        total_usd=tr.cost_usd + serve_usd, total_co2e_t=tr.co2e_t + serve_t, inference_flops=infer,
        total_flops=tr.flops + infer, spec=spec,
    )


def _try_price(t: _Target, params: float, label: str) -> LifetimeOption | None:
    try:
        return _price(t, params, label)
    except InvalidInputError:
        return None


def _sweep_bounds(t: _Target) -> tuple[float, float]:
    """From just above the smallest model that reaches the loss (or the family's floor) to 1.5x Chinchilla."""
    n_min = float(scaling.min_params_for_loss(t.loss, t.fit)) * SMALLEST_FRACTION
    lo = max(n_min, shapes.FAMILIES[t.s.lifetime.family].min_params)
    hi = min(t.chinchilla_params * SWEEP_ABOVE_CHINCHILLA, shapes.MAX_PARAMS)
    if not lo < t.chinchilla_params <= hi:
        raise InvalidInputError(
            f"the Chinchilla-optimal model for this budget ({t.chinchilla_params:.3g} parameters) is outside the "
            f"sizes a {t.s.lifetime.family} shape can be derived for ({lo:.3g} to {shapes.MAX_PARAMS:.0e}); "
            "change the training budget"
        )
    return lo, hi


@dataclass(frozen=True)
class _Screen:
    """The vectorised screen: sizes, iso-loss tokens and the interpolated cost split."""

    params: np.ndarray
    tokens: np.ndarray
    training_usd: np.ndarray
    serving_usd: np.ndarray
    total_flops: np.ndarray

    @property
    def total_usd(self) -> np.ndarray:
        return self.training_usd + self.serving_usd


def _screen(t: _Target, exact: list[LifetimeOption], lo: float, hi: float) -> _Screen:
    """Training dollars per FLOP and monthly serving dollars interpolated in log N between the exact
    sizes (log-log for serving, which grows by whole replicas and instances); FLOPs by eq. 2."""
    n = np.geomspace(lo, hi, SCREEN_POINTS)
    d = np.asarray(scaling.tokens_for_loss(n, t.loss, t.fit), dtype=np.float64)
    xs = np.log([o.params for o in exact])
    usd_per_flop = np.interp(np.log(n), xs, [o.training_cost_usd / o.training_flops for o in exact])
    train_flops = scaling.TRAINING_FLOPS_PER_PARAM_TOKEN * n * d
    monthly = np.exp(np.interp(np.log(n), xs, np.log([max(o.serving_usd_per_month, 1e-9) for o in exact])))
    infer = scaling.INFERENCE_FLOPS_PER_PARAM_TOKEN * n * t.inference_tokens
    return _Screen(params=n, tokens=d, training_usd=usd_per_flop * train_flops,
                   serving_usd=monthly * t.growth_months, total_flops=train_flops + infer)


def _sweep(screen: _Screen, exact: list[LifetimeOption]) -> LifetimeSweep:
    """Screen points and exact points merged by size; exact figures where a plan was run."""
    rows = [(float(n), float(d), float(a), float(b), float(f), False) for n, d, a, b, f in zip(
        screen.params, screen.tokens, screen.training_usd, screen.serving_usd, screen.total_flops, strict=True)]
    rows += [(o.params, o.tokens, o.training_cost_usd, o.lifetime_serving_usd, o.total_flops, True) for o in exact]
    rows.sort(key=lambda r: r[0])
    cols = list(zip(*rows, strict=True))
    return LifetimeSweep(params=cols[0], tokens=cols[1], training_usd=cols[2], serving_usd=cols[3],
                         total_usd=tuple(a + b for a, b in zip(cols[2], cols[3], strict=True)),
                         total_flops=cols[4], exact=cols[5])


def _break_even_usd(t: _Target, ch: LifetimeOption, lt: LifetimeOption) -> float | None:
    """Requests/day at which the extra training dollars of ``lt`` are repaid by cheaper serving.

    ``R_be = R x (T_lt - T_ch) / (M_g x (S_ch - S_lt))`` with T training dollars, S monthly serving
    dollars at today's traffic R and M_g traffic-months: serving cost taken as linear in traffic.
    """
    if lt.params >= ch.params or ch.serving_usd_per_month <= lt.serving_usd_per_month:
        return None
    extra = max(lt.training_cost_usd - ch.training_cost_usd, 0.0)
    saved_per_month = (ch.serving_usd_per_month - lt.serving_usd_per_month) / t.requests_per_day
    return extra / (t.growth_months * saved_per_month)


def _break_even_flops(t: _Target, lt: LifetimeOption) -> float | None:
    """Requests/day at which ``lt`` and the Chinchilla model cost equal FLOPs (Sardana et al. eq. 2)."""
    d_be = float(scaling.overtraining_break_even_tokens(lt.params, t.loss, t.fit))
    if not math.isfinite(d_be):
        return None
    return max(d_be, 0.0) / (t.tokens_per_request * DAYS_PER_MONTH * t.growth_months)


def _recommend(t: _Target, exact: list[LifetimeOption], screen: _Screen,
               flops_opt: scaling.InferenceOptimal) -> LifetimeOption:
    """Dollars: the cheapest exact size, after pricing the screen's minimum; FLOPs: the eq. 2 optimum."""
    if t.s.lifetime.objective == "flops":
        best = _try_price(t, float(flops_opt.params), "lifetime-optimal (FLOPs)")
        if best is None:
            raise InvalidInputError("the FLOP-optimal size cannot be served on this hardware within the SLO; "
                                    "choose the dollar objective or other hardware")
        return best
    candidates = list(exact)
    screened = _try_price(t, float(screen.params[int(np.argmin(screen.total_usd))]), "screen")
    if screened is not None:
        candidates.append(screened)
    best = min(candidates, key=lambda o: o.total_usd)
    return best.model_copy(update={"label": "lifetime-optimal (USD)"})


def _summary(t: _Target, ch: LifetimeOption, lt: LifetimeOption, be_usd: float | None) -> str:
    if lt.params == ch.params:
        return (f"At {t.requests_per_day:,.0f} requests/day for {t.s.lifetime.lifetime_months:g} months the "
                f"Chinchilla-optimal {ch.params / 1e9:.3g}B model is also the cheapest over its life "
                f"(${ch.total_usd:,.0f}).")
    if lt.params > ch.params:
        return (f"At {t.requests_per_day:,.0f} requests/day for {t.s.lifetime.lifetime_months:g} months a larger "
                f"{lt.params / 1e9:.3g}B model costs ${ch.total_usd - lt.total_usd:,.0f} less over its life than the "
                f"Chinchilla-optimal {ch.params / 1e9:.3g}B: instances and hours are billed whole, so at this scale "
                "dollars are not proportional to FLOPs; over-training does not pay.")
    saved = ch.total_usd - lt.total_usd
    text = (
        f"At {t.requests_per_day:,.0f} requests/day for {t.s.lifetime.lifetime_months:g} months "
        f"({t.inference_tokens:.3g} inference tokens), a {lt.params / 1e9:.3g}B model trained on {lt.tokens:.3g} "
        f"tokens ({lt.tokens_per_param:,.0f} per parameter) reaches the loss ({t.loss:.4f}, fit {t.fit}) of the "
        f"Chinchilla-optimal {ch.params / 1e9:.3g}B model ({ch.tokens_per_param:,.0f} tokens per parameter) and "
        f"costs ${saved:,.0f} less over its life ({saved / ch.total_usd:.0%}): training costs "
        f"${lt.training_cost_usd - ch.training_cost_usd:,.0f} more, serving "
        f"${ch.serving_usd_per_month - lt.serving_usd_per_month:,.0f}/month less "
        f"(at peak {lt.peak_replicas} replicas of {lt.devices_per_replica} vs {ch.peak_replicas} of "
        f"{ch.devices_per_replica} accelerators)."
    )
    if be_usd is not None:
        text += f" Over-training to this size pays above about {be_usd:,.0f} requests/day."
    return text


def _assumptions(t: _Target) -> tuple[str, ...]:
    return (
        f"Quality: the loss of the Chinchilla-optimal model for the training budget ({t.budget_flops:.3g} FLOPs) "
        f"under the {t.fit} fit; every size is trained on the tokens that reach that loss.",
        f"Shapes: derived from the {shapes.FAMILIES[t.s.lifetime.family].label} family's published members "
        "(estimator.shapes), not published models.",
        "Serving cost and carbon scale linearly with traffic; monthly growth compounds the first month's plan.",
        f"Serving fleets may grow to {MAX_SERVING_REPLICAS:,} replicas so that every size serves all of the traffic "
        "(the scenario's own replica cap applies in the capacity planner).",
        "Training cost is linear in FLOPs at the scenario's accelerator price and MFU.",
        "Inference FLOPs: 2N per prompt or generated token (Sardana et al. 2024 eq. 2); the response cache "
        "removes cached requests.",
    )


def lifetime_plan(scenario: Scenario) -> LifetimePlan:
    """The lifetime mode's result for ``scenario``: Chinchilla vs lifetime-optimal, sweep, break-even.

    Notes
    -----
    Total lifetime cost of size N at the target loss ℓ:

    .. math:: \\mathrm{USD}(N) = p_{\\mathrm{train}} \\cdot 6 N D(N) + M_g \\cdot S(N), \\qquad
              D(N) = \\left(\\frac{B}{\\ell - E - A N^{-\\alpha}}\\right)^{1/\\beta}

    with S(N) the capacity plan's monthly serving cost of the derived shape and M_g the
    traffic-months; the FLOP objective is Sardana et al. 2024 eq. 2. Raises
    :class:`~estimator.errors.InvalidInputError` when no size can be planned.
    """
    t = _target(scenario)
    lo, hi = _sweep_bounds(t)
    ch = _price(t, t.chinchilla_params, "Chinchilla-optimal")
    grid = [o for n in np.geomspace(lo, hi, EXACT_POINTS) if (o := _try_price(t, float(n), "sweep")) is not None]
    exact = sorted([*grid, ch], key=lambda o: o.params)
    if len(exact) < 2:
        raise EstimatorError("fewer than two model sizes could be served on this hardware within the SLO")
    screen = _screen(t, exact, lo, hi)
    flops_opt = scaling.inference_optimal(t.loss, t.inference_tokens, fit=t.fit)
    lt = _recommend(t, exact, screen, flops_opt)
    be_usd = _break_even_usd(t, ch, lt)
    return LifetimePlan(
        fit=t.fit, fit_source=scaling.CHINCHILLA_FITS[t.fit].source, objective=scenario.lifetime.objective,
        family=scenario.lifetime.family, loss=t.loss, budget_flops=t.budget_flops,
        lifetime_months=scenario.lifetime.lifetime_months, requests_per_day=t.requests_per_day,
        tokens_per_request=t.tokens_per_request, inference_tokens=t.inference_tokens, chinchilla=ch, lifetime=lt,
        flops_optimal_params=float(flops_opt.params), flops_optimal_tokens=float(flops_opt.tokens),
        flops_saved_fraction=float(flops_opt.saved_fraction), savings_usd=ch.total_usd - lt.total_usd,
        savings_fraction=(ch.total_usd - lt.total_usd) / ch.total_usd if ch.total_usd > 0 else 0.0,
        break_even_requests_per_day_usd=be_usd, break_even_requests_per_day_flops=(
            _break_even_flops(t, lt) if lt.params < ch.params else None),
        sweep=_sweep(screen, [*exact, lt]), summary=_summary(t, ch, lt, be_usd), assumptions=_assumptions(t),
    )


def serve_scenario(scenario: Scenario, option: LifetimeOption) -> Scenario:
    """``scenario`` with ``option``'s derived shape as its model (an imported model travelling in the
    link, ``estimator.imported``): what the capacity planner opens for "serve this model"."""
    spec = imported.canonical(option.spec)
    return scenario.replace(model=scenario.model.model_copy(update={"model_id": spec.model_id, "custom": spec}))
