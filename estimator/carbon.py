"""Energy and emissions of accelerator work: power draw, energy, operational and embodied CO2e.

Shared by the training planner and the capacity planner. Every function takes Python scalars
or numpy arrays (broadcast with numpy's rules): scalar input gives a ``float``, array input an
``ndarray``. Units are in the names: ``_w`` watts, ``_kwh`` kilowatt-hours, ``_kgco2e`` /
``co2e_kg`` kilograms of CO2-equivalent, ``hours`` accelerator-hours (one accelerator busy for
one hour) unless a name says otherwise.

The chain, per accelerator::

    P(u)      = P_idle + (P_TDP - P_idle) * u                  accelerator draw at utilization u
    P_acc     = P(u) + h * P_TDP                               plus its share of the host server
    E [kWh]   = P_acc / 1000 * hours * PUE                     facility energy
    CO2e_op   = E * I_grid / 1000                              I_grid in gCO2e/kWh -> kg
    CO2e_emb  = M * hours / (L * f_use)                        embodied share of manufacturing

References
----------
.. [1] A. S. Luccioni, S. Viguier, A.-L. Ligozat, "Estimating the Carbon Footprint of BLOOM,
   a 176B Parameter Language Model", JMLR 24(253), 2023; arXiv:2211.02001 (2022).
.. [2] D. Patterson et al., "Carbon Emissions and Large Neural Network Training",
   arXiv:2104.10350, 2021 (energy = hours x power x PUE; CO2e = energy x grid intensity).
.. [3] I. Latif et al., "Empirical Measurements of AI Training Power Demand on a
   GPU-Accelerated Node", arXiv:2412.08602, 2024 (8 x H100 HGX node measured while training).
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from estimator._arrays import as_float_array, scalar_or_array
from estimator.errors import InvalidInputError
from estimator.specs import HardwareSpec, Region
from estimator.units import HOURS_PER_YEAR

__all__ = [
    "DEFAULT_ACCELERATOR_EMBODIED_KGCO2E",
    "DEFAULT_POWER_UTILIZATION",
    "EMBODIED_LIFETIME_HOURS",
    "EMBODIED_LIFETIME_YEARS",
    "EMBODIED_USE_FRACTION",
    "HOST_EMBODIED_KGCO2E_PER_ACCELERATOR",
    "HOST_OVERHEAD_FRACTION",
    "SERVER_ACCELERATORS",
    "SERVER_EMBODIED_KGCO2E",
    "Footprint",
    "accelerator_power_w",
    "embodied_co2e_kg",
    "embodied_kgco2e_per_accelerator",
    "energy_kwh",
    "footprint",
    "operational_co2e_kg",
    "power_per_accelerator_w",
    "power_per_accelerator_trusted_w",
]

FloatOrArray: TypeAlias = float | NDArray[np.float64]

# ---------------------------------------------------------------------------
# Named constants, each with its source
# ---------------------------------------------------------------------------

DEFAULT_POWER_UTILIZATION: float = 1.0
"""Fraction u of the idle-to-TDP range an accelerator draws while training (default 1: TDP).

Published training footprints use the peak figure: the Llama 2 and Llama 3.1 model cards take
"the peak power capacity per GPU device ... adjusted for power usage efficiency" (400 W A100,
700 W H100), and Luccioni et al. 2022 take the A100's 400 W TDP for BLOOM's dynamic consumption. Measured draw
is lower (Latif et al. 2024: an 8 x H100 node peaked at 8.4 kW against a 10.2 kW rating), so
u < 1 is a reasonable override once measured."""

HOST_OVERHEAD_FRACTION: float = 0.5
"""Host power (CPUs, DRAM, NICs, NVSwitch, fans) per accelerator, as a fraction of its TDP.

