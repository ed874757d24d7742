"""Neural scaling laws: compute-optimal model size, data and loss.

Pure functions, one per published formula, in the style of numpy-financial.
Every function that takes numbers accepts Python scalars or numpy arrays:
scalar input gives a Python ``float``, array input gives an ``ndarray``
(inputs broadcast against each other with numpy's rules).

Units are in the names: ``params`` and ``tokens`` are counts, ``_flops`` is
floating-point operations, ``_pf_days`` is petaflop/s-days (Kaplan's unit,
1 PF-day = 1e15 * 86400 = 8.64e19 FLOPs). Losses are in nats per token.

Two conventions that must not be mixed up:

* Kaplan et al. (2020) count **non-embedding** parameters and measure
  compute in PF-days.
* Hoffmann et al. (2022, "Chinchilla") count **all** parameters, embeddings
  included (their App. F), and measure compute in FLOPs.

Use :func:`non_embedding_params` to go from the second to the first.

References
----------
.. [1] J. Kaplan et al., "Scaling Laws for Neural Language Models",
   arXiv:2001.08361, 2020.
.. [2] J. Hoffmann et al., "Training Compute-Optimal Large Language Models",
   arXiv:2203.15556, 2022.
.. [3] T. Besiroglu, E. Erdil, M. Barnett, J. You, "Chinchilla Scaling:
   A replication attempt", arXiv:2404.10102, 2024.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from estimator.errors import InvalidInputError

__all__ = [
    "CHINCHILLA_APPROACHES",
    "CHINCHILLA_FITS",
    "CHINCHILLA_TABLE3_APPROACH1",
    "CHINCHILLA_TABLE_A3_APPROACH2",
    "CHINCHILLA_TOKENS_PER_PARAM",
    "DEFAULT_CHINCHILLA_FIT",
    "KAPLAN_COMPUTE_EFFICIENT",
    "KAPLAN_JOINT_FIT",
    "KAPLAN_POWER_LAWS",
    "MAX_COMPUTE_FLOPS",
    "MAX_COUNT",
    "PF_DAY_FLOPS",
    "ChinchillaAllocation",
    "ChinchillaFit",
    "KaplanComputeEfficient",
    "KaplanJointFit",
    "KaplanPowerLaws",
    "chinchilla_loss",
    "chinchilla_optimal",
    "chinchilla_tokens_rule_of_thumb",
    "fit_params_coefficient",
    "fits_disagreement",
    "flops_to_pf_days",
    "forward_flops_per_token",
    "kaplan_critical_batch_tokens",
    "kaplan_loss_c",
    "kaplan_loss_c_min",
    "kaplan_loss_d",
    "kaplan_loss_n",
    "kaplan_loss_nd",
    "kaplan_optimal_params",
    "kaplan_optimal_tokens",
    "non_embedding_params",
    "optimal_frontier",
    "pf_days_to_flops",
    "training_flops",
    "training_flops_per_token_with_attention",
    "undertrained_ratio",
    # inference-aware scaling (Sardana et al. 2024)
    "INFERENCE_FLOPS_PER_PARAM_TOKEN",
    "SARDANA_FIGURE1_EXAMPLE",
    "TRAINING_FLOPS_PER_PARAM_TOKEN",
    "InferenceOptimal",
    "chinchilla_loss_for_budget",
    "chinchilla_loss_for_params",
    "chinchilla_params_for_loss",
    "inference_optimal",
    "lifetime_flops",
    "min_params_for_loss",
    "overtraining_break_even_tokens",
    "tokens_for_loss",
]

FloatOrArray: TypeAlias = float | NDArray[np.float64]
"""A Python ``float`` for scalar input, a float64 ``ndarray`` for array input."""

# ---------------------------------------------------------------------------
# Units and limits
# ---------------------------------------------------------------------------

PF_DAY_FLOPS: float = 8.64e19
"""FLOPs in one petaflop/s-day: 1e15 FLOP/s * 86400 s (Kaplan et al. 2020, §1.3)."""

MAX_COMPUTE_FLOPS: float = 1e30
"""Largest compute budget accepted, in FLOPs (about 1e5 times the largest
training runs reported to date); larger values are treated as input errors."""

MAX_COUNT: float = 1e30
"""Sanity bound on parameter and token counts."""

_MAX_COMPUTE_PF_DAYS: float = MAX_COMPUTE_FLOPS / PF_DAY_FLOPS

CHINCHILLA_TOKENS_PER_PARAM: float = 20.0
"""The "20 tokens per parameter" heuristic read off Hoffmann et al. (2022)
Table 3 (e.g. 1B params -> 20.2B tokens, 10B -> 205.1B). It is not a fitted
constant in the paper; Approach 3 with the rounded constants gives ~93 at
the Gopher budget, the Epoch refit ~18."""

# ---------------------------------------------------------------------------
# Kaplan et al. (2020) constants
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KaplanPowerLaws:
    """Single-variable power laws of Kaplan et al. (2020), Table 5 (App. A).

    ``L(X) = (X_c / X) ** alpha_X``; loss in nats/token on WebText2,
    N counts non-embedding parameters, C is in PF-days.
    """

    alpha_n: float = 0.076
    n_c_params: float = 8.8e13
    alpha_d: float = 0.095
    d_c_tokens: float = 5.4e13
    alpha_c: float = 0.057
    c_c_pf_days: float = 1.6e7
    alpha_c_min: float = 0.050
    c_c_min_pf_days: float = 3.1e8
    alpha_b: float = 0.21
    b_star_tokens: float = 2.1e8
    alpha_s: float = 0.76
    s_c_steps: float = 2.1e3
    source: str = "Kaplan et al. 2020, arXiv:2001.08361, Table 5 (App. A); eqs. 1.1-1.4"


@dataclass(frozen=True)
class KaplanJointFit:
    """Constants of the joint fit L(N, D), Kaplan et al. (2020) eq. 1.5 / Table 2.

    These differ from Table 5 (alpha_D 0.103 vs 0.095, N_c 6.4e13 vs 8.8e13,
    D_c 1.8e13 vs 5.4e13) because eq. 1.5 was fitted separately.
    """

    alpha_n: float = 0.076
    alpha_d: float = 0.103
    n_c_params: float = 6.4e13
    d_c_tokens: float = 1.8e13
    source: str = "Kaplan et al. 2020, arXiv:2001.08361, eq. 1.5 and Table 2"


@dataclass(frozen=True)
class KaplanComputeEfficient:
    """Compute-efficient allocation, Kaplan et al. (2020) Table 6 (eqs. 1.7-1.8).

    ``X_opt = X_e * C_min ** p_X`` with C_min in PF-days; N is non-embedding.
    """

    n_e_params: float = 1.3e9
    p_n: float = 0.73
    d_e_tokens: float = 2e10
    p_d: float = 0.27
    b_e_tokens: float = 2.0e6
    p_b: float = 0.24
    s_e_steps: float = 5.4e3
    p_s: float = 0.03
    source: str = "Kaplan et al. 2020, arXiv:2001.08361, Table 6; eqs. 1.7-1.8"


KAPLAN_POWER_LAWS = KaplanPowerLaws()
KAPLAN_JOINT_FIT = KaplanJointFit()
KAPLAN_COMPUTE_EFFICIENT = KaplanComputeEfficient()

# ---------------------------------------------------------------------------
# Chinchilla parametric fits (Approach 3)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChinchillaFit:
    """Constants of the parametric loss ``L(N, D) = E + A/N**alpha + B/D**beta``.

    The properties give the efficient frontier of Hoffmann et al. (2022) eq. 4:
    ``N_opt = G * (C/6)**a``, ``D_opt = (C/6)**b / G`` with
    ``G = (alpha*A / (beta*B)) ** (1/(alpha+beta))``, ``a = beta/(alpha+beta)``,
    ``b = alpha/(alpha+beta)``.
    """

    name: str
    e: float
    a: float
    b: float
    alpha: float
    beta: float
    source: str

    @property
    def params_exponent(self) -> float:
        """a = beta / (alpha + beta)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def tokens_exponent(self) -> float:
        """b = alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def frontier_g(self) -> float:
        """G = (alpha A / (beta B)) ** (1 / (alpha + beta))."""
        return float((self.alpha * self.a / (self.beta * self.b)) ** (1.0 / (self.alpha + self.beta)))


CHINCHILLA_FITS: Mapping[str, ChinchillaFit] = MappingProxyType(
    {
        "hoffmann2022": ChinchillaFit(
            name="hoffmann2022",
            e=1.69,
            a=406.4,
            b=410.7,
            alpha=0.34,
            beta=0.28,
            source=(
                "Hoffmann et al. 2022, arXiv:2203.15556, §3.3 eq. 2 and App. D.2 "
                "(published rounded constants)"
            ),
        ),
        "hoffmann2022_tex": ChinchillaFit(
            name="hoffmann2022_tex",
            e=1.6934,
            a=406.4,
            b=410.7,
            alpha=0.3392,
            beta=0.2849,
            source=(
                "Hoffmann et al. 2022 unrounded E, alpha, beta from the paper's TeX "
                "source as reported by Besiroglu et al. 2024, arXiv:2404.10102, "
                "Table 1; A and B as published"
            ),
        ),
        "epoch2024": ChinchillaFit(
            name="epoch2024",
            e=1.8172,
            a=482.01,
            b=2085.43,
            alpha=0.3478,
            beta=0.3658,
            source=(
                "Besiroglu, Erdil, Barnett & You 2024, 'Chinchilla Scaling: A "
                "replication attempt', arXiv:2404.10102, Table 1 (refit of "
                "Hoffmann et al. Figure 4 data)"
            ),
        ),
    }
)
"""Registry of parametric loss fits, keyed by fit name."""

DEFAULT_CHINCHILLA_FIT: str = "hoffmann2022"

# ---------------------------------------------------------------------------
# Chinchilla Approaches 1 and 2: published projections and fitted coefficients
# ---------------------------------------------------------------------------

CHINCHILLA_TABLE3_APPROACH1: tuple[tuple[float, float, float], ...] = (
    # (params, FLOPs, tokens) -- Hoffmann et al. 2022, Table 3 (Approach 1)
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
)
"""Hoffmann et al. (2022) Table 3: Approach-1 projections (params, FLOPs, tokens)."""

CHINCHILLA_TABLE_A3_APPROACH2: tuple[tuple[float, float, float], ...] = (
    # (params, FLOPs, tokens) -- Hoffmann et al. 2022, Table A3, Approach 2 columns
    (400e6, 1.84e19, 7.7e9),
    (1e9, 1.20e20, 20.0e9),
    (10e9, 1.32e22, 219.5e9),
    (67e9, 6.88e23, 1.7e12),
    (175e9, 4.54e24, 4.3e12),
    (280e9, 1.18e25, 7.1e12),
    (520e9, 4.19e25, 13.4e12),
    (1e12, 1.59e26, 26.5e12),
    (10e12, 1.75e28, 292.0e12),
)
"""Hoffmann et al. (2022) Table A3 (App. D.3): Approach-2 projections."""

APPROACH1_PARAMS_COEFFICIENT: float = 0.089332
"""k in ``N_opt = k * C**0.50`` (C in FLOPs) for Chinchilla Approach 1.