Derived from Latif et al. 2024 (arXiv:2412.08602, abstract): the maximum power of an 8 x H100
HGX node training Llama-2-13B was about 8.4 kW "even with GPUs near full utilization".
Taking the GPUs at their 700 W TDP (5.6 kW), the rest of the node drew about 2.8 kW,
i.e. 0.5 x the GPUs' power. An assumption for other servers; set 0 to count the accelerators
alone (as the Llama model cards and BLOOM's "dynamic" figure do)."""

EMBODIED_LIFETIME_YEARS: float = 6.0
"""Service life over which manufacturing emissions are amortized: the 6-year replacement
rate Luccioni et al. 2022 assume for BLOOM's hardware (embodied-emissions estimate)."""

EMBODIED_USE_FRACTION: float = 0.85
"""Average fraction of its service life a cluster accelerator is in use: 85 %, as assumed by
Luccioni et al. 2022 for the Jean Zay GPUs."""

EMBODIED_LIFETIME_HOURS: float = EMBODIED_LIFETIME_YEARS * HOURS_PER_YEAR
"""52,560 h: six years of 8,760 h."""

DEFAULT_ACCELERATOR_EMBODIED_KGCO2E: float = 150.0
"""Manufacturing emissions of one GPU, kgCO2e, when the catalog has no figure: Luccioni et al.
2022's estimate for an A100 (150 kgCO2e). For newer, larger parts an assumption (likely
low); the catalog's ``embodied_kgco2e`` takes precedence."""

SERVER_EMBODIED_KGCO2E: float = 2500.0
"""Manufacturing emissions of one GPU server without its GPUs, kgCO2e: Luccioni et al. 2022's
figure for the HPE Apollo 6500 Gen10 Plus (8 x A100) that trained BLOOM."""

SERVER_ACCELERATORS: int = 8
"""Accelerators sharing one such server (HPE Apollo 6500 Gen10 Plus: 8 x A100)."""

HOST_EMBODIED_KGCO2E_PER_ACCELERATOR: float = SERVER_EMBODIED_KGCO2E / SERVER_ACCELERATORS
"""312.5 kgCO2e: each accelerator's share of its server's manufacturing emissions."""

_MAX_HOURS = 1e13
_MAX_POWER_W = 1e6


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


_arr = as_float_array
_out = scalar_or_array


def _broadcast(**arrays: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise InvalidInputError(f"shapes do not broadcast: {shapes}") from exc


# ---------------------------------------------------------------------------
# Power
# ---------------------------------------------------------------------------


def accelerator_power_w(tdp_w: ArrayLike, idle_w: ArrayLike, utilization: ArrayLike) -> FloatOrArray:
    """Power one accelerator draws at utilization ``u``: linear between idle and TDP.

    .. math:: P(u) = P_{idle} + (P_{TDP} - P_{idle})\\,u, \\quad 0 \\le u \\le 1

    Units: W. The linear idle-to-peak model is the one Luccioni et al. 2022 use to split BLOOM's
    dynamic and idle consumption; u = 1 gives the TDP the Llama model cards use.

    >>> accelerator_power_w(700.0, 70.0, 1.0)
    700.0
    >>> accelerator_power_w(700.0, 70.0, np.array([0.0, 0.5]))
    array([ 70., 385.])
    """
    tdp, s0 = _arr("tdp_w", tdp_w, lo=0.0, hi=_MAX_POWER_W, lo_open=True)
    idle, s1 = _arr("idle_w", idle_w, lo=0.0, hi=_MAX_POWER_W)
    u, s2 = _arr("utilization", utilization, lo=0.0, hi=1.0)
    tdp, idle, u = _broadcast(tdp_w=tdp, idle_w=idle, utilization=u)
    if np.any(idle > tdp):
        raise InvalidInputError("idle_w must not exceed tdp_w")
    return _out(idle + (tdp - idle) * u, s0 and s1 and s2)


def power_per_accelerator_w(
    tdp_w: ArrayLike,
    idle_w: ArrayLike,
    utilization: ArrayLike = DEFAULT_POWER_UTILIZATION,
    host_overhead_fraction: ArrayLike = HOST_OVERHEAD_FRACTION,
) -> FloatOrArray:
    """Accelerator draw plus its share of the host server's power.

    .. math:: P_{acc} = P(u) + h\\,P_{TDP}

    with ``h`` = :data:`HOST_OVERHEAD_FRACTION` (0.5, from the 8.4 kW measured on an 8 x H100
    node, Latif et al. 2024). Host power is taken as independent of accelerator utilization.
    Units: W per accelerator.

    >>> power_per_accelerator_w(700.0, 70.0)          # H100 at TDP with its host share
    1050.0
    >>> power_per_accelerator_w(400.0, 50.0, 1.0, 0.0)   # A100, accelerator alone
    400.0
    """
    p = np.asarray(accelerator_power_w(tdp_w, idle_w, utilization), dtype=np.float64)
    h, s_h = _arr("host_overhead_fraction", host_overhead_fraction, lo=0.0, hi=10.0)
    tdp, _ = _arr("tdp_w", tdp_w, lo=0.0, lo_open=True)
    p, h, tdp = _broadcast(power_w=p, host_overhead_fraction=h, tdp_w=tdp)
    scalar = p.ndim == 0 and s_h
    return _out(p + h * tdp, scalar)


def power_per_accelerator_trusted_w(tdp_w: float, idle_w: float, utilization: NDArray[np.float64],
                                    host_overhead_fraction: float) -> NDArray[np.float64]:
    """:func:`power_per_accelerator_w` without input checks, for hot loops over validated inputs.

    .. math:: P_{acc} = P_{idle} + (P_{TDP} - P_{idle})\\,u + h\\,P_{TDP}

    The same equation and sources as :func:`accelerator_power_w` and :func:`power_per_accelerator_w`
    (Luccioni et al. 2022; Latif et al. 2024). Units: W per accelerator. The caller guarantees what those
    functions check: ``tdp_w`` > 0 and ``idle_w`` <= ``tdp_w`` from a validated ``HardwareSpec``, ``u`` in
    [0, 1], ``h`` >= 0 (the planner's and the recommender's 168-hour loops, where the checks cost more
    than the arithmetic).

    >>> power_per_accelerator_trusted_w(700.0, 70.0, np.array([0.0, 1.0]), 0.5)
    array([ 420., 1050.])
    """
    return idle_w + (tdp_w - idle_w) * utilization + host_overhead_fraction * tdp_w


# ---------------------------------------------------------------------------
# Energy and emissions
# ---------------------------------------------------------------------------


def energy_kwh(power_w: ArrayLike, hours: ArrayLike, pue: ArrayLike = 1.0) -> FloatOrArray:
    """Facility energy for ``hours`` accelerator-hours at ``power_w`` per accelerator.

    .. math:: E = \\frac{P}{1000}\\, t\\, \\mathrm{PUE}

    Units: W, h -> kWh. PUE (power usage effectiveness, >= 1) scales IT energy to the whole
    data centre (Patterson et al. 2021). BLOOM: 1,082,990 GPU-hours at 400 W is 433,196 kWh
    (Luccioni et al. 2022: the "dynamic" consumption, PUE not applied).

    >>> round(energy_kwh(400.0, 1_082_990))
    433196
    >>> energy_kwh(1000.0, np.array([1.0, 2.0]), 1.5)
    array([1.5, 3. ])
    """
    p, s0 = _arr("power_w", power_w, lo=0.0, hi=_MAX_POWER_W)
    t, s1 = _arr("hours", hours, lo=0.0, hi=_MAX_HOURS)
    q, s2 = _arr("pue", pue, lo=1.0, hi=3.0)
    p, t, q = _broadcast(power_w=p, hours=t, pue=q)
    return _out(p / 1000.0 * t * q, s0 and s1 and s2)


def operational_co2e_kg(energy_kwh: ArrayLike, grid_gco2e_per_kwh: ArrayLike) -> FloatOrArray:
    """Emissions of consuming ``energy_kwh`` on a grid of intensity ``grid_gco2e_per_kwh``.

    .. math:: CO_2e_{op} = E \\cdot I_{grid} / 1000

    Units: kWh x gCO2e/kWh -> kgCO2e. Location-based accounting (the grid's average intensity;
    market-based figures net of renewable purchases can be zero, as Meta reports).

    >>> round(operational_co2e_kg(433_196, 57.0) / 1000, 1)   # BLOOM, French grid: 24.7 t
    24.7
    """
    e, s0 = _arr("energy_kwh", energy_kwh, lo=0.0)
    g, s1 = _arr("grid_gco2e_per_kwh", grid_gco2e_per_kwh, lo=0.0, hi=2000.0)
    e, g = _broadcast(energy_kwh=e, grid_gco2e_per_kwh=g)
    return _out(e * g / 1000.0, s0 and s1)


def embodied_co2e_kg(
    hours: ArrayLike,
    embodied_kgco2e: ArrayLike,
    lifetime_hours: ArrayLike = EMBODIED_LIFETIME_HOURS,
    use_fraction: ArrayLike = EMBODIED_USE_FRACTION,
) -> FloatOrArray:
    """Share of manufacturing emissions attributable to ``hours`` accelerator-hours.

    .. math:: CO_2e_{emb} = M \\, \\frac{t}{L\\, f_{use}}

    ``M`` is the embodied kgCO2e per accelerator (its server share included), ``L`` the service
    life in hours, ``f_use`` the fraction of it in use (Luccioni et al. 2022: 6 years, 85 %).
    Units: kgCO2e.

    BLOOM: 1,082,990 GPU-hours with 150 kg per A100 and 2,500 kg per 8-GPU server give the
    paper's 11.2 t:

    >>> round(embodied_co2e_kg(1_082_990, 150.0 + 2500.0 / 8) / 1000, 1)
    11.2
    """
    t, s0 = _arr("hours", hours, lo=0.0, hi=_MAX_HOURS)
    m, s1 = _arr("embodied_kgco2e", embodied_kgco2e, lo=0.0, hi=1e7)
    life, s2 = _arr("lifetime_hours", lifetime_hours, lo=0.0, hi=1e6, lo_open=True)
    f, s3 = _arr("use_fraction", use_fraction, lo=0.0, hi=1.0, lo_open=True)
    t, m, life, f = _broadcast(hours=t, embodied_kgco2e=m, lifetime_hours=life, use_fraction=f)
    return _out(m * t / (life * f), s0 and s1 and s2 and s3)


def embodied_kgco2e_per_accelerator(
    hardware: HardwareSpec, include_host: bool = True
) -> tuple[float, bool]:
    """Embodied kgCO2e of one accelerator (plus its server share) and whether it is assumed.

    Uses the catalog's ``embodied_kgco2e`` when present, else
    :data:`DEFAULT_ACCELERATOR_EMBODIED_KGCO2E` (A100, Luccioni et al. 2022); adds
    :data:`HOST_EMBODIED_KGCO2E_PER_ACCELERATOR` for the server. Returns ``(kgCO2e, assumed)``,
    ``assumed`` being True when the accelerator figure is the A100 stand-in.
    """
    own = hardware.embodied_kgco2e
    assumed = own is None
    value = DEFAULT_ACCELERATOR_EMBODIED_KGCO2E if own is None else float(own)
    if include_host:
        value += HOST_EMBODIED_KGCO2E_PER_ACCELERATOR
    return value, assumed


# ---------------------------------------------------------------------------
# Whole footprint
# ---------------------------------------------------------------------------


class Footprint(BaseModel):
    """Energy and emissions of a block of accelerator-hours, with the assumptions used."""

    model_config = ConfigDict(frozen=True)

    accelerator_hours: float = Field(ge=0)
    power_per_accelerator_w: float = Field(ge=0, description="accelerator draw plus host share")
    pue: float = Field(ge=1)
    grid_gco2e_per_kwh: float = Field(ge=0)
    energy_kwh: float = Field(ge=0)
    operational_co2e_kg: float = Field(ge=0)
    embodied_co2e_kg: float = Field(ge=0)
    embodied_kgco2e_per_accelerator: float = Field(ge=0)
    embodied_assumed: bool
    assumptions: tuple[str, ...] = ()

    @property
    def co2e_kg(self) -> float:
        """Operational plus embodied kgCO2e."""
        return self.operational_co2e_kg + self.embodied_co2e_kg


def footprint(
    hardware: HardwareSpec,
    accelerator_hours: float,
    *,
    region: Region | None = None,
    grid_gco2e_per_kwh: float | None = None,
    pue: float | None = None,
    utilization: float = DEFAULT_POWER_UTILIZATION,
    host_overhead_fraction: float = HOST_OVERHEAD_FRACTION,
    include_embodied: bool = True,
    lifetime_hours: float = EMBODIED_LIFETIME_HOURS,
    use_fraction: float = EMBODIED_USE_FRACTION,
) -> Footprint:
    """Energy, operational and embodied CO2e of ``accelerator_hours`` on ``hardware``.

    Grid intensity and PUE come from ``region`` unless given explicitly; at least one source is
    required (a region without data is an error, nothing is guessed).

    Notes
    -----
    ``E = (P(u) + h P_TDP)/1000 * t * PUE``; ``CO2e = E I/1000 + M t / (L f_use)``
    (see the module docstring). Units: kWh, kgCO2e.
    """
    grid = grid_gco2e_per_kwh if grid_gco2e_per_kwh is not None else (region.grid_gco2e_per_kwh if region else None)
    q = pue if pue is not None else (region.pue if region else None)
    if grid is None or q is None:
        missing = "grid carbon intensity" if grid is None else "PUE"
        raise InvalidInputError(
            f"no {missing} for the energy estimate: choose a catalog region or enter the grid "
            "intensity (gCO2e/kWh) and PUE yourself"
        )
    power = float(power_per_accelerator_w(hardware.tdp_w, hardware.idle_w, utilization, host_overhead_fraction))
    e = float(energy_kwh(power, accelerator_hours, q))
    op = float(operational_co2e_kg(e, grid))
    m, assumed = embodied_kgco2e_per_accelerator(hardware)
    emb = float(embodied_co2e_kg(accelerator_hours, m, lifetime_hours, use_fraction)) if include_embodied else 0.0
    notes = [
        f"power per accelerator {power:,.0f} W = idle {hardware.idle_w:,.0f} W + "
        f"({hardware.tdp_w:,.0f} - {hardware.idle_w:,.0f}) W x utilization {utilization:.2f} "
        f"+ host {host_overhead_fraction:.2f} x TDP",
        f"PUE {q:.2f}; grid {grid:,.1f} gCO2e/kWh (location-based)",
    ]
    if include_embodied:
        notes.append(
            f"embodied {m:,.1f} kgCO2e per accelerator incl. server share, amortized over "
            f"{lifetime_hours / HOURS_PER_YEAR:.1f} years at {use_fraction:.0%} use"
            + (" (accelerator figure assumed: A100's 150 kg)" if assumed else "")
        )
    return Footprint(
        accelerator_hours=float(accelerator_hours),
        power_per_accelerator_w=power,
        pue=float(q),
        grid_gco2e_per_kwh=float(grid),
        energy_kwh=e,
        operational_co2e_kg=op,
        embodied_co2e_kg=emb,
        embodied_kgco2e_per_accelerator=m if include_embodied else 0.0,
        embodied_assumed=assumed and include_embodied,
        assumptions=tuple(notes),
    )