The paper publishes only the exponent (Table 2: a = 0.50) and the projection
Table 3. k is the least-squares fit in log space of ``ln N = ln k + a ln C``
with a fixed at 0.50, over the nine (FLOPs, params) rows of Table 3:
``ln k = mean(ln N_i - 0.50 ln C_i)`` (see :func:`fit_params_coefficient`).
Max |error| against the table: params 2.1 % (400M row); tokens 2.2 % on all
rows but 67B, where the table's "1.5 Trillion" is a rounding of
5.76e23 / (6 * 67e9) = 1.43e12 and the fitted value (1.416e12) is 5.6 % below it.
"""

APPROACH2_PARAMS_COEFFICIENT: float = 0.14441
"""k in ``N_opt = k * C**0.49`` (C in FLOPs) for Chinchilla Approach 2.

Same derivation as :data:`APPROACH1_PARAMS_COEFFICIENT`, with a = 0.49
(Table 2) over the nine Approach-2 rows of Table A3 (App. D.3).
Max |error| against the table: params 3.3 % (67B row), tokens 2.5 % (67B).
"""


@dataclass(frozen=True)
class ChinchillaAllocation:
    """Compute-optimal allocation exponents ``N_opt ∝ C**a``, ``D_opt ∝ C**b``.

    Exponents and their 10th/90th bootstrap percentiles are Hoffmann et al.
    (2022) Table 2. ``params_coefficient`` is k in ``N_opt = k * C**a``; it is
    ``None`` for Approach 3, whose frontier comes in closed form from a
    :class:`ChinchillaFit` (eq. 4).
    """

    approach: int
    name: str
    params_exponent: float
    tokens_exponent: float
    params_exponent_interval: tuple[float, float]
    tokens_exponent_interval: tuple[float, float]
    params_coefficient: float | None
    source: str


CHINCHILLA_APPROACHES: Mapping[int, ChinchillaAllocation] = MappingProxyType(
    {
        1: ChinchillaAllocation(
            approach=1,
            name="Minimum over training curves",
            params_exponent=0.50,
            tokens_exponent=0.50,
            params_exponent_interval=(0.488, 0.502),
            tokens_exponent_interval=(0.501, 0.512),
            params_coefficient=APPROACH1_PARAMS_COEFFICIENT,
            source=(
                "Hoffmann et al. 2022, arXiv:2203.15556, Table 2 (exponents); coefficient fitted to Table 3"
            ),
        ),
        2: ChinchillaAllocation(
            approach=2,
            name="IsoFLOP profiles",
            params_exponent=0.49,
            tokens_exponent=0.51,
            params_exponent_interval=(0.462, 0.534),
            tokens_exponent_interval=(0.483, 0.529),
            params_coefficient=APPROACH2_PARAMS_COEFFICIENT,
            source=(
                "Hoffmann et al. 2022, arXiv:2203.15556, Table 2 (exponents); coefficient fitted to Table A3"
            ),
        ),
        3: ChinchillaAllocation(
            approach=3,
            name="Parametric modelling of the loss",
            params_exponent=0.46,
            tokens_exponent=0.54,
            params_exponent_interval=(0.454, 0.455),
            tokens_exponent_interval=(0.542, 0.543),
            params_coefficient=None,
            source=(
                "Hoffmann et al. 2022, arXiv:2203.15556, Table 2; frontier from eq. 4 with a parametric fit"
            ),
        ),
    }
)
"""Chinchilla approaches 1-3 keyed by number (Hoffmann et al. 2022, Table 2)."""

# ---------------------------------------------------------------------------
# Input validation and output helpers
# ---------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return repr(float(value))


_PLAIN_SCALARS: frozenset[type] = frozenset({float, int, np.float64})
"""Exact types :func:`_as_array` validates without NumPy reductions (``bool`` is not among them)."""


def _as_array(
    name: str,
    value: ArrayLike,
    *,
    upper: float | None = MAX_COUNT,
    unit: str = "",
    allow_zero: bool = False,
) -> tuple[NDArray[np.float64], bool]:
    """Validate ``value`` and return it as a float64 array plus "was scalar".

    A plain Python or NumPy float or int in range takes a short path (no array reductions; the
    planners call these functions with scalars many times per page); anything else, and every
    value that fails a check, goes through the array path, which words the error.
    """
    if isinstance(value, (float, int)) and type(value) in _PLAIN_SCALARS:
        v = float(value)
        if (v >= 0.0 if allow_zero else v > 0.0) and v < math.inf and (upper is None or v <= upper):
            return np.array(v), True
    if isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be a finite number or an array of numbers, got {value!r}"
        ) from exc
    if arr.size == 0:
        raise InvalidInputError(f"{name} must not be empty")
    if allow_zero:
        bad = ~np.isfinite(arr) | (arr < 0)
        requirement = "non-negative and finite"
    else:
        bad = ~np.isfinite(arr) | (arr <= 0)
        requirement = "positive and finite"
    where = ""
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        if arr.ndim:
            where = f" at index {idx[0] if len(idx) == 1 else idx}"
        raise InvalidInputError(f"{name} must be {requirement}, got {_fmt(arr[idx])}{where}")
    if upper is not None:
        over = arr > upper
        if over.any():
            idx = tuple(int(i) for i in np.argwhere(over)[0])
            if arr.ndim:
                where = f" at index {idx[0] if len(idx) == 1 else idx}"
            suffix = f" {unit}" if unit else ""
            raise InvalidInputError(
                f"{name} = {_fmt(arr[idx])}{where} exceeds the supported maximum of {upper:g}{suffix}"
            )
    return arr, arr.ndim == 0


def _compute_flops(name: str, value: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    return _as_array(name, value, upper=MAX_COMPUTE_FLOPS, unit="FLOPs")


def _compute_pf_days(name: str, value: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    return _as_array(name, value, upper=_MAX_COMPUTE_PF_DAYS, unit="PF-days")


def _broadcast(
    **arrays: NDArray[np.float64],
) -> list[NDArray[np.float64]]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise InvalidInputError(f"shapes do not broadcast: {shapes}") from exc


def _out(value: NDArray[np.float64], scalar: bool) -> FloatOrArray:
    if scalar:
        return float(value)
    return np.asarray(value, dtype=np.float64)


def _check_multiplier(name: str, value: float) -> float:
    arr, scalar = _as_array(name, value)
    if not scalar:
        raise InvalidInputError(f"{name} must be a single number, got {value!r}")
    return float(arr)


def _get_fit(fit: str) -> ChinchillaFit:
    if not isinstance(fit, str) or fit not in CHINCHILLA_FITS:
        options = ", ".join(repr(k) for k in CHINCHILLA_FITS)
        raise InvalidInputError(f"unknown fit {fit!r}; valid options are {options}")
    return CHINCHILLA_FITS[fit]


def _get_approach(approach: int) -> ChinchillaAllocation:
    if (
        isinstance(approach, (bool, np.bool_))
        or not isinstance(approach, (int, np.integer))
        or int(approach) not in CHINCHILLA_APPROACHES
    ):
        options = ", ".join(str(k) for k in CHINCHILLA_APPROACHES)
        raise InvalidInputError(f"unknown approach {approach!r}; valid options are {options}")
    return CHINCHILLA_APPROACHES[int(approach)]


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------


@overload
def flops_to_pf_days(flops: float) -> float: ...
@overload
def flops_to_pf_days(flops: ArrayLike) -> FloatOrArray: ...
def flops_to_pf_days(flops: ArrayLike) -> FloatOrArray:
    """Convert FLOPs to petaflop/s-days.

    Parameters
    ----------
    flops : float or array_like
        Compute in FLOPs, 0 < flops <= 1e30.

    Returns
    -------
    float or ndarray
        Compute in PF-days.

    Notes
    -----
    .. math:: C_{\\mathrm{PF\\text{-}days}} = C_{\\mathrm{FLOPs}} / (10^{15} \\cdot 86400)

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, §1.3 ("PF-days ... 8.64e19 FLOPs").

    Examples
    --------
    >>> flops_to_pf_days(8.64e19)
    1.0
    >>> round(flops_to_pf_days(3.14e23))  # GPT-3, Brown et al. 2020 Table D.1
    3634
    """
    arr, scalar = _compute_flops("flops", flops)
    return _out(arr / PF_DAY_FLOPS, scalar)


@overload
def pf_days_to_flops(pf_days: float) -> float: ...
@overload
def pf_days_to_flops(pf_days: ArrayLike) -> FloatOrArray: ...
def pf_days_to_flops(pf_days: ArrayLike) -> FloatOrArray:
    """Convert petaflop/s-days to FLOPs.

    Parameters
    ----------
    pf_days : float or array_like
        Compute in PF-days, at most 1e30 FLOPs' worth.

    Returns
    -------
    float or ndarray
        Compute in FLOPs.

    Notes
    -----
    .. math:: C_{\\mathrm{FLOPs}} = 8.64 \\times 10^{19} \\, C_{\\mathrm{PF\\text{-}days}}

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, §1.3.

    Examples
    --------
    >>> pf_days_to_flops(1.0)
    8.64e+19
    >>> pf_days_to_flops(np.array([1.0, 2.0])) / 1e19
    array([ 8.64, 17.28])
    """
    arr, scalar = _compute_pf_days("pf_days", pf_days)
    return _out(arr * PF_DAY_FLOPS, scalar)


# ---------------------------------------------------------------------------
# FLOP counting
# ---------------------------------------------------------------------------


@overload
def training_flops(params: float, tokens: float) -> float: ...
@overload
def training_flops(params: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...
def training_flops(params: ArrayLike, tokens: ArrayLike) -> FloatOrArray:
    """Training compute of a dense transformer, ``C = 6 N D``.

    Parameters
    ----------
    params : float or array_like
        Model parameters N (count).
    tokens : float or array_like
        Training tokens D (count).

    Returns
    -------
    float or ndarray
        Training compute in FLOPs.

    Notes
    -----
    .. math:: C \\approx 6 N D

    2 FLOPs per parameter per token in the forward pass and 4 in the backward
    pass; attention-over-context FLOPs are neglected (see
    :func:`training_flops_per_token_with_attention`). Hoffmann et al. (App. F,
    Table A4) find their detailed count within about 10 % of 6ND.

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, §2.1 (C ≈ 6N per token);
    Hoffmann et al. 2022, arXiv:2203.15556, §3.3 and App. F.

    Examples
    --------
    Chinchilla (70B params, 1.4T tokens):

    >>> print(f"{training_flops(70e9, 1.4e12):.3e}")
    5.880e+23

    GPT-3 175B on 300B tokens (Brown et al. 2020, Table D.1: 3.14e23):

    >>> print(f"{training_flops(175e9, 300e9):.3e}")
    3.150e+23
    """
    n, n_scalar = _as_array("params", params)
    d, d_scalar = _as_array("tokens", tokens)
    n, d = _broadcast(params=n, tokens=d)
    return _out(6.0 * n * d, n_scalar and d_scalar)


@overload
def forward_flops_per_token(
    params_non_embedding: float, n_layer: float, n_ctx: float, d_attn: float
) -> float: ...
@overload
def forward_flops_per_token(
    params_non_embedding: ArrayLike, n_layer: ArrayLike, n_ctx: ArrayLike, d_attn: ArrayLike
) -> FloatOrArray: ...
def forward_flops_per_token(
    params_non_embedding: ArrayLike,
    n_layer: ArrayLike,
    n_ctx: ArrayLike,
    d_attn: ArrayLike,
) -> FloatOrArray:
    """Forward-pass FLOPs per token including attention over the context.

    Parameters
    ----------
    params_non_embedding : float or array_like
        Non-embedding parameters N (Kaplan convention).
    n_layer : float or array_like
        Number of transformer layers.
    n_ctx : float or array_like
        Context length in tokens.
    d_attn : float or array_like
        Attention dimension (heads * head_dim; usually d_model).

    Returns
    -------
    float or ndarray
        FLOPs per token for one forward pass.

    Notes
    -----
    .. math:: C_{\\mathrm{forward}} = 2N + 2\\, n_{\\mathrm{layer}}\\, n_{\\mathrm{ctx}}\\, d_{\\mathrm{attn}}

    Embedding and de-embedding FLOPs are excluded, as in the paper.

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, Table 1 (total row) and eq. 2.2.

    Examples
    --------
    GPT-3 175B shape (96 layers, d_model 12288, n_ctx 2048):

    >>> print(f"{forward_flops_per_token(174.6e9, 96, 2048, 12288):.4e}")
    3.5403e+11
    """
    n, s0 = _as_array("params_non_embedding", params_non_embedding)
    layers, s1 = _as_array("n_layer", n_layer)
    ctx, s2 = _as_array("n_ctx", n_ctx)
    attn, s3 = _as_array("d_attn", d_attn)
    n, layers, ctx, attn = _broadcast(params_non_embedding=n, n_layer=layers, n_ctx=ctx, d_attn=attn)
    return _out(2.0 * n + 2.0 * layers * ctx * attn, s0 and s1 and s2 and s3)


@overload
def training_flops_per_token_with_attention(
    params_non_embedding: float, n_layer: float, n_ctx: float, d_attn: float
) -> float: ...
@overload
def training_flops_per_token_with_attention(
    params_non_embedding: ArrayLike, n_layer: ArrayLike, n_ctx: ArrayLike, d_attn: ArrayLike
) -> FloatOrArray: ...
def training_flops_per_token_with_attention(
    params_non_embedding: ArrayLike,
    n_layer: ArrayLike,
    n_ctx: ArrayLike,
    d_attn: ArrayLike,
) -> FloatOrArray:
    """Training FLOPs per token (forward + backward) including attention.

    Parameters
    ----------
    params_non_embedding, n_layer, n_ctx, d_attn : float or array_like
        As for :func:`forward_flops_per_token`.

    Returns
    -------
    float or ndarray
        FLOPs per training token.

    Notes
    -----
    .. math:: C_{\\mathrm{train}} = 3\\, C_{\\mathrm{forward}}
              = 6N + 6\\, n_{\\mathrm{layer}}\\, n_{\\mathrm{ctx}}\\, d_{\\mathrm{attn}}

    The backward pass costs about twice the forward pass.

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, §2.1 and Table 1.

    Examples
    --------
    >>> print(f"{training_flops_per_token_with_attention(174.6e9, 96, 2048, 12288):.4e}")
    1.0621e+12
    """
    fwd = forward_flops_per_token(params_non_embedding, n_layer, n_ctx, d_attn)
    return 3.0 * fwd


@overload
def non_embedding_params(
    params_total: float, vocab_size: float, d_model: float, n_ctx: float = ..., tied: bool = ...
) -> float: ...
@overload
def non_embedding_params(
    params_total: ArrayLike,
    vocab_size: ArrayLike,
    d_model: ArrayLike,
    n_ctx: ArrayLike = ...,
    tied: bool = ...,
) -> FloatOrArray: ...
def non_embedding_params(
    params_total: ArrayLike,
    vocab_size: ArrayLike,
    d_model: ArrayLike,
    n_ctx: ArrayLike = 0,
    tied: bool = True,
) -> FloatOrArray:
    """Convert a total parameter count (Chinchilla style) to Kaplan's N.

    Parameters
    ----------
    params_total : float or array_like
        All parameters, embeddings included (Hoffmann et al. convention).
    vocab_size : float or array_like
        Vocabulary size.
    d_model : float or array_like
        Model (embedding) width.
    n_ctx : float or array_like, optional
        Context length, only for models with *learned* position embeddings
        (GPT-2/GPT-3). Use 0 (default) for rotary or other parameter-free
        position encodings.
    tied : bool, optional
        True (default) if the output projection shares the input embedding
        matrix; False counts a separate ``vocab_size * d_model`` unembedding.

    Returns
    -------
    float or ndarray
        Non-embedding parameters N.

    Notes
    -----
    .. math:: N = N_{\\mathrm{total}} - (k\\, n_{\\mathrm{vocab}} + n_{\\mathrm{ctx}})\\, d_{\\mathrm{model}},
              \\quad k = 1 \\text{ if tied else } 2

    Kaplan et al. count N without embedding parameters; Hoffmann et al.
    include them (App. F). Their fits must not be fed the other's N.

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, §2.1 and Table 1 (embedding row);
    Hoffmann et al. 2022, arXiv:2203.15556, App. F.

    Examples
    --------
    Llama-2-7B (6,738,415,616 params, untied 32000 x 4096 embeddings, RoPE):

    >>> non_embedding_params(6_738_415_616, 32000, 4096, tied=False)
    6476271616.0
    """
    if not isinstance(tied, (bool, np.bool_)):
        raise InvalidInputError(f"tied must be True or False, got {tied!r}")
    total, s0 = _as_array("params_total", params_total)
    vocab, s1 = _as_array("vocab_size", vocab_size)
    width, s2 = _as_array("d_model", d_model)
    ctx, s3 = _as_array("n_ctx", n_ctx, allow_zero=True)
    total, vocab, width, ctx = _broadcast(params_total=total, vocab_size=vocab, d_model=width, n_ctx=ctx)
    k = 1.0 if tied else 2.0
    result = total - (k * vocab + ctx) * width
    if np.any(result <= 0):
        idx = tuple(int(i) for i in np.argwhere(result <= 0)[0])
        raise InvalidInputError(
            f"params_total = {_fmt(total[idx])} is not larger than the embedding "
            f"parameters {_fmt(total[idx] - result[idx])} implied by vocab_size, "
            "d_model and n_ctx"
        )
    return _out(result, s0 and s1 and s2 and s3)


# ---------------------------------------------------------------------------
# Kaplan et al. (2020) laws
# ---------------------------------------------------------------------------


@overload
def kaplan_loss_n(params_non_embedding: float) -> float: ...
@overload
def kaplan_loss_n(params_non_embedding: ArrayLike) -> FloatOrArray: ...
def kaplan_loss_n(params_non_embedding: ArrayLike) -> FloatOrArray:
    """Kaplan loss limited by model size (trained to convergence on ample data).

    Parameters
    ----------
    params_non_embedding : float or array_like
        Non-embedding parameters N.

    Returns
    -------
    float or ndarray
        Test loss in nats per token (WebText2).

    Notes
    -----
    .. math:: L(N) = (N_c / N)^{\\alpha_N}, \\quad \\alpha_N = 0.076,\\ N_c = 8.8\\times10^{13}

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.1 and Table 5.

    Examples
    --------
    >>> round(kaplan_loss_n(1e9), 4)
    2.3756
    >>> np.round(kaplan_loss_n(np.array([1e9, 1e10])), 4)
    array([2.3756, 1.9943])
    """
    n, scalar = _as_array("params_non_embedding", params_non_embedding)
    k = KAPLAN_POWER_LAWS
    return _out((k.n_c_params / n) ** k.alpha_n, scalar)


@overload
def kaplan_loss_d(tokens: float) -> float: ...
@overload
def kaplan_loss_d(tokens: ArrayLike) -> FloatOrArray: ...
def kaplan_loss_d(tokens: ArrayLike) -> FloatOrArray:
    """Kaplan loss limited by dataset size (large model, early stopping).

    Parameters
    ----------
    tokens : float or array_like
        Dataset size D in tokens.

    Returns
    -------
    float or ndarray
        Test loss in nats per token.

    Notes
    -----
    .. math:: L(D) = (D_c / D)^{\\alpha_D}, \\quad \\alpha_D = 0.095,\\ D_c = 5.4\\times10^{13}

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.2 and Table 5.

    Examples
    --------
    >>> round(kaplan_loss_d(1e10), 4)
    2.2624
    """
    d, scalar = _as_array("tokens", tokens)
    k = KAPLAN_POWER_LAWS
    return _out((k.d_c_tokens / d) ** k.alpha_d, scalar)


@overload
def kaplan_loss_nd(params_non_embedding: float, tokens: float) -> float: ...
@overload
def kaplan_loss_nd(params_non_embedding: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...
def kaplan_loss_nd(params_non_embedding: ArrayLike, tokens: ArrayLike) -> FloatOrArray:
    """Kaplan joint loss in model size and dataset size (early stopping).

    Parameters
    ----------
    params_non_embedding : float or array_like
        Non-embedding parameters N.
    tokens : float or array_like
        Dataset size D in tokens.

    Returns
    -------
    float or ndarray
        Test loss in nats per token.

    Notes
    -----
    .. math:: L(N, D) = \\left[ (N_c/N)^{\\alpha_N/\\alpha_D} + D_c/D \\right]^{\\alpha_D}

    with the eq. 1.5 constants alpha_N = 0.076, alpha_D = 0.103,
    N_c = 6.4e13, D_c = 1.8e13 (not those of Table 5).

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.5 and Table 2.

    Examples
    --------
    >>> round(kaplan_loss_nd(1e9, 1e10), 4)
    2.4197
    """
    n, s0 = _as_array("params_non_embedding", params_non_embedding)
    d, s1 = _as_array("tokens", tokens)
    n, d = _broadcast(params_non_embedding=n, tokens=d)
    k = KAPLAN_JOINT_FIT
    inner = (k.n_c_params / n) ** (k.alpha_n / k.alpha_d) + k.d_c_tokens / d
    return _out(inner**k.alpha_d, s0 and s1)


@overload
def kaplan_loss_c(compute_pf_days: float) -> float: ...
@overload
def kaplan_loss_c(compute_pf_days: ArrayLike) -> FloatOrArray: ...
def kaplan_loss_c(compute_pf_days: ArrayLike) -> FloatOrArray:
    """Kaplan loss against compute for fixed-batch ("naive") training.

    Parameters
    ----------
    compute_pf_days : float or array_like
        Training compute C in PF-days.

    Returns
    -------
    float or ndarray
        Test loss in nats per token.

    Notes
    -----
    .. math:: L(C) = (C_c / C)^{\\alpha_C}, \\quad \\alpha_C = 0.057,\\ C_c = 1.6\\times10^{7}

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, Table 5 and Figure 1.

    Examples
    --------
    >>> round(kaplan_loss_c(1.0), 4)
    2.5742
    """
    c, scalar = _compute_pf_days("compute_pf_days", compute_pf_days)
    k = KAPLAN_POWER_LAWS
    return _out((k.c_c_pf_days / c) ** k.alpha_c, scalar)


@overload
def kaplan_loss_c_min(compute_pf_days: float) -> float: ...
@overload
def kaplan_loss_c_min(compute_pf_days: ArrayLike) -> FloatOrArray: ...
def kaplan_loss_c_min(compute_pf_days: ArrayLike) -> FloatOrArray:
    """Kaplan loss against minimum compute (compute-efficient training).

    Parameters
    ----------
    compute_pf_days : float or array_like
        Minimum compute C_min in PF-days (training at B << B_crit).

    Returns
    -------
    float or ndarray
        Test loss in nats per token.

    Notes
    -----
    .. math:: L(C_{\\min}) = (C_c^{\\min} / C_{\\min})^{\\alpha_C^{\\min}},
              \\quad \\alpha_C^{\\min} = 0.050,\\ C_c^{\\min} = 3.1\\times10^{8}

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.3 and Table 5.

    Examples
    --------
    >>> round(kaplan_loss_c_min(1.0), 4)
    2.6581
    """
    c, scalar = _compute_pf_days("compute_pf_days", compute_pf_days)
    k = KAPLAN_POWER_LAWS
    return _out((k.c_c_min_pf_days / c) ** k.alpha_c_min, scalar)


@overload
def kaplan_critical_batch_tokens(loss: float) -> float: ...
@overload
def kaplan_critical_batch_tokens(loss: ArrayLike) -> FloatOrArray: ...
def kaplan_critical_batch_tokens(loss: ArrayLike) -> FloatOrArray:
    """Kaplan critical batch size as a function of loss.

    Parameters
    ----------
    loss : float or array_like
        Test loss in nats per token.

    Returns
    -------
    float or ndarray
        Critical batch size in tokens.

    Notes
    -----
    .. math:: B_{\\mathrm{crit}}(L) = B_* / L^{1/\\alpha_B}, \\quad B_* = 2.1\\times10^{8},\\ \\alpha_B = 0.21

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.4 and Table 5.

    Examples
    --------
    >>> print(f"{kaplan_critical_batch_tokens(2.0):.3e}")
    7.740e+06
    """
    loss_arr, scalar = _as_array("loss", loss)
    k = KAPLAN_POWER_LAWS
    return _out(k.b_star_tokens / loss_arr ** (1.0 / k.alpha_b), scalar)


@overload
def kaplan_optimal_params(compute_pf_days: float) -> float: ...
@overload
def kaplan_optimal_params(compute_pf_days: ArrayLike) -> FloatOrArray: ...
def kaplan_optimal_params(compute_pf_days: ArrayLike) -> FloatOrArray:
    """Kaplan compute-efficient model size.

    Parameters
    ----------
    compute_pf_days : float or array_like
        Minimum compute C_min in PF-days.

    Returns
    -------
    float or ndarray
        Optimal non-embedding parameters N.

    Notes
    -----
    .. math:: N_{\\mathrm{opt}} = 1.3\\times10^{9} \\, C_{\\min}^{0.73}

    C_min is the compute needed at batch size B << B_crit. Training at
    B = B_crit takes twice that (Kaplan §5.1: C_min = C / (1 + B/B_crit)).
    Hoffmann et al. App. D.4 quote 4.68B params at 1e21 FLOPs, which this
    law reproduces only with C_min = C/2 (the value with C_min = C is 7.77B).

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.7 and Table 6.

    Examples
    --------
    >>> print(f"{kaplan_optimal_params(flops_to_pf_days(1e21) / 2):.3e}")
    4.683e+09
    """
    c, scalar = _compute_pf_days("compute_pf_days", compute_pf_days)
    k = KAPLAN_COMPUTE_EFFICIENT
    return _out(k.n_e_params * c**k.p_n, scalar)


@overload
def kaplan_optimal_tokens(compute_pf_days: float) -> float: ...
@overload
def kaplan_optimal_tokens(compute_pf_days: ArrayLike) -> FloatOrArray: ...
def kaplan_optimal_tokens(compute_pf_days: ArrayLike) -> FloatOrArray:
    """Kaplan compute-efficient number of training tokens (one epoch).

    Parameters
    ----------
    compute_pf_days : float or array_like
        Minimum compute C_min in PF-days.

    Returns
    -------
    float or ndarray
        Tokens processed D.

    Notes
    -----
    .. math:: D_{\\mathrm{opt}} = 2\\times10^{10} \\, C_{\\min}^{0.27}

    The two Table 6 laws are separate fits: 6 N_opt D_opt is about 1.8x
    C_min (in FLOPs), not exactly C_min.

    References
    ----------
    Kaplan et al. 2020, arXiv:2001.08361, eq. 1.8 and Table 6.

    Examples
    --------
    >>> print(f"{kaplan_optimal_tokens(1.0):.3e}")
    2.000e+10
    """
    c, scalar = _compute_pf_days("compute_pf_days", compute_pf_days)
    k = KAPLAN_COMPUTE_EFFICIENT
    return _out(k.d_e_tokens * c**k.p_d, scalar)


# ---------------------------------------------------------------------------
# Chinchilla (Hoffmann et al. 2022)
# ---------------------------------------------------------------------------


@overload
def chinchilla_loss(params: float, tokens: float, fit: str = ...) -> float: ...
@overload
def chinchilla_loss(params: ArrayLike, tokens: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def chinchilla_loss(params: ArrayLike, tokens: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> FloatOrArray:
    """Chinchilla parametric loss (Approach 3).

    Parameters
    ----------
    params : float or array_like
        Model parameters N, embeddings included.
    tokens : float or array_like
        Training tokens D.
    fit : str, optional
        Key of :data:`CHINCHILLA_FITS`: ``"hoffmann2022"`` (default),
        ``"hoffmann2022_tex"`` or ``"epoch2024"``.

    Returns
    -------
    float or ndarray
        Predicted final training loss in nats per token (MassiveText).

    Notes
    -----
    .. math:: \\hat L(N, D) = E + \\frac{A}{N^{\\alpha}} + \\frac{B}{D^{\\beta}}

    hoffmann2022: E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28.
    epoch2024: E = 1.8172, A = 482.01, B = 2085.43, alpha = 0.3478,
    beta = 0.3658.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eq. 2 (§3.3) and App. D.2;
    Besiroglu et al. 2024, arXiv:2404.10102, Table 1.

    Examples
    --------
    >>> round(chinchilla_loss(70e9, 1.4e12), 4)   # Chinchilla
    1.9366
    >>> round(chinchilla_loss(280e9, 300e9), 4)   # Gopher
    1.9933
    >>> round(chinchilla_loss(70e9, 1.4e12, fit="epoch2024"), 4)
    1.9739
    """
    f = _get_fit(fit)
    n, s0 = _as_array("params", params)
    d, s1 = _as_array("tokens", tokens)
    n, d = _broadcast(params=n, tokens=d)
    return _out(f.e + f.a / n**f.alpha + f.b / d**f.beta, s0 and s1)


def fit_params_coefficient(compute_flops: ArrayLike, params: ArrayLike, params_exponent: float) -> float:
    """Least-squares coefficient k of ``N = k C**a`` in log space, a fixed.

    Parameters
    ----------
    compute_flops : array_like
        Compute budgets C in FLOPs.
    params : array_like
        Model sizes N at those budgets.
    params_exponent : float
        The fixed exponent a.

    Returns
    -------
    float
        k minimising ``sum((ln N_i - ln k - a ln C_i)**2)``.

    Notes
    -----
    .. math:: \\ln k = \\frac{1}{n} \\sum_i \\left( \\ln N_i - a \\ln C_i \\right)

    This is how :data:`APPROACH1_PARAMS_COEFFICIENT` (Table 3, a = 0.50)
    and :data:`APPROACH2_PARAMS_COEFFICIENT` (Table A3, a = 0.49) were
    derived; Hoffmann et al. publish only the exponents and the tables.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, Tables 2, 3 and A3.

    Examples
    --------
    >>> n, c, _ = zip(*CHINCHILLA_TABLE3_APPROACH1)
    >>> round(fit_params_coefficient(c, n, 0.50), 6)
    0.089332
    """
    c, _ = _compute_flops("compute_flops", compute_flops)
    n, _ = _as_array("params", params)
    c, n = _broadcast(compute_flops=c, params=n)
    a = _check_multiplier("params_exponent", params_exponent)
    return float(np.exp(np.mean(np.log(n) - a * np.log(c))))


@overload
def chinchilla_optimal(
    compute_flops: float, approach: int = ..., fit: str | None = ...
) -> tuple[float, float]: ...
@overload
def chinchilla_optimal(
    compute_flops: ArrayLike, approach: int = ..., fit: str | None = ...
) -> tuple[FloatOrArray, FloatOrArray]: ...
def chinchilla_optimal(
    compute_flops: ArrayLike, approach: int = 1, fit: str | None = None
) -> tuple[FloatOrArray, FloatOrArray]:
    """Compute-optimal model size and training tokens for a FLOP budget.

    Parameters
    ----------
    compute_flops : float or array_like
        Training compute C in FLOPs, 0 < C <= 1e30.
    approach : {1, 2, 3}, optional
        Hoffmann et al. approach (default 1).
    fit : str, optional
        Parametric fit for approach 3 (key of :data:`CHINCHILLA_FITS`,
        default ``"hoffmann2022"``). Must be omitted for approaches 1 and 2.

    Returns
    -------
    params : float or ndarray
        Optimal parameters N (embeddings included).
    tokens : float or ndarray
        Optimal training tokens D = C / (6 N).

    Notes
    -----
    Approaches 1 and 2 (power laws, Table 2 exponents; k fitted to the
    published projections, see :data:`APPROACH1_PARAMS_COEFFICIENT`):

    .. math:: N_{\\mathrm{opt}} = k\\, C^{a}, \\qquad D_{\\mathrm{opt}} = C / (6 N_{\\mathrm{opt}})

    with (k, a) = (0.089332, 0.50) for approach 1, (0.14441, 0.49) for
    approach 2. Approach 3 (closed-form efficient frontier of the parametric
    loss, eq. 4):

    .. math:: N_{\\mathrm{opt}} = G (C/6)^{a},\\ D_{\\mathrm{opt}} = G^{-1} (C/6)^{b},\\
              G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{1/(\\alpha+\\beta)}

    In every case 6 N D = C. The published rounded approach-3 constants give
    about 93 tokens per parameter at 5.76e23 FLOPs; the Epoch refit about 18.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, Table 2, Table 3, Table A3, eq. 4;
    Besiroglu et al. 2024, arXiv:2404.10102, Table 1.

    Examples
    --------
    Gopher's budget (Table 3: 67B params, 1.5T tokens):

    >>> n, d = chinchilla_optimal(5.76e23, approach=1)
    >>> print(f"{n:.3e} {d:.3e}")
    6.780e+10 1.416e+12
    >>> n, d = chinchilla_optimal(5.76e23, approach=3)
    >>> print(f"{n:.3e} {d:.3e}")
    3.219e+10 2.982e+12
    >>> n, d = chinchilla_optimal(5.76e23, approach=3, fit="epoch2024")
    >>> print(f"{n:.3e} {d:.3e}")
    7.225e+10 1.329e+12
    """
    spec = _get_approach(approach)
    c, scalar = _compute_flops("compute_flops", compute_flops)
    if spec.approach == 3:
        f = _get_fit(DEFAULT_CHINCHILLA_FIT if fit is None else fit)
        g = f.frontier_g
        n = g * (c / 6.0) ** f.params_exponent
        d = (c / 6.0) ** f.tokens_exponent / g
    else:
        if fit is not None:
            raise InvalidInputError(
                f"fit={fit!r} only applies to approach 3; approach {spec.approach} "
                "uses the power law of Table 2"
            )
        assert spec.params_coefficient is not None
        n = spec.params_coefficient * c**spec.params_exponent
        d = c / (6.0 * n)
    return _out(n, scalar), _out(d, scalar)


@overload
def chinchilla_tokens_rule_of_thumb(params: float, tokens_per_param: float = ...) -> float: ...
@overload
def chinchilla_tokens_rule_of_thumb(params: ArrayLike, tokens_per_param: float = ...) -> FloatOrArray: ...
def chinchilla_tokens_rule_of_thumb(
    params: ArrayLike, tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM
) -> FloatOrArray:
    """Training tokens by the "20 tokens per parameter" heuristic.

    Parameters
    ----------
    params : float or array_like
        Model parameters N.
    tokens_per_param : float, optional
        Tokens per parameter (default 20).

    Returns
    -------
    float or ndarray
        Training tokens D.

    Notes
    -----
    .. math:: D \\approx 20\\, N

    A reading of Hoffmann et al. Table 3 (1B -> 20.2B tokens, 10B -> 205.1B,
    67B -> 1.5T), not a constant the paper fits.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, Table 3.

    Examples
    --------
    >>> print(f"{chinchilla_tokens_rule_of_thumb(70e9):.2e}")
    1.40e+12
    """
    n, scalar = _as_array("params", params)
    ratio = _check_multiplier("tokens_per_param", tokens_per_param)
    return _out(n * ratio, scalar)


@overload
def undertrained_ratio(params: float, tokens: float, tokens_per_param: float = ...) -> float: ...
@overload
def undertrained_ratio(
    params: ArrayLike, tokens: ArrayLike, tokens_per_param: float = ...
) -> FloatOrArray: ...
def undertrained_ratio(
    params: ArrayLike,
    tokens: ArrayLike,
    tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM,
) -> FloatOrArray:
    """Tokens trained relative to the 20-tokens-per-parameter heuristic.

    Parameters
    ----------
    params : float or array_like
        Model parameters N.
    tokens : float or array_like
        Training tokens D.
    tokens_per_param : float, optional
        Reference tokens per parameter (default 20).

    Returns
    -------
    float or ndarray
        ``D / (20 N)``: below 1 the model saw fewer tokens than the heuristic
        ("undertrained" in Hoffmann et al.'s sense), above 1 more (typical of
        models over-trained on purpose to be cheaper at inference).

    Notes
    -----
    .. math:: r = \\frac{D}{20\\, N}

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, §1 and Table 3.

    Examples
    --------
    >>> round(undertrained_ratio(175e9, 300e9), 4)   # GPT-3
    0.0857
    >>> undertrained_ratio(70e9, 1.4e12)             # Chinchilla
    1.0
    """
    n, s0 = _as_array("params", params)
    d, s1 = _as_array("tokens", tokens)
    n, d = _broadcast(params=n, tokens=d)
    ratio = _check_multiplier("tokens_per_param", tokens_per_param)
    return _out(d / (ratio * n), s0 and s1)


def optimal_frontier(
    compute_flops_array: ArrayLike, approach: int = 1, fit: str | None = None
) -> dict[str, NDArray[np.float64]]:
    """Compute-optimal frontier over an array of budgets.

    Parameters
    ----------
    compute_flops_array : array_like
        Compute budgets in FLOPs (a scalar is treated as a 1-element array).
    approach : {1, 2, 3}, optional
        As for :func:`chinchilla_optimal`.
    fit : str, optional
        As for :func:`chinchilla_optimal` (approach 3 only).

    Returns
    -------
    dict of str to ndarray
        ``compute_flops``, ``params``, ``tokens``, ``tokens_per_param`` and
        ``loss`` (the parametric loss at the optimum with ``fit`` for
        approach 3, and with ``"hoffmann2022"`` for approaches 1 and 2), all
        arrays of the input's shape (at least 1-D).

    Notes
    -----
    See :func:`chinchilla_optimal`; every point satisfies 6 N D = C.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, Figure 1, Table 2, eq. 4.

    Examples
    --------
    >>> fr = optimal_frontier(np.array([1e21, 1e24]), approach=3)
    >>> np.round(fr["tokens_per_param"], 1)
    array([50.1, 97.7])
    """
    c, _ = _compute_flops("compute_flops_array", compute_flops_array)
    c = np.atleast_1d(c)
    n_any, d_any = chinchilla_optimal(c, approach, fit)
    n = np.asarray(n_any, dtype=np.float64)
    d = np.asarray(d_any, dtype=np.float64)
    loss_fit = fit if (fit is not None and approach == 3) else DEFAULT_CHINCHILLA_FIT
    loss = np.asarray(chinchilla_loss(n, d, fit=loss_fit), dtype=np.float64)
    return {
        "compute_flops": c,
        "params": n,
        "tokens": d,
        "tokens_per_param": d / n,
        "loss": loss,
    }


_DISAGREEMENT_METHODS: tuple[tuple[str, int, str | None], ...] = (
    ("approach1", 1, None),
    ("approach2", 2, None),
    ("approach3_hoffmann2022", 3, "hoffmann2022"),
    ("approach3_hoffmann2022_tex", 3, "hoffmann2022_tex"),
    ("approach3_epoch2024", 3, "epoch2024"),
)


@dataclass(frozen=True)
class _MethodRecommendations:
    """Compute-optimal ``(N_m(C), D_m(C))`` of each method ``m`` of :data:`_DISAGREEMENT_METHODS`."""

    labels: tuple[str, ...]
    params: tuple[NDArray[np.float64], ...]
    tokens: tuple[NDArray[np.float64], ...]


@dataclass(frozen=True)
class _WidestSplit:
    """The methods recommending the smallest and largest model where they disagree most, and a
    sentence saying so."""

    smallest_by: str
    largest_by: str
    summary: str


def _method_recommendations(c: NDArray[np.float64]) -> _MethodRecommendations:
    """:func:`chinchilla_optimal` of the validated compute ``c`` for each approach and fit."""
    params, tokens = [], []
    for _label, approach, fit in _DISAGREEMENT_METHODS:
        n_any, d_any = chinchilla_optimal(c, approach, fit)
        params.append(np.asarray(n_any, dtype=np.float64))
        tokens.append(np.asarray(d_any, dtype=np.float64))
    return _MethodRecommendations(
        labels=tuple(m[0] for m in _DISAGREEMENT_METHODS), params=tuple(params), tokens=tuple(tokens)
    )


def _widest_split(
    c: NDArray[np.float64],
    labels: tuple[str, ...],
    n_stack: NDArray[np.float64],
    n_ratio: NDArray[np.float64],
    d_ratio: NDArray[np.float64],
) -> _WidestSplit:
    """At the compute where ``r_N`` is largest (the only one for scalar input), which methods
    recommend the smallest and largest ``N``; the summary quotes that ``r_N`` and the largest ``r_D``."""
    worst = int(np.argmax(n_ratio)) if n_ratio.ndim else 0
    at_worst = n_stack.reshape(len(labels), -1)[:, worst]
    smallest = labels[int(np.argmin(at_worst))]
    largest = labels[int(np.argmax(at_worst))]
    summary = (
        f"The Chinchilla approaches and fits disagree: at {float(c.reshape(-1)[worst]):.3g} FLOPs the "
        f"recommended model size ranges from {float(at_worst.min()):.3g} "
        f"({smallest}) to {float(at_worst.max()):.3g} params ({largest}), "
        f"a factor of {float(np.max(n_ratio)):.2f}; recommended tokens differ by up to a "
        f"factor of {float(np.max(d_ratio)):.2f}."
    )
    return _WidestSplit(smallest_by=smallest, largest_by=largest, summary=summary)


def fits_disagreement(compute_flops: ArrayLike) -> dict[str, Any]:
    """What each Chinchilla approach and fit recommends, and how far apart.

    Parameters
    ----------
    compute_flops : float or array_like
        Training compute C in FLOPs.

    Returns
    -------
    dict
        ``compute_flops``;
        ``recommendations``: for each of ``approach1``, ``approach2``,
        ``approach3_hoffmann2022``, ``approach3_hoffmann2022_tex``,
        ``approach3_epoch2024`` a dict with ``params``, ``tokens``,
        ``tokens_per_param``;
        ``params_min``, ``params_max``, ``params_ratio`` (max/min),
        ``tokens_min``, ``tokens_max``, ``tokens_ratio``;
        ``params_smallest_by`` / ``params_largest_by`` (method names; for
        array input, those of the largest ratio);
        ``summary``: one sentence for display.
        Numbers are floats for scalar input and arrays for array input.

    Notes
    -----
    .. math:: r_N = \\max_m N_m(C) / \\min_m N_m(C), \\quad r_D = \\max_m D_m(C) / \\min_m D_m(C)

    Every method spends the budget exactly (6ND = C), so ``tokens_ratio``
    equals ``params_ratio``; they are reported separately for display.
    The approaches agree on 6ND = C but not on the
    split between N and D: with the rounded published constants Approach 3
    recommends far smaller models than Approach 1 at large budgets, while
    the Epoch refit lands close to Approach 1.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, Tables 2, 3, A3 and eq. 4;
    Besiroglu et al. 2024, arXiv:2404.10102, Table 1.

    Examples
    --------
    >>> out = fits_disagreement(5.76e23)
    >>> round(out["params_ratio"], 2), out["params_smallest_by"], out["params_largest_by"]
    (2.24, 'approach3_hoffmann2022', 'approach3_epoch2024')
    """
    c, scalar = _compute_flops("compute_flops", compute_flops)
    rec = _method_recommendations(c)
    n_stack, d_stack = np.stack(rec.params), np.stack(rec.tokens)
    n_min, n_max = n_stack.min(axis=0), n_stack.max(axis=0)
    d_min, d_max = d_stack.min(axis=0), d_stack.max(axis=0)
    n_ratio = n_max / n_min
    d_ratio = d_max / d_min
    split = _widest_split(c, rec.labels, n_stack, n_ratio, d_ratio)
    return {
        "compute_flops": _out(c, scalar),
        "recommendations": {
            label: {"params": _out(n, scalar), "tokens": _out(d, scalar), "tokens_per_param": _out(d / n, scalar)}
            for label, n, d in zip(rec.labels, rec.params, rec.tokens, strict=True)
        },
        "params_min": _out(n_min, scalar),
        "params_max": _out(n_max, scalar),
        "params_ratio": _out(n_ratio, scalar),
        "tokens_min": _out(d_min, scalar),
        "tokens_max": _out(d_max, scalar),
        "tokens_ratio": _out(d_ratio, scalar),
        "params_smallest_by": split.smallest_by,
        "params_largest_by": split.largest_by,
        "summary": split.summary,
    }


# ---------------------------------------------------------------------------
# Inference-aware scaling (Sardana et al. 2024)
# ---------------------------------------------------------------------------

INFERENCE_FLOPS_PER_PARAM_TOKEN: float = 2.0
"""FLOPs per parameter per token at inference: one forward pass, ``2N`` per token for prompt
(prefill) and generated tokens alike (Kaplan et al. 2020 eq. 2.2 without the context term;
Sardana et al. 2024, arXiv:2401.00448, eq. 2)."""

TRAINING_FLOPS_PER_PARAM_TOKEN: float = 6.0
"""FLOPs per parameter per training token: forward ``2N`` plus backward ``4N`` (Hoffmann et al.
2022 App. F; Sardana et al. 2024 eq. 2)."""

SARDANA_FIGURE1_EXAMPLE: tuple[float, float, float, float, float] = (13e9, 2e12, 7e9, 1.7e22, 0.17)
"""Sardana, Portes, Doubov & Frankle 2024, "Beyond Chinchilla-Optimal: Accounting for Inference in
Language Model Scaling Laws", arXiv:2401.00448 (ICML 2024), Figure 1 caption: a developer who would
train a (Chinchilla-optimal) 13B model and expects 2 trillion tokens of inference demand "can reduce
their total compute by 1.7 x 10^22 FLOPs (17%) by instead training a 7B model on more data".
Fields: (Chinchilla params, inference tokens, inference-optimal params, FLOPs saved, share saved)."""

_BISECTION_STEPS: int = 100
"""Bisection steps in log N; each halves the bracket (at most 1e30/1 wide), far below float precision."""


def _loss_checked(loss: ArrayLike, f: ChinchillaFit) -> tuple[NDArray[np.float64], bool]:
    """Validate target losses: positive, finite and strictly above the fit's irreducible loss E."""
    ell, scalar = _as_array("loss", loss, upper=100.0, unit="nats/token")
    low = ell <= f.e
    if low.any():
        idx = tuple(int(i) for i in np.argwhere(low)[0]) if ell.ndim else ()
        raise InvalidInputError(
            f"loss {_fmt(ell[idx])} is at or below the irreducible loss E = {f.e} of fit {f.name!r}: "
            "no model size and token count reach it"
        )
    return ell, scalar


@overload
def lifetime_flops(params: float, train_tokens: float, inference_tokens: float = ...) -> float: ...
@overload
def lifetime_flops(params: ArrayLike, train_tokens: ArrayLike, inference_tokens: ArrayLike = ...) -> FloatOrArray: ...
def lifetime_flops(params: ArrayLike, train_tokens: ArrayLike, inference_tokens: ArrayLike = 0.0) -> FloatOrArray:
    """Training plus lifetime-inference FLOPs of a dense model.

    Parameters
    ----------
    params : float or array_like
        Parameters N.
    train_tokens : float or array_like
        Training tokens D_tr.
    inference_tokens : float or array_like, optional
        Lifetime inference tokens D_inf, prompt (input) plus generated (output) tokens (default 0).

    Returns
    -------
    float or ndarray
        Total FLOPs.

    Notes
    -----
    .. math:: C = 6 N D_{\\mathrm{tr}} + 2 N D_{\\mathrm{inf}}

    Sardana et al. 2024, eq. 2: 6N FLOPs per training token, 2N per inference token; prompt and
    generated tokens both cost 2N (one forward pass each). The attention-context term of Kaplan
    eq. 2.2 is dropped, as in the paper.

    References
    ----------
    Sardana, Portes, Doubov & Frankle 2024, arXiv:2401.00448, §2 eq. 2.

    Examples
    --------
    >>> print(f"{lifetime_flops(7e9, 1.4e12, 2e12):.3e}")
    8.680e+22
    """
    n, s0 = _as_array("params", params)
    d, s1 = _as_array("train_tokens", train_tokens)
    q, s2 = _as_array("inference_tokens", inference_tokens, allow_zero=True)
    n, d, q = _broadcast(params=n, train_tokens=d, inference_tokens=q)
    total = TRAINING_FLOPS_PER_PARAM_TOKEN * n * d + INFERENCE_FLOPS_PER_PARAM_TOKEN * n * q
    return _out(total, s0 and s1 and s2)


@overload
def tokens_for_loss(params: float, loss: float, fit: str = ...) -> float: ...
@overload
def tokens_for_loss(params: ArrayLike, loss: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def tokens_for_loss(params: ArrayLike, loss: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> FloatOrArray:
    """Training tokens a model of ``params`` parameters needs to reach ``loss`` (iso-loss curve).

    Parameters
    ----------
    params : float or array_like
        Parameters N.
    loss : float or array_like
        Target loss in nats/token, above the fit's E.
    fit : str, optional
        Key of :data:`CHINCHILLA_FITS` (default ``"hoffmann2022"``).

    Returns
    -------
    float or ndarray
        D in tokens; ``inf`` where N is at or below :func:`min_params_for_loss` (no token count
        suffices).

    Notes
    -----
    Inverting the parametric loss (Hoffmann et al. 2022 eq. 2) for D:

    .. math:: D(N) = \\left(\\frac{B}{\\ell - E - A N^{-\\alpha}}\\right)^{1/\\beta}

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eq. 2; Sardana et al. 2024, arXiv:2401.00448, §2.

    Examples
    --------
    >>> print(f"{tokens_for_loss(70e9, chinchilla_loss(70e9, 1.4e12)):.4e}")
    1.4000e+12
    """
    f = _get_fit(fit)
    n, s0 = _as_array("params", params)
    ell, s1 = _loss_checked(loss, f)
    n, ell = _broadcast(params=n, loss=ell)
    rem = ell - f.e - f.a / n**f.alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(rem > 0, (f.b / np.where(rem > 0, rem, 1.0)) ** (1.0 / f.beta), np.inf)
    return _out(np.asarray(d, dtype=np.float64), s0 and s1)


@overload
def min_params_for_loss(loss: float, fit: str = ...) -> float: ...
@overload
def min_params_for_loss(loss: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def min_params_for_loss(loss: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> FloatOrArray:
    """Smallest model that can reach ``loss`` with unlimited training tokens.

    Notes
    -----
    As D -> infinity the data term vanishes: :math:`N_{\\min} = (A / (\\ell - E))^{1/\\alpha}`
    (Hoffmann et al. 2022 eq. 2). Any smaller model never reaches the loss.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eq. 2.

    Examples
    --------
    >>> print(f"{min_params_for_loss(2.0):.3e}")
    1.477e+09
    """
    f = _get_fit(fit)
    ell, scalar = _loss_checked(loss, f)
    return _out((f.a / (ell - f.e)) ** (1.0 / f.alpha), scalar)


@overload
def chinchilla_params_for_loss(loss: float, fit: str = ...) -> tuple[float, float]: ...
@overload
def chinchilla_params_for_loss(loss: ArrayLike, fit: str = ...) -> tuple[FloatOrArray, FloatOrArray]: ...
def chinchilla_params_for_loss(loss: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> tuple[FloatOrArray, FloatOrArray]:
    """The compute-optimal (Chinchilla) model that reaches ``loss``: (N, D) with least 6ND.

    Notes
    -----
    Minimising 6ND on the iso-loss curve (Lagrange condition :math:`\\beta r = \\alpha A N^{-\\alpha}`
    with :math:`r = \\ell - E - A N^{-\\alpha}`) gives the closed forms

    .. math:: N_{\\mathrm{Ch}}(\\ell) = \\left(\\frac{(\\alpha+\\beta) A}{\\beta (\\ell - E)}\\right)^{1/\\alpha},
              \\qquad D_{\\mathrm{Ch}}(\\ell) = \\left(\\frac{(\\alpha+\\beta) B}{\\alpha (\\ell - E)}\\right)^{1/\\beta}

    the same points as the efficient frontier of Hoffmann et al. eq. 4, indexed by loss instead of
    compute; Sardana et al. 2024 (§2) call this the Chinchilla-optimal model of quality ℓ.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eqs. 2 and 4; Sardana et al. 2024, arXiv:2401.00448, §2.

    Examples
    --------
    >>> n, d = chinchilla_optimal(5.76e23, approach=3)
    >>> n2, d2 = chinchilla_params_for_loss(chinchilla_loss(n, d))
    >>> print(f"{n2 / n:.6f} {d2 / d:.6f}")
    1.000000 1.000000
    """
    f = _get_fit(fit)
    ell, scalar = _loss_checked(loss, f)
    s = f.alpha + f.beta
    n = (s * f.a / (f.beta * (ell - f.e))) ** (1.0 / f.alpha)
    d = (s * f.b / (f.alpha * (ell - f.e))) ** (1.0 / f.beta)
    return _out(n, scalar), _out(d, scalar)


def _lifetime_flops_slope(log_n: NDArray[np.float64], ell: NDArray[np.float64], q: NDArray[np.float64],
                          f: ChinchillaFit) -> NDArray[np.float64]:
    """dC/dN of C(N) = 6 N D(N) + 2 N D_inf along the iso-loss curve ``ell`` (negative left of the optimum).

    With r = ell - E - A N^-alpha: dD/dN = -(alpha A N^(-alpha-1) / (beta r)) D, so
    dC/dN = 6 D (1 - alpha A N^-alpha / (beta r)) + 2 D_inf.
    """
    n = np.exp(log_n)
    a_term = f.a / n**f.alpha
    r = ell - f.e - a_term
    d = (f.b / r) ** (1.0 / f.beta)
    return TRAINING_FLOPS_PER_PARAM_TOKEN * d * (1.0 - f.alpha * a_term / (f.beta * r)) + (
        INFERENCE_FLOPS_PER_PARAM_TOKEN * q
    )


@dataclass(frozen=True)
class InferenceOptimal:
    """Lifetime-FLOP-optimal model of a given quality and inference demand, next to the Chinchilla one.

    Floats for scalar input, arrays (broadcast of ``loss`` and ``inference_tokens``) otherwise.
    ``fit`` names the parametric loss fit in force (key of :data:`CHINCHILLA_FITS`).
    """

    fit: str
    loss: FloatOrArray
    inference_tokens: FloatOrArray
    params: FloatOrArray
    tokens: FloatOrArray
    training_flops: FloatOrArray
    inference_flops: FloatOrArray
    total_flops: FloatOrArray
    chinchilla_params: FloatOrArray
    chinchilla_tokens: FloatOrArray
    chinchilla_total_flops: FloatOrArray
    flops_saved: FloatOrArray
    saved_fraction: FloatOrArray
    source: str = "Sardana et al. 2024, arXiv:2401.00448, eq. 2, with the parametric loss of Hoffmann et al. 2022"

    @property
    def tokens_per_param(self) -> FloatOrArray:
        """D / N of the lifetime-optimal model."""
        return self.tokens / self.params


def inference_optimal(loss: ArrayLike, inference_tokens: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> InferenceOptimal:
    """Parameters and training tokens that reach ``loss`` at the least training-plus-inference FLOPs.

    Parameters
    ----------
    loss : float or array_like
        Target pre-training loss ℓ in nats/token (above the fit's E).
    inference_tokens : float or array_like
        Lifetime inference demand D_inf in tokens (prompt plus generated), >= 0.
    fit : str, optional
        Parametric fit for quality equivalence (default ``"hoffmann2022"``).

    Returns
    -------
    InferenceOptimal

    Notes
    -----
    Sardana et al. 2024, eq. 2:

    .. math:: N^*, D_{\\mathrm{tr}}^* = \\arg\\min_{N, D_{\\mathrm{tr}} \\,:\\, L(N, D_{\\mathrm{tr}}) = \\ell}
              6 N D_{\\mathrm{tr}} + 2 N D_{\\mathrm{inf}}

    On the iso-loss curve D(N) (:func:`tokens_for_loss`) the cost is one-dimensional in N; its
    derivative (see :func:`_lifetime_flops_slope`) tends to -inf at :func:`min_params_for_loss`
    and equals ``2 D_inf >= 0`` at the Chinchilla model :func:`chinchilla_params_for_loss`, so the
    optimum lies between them and is found by vectorised bisection in log N (the paper uses
    Newton's method; both find the same root). With D_inf = 0 it is the Chinchilla model.

    References
    ----------
    Sardana, Portes, Doubov & Frankle 2024, arXiv:2401.00448, §2 eq. 2 and Figure 1;
    Hoffmann et al. 2022, arXiv:2203.15556, eq. 2.

    Examples
    --------
    Figure 1 of Sardana et al.: a 13B Chinchilla-optimal model and 2T inference tokens.

    >>> ell = chinchilla_loss_for_params(13e9, "hoffmann2022_tex")
    >>> r = inference_optimal(ell, 2e12, fit="hoffmann2022_tex")
    >>> print(f"{r.params:.3e} {r.flops_saved:.3e} {r.saved_fraction:.3f}")
    7.125e+09 1.633e+22 0.163
    """
    f = _get_fit(fit)
    ell, s0 = _loss_checked(loss, f)
    q, s1 = _as_array("inference_tokens", inference_tokens, allow_zero=True)
    ell, q = _broadcast(loss=ell, inference_tokens=q)
    n_ch, d_ch = (np.asarray(x, dtype=np.float64) for x in chinchilla_params_for_loss(ell, fit))
    lo = np.log(np.asarray(min_params_for_loss(ell, fit), dtype=np.float64)) + 1e-12
    hi = np.log(n_ch)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        negative = _lifetime_flops_slope(mid, ell, q, f) < 0
        lo, hi = np.where(negative, mid, lo), np.where(negative, hi, mid)
    n = np.where(q > 0, np.exp(0.5 * (lo + hi)), n_ch)
    d = np.asarray(tokens_for_loss(n, ell, fit), dtype=np.float64)
    train = TRAINING_FLOPS_PER_PARAM_TOKEN * n * d
    infer = INFERENCE_FLOPS_PER_PARAM_TOKEN * n * q
    ch_total = TRAINING_FLOPS_PER_PARAM_TOKEN * n_ch * d_ch + INFERENCE_FLOPS_PER_PARAM_TOKEN * n_ch * q
    scalar = s0 and s1
    return InferenceOptimal(
        fit=f.name, loss=_out(ell, scalar), inference_tokens=_out(q, scalar), params=_out(n, scalar),
        tokens=_out(d, scalar), training_flops=_out(train, scalar), inference_flops=_out(infer, scalar),
        total_flops=_out(train + infer, scalar), chinchilla_params=_out(n_ch, scalar),
        chinchilla_tokens=_out(d_ch, scalar), chinchilla_total_flops=_out(ch_total, scalar),
        flops_saved=_out(ch_total - train - infer, scalar), saved_fraction=_out(1.0 - (train + infer) / ch_total, scalar),
    )


@overload
def chinchilla_loss_for_budget(compute_flops: float, fit: str = ...) -> float: ...
@overload
def chinchilla_loss_for_budget(compute_flops: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def chinchilla_loss_for_budget(compute_flops: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> FloatOrArray:
    """Loss of the Chinchilla-optimal model for a training budget C, by one parametric fit.

    Notes
    -----
    :math:`\\ell(C) = L(N_{\\mathrm{opt}}(C), D_{\\mathrm{opt}}(C))` on the efficient frontier of that
    fit (Hoffmann et al. 2022 eq. 4 with eq. 2): the quality "as good as the compute-optimal model
    for budget C" that :func:`inference_optimal` then reaches more cheaply over a lifetime.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eqs. 2 and 4.

    Examples
    --------
    >>> round(chinchilla_loss_for_budget(5.76e23), 4)   # reference facts §1.3: 1.9307
    1.9307
    >>> round(chinchilla_loss_for_budget(5.76e23, "epoch2024"), 4)   # facts §1.6: 1.9744
    1.9744
    """
    n, d = chinchilla_optimal(compute_flops, approach=3, fit=fit)
    return chinchilla_loss(n, d, fit=fit)


@overload
def overtraining_break_even_tokens(params: float, loss: float, fit: str = ...) -> float: ...
@overload
def overtraining_break_even_tokens(params: ArrayLike, loss: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def overtraining_break_even_tokens(
    params: ArrayLike, loss: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT
) -> FloatOrArray:
    """Inference tokens above which a smaller, over-trained model of equal loss costs fewer total FLOPs.

    Parameters
    ----------
    params : float or array_like
        Size N of the smaller model (below the Chinchilla size for ``loss``).
    loss : float or array_like
        The common quality ℓ.
    fit : str, optional
        Parametric fit.

    Returns
    -------
    float or ndarray
        D_be in tokens; ``inf`` where N cannot reach the loss, ``nan`` where N is not smaller than
        the Chinchilla model.

    Notes
    -----
    Equal totals, 6 N D(N) + 2 N D_be = 6 N_Ch D_Ch + 2 N_Ch D_be (Sardana et al. eq. 2), give

    .. math:: D_{\\mathrm{be}} = \\frac{3 \\left(N D(N) - N_{\\mathrm{Ch}} D_{\\mathrm{Ch}}\\right)}{N_{\\mathrm{Ch}} - N}

    the extra training FLOPs over the inference FLOPs saved per token.

    References
    ----------
    Sardana et al. 2024, arXiv:2401.00448, eq. 2.

    Examples
    --------
    >>> ell = chinchilla_loss_for_params(13e9, "hoffmann2022_tex")
    >>> be = overtraining_break_even_tokens(7.13e9, ell, "hoffmann2022_tex")
    >>> bool(0 < be < 2e12)
    True
    """
    n, s0 = _as_array("params", params)
    d = np.asarray(tokens_for_loss(n, loss, fit), dtype=np.float64)
    ell, s1 = _loss_checked(loss, _get_fit(fit))
    n, ell, d = _broadcast(params=n, loss=ell, tokens=d)
    n_ch, d_ch = (np.asarray(x, dtype=np.float64) for x in chinchilla_params_for_loss(ell, fit))
    with np.errstate(divide="ignore", invalid="ignore"):
        be = np.where(n < n_ch, 3.0 * (n * d - n_ch * d_ch) / (n_ch - n), np.nan)
    return _out(np.asarray(be, dtype=np.float64), s0 and s1)


@overload
def chinchilla_loss_for_params(params: float, fit: str = ...) -> float: ...
@overload
def chinchilla_loss_for_params(params: ArrayLike, fit: str = ...) -> FloatOrArray: ...
def chinchilla_loss_for_params(params: ArrayLike, fit: str = DEFAULT_CHINCHILLA_FIT) -> FloatOrArray:
    """Loss of the Chinchilla-optimal model of ``params`` parameters (the frontier indexed by N).

    Notes
    -----
    Inverting :func:`chinchilla_params_for_loss`:

    .. math:: \\ell_{\\mathrm{Ch}}(N) = E + \\frac{(\\alpha + \\beta) A}{\\beta N^{\\alpha}}

    "a 13B Chinchilla-optimal model" in Sardana et al. 2024 (Figure 1) is this loss at N = 13e9.

    References
    ----------
    Hoffmann et al. 2022, arXiv:2203.15556, eqs. 2 and 4; Sardana et al. 2024, arXiv:2401.00448, Fig. 1.

    Examples
    --------
    >>> n, d = chinchilla_optimal(5.76e23, approach=3)
    >>> print(f"{chinchilla_loss_for_params(n):.6f} {chinchilla_loss(n, d):.6f}")
    1.930748 1.930748
    """
    f = _get_fit(fit)
    n, scalar = _as_array("params", params)
    return _out(f.e + (f.alpha + f.beta) * f.a / (f.beta * n**f.alpha), scalar)
