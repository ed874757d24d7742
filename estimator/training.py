"""Training planner: model size and tokens for a budget; time, cost, energy, carbon and memory.

One entry point per question:

* :func:`estimate` — "for this model and dataset, how many GPU-days, dollars, kWh and tonnes of
  CO2e, and does it fit?" (a catalog model, a custom parameter count, or the compute-optimal
  model for a FLOP budget; a known GPU-hours figure can replace the derived one).
* :func:`budget_to_plan` — "I have $2M (or N GPU-hours, or C FLOPs) and H100s in us-east-1":
  budget -> FLOPs -> compute-optimal parameters and tokens (Chinchilla) -> the plan above.
* :func:`compare_instances` — the same run across every catalog instance and cloud.

The chain (all SI units, see each function)::

    C       = (6 N + 12 L s d_attn) D                   FLOPs (Kaplan et al. 2020 §2.1; PaLM App. B)
    T_gpu   = C / (F_peak * MFU * goodput) / 3600       accelerator-hours (MFU, goodput: entered, or
                                                        fitted on published runs, data/training_fit.csv)
    days    = T_gpu / n / 24                            wall clock on n accelerators
    cost    = ceil(n / k) * (T_gpu / n) * p_instance    whole instances of k accelerators
    E, CO2e = estimator.carbon.footprint(...)           energy, operational + embodied

Nothing here imports Streamlit; pages render the :class:`TrainingPlan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from estimator import carbon, catalog, memory, pricing, scaling
from estimator.errors import EstimatorError, InvalidInputError
from estimator.specs import (
    Architecture,
    AttentionKind,
    HardwareKind,
    HardwareSpec,
    Instance,
    ModelSpec,
    Region,
)
from estimator.units import DType

__all__ = [
    "ATTENTION_FLOPS_CONVENTION",
    "DEFAULT_MFU",
    "GENERATIONS",
    "FittedEfficiency",
    "attention_flops_per_token",
    "fitted_efficiency",
    "hardware_generation",
    "train_flops_per_token",
    "DEFAULT_SEQ_LEN",
    "INFERENCE_ONLY_HARDWARE",
    "MAX_USD",
    "MFU_PUBLISHED_RANGE",
    "PUBLISHED_MFU",
    "TARGET_WALL_CLOCK_DAYS",
    "MemoryCheck",
    "TrainingInputs",
    "TrainingPlan",
    "budget_to_plan",
    "compare_instances",
    "estimate",
    "frontier_lines",
    "gpu_hours",
    "iso_flop_tokens",
    "isoflop_profile",
    "loss_surface",
    "synthetic_model_spec",
]

# ---------------------------------------------------------------------------
# Defaults and their sources
# ---------------------------------------------------------------------------

PUBLISHED_MFU: tuple[tuple[str, float, str], ...] = (
    (
        "PaLM 540B, 6144 TPU v4",
        0.462,
        "Chowdhery et al. 2022, arXiv:2204.02311, Table 3 (model FLOPs utilization 46.2 %)",
    ),
    (
        "Megatron-LM 1T, 3072 A100",
        0.52,
        "Narayanan et al. 2021, arXiv:2104.04473, abstract: 502 PFLOP/s, 52 % of peak per GPU "
        "(counts recomputation FLOPs, so it is a hardware-FLOPs figure; MFU is lower)",
    ),
    (
        "Llama 3 405B, 8K-16K H100",
        0.38,
        "Dubey et al. 2024, arXiv:2407.21783, Table 4: BF16 MFU 38-43 % (430, 400, 380 TFLOPs/GPU)",
    ),
    ("Llama 3 405B, 8K H100", 0.43, "Dubey et al. 2024, arXiv:2407.21783, Table 4"),
)
"""Published large-run utilizations (label, fraction of dense peak, source)."""

MFU_PUBLISHED_RANGE: tuple[float, float] = (0.38, 0.52)
"""Lowest and highest of :data:`PUBLISHED_MFU`; an MFU outside it draws a warning."""

DEFAULT_MFU: float = 0.40
"""A round MFU from the middle of Llama 3's 38-43 % BF16 MFU on H100 (Dubey et al. 2024, Table 4).
Plans no longer default to it: with no MFU entered they use the MFU and goodput fitted on
published runs for the accelerator's generation (:func:`fitted_efficiency`)."""

DEFAULT_SEQ_LEN: int = 4096
"""Training sequence length for the memory check (Llama 2's 4k context, Touvron et al. 2023)."""

TARGET_WALL_CLOCK_DAYS: float = 30.0
"""When no accelerator count is given, the planner picks the fewest whole instances that finish
within this many days (an assumption; enter a count to override)."""

MAX_USD: float = 1e13
"""Largest dollar budget accepted (ten trillion US dollars); larger values are input errors."""

INFERENCE_ONLY_HARDWARE: frozenset[str] = frozenset({"inferentia2"})
"""Catalog accelerators built for inference only, left out of training plans and comparisons
(AWS positions Inferentia for inference and Trainium for training: aws.amazon.com/ai/machine-learning/inferentia)."""

MAX_ACCELERATORS: int = 1_000_000
_MAX_HOURS: float = 1e13

ATTENTION_FLOPS_CONVENTION: str = (
    "12 L s d_attn FLOPs per training token: Chowdhery et al. 2022 (PaLM), arXiv:2204.02311, App. B; the "
    "s / (6h) term of 72 B s l h^2 (1 + s/(6h) + V/(12 l h)) (Narayanan et al. 2021, arXiv:2104.04473, "
    "sec. 5.1, gives 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) with full recomputation; Korthikanti et al. "
    "2022, arXiv:2205.05198, App. A, the 72 without); twice Kaplan et al. 2020 Table 1's "
    "6 n_layer n_ctx d_attn, which counts only the causal half"
)
"""Which attention FLOPs the training FLOPs and the fitted MFU count (the MFU convention of PaLM)."""

GENERATIONS: dict[str, str] = {
    "a100-40gb-sxm": "ampere", "a100-80gb-sxm": "ampere", "a100-40gb-pcie": "ampere", "a100-80gb-pcie": "ampere",
    "h100-sxm": "hopper", "h100-pcie": "hopper", "h100-nvl": "hopper", "h200": "hopper", "h800": "hopper",
}
"""Catalog accelerator -> the hardware generation whose fitted MFU and goodput it uses
(``data/training_fit.csv``); any other accelerator uses the fit over all runs ("global")."""

_FIELD_LABELS: dict[str, str] = {
    "model_id": "model",
    "params": "parameter count",
    "tokens": "training tokens",
    "compute_budget_flops": "compute budget (FLOPs)",
    "known_gpu_hours": "known GPU-hours",
    "n_accelerators": "number of accelerators",
    "mfu": "MFU",
    "power_utilization": "power utilization",
    "host_overhead_fraction": "host overhead fraction",
    "grid_gco2e_per_kwh": "grid intensity (gCO2e/kWh)",
    "pue": "PUE",
    "price_usd_per_accelerator_h": "price per accelerator-hour",
    "target_days": "target wall-clock days",
}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        label = _FIELD_LABELS.get(loc, loc)
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
        parts.append(f"{label}: {msg}{shown}" if label else msg)
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


class TrainingInputs(BaseModel):
    """Everything a training estimate depends on. Units in the names; counts are plain numbers.

    The model comes from exactly one of ``model_id`` (catalog), ``params`` (custom count) or
    ``compute_budget_flops`` (compute-optimal model for that budget, Chinchilla ``approach``).
    Tokens are required unless they follow from the budget or from ``known_gpu_hours``.
    Build with :meth:`build` to get ``InvalidInputError`` instead of pydantic's error type.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str | None = None
    params: float | None = Field(default=None, gt=0, le=scaling.MAX_COUNT, allow_inf_nan=False)
    tokens: float | None = Field(default=None, gt=0, le=scaling.MAX_COUNT, allow_inf_nan=False)
    compute_budget_flops: float | None = Field(
        default=None, gt=0, le=scaling.MAX_COMPUTE_FLOPS, allow_inf_nan=False
    )
    approach: Literal[1, 2, 3] = 1
    fit: str | None = None
    known_gpu_hours: float | None = Field(default=None, gt=0, le=_MAX_HOURS, allow_inf_nan=False)

    hardware_id: str = "h100-sxm"
    compute_dtype: DType = DType.BF16
    n_accelerators: int | None = Field(default=None, ge=1, le=MAX_ACCELERATORS)
    mfu: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False,
                              description="None: fitted for the accelerator's generation (fitted_efficiency)")
    goodput: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False,
                                  description="share of paid hours that train; None: fitted (fitted_efficiency)")
    attention: bool = Field(default=True, description="add the attention FLOPs 12 L s d_attn per token to 6N")
    tp: int | None = Field(default=None, ge=1, le=1024, description="None: smallest that fits")
    pp: int = Field(default=1, ge=1, le=1024)
    zero_stage: Literal[0, 1, 2, 3] = 3
    optimizer: memory.Optimizer = memory.Optimizer.ADAMW
    recompute: Literal["none", "selective", "full"] = "selective"
    seq_len: int = Field(default=DEFAULT_SEQ_LEN, ge=1, le=10_000_000)
    micro_batch: int = Field(default=1, ge=1, le=65_536)
    target_days: float = Field(default=TARGET_WALL_CLOCK_DAYS, gt=0, le=3650, allow_inf_nan=False)

    instance_id: str | None = None
    pricing_model: pricing.PricingModel = pricing.PricingModel.ON_DEMAND
    price_usd_per_accelerator_h: float | None = Field(default=None, gt=0, le=1e6, allow_inf_nan=False)

    region_id: str | None = "aws:us-east-1"
    grid_gco2e_per_kwh: float | None = Field(default=None, ge=0, le=2000, allow_inf_nan=False)
    pue: float | None = Field(default=None, ge=1, le=3, allow_inf_nan=False)
    power_utilization: float = Field(default=carbon.DEFAULT_POWER_UTILIZATION, ge=0, le=1, allow_inf_nan=False)
    host_overhead_fraction: float = Field(default=carbon.HOST_OVERHEAD_FRACTION, ge=0, le=10, allow_inf_nan=False)
    include_embodied: bool = True

    @field_validator("mfu")
    @classmethod
    def _mfu_not_above_one(cls, v: float | None) -> float | None:
        if v is not None and v > 1:
            raise InvalidInputError(f"MFU is a fraction of peak and cannot exceed 1, got {v}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainingInputs:
        sources = [n for n in ("model_id", "params", "compute_budget_flops") if getattr(self, n) is not None]
        if len(sources) != 1:
            raise InvalidInputError(
                "give exactly one of: a catalog model (model_id), a parameter count (params), or a "
                f"compute budget in FLOPs (compute_budget_flops); got {', '.join(sources) or 'none'}"
            )
        if self.compute_budget_flops is not None and self.tokens is not None:
            raise InvalidInputError(
                "with a compute budget the token count follows from the budget; leave tokens empty"
            )
        if self.tokens is None and self.compute_budget_flops is None and self.known_gpu_hours is None:
            raise InvalidInputError("give the number of training tokens (or a known GPU-hours figure)")
        if self.params is not None and self.tokens is not None and self.tokens < self.params:
            raise InvalidInputError(
                f"{self.tokens:.3g} tokens is fewer than one per parameter ({self.params:.3g} parameters); "
                "compute-optimal training uses about 20 tokens per parameter (Hoffmann et al. 2022)"
            )
        if self.fit is not None and self.approach != 3:
            raise InvalidInputError("a parametric fit applies only to Chinchilla approach 3")
        if self.fit is not None and self.fit not in scaling.CHINCHILLA_FITS:
            raise InvalidInputError(
                f"unknown fit {self.fit!r}; choose one of {', '.join(scaling.CHINCHILLA_FITS)}"
            )
        return self

    @classmethod
    def build(cls, **kwargs: Any) -> TrainingInputs:
        """Validate ``kwargs``; errors come back as ``InvalidInputError`` with readable messages."""
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise InvalidInputError(_validation_message(exc)) from None


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


class MemoryCheck(BaseModel):
    """Whether the chosen layout fits in accelerator memory, and what would change that."""

    model_config = ConfigDict(frozen=True)

    fits: bool
    per_device_bytes: float = Field(ge=0)
    device_bytes: float = Field(gt=0)
    dp: int
    tp: int
    pp: int
    zero_stage: int
    recompute: str
    min_accelerators: int | None = Field(description="fewest devices at the chosen ZeRO stage and recomputation")
    min_accelerators_zero3: int | None = Field(description="fewest with ZeRO-3 / FSDP full sharding")
    min_accelerators_zero3_full_recompute: int | None
    shape_assumed: bool = Field(description="layer shapes synthesized from the parameter count")
    message: str
    suggestion: str


class TrainingPlan(BaseModel):
    """Time, cost, energy and carbon of one training run, with the reasons behind them."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    model_id: str | None
    params: float = Field(gt=0, description="all parameters, embeddings included")
    params_active: float = Field(gt=0, description="parameters used per token (MoE: active)")
    tokens: float = Field(gt=0)
    tokens_per_param: float = Field(gt=0)
    flops: float = Field(gt=0, description="6 N_active D")
    attention_flops: float = Field(default=0.0, ge=0, description="12 L s d_attn D (attention_flops_per_token)")
    hardware_id: str
    hardware_name: str
    compute_dtype: DType
    peak_flops_per_s: float = Field(gt=0, description="dense peak per accelerator")
    mfu: float = Field(gt=0, le=1)
    mfu_source: str
    gpu_hours: float = Field(gt=0, description="accelerator-hours")
    gpu_hours_source: str
    goodput: float = Field(default=1.0, gt=0, le=1, description="share of paid hours that train")
    gpu_hours_low: float | None = Field(default=None, description="range from the fit's leave-one-out ratios")
    gpu_hours_high: float | None = None
    n_accelerators: int = Field(ge=1)
    dp: int
    tp: int
    pp: int
    zero_stage: int
    wall_clock_days: float = Field(gt=0)
    instance_id: str | None
    pricing_model: pricing.PricingModel | None
    instances: int | None = Field(description="whole instances billed")
    price_usd_per_accelerator_h: float = Field(gt=0)
    cost_usd: float = Field(ge=0)
    region_id: str | None
    grid_gco2e_per_kwh: float = Field(ge=0)
    pue: float = Field(ge=1)
    power_per_accelerator_w: float = Field(ge=0)
    energy_kwh: float = Field(ge=0)
    operational_co2e_kg: float = Field(ge=0)
    embodied_co2e_kg: float = Field(ge=0)
    co2e_kg: float = Field(ge=0)
    chinchilla_loss: float = Field(description="parametric loss L(N, D), nats/token")
    loss_fit: str
    approach: int
    optimal_params: float = Field(gt=0, description="compute-optimal N for this FLOP count")
    optimal_tokens: float = Field(gt=0)
    undertrained_ratio: float = Field(gt=0, description="D / (20 N)")
    memory: MemoryCheck
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()

    @property
    def co2e_t(self) -> float:
        """Total tonnes of CO2e."""
        return self.co2e_kg / 1000.0

    @property
    def gpu_days(self) -> float:
        return self.gpu_hours / 24.0

    @property
    def train_flops(self) -> float:
        """Training FLOPs executed: 6ND plus the attention term."""
        return self.flops + self.attention_flops


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def gpu_hours(flops: ArrayLike, peak_flops_per_s: ArrayLike, mfu: ArrayLike) -> float | NDArray[np.float64]:
    """Accelerator-hours to execute ``flops`` at ``mfu`` of a ``peak_flops_per_s`` device.

    .. math:: T = \\frac{C}{F_{peak}\\,\\mathrm{MFU}\\cdot 3600}

    Units: FLOPs, FLOP/s -> hours. MFU (model FLOPs utilization) counts only the 6ND model
    FLOPs, not recomputation (Chowdhery et al. 2022 App. B).

    Llama 2 70B, 2T tokens on A100 (312 TFLOP/s bf16) at 47 % MFU: about 1.6M GPU-hours
    against the 1,720,320 the model card reports:

    >>> round(gpu_hours(6 * 70e9 * 2e12, 312e12, 0.47) / 1e6, 2)
    1.59
    """
    if (  # scalar short path, the same IEEE double arithmetic as below; invalid values fall through
        isinstance(flops, float) and isinstance(peak_flops_per_s, float) and isinstance(mfu, float)
        and 0.0 < flops < math.inf and 0.0 < peak_flops_per_s < math.inf and 0.0 < mfu <= 1.0
    ):
        return flops / (peak_flops_per_s * mfu) / 3600.0
    c = np.asarray(flops, dtype=np.float64)
    f = np.asarray(peak_flops_per_s, dtype=np.float64)
    m = np.asarray(mfu, dtype=np.float64)
    for name, a in (("flops", c), ("peak_flops_per_s", f), ("mfu", m)):
        if np.any(~np.isfinite(a)) or np.any(a <= 0):
            raise InvalidInputError(f"{name} must be positive and finite")
    if np.any(m > 1):
        raise InvalidInputError("MFU cannot exceed 1")
    out = c / (f * m) / 3600.0
    return float(out) if out.ndim == 0 else out


def attention_flops_per_token(n_layers: float, seq_len: float, d_attn: float) -> float:
    """Attention-score FLOPs per training token that ``6N`` leaves out (forward and backward).

    .. math:: A = 12\\, L\\, s\\, d_{attn}

    Units: counts -> FLOPs per token; ``L`` layers, ``s`` training sequence length in tokens,
    ``d_attn`` = query heads x head dimension. Forward ``Q K^T`` and ``softmax V`` cost
    ``2 s d_attn`` FLOPs each per token and layer, and training triples the forward pass.
    Source: Chowdhery et al. 2022 (PaLM), arXiv:2204.02311, App. B, model FLOPs per token
    ``6N + 12 L H Q T``; the same as the ``s / (6h)`` term of the Megatron count
    ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))`` per iteration without recomputation (Narayanan et al.
    2021, arXiv:2104.04473, sec. 5.1, whose 96 counts full recomputation; Korthikanti et al. 2022,
    arXiv:2205.05198, App. A): ``72 B s l h^2 (s / (6h)) / (B s) = 12 s l h``. Kaplan et al. 2020
    (Table 1, ``2 n_layer n_ctx d_attn`` forward) count half, the causal part only.

    PaLM 540B (118 layers, 48 heads x 256, sequence 2048): the attention term adds 1.1 % to 6N,
    which is why the paper quotes MFU 45.7 % without and 46.2 % with it (Table 3 and its text):

    >>> round(1 + attention_flops_per_token(118, 2048, 48 * 256) / (6 * 540.35e9), 4)
    1.011
    """
    for name, v in (("layers", n_layers), ("sequence length", seq_len), ("attention width", d_attn)):
        if not (math.isfinite(v) and v > 0):
            raise InvalidInputError(f"{name} must be positive and finite, got {v!r}")
    return 12.0 * float(n_layers) * float(seq_len) * float(d_attn)


def train_flops_per_token(spec: ModelSpec, seq_len: int, *, attention: bool = True) -> float:
    """Training FLOPs per token of ``spec`` at sequence length ``seq_len``.

    .. math:: c = 6 N_{active} + 12\\, L\\, s\\, n_{heads}\\, d_{head}

    (:func:`attention_flops_per_token`; ``attention=False`` gives Kaplan et al. 2020's ``6N``, §2.1).
    Encoder layers count as layers (the term is per layer and token).
    """
    base = 6.0 * spec.params_active
    if not attention:
        return base
    return base + attention_flops_per_token(spec.n_layers + spec.n_encoder_layers, seq_len,
                                            spec.n_heads * spec.head_dim)


def hardware_generation(hardware_id: str) -> str:
    """The generation whose fitted efficiency ``hardware_id`` uses (:data:`GENERATIONS`), else "global"."""
    return GENERATIONS.get(hardware_id, "global")


@dataclass(frozen=True, slots=True)
class FittedEfficiency:
    """MFU and goodput fitted on published runs (``data/training_fit.csv``, ``bench/fit_training.py``).

    ``utilization = mfu * goodput`` is what the runs pin down: training FLOPs (6N + attention) over
    GPU-hours x dense peak. ``ratio_low``/``ratio_high``: 10th and 90th percentiles of the
    leave-one-out ratio published / predicted GPU-hours, the range shown around a prediction.
    """

    generation: str
    n_runs: int
    mfu: float
    goodput: float
    ratio_low: float
    ratio_high: float
    loo_median_abs_error: float
    loo_worst_ratio: float
    fit_date: str
    data_sha256: str

    @property
    def utilization(self) -> float:
        return self.mfu * self.goodput


_FITS: list[Any] = [None, {}]
"""[the ``training_fit`` frame last read, its rows by generation]: reread when the catalog reloads."""


def _fits_by_generation() -> dict[str, FittedEfficiency]:
    frame = catalog.table_frame("training_fit")
    if _FITS[0] is not frame:
        _FITS[1] = {
            str(r["generation"]): FittedEfficiency(
                generation=str(r["generation"]), n_runs=int(r["n_runs"]), mfu=float(r["mfu"]),
                goodput=float(r["goodput"]), ratio_low=float(r["ratio_low"]), ratio_high=float(r["ratio_high"]),
                loo_median_abs_error=float(r["loo_median_abs_error"]), loo_worst_ratio=float(r["loo_worst_ratio"]),
                fit_date=str(r["fit_date"])[:10], data_sha256=str(r["data_sha256"]),
            )
            for r in frame.to_dict("records")
        }
        _FITS[0] = frame
    return dict(_FITS[1])


def fitted_efficiency(hardware_id: str) -> FittedEfficiency:
    """The fitted MFU and goodput for ``hardware_id``'s generation, or the global fit when the
    generation has none (``data/training_fit.csv``, written by ``bench/fit_training.py``)."""
    fits = _fits_by_generation()
    fit = fits.get(hardware_generation(hardware_id)) or fits.get("global")
    if fit is None:
        raise EstimatorError("data/training_fit.csv has no global row; run bench/fit_training.py --write")
    return fit


def synthetic_model_spec(params: float, *, name: str | None = None) -> ModelSpec:
    """A dense decoder shape for a bare parameter count (for the memory check only).

    Notes
    -----
    ``N ≈ 12 L d²`` (Kaplan et al. 2020 eq. 2.1) with the aspect ratio ``d / L = 128`` of
    Llama-2-7B/13B (4096/32, 5120/40) gives ``L = (N / 196608)^{1/3}``, ``d = sqrt(N / 12L)``;
    ``d`` is rounded to whole 128-wide heads (a multiple of 8 heads from d >= 1024), MHA, 4d MLP,
    32k vocabulary. The parameter count itself is kept exactly as given. Marked ``assumed``.
    """
    if not (math.isfinite(params) and params > 0):
        raise InvalidInputError(f"parameter count must be positive and finite, got {params!r}")
    layers = max(2, round((params / 196_608.0) ** (1.0 / 3.0)))
    if layers > 1000:  # ModelSpec's bound; 1000 layers at d/L = 128 is about 2e14 parameters
        raise InvalidInputError(f"{params:.3g} parameters is beyond any model shape this planner sizes "
                                "(at most about 2e14, 1,000 layers); enter the size in billions")
    d_raw = math.sqrt(params / (12.0 * layers))
    if d_raw >= 1024:
        head_dim = 128
        n_heads = max(8, 8 * round(d_raw / (128 * 8)))
    else:
        head_dim = 64
        n_heads = max(1, round(d_raw / 64))
    d = n_heads * head_dim
    return ModelSpec(
        model_id="custom",
        name=name or f"custom {params / 1e9:,.3g}B",
        params_total=float(params),
        params_active=float(params),
        n_layers=int(layers),
        d_model=int(d),
        n_heads=int(n_heads),
        n_kv_heads=int(n_heads),
        head_dim=head_dim,
        d_ff=int(4 * d),
        vocab_size=32_000,
        max_context=1_000_000,
        architecture=Architecture.DECODER,
        attention=AttentionKind.MHA,
        gated_mlp=False,
        assumed=True,
        source="synthetic shape from the parameter count (N = 12 L d^2, d/L = 128)",
    )


def iso_flop_tokens(compute_flops: ArrayLike, params: ArrayLike) -> float | NDArray[np.float64]:
    """Tokens that spend ``compute_flops`` on a model of ``params``: ``D = C / (6N)``.

    >>> iso_flop_tokens(5.76e23, 70e9) / 1e12
    1.3714285714285714
    """
    c = np.asarray(compute_flops, dtype=np.float64)
    n = np.asarray(params, dtype=np.float64)
    if np.any(~np.isfinite(c)) or np.any(c <= 0) or np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise InvalidInputError("compute and parameters must be positive and finite")
    out = c / (6.0 * n)
    return float(out) if out.ndim == 0 else out


def loss_surface(
    params: ArrayLike, tokens: ArrayLike, fit: str = scaling.DEFAULT_CHINCHILLA_FIT
) -> NDArray[np.float64]:
    """Parametric loss on the grid ``params x tokens``: shape ``(len(tokens), len(params))``.

    ``L(N, D) = E + A/N^alpha + B/D^beta`` (Hoffmann et al. 2022 eq. 2), for contour plots.
    """
    n = np.atleast_1d(np.asarray(params, dtype=np.float64))
    d = np.atleast_1d(np.asarray(tokens, dtype=np.float64))
    nn, dd = np.meshgrid(n, d)
    return np.asarray(scaling.chinchilla_loss(nn, dd, fit=fit), dtype=np.float64)


def isoflop_profile(
    compute_flops: float, params: ArrayLike, fit: str = scaling.DEFAULT_CHINCHILLA_FIT
) -> NDArray[np.float64]:
    """Predicted loss along one iso-FLOP line: ``L(N, C / 6N)`` for each ``N`` in ``params``.

    The minimum is the compute-optimal size for ``fit`` (Hoffmann et al. 2022 §3.2, Figure 3).
    """
    n = np.atleast_1d(np.asarray(params, dtype=np.float64))
    d = np.asarray(iso_flop_tokens(compute_flops, n), dtype=np.float64)
    return np.asarray(scaling.chinchilla_loss(n, d, fit=fit), dtype=np.float64)


FRONTIER_METHODS: tuple[tuple[str, int, str | None], ...] = (
    ("Approach 1 (training curves)", 1, None),
    ("Approach 2 (IsoFLOP profiles)", 2, None),
    ("Approach 3 (Hoffmann fit)", 3, "hoffmann2022"),
    ("Approach 3 (Epoch refit)", 3, "epoch2024"),
)


def frontier_lines(compute_flops: ArrayLike) -> dict[str, dict[str, NDArray[np.float64]]]:
    """Compute-optimal (params, tokens, loss) along ``compute_flops`` for each approach and fit.

    See :func:`estimator.scaling.optimal_frontier`; the keys are display labels.
    """
    return {label: scaling.optimal_frontier(compute_flops, a, f) for label, a, f in FRONTIER_METHODS}


def _peak(hw: HardwareSpec, dtype: DType, notes: list[str]) -> tuple[float, DType]:
    if hw.supports(dtype):
        return hw.peak_flops_per_s(dtype), dtype
    for alt in (DType.BF16, DType.FP16, DType.FP32):
        if hw.supports(alt):
            notes.append(f"{hw.name} has no native {dtype} compute; {alt} peak used")
            return hw.peak_flops_per_s(alt), alt
    return hw.peak_flops_per_s(dtype), dtype  # raises with the supported list


def _resolve_instance(
    inp: TrainingInputs, hw: HardwareSpec, warnings: list[str] | None = None
) -> pricing.InstanceQuote | None:
    """The priced instance: the one named, else the cheapest in the chosen region's cloud, else anywhere."""
    if inp.price_usd_per_accelerator_h is not None and inp.instance_id is None:
        return None
    if inp.instance_id is not None:
        inst = catalog.get_instance(inp.instance_id)
        if inst.hardware_id != hw.hardware_id:
            raise InvalidInputError(
                f"instance {inst.instance_id} carries {inst.hardware_id}, not {hw.hardware_id}; "
                "pick an instance with the chosen accelerator"
            )
        return pricing.quote(inst, inp.pricing_model)
    region = _region(inp)
    if region is not None:
        local = [
            q for q in pricing.quotes(hw.hardware_id, inp.pricing_model, provider=region.provider)
            if not q.instance.regions or region.region in q.instance.regions
        ]
        if local:
            return local[0]
    q = pricing.cheapest_instance(hw.hardware_id, inp.pricing_model)
    if region is not None and warnings is not None:
        warnings.append(
            f"no {region.provider} instance with {hw.name} and a {pricing.PRICING_LABELS[inp.pricing_model].lower()} "
            f"price in {region.region}; the cheapest elsewhere ({q.instance_id}) is priced"
        )
    return q


def _region(inp: TrainingInputs) -> Region | None:
    return catalog.get_region(inp.region_id) if inp.region_id else None


class _MinFit(BaseModel):
    devices: int
    tp: int


def _min_fit(
    spec: ModelSpec, hw: HardwareSpec, inp: TrainingInputs, zero: int, recompute: str
) -> _MinFit | None:
    """Fewest accelerators (ZeRO data parallel x in-node tensor parallel x ``inp.pp``) that hold
    the model, searching every tensor-parallel degree and power-of-two data-parallel sizes."""
    best: _MinFit | None = None
    for tp in _tp_candidates(spec, hw):
        dp = 1
        while dp * tp * inp.pp <= 65_536:
            try:
                tm = memory.training_memory(
                    spec, seq_len=inp.seq_len, micro_batch=inp.micro_batch, dp=dp, tp=tp, pp=inp.pp,
                    zero_stage=zero, optimizer=inp.optimizer, recompute=recompute,
                )
            except EstimatorError:
                break
            if tm.total_bytes <= hw.memory_bytes:
                n = dp * tp * inp.pp
                if best is None or n < best.devices:
                    best = _MinFit(devices=n, tp=tp)
                break
            if zero == 0:
                break
            dp *= 2
    return best


def _tp_candidates(spec: ModelSpec, hw: HardwareSpec) -> list[int]:
    out, t = [], 1
    while t <= max(1, hw.max_per_node):
        if spec.n_heads % t == 0:
            out.append(t)
        t *= 2
    return out or [1]


def _auto_tp(spec: ModelSpec, hw: HardwareSpec, inp: TrainingInputs, n: int) -> int:
    """Smallest in-node tensor-parallel degree at which ``n`` accelerators hold the model."""
    pp = inp.pp
    best = 1
    for tp in _tp_candidates(spec, hw):
        if n % (tp * pp):
            continue
        best = tp
        tm = memory.training_memory(
            spec, seq_len=inp.seq_len, micro_batch=inp.micro_batch, dp=n // (tp * pp), tp=tp, pp=pp,
            zero_stage=inp.zero_stage, optimizer=inp.optimizer, recompute=inp.recompute,
        )
        if tm.total_bytes <= hw.memory_bytes:
            return tp
    return best


def _fewest(f: _MinFit | None) -> str:
    return f"{f.devices:,} (TP {f.tp})" if f is not None else "more than 65,536"


def _memory_suggestion(
    inp: TrainingInputs, fits: bool, detail: bool, fits_min: tuple[_MinFit | None, _MinFit | None, _MinFit | None]
) -> str:
    """What to change so that it fits (or the fewest accelerators that hold it, when it fits).
    ``fits_min``: the fewest at the chosen ZeRO stage, with ZeRO-3, with ZeRO-3 and full
    recomputation (all ``None`` without ``detail``)."""
    if fits:
        if detail and fits_min[0] is not None:
            return (f"the fewest accelerators that hold it at ZeRO-{inp.zero_stage} with {inp.recompute} "
                    f"recomputation: {_fewest(fits_min[0])}")
        return "fits as configured"
    options = []
    if detail:
        options.append(
            f"at ZeRO-{inp.zero_stage} with {inp.recompute} recomputation the fewest accelerators is "
            f"{_fewest(fits_min[0])}"
        )
        if inp.zero_stage < 3:
            options.append(f"ZeRO-3 / FSDP full sharding needs {_fewest(fits_min[1])}")
        if inp.recompute != "full":
            options.append(f"ZeRO-3 with full recomputation needs {_fewest(fits_min[2])}")
    if inp.zero_stage < 3:
        options.append("a higher ZeRO stage shards weights, gradients and optimizer states over the DP ranks")
    if inp.recompute != "full":
        options.append("full activation recomputation keeps only each layer's input")
    options.append("more tensor or pipeline parallelism splits weights and activations further")
    return "Does not fit: " + "; ".join(options) + "."


def _memory_check(
    spec: ModelSpec, hw: HardwareSpec, inp: TrainingInputs, n: int, tp: int, detail: bool
) -> MemoryCheck:
    """Per-device training memory of the layout (:func:`estimator.memory.training_memory`) against
    the accelerator's; with ``detail``, also the fewest accelerators that hold the model three ways
    (:func:`_min_fit`)."""
    dp = n // (tp * inp.pp)
    tm = memory.training_memory(
        spec, seq_len=inp.seq_len, micro_batch=inp.micro_batch, dp=dp, tp=tp, pp=inp.pp,
        zero_stage=inp.zero_stage, optimizer=inp.optimizer, recompute=inp.recompute,
    )
    fits = tm.total_bytes <= hw.memory_bytes
    fits_min: tuple[_MinFit | None, _MinFit | None, _MinFit | None] = (None, None, None)
    if detail:
        fits_min = (
            _min_fit(spec, hw, inp, inp.zero_stage, inp.recompute),
            _min_fit(spec, hw, inp, 3, inp.recompute),
            _min_fit(spec, hw, inp, 3, "full"),
        )
    mins = [f.devices if f is not None else None for f in fits_min]
    gb = 1e9
    layout = f"ZeRO-{inp.zero_stage}, DP {dp:,} x TP {tp} x PP {inp.pp}, {inp.recompute} recomputation"
    message = (
        f"{tm.total_bytes / gb:,.1f} GB per device against {hw.memory_bytes / gb:,.0f} GB "
        f"({layout}, sequence {inp.seq_len:,}, micro-batch {inp.micro_batch})"
    )
    return MemoryCheck(
        fits=fits, per_device_bytes=tm.total_bytes, device_bytes=hw.memory_bytes, dp=dp, tp=tp, pp=inp.pp,
        zero_stage=inp.zero_stage, recompute=inp.recompute, min_accelerators=mins[0],
        min_accelerators_zero3=mins[1], min_accelerators_zero3_full_recompute=mins[2],
        shape_assumed=spec.assumed and spec.model_id == "custom", message=message,
        suggestion=_memory_suggestion(inp, fits, detail, fits_min),
    )


def _auto_accelerators(
    hours: float, unit: int, target_days: float, min_devices: int | None
) -> int:
    need = max(1, math.ceil(hours / (24.0 * target_days)))
    if min_devices:
        need = max(need, min_devices)
    n = unit * math.ceil(need / unit)
    return min(n, unit * (MAX_ACCELERATORS // unit))


# ---------------------------------------------------------------------------
# The estimate
# ---------------------------------------------------------------------------


# Each step of :func:`estimate` returns one of these frozen records; ``warnings`` are shown to the
# user as cautions, ``notes`` as the assumptions behind the numbers. The plan lists them in step order.


@dataclass(frozen=True, slots=True)
class _Accelerator:
    """Step 1: the accelerator and the dense peak the FLOPs run at."""

    hw: HardwareSpec
    peak_flops_per_s: float
    dtype: DType
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Efficiency:
    """Step 1b: MFU and goodput, entered or fitted for the accelerator's generation."""

    mfu: float
    mfu_source: str
    goodput: float
    fitted: FittedEfficiency


@dataclass(frozen=True, slots=True)
class _Workload:
    """Step 2: the model (catalog, custom or compute-optimal), its tokens, ``C = 6 N_active D`` and the
    attention FLOPs ``12 L s d_attn D``."""

    spec: ModelSpec
    tokens: float
    flops: float
    attention_flops: float
    loss_fit: str
    approach_fit: str | None
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Compute:
    """Step 3: accelerator-hours and the MFU they correspond to."""

    gpu_hours: float
    gpu_hours_source: str
    mfu: float
    mfu_source: str
    goodput: float
    gpu_hours_range: tuple[float, float] | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Price:
    """Step 4: the priced instance (``None``: an entered price) and the billing unit in accelerators."""

    quote: pricing.InstanceQuote | None
    price_usd_per_accelerator_h: float
    unit_size: int
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Step 5: accelerator count, tensor-parallel degree and wall clock."""

    n_accelerators: int
    tp: int
    group: int  # accelerators per model replica: TP x PP
    wall_clock_days: float
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Billing:
    """Step 6: whole instances billed and the dollar cost."""

    instances: int | None
    cost_usd: float
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Energy:
    """Step 7: region, energy and carbon (``carbon.footprint``)."""

    region: Region | None
    footprint: carbon.Footprint
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ScalingContext:
    """Step 8: what the Chinchilla fits say about this model size and token count."""

    loss: float
    optimal_params: float
    optimal_tokens: float
    undertrained_ratio: float
    warnings: tuple[str, ...]


def _checked_inputs(inputs: TrainingInputs | None, kwargs: dict[str, Any]) -> TrainingInputs:
    if inputs is None:
        return TrainingInputs.build(**kwargs)
    if kwargs:
        raise InvalidInputError("pass either a TrainingInputs or keyword arguments, not both")
    return inputs


def _accelerator_step(inp: TrainingInputs) -> _Accelerator:
    """The catalog accelerator, refused when it cannot train, and its dense peak for the dtype."""
    hw = catalog.get_hardware(inp.hardware_id)
    if hw.kind == HardwareKind.CPU:
        raise InvalidInputError(f"{hw.name} is a CPU; choose an accelerator for training")
    if hw.hardware_id in INFERENCE_ONLY_HARDWARE:
        raise InvalidInputError(f"{hw.name} is an inference accelerator; choose one built for training")
    notes: list[str] = []
    peak, dtype = _peak(hw, inp.compute_dtype, notes)
    return _Accelerator(hw=hw, peak_flops_per_s=peak, dtype=dtype, notes=tuple(notes))


def _efficiency_step(inp: TrainingInputs, hw: HardwareSpec) -> _Efficiency:
    """The entered MFU and goodput, or those fitted on published runs of ``hw``'s generation
    (:func:`fitted_efficiency`, ``data/training_fit.csv``)."""
    fitted = fitted_efficiency(hw.hardware_id)
    where = f"fitted on {fitted.n_runs} published {fitted.generation} runs ({fitted.fit_date})"
    mfu, source = (inp.mfu, "input") if inp.mfu is not None else (fitted.mfu, where)
    goodput = inp.goodput if inp.goodput is not None else fitted.goodput
    return _Efficiency(mfu=mfu, mfu_source=source, goodput=goodput, fitted=fitted)


def _model_spec(inp: TrainingInputs, approach_fit: str | None) -> tuple[ModelSpec, tuple[str, ...]]:
    """The catalog model, a synthetic shape for a bare parameter count, or the compute-optimal
    size ``N_opt(C)`` of Chinchilla ``inp.approach`` (Hoffmann et al. 2022); with its warnings."""
    if inp.model_id is not None:
        spec = catalog.get_model(inp.model_id)
        warnings = []
        if spec.architecture != Architecture.DECODER:
            warnings.append(f"{spec.name} is not a decoder-only model; 6ND and Chinchilla fits are for decoders")
        if spec.is_moe:
            warnings.append(
                f"{spec.name} is a mixture of experts: FLOPs use its {spec.params_active / 1e9:,.1f}B active "
                "parameters; the Chinchilla fits were made on dense models"
            )
        return spec, tuple(warnings)
    if inp.params is not None:
        return synthetic_model_spec(inp.params), ()
    if inp.compute_budget_flops is None:  # pragma: no cover - excluded by TrainingInputs._consistent
        raise InvalidInputError("give a model, a parameter count or a compute budget")
    n_opt, _ = scaling.chinchilla_optimal(inp.compute_budget_flops, inp.approach, approach_fit)
    return synthetic_model_spec(float(n_opt), name=f"compute-optimal {float(n_opt) / 1e9:,.3g}B"), ()


def _workload_step(inp: TrainingInputs, acc: _Accelerator, eff: _Efficiency) -> _Workload:
    """Tokens and training FLOPs ``C = (6 N_active + 12 L s d_attn) D`` (Kaplan et al. 2020 §2.1 and
    :func:`attention_flops_per_token`; ``inp.attention=False``: 6ND alone).

    ``D`` is entered, or ``C_budget / (6 N_active)`` for a compute budget (Chinchilla's ``C = 6ND``), or
    ``T * 3600 * F_peak * MFU * goodput / c`` for entered GPU-hours ``T``, with ``c`` the FLOPs per
    token. Fewer tokens than parameters is refused (compute-optimal training uses ~20 per
    parameter, Hoffmann et al. 2022).
    """
    approach_fit = inp.fit if inp.approach == 3 else None
    spec, warnings = _model_spec(inp, approach_fit)
    n_total, n_active = spec.params_total, spec.params_active
    per_token = train_flops_per_token(spec, inp.seq_len, attention=inp.attention)
    notes: tuple[str, ...] = ()
    if inp.compute_budget_flops is not None:  # Chinchilla's C = 6ND (Hoffmann et al. 2022, Table 3)
        tokens = inp.compute_budget_flops / (6.0 * n_active)
    elif inp.tokens is not None:
        tokens = inp.tokens
    elif inp.known_gpu_hours is not None:
        tokens = inp.known_gpu_hours * 3600.0 * acc.peak_flops_per_s * eff.mfu * eff.goodput / per_token
        notes = (f"tokens implied by {inp.known_gpu_hours:,.0f} GPU-hours at MFU {eff.mfu:.0%} and goodput "
                 f"{eff.goodput:.0%}",)
    else:  # pragma: no cover - excluded by TrainingInputs._consistent
        raise InvalidInputError("give the number of training tokens (or a known GPU-hours figure)")
    if tokens < n_total:
        raise InvalidInputError(
            f"{tokens:.3g} tokens is fewer than one per parameter for {spec.name} ({n_total:.3g} parameters); "
            "compute-optimal training uses about 20 tokens per parameter (Hoffmann et al. 2022)"
        )
    flops = float(scaling.training_flops(n_active, tokens))
    return _Workload(
        spec=spec, tokens=tokens, flops=flops, attention_flops=max(0.0, per_token * tokens - flops),
        loss_fit=approach_fit or scaling.DEFAULT_CHINCHILLA_FIT, approach_fit=approach_fit,
        warnings=warnings, notes=notes,
    )


def _mfu_warnings(mfu: float) -> tuple[str, ...]:
    """A caution when ``mfu`` lies outside :data:`MFU_PUBLISHED_RANGE`."""
    lo, hi = MFU_PUBLISHED_RANGE
    if lo <= mfu <= hi:
        return ()
    where = "below" if mfu < lo else "above"
    return (
        f"MFU {mfu:.1%} is {where} the published large-run range {lo:.0%}-{hi:.0%} (Llama 3 38-43 % "
        "on H100, PaLM 46.2 %, Megatron-LM 52 % of peak)",
    )


def _compute_step(inp: TrainingInputs, acc: _Accelerator, work: _Workload, eff: _Efficiency) -> _Compute:
    """Accelerator-hours ``T = C / (F_peak MFU goodput 3600)`` (:func:`gpu_hours`) with the range
    ``[T r_10, T r_90]`` of the fit's leave-one-out ratios; or the entered ``T`` with the all-in MFU
    it implies, ``MFU = C / (T 3600 F_peak)`` (goodput 1: the hours include any downtime), refused above 1."""
    c = work.flops + work.attention_flops
    warnings = _mfu_warnings(eff.mfu) if inp.mfu is not None else ()
    if inp.known_gpu_hours is None:
        hours = float(gpu_hours(c, acc.peak_flops_per_s, eff.mfu * eff.goodput))
        what = "(6ND + attention)" if inp.attention else "6ND"
        return _Compute(gpu_hours=hours, gpu_hours_source=f"derived: {what} / (peak x MFU x goodput)", mfu=eff.mfu,
                        mfu_source=eff.mfu_source, goodput=eff.goodput,
                        gpu_hours_range=(hours * eff.fitted.ratio_low, hours * eff.fitted.ratio_high),
                        warnings=warnings)
    hours = inp.known_gpu_hours
    if inp.tokens is None and inp.compute_budget_flops is None:
        return _Compute(gpu_hours=hours, gpu_hours_source="entered", mfu=eff.mfu,
                        mfu_source=f"{eff.mfu_source} (tokens implied by the entered GPU-hours)", goodput=eff.goodput,
                        gpu_hours_range=None, warnings=warnings)
    mfu = c / (hours * 3600.0 * acc.peak_flops_per_s)
    if mfu > 1:
        raise InvalidInputError(
            f"{hours:,.0f} GPU-hours on {acc.hw.name} cannot execute {c:.3g} FLOPs: that would need "
            f"{mfu:.0%} of peak. Check the GPU-hours, tokens or hardware"
        )
    return _Compute(gpu_hours=hours, gpu_hours_source="entered", mfu=mfu,
                    mfu_source="implied by the entered GPU-hours (all-in: goodput 1)", goodput=1.0,
                    gpu_hours_range=None, warnings=_mfu_warnings(mfu))


def _price_step(inp: TrainingInputs, hw: HardwareSpec) -> _Price:
    """The price per accelerator-hour: the resolved instance's (:func:`_resolve_instance`), or
    the entered price, which also overrides an instance's; instances bill whole machines."""
    warnings: list[str] = []
    q = _resolve_instance(inp, hw, warnings)
    entered = inp.price_usd_per_accelerator_h
    if q is None:
        if entered is None:  # pragma: no cover - _resolve_instance returns None only with a price
            raise InvalidInputError("enter a price per accelerator-hour or choose an instance")
        return _Price(quote=None, price_usd_per_accelerator_h=entered, unit_size=1, warnings=tuple(warnings),
                      notes=(f"price entered: ${entered:,.2f} per accelerator-hour",))
    if q.pricing_model == pricing.PricingModel.SPOT:
        warnings.append(pricing.SPOT_INTERRUPTION_NOTE)
    if q.instance.accelerator_count == 1:
        warnings.append(
            f"{q.instance_id} has a single accelerator: a multi-accelerator run spans separate machines over "
            "the provider's network (no NVLink between them), so the MFU assumed may not be reachable"
        )
    if entered is None:
        return _Price(quote=q, price_usd_per_accelerator_h=q.price_usd_per_accelerator_h,
                      unit_size=q.instance.accelerator_count, warnings=tuple(warnings), notes=())
    return _Price(quote=q, price_usd_per_accelerator_h=entered, unit_size=q.instance.accelerator_count,
                  warnings=tuple(warnings), notes=(f"price overridden: ${entered:,.2f} per accelerator-hour",))


def _auto_layout(
    inp: TrainingInputs, hw: HardwareSpec, spec: ModelSpec, hours: float, node: int
) -> tuple[int, int, str]:
    """No count entered: the fewest whole nodes that finish within ``inp.target_days`` and hold
    the model (:func:`_auto_accelerators`, :func:`_min_fit`); returns (n, tp, note)."""
    fit = _min_fit(spec, hw, inp, inp.zero_stage, inp.recompute)
    tp = inp.tp if inp.tp is not None else (fit.tp if fit is not None else 1)
    n = _auto_accelerators(hours, math.lcm(node, tp * inp.pp), inp.target_days, fit.devices if fit else None)
    note = (
        f"{n:,} accelerators chosen: the fewest whole nodes finishing within {inp.target_days:g} days"
        + (f" that also hold the model in memory (at least {fit.devices:,})" if fit else "")
    )
    return n, tp, note


def _entered_layout(inp: TrainingInputs, hw: HardwareSpec, spec: ModelSpec, n: int) -> tuple[int, int]:
    """An entered count ``n``: the entered TP or the smallest that holds the model
    (:func:`_auto_tp`); ``n`` must split into TP x PP groups. Returns (n, tp)."""
    tp = inp.tp if inp.tp is not None else _auto_tp(spec, hw, inp, n)
    group = tp * inp.pp
    if n % group:
        raise InvalidInputError(
            f"{n} accelerators cannot be split into tensor parallel {tp} x pipeline parallel {inp.pp} "
            f"groups; use a multiple of {group}"
        )
    return n, tp


def _layout_step(inp: TrainingInputs, hw: HardwareSpec, spec: ModelSpec, hours: float, price: _Price) -> _Layout:
    """Accelerator count ``n``, tensor parallel degree and wall clock ``days = T / (24 n)``.

    Counts are whole nodes: multiples of ``lcm(instance size, accelerators per node, TP x PP)``.
    """
    notes: list[str] = []
    if inp.n_accelerators is None:
        n, tp, note = _auto_layout(inp, hw, spec, hours, math.lcm(price.unit_size, hw.max_per_node))
        notes.append(note)
    else:
        n, tp = _entered_layout(inp, hw, spec, inp.n_accelerators)
    if inp.tp is None:
        notes.append(
            f"tensor parallel {tp} chosen: "
            + ("the in-node degree at which the fewest accelerators hold the model" if inp.n_accelerators is None
               else f"the smallest in-node degree that holds the model on {n:,} accelerators")
        )
    warnings: list[str] = []
    if tp > hw.max_per_node:
        warnings.append(
            f"tensor parallel {tp} spans more than one {hw.name} node ({hw.max_per_node} per node); "
            "tensor parallelism across nodes is slow"
        )
    days = hours / n / 24.0
    if days > 365:
        warnings.append(f"the run takes {days / 365:,.1f} years on {n:,} accelerators; add accelerators")
    return _Layout(n_accelerators=n, tp=tp, group=tp * inp.pp, wall_clock_days=days, warnings=tuple(warnings),
                   notes=tuple(notes))


def _billing_step(inp: TrainingInputs, hours: float, price: _Price, layout: _Layout) -> _Billing:
    """Dollars: ``ceil(n / k) * 24 days * p_instance`` for instances of ``k`` accelerators, or
    ``T * p_acc`` with an entered per-accelerator price (:func:`estimator.pricing.cost_usd`)."""
    q, n = price.quote, layout.n_accelerators
    if q is None or inp.price_usd_per_accelerator_h is not None:
        n_inst = math.ceil(n / price.unit_size) if q is not None else None
        return _Billing(instances=n_inst, cost_usd=float(pricing.cost_usd(hours, price.price_usd_per_accelerator_h)),
                        warnings=())
    inst: Instance = q.instance
    n_inst = math.ceil(n / inst.accelerator_count)
    cost = float(pricing.cost_usd(n_inst * layout.wall_clock_days * 24.0, q.price_usd_per_h))
    idle = n_inst * inst.accelerator_count - n
    warnings = (
        (f"{n:,} accelerators need {n_inst:,} x {inst.instance_type}; {idle} billed accelerators sit idle",)
        if idle else ()
    )
    return _Billing(instances=n_inst, cost_usd=cost, warnings=warnings)


def _region_warnings(region: Region | None, q: pricing.InstanceQuote | None) -> list[str]:
    """Cautions when the chosen region is not where the priced instance runs."""
    if region is None or q is None:
        return []
    inst = q.instance
    if region.provider != inst.provider:
        return [f"region {region.region_id} belongs to {region.provider}, the instance to {inst.provider}: its grid "
                "intensity and PUE are used as a proxy for where the instance runs"]
    if inst.regions and region.region not in inst.regions:
        return [f"{inst.instance_id} is not listed in {region.region_id}; the price is for "
                f"{inst.price_region or 'its listed region'}"]
    return []


_FootprintKey = tuple[str, float, str | None, float | None, float | None, float, float, bool]
_ContextKey = tuple[int, float, float, float, str, str | None]


@dataclass(slots=True)
class _Shared:
    """Results the plans of one :func:`compare_instances` call share (it prices the same run on
    every instance): one scaling-law context for the model and tokens, and one footprint per
    accelerator, region and accelerator-hours (instances of one accelerator in one region use the
    same hours). Lives for one call; :func:`estimate` uses a fresh one."""

    footprints: dict[_FootprintKey, carbon.Footprint] = field(default_factory=dict)
    contexts: dict[_ContextKey, _ScalingContext] = field(default_factory=dict)


def _energy_step(
    inp: TrainingInputs, hw: HardwareSpec, hours: float, q: pricing.InstanceQuote | None, shared: _Shared
) -> _Energy:
    """Energy and CO2e of ``hours`` accelerator-hours in the chosen region (or the entered grid
    intensity and PUE): :func:`estimator.carbon.footprint`."""
    region = _region(inp)
    warnings = _region_warnings(region, q)
    key = (hw.hardware_id, hours, region.region_id if region is not None else None, inp.grid_gco2e_per_kwh,
           inp.pue, inp.power_utilization, inp.host_overhead_fraction, inp.include_embodied)
    fp = shared.footprints.get(key)
    if fp is None:
        fp = shared.footprints[key] = carbon.footprint(
            hw, hours, region=region, grid_gco2e_per_kwh=inp.grid_gco2e_per_kwh, pue=inp.pue,
            utilization=inp.power_utilization, host_overhead_fraction=inp.host_overhead_fraction,
            include_embodied=inp.include_embodied,
        )
    if fp.embodied_assumed:
        warnings.append(
            f"{hw.name} has no published embodied-carbon figure; the A100's 150 kgCO2e (Luccioni et al. 2022) "
            "stands in, likely an underestimate"
        )
    return _Energy(region=region, footprint=fp, warnings=tuple(warnings))


def _scaling_step(approach: int, work: _Workload, shared: _Shared) -> _ScalingContext:
    """The scaling-law context of ``work`` (:func:`_scaling_context`), once per comparison."""
    key = (approach, work.spec.params_total, work.tokens, work.flops, work.loss_fit, work.approach_fit)
    context = shared.contexts.get(key)
    if context is None:
        context = shared.contexts[key] = _scaling_context(*key)
    return context


def _scaling_context(
    approach: int, n_total: float, tokens: float, flops: float, loss_fit: str, approach_fit: str | None
) -> _ScalingContext:
    """Chinchilla context: ``L(N, D) = E + A/N^alpha + B/D^beta`` (Hoffmann et al. 2022 eq. 2),
    the compute-optimal ``(N_opt, D_opt)`` for the same ``C`` and ``D / (20 N)``, with a caution
    when the run is undertrained (ratio below 1)."""
    loss = float(scaling.chinchilla_loss(n_total, tokens, fit=loss_fit))
    opt_n, opt_d = scaling.chinchilla_optimal(flops, approach, approach_fit)
    ratio = float(scaling.undertrained_ratio(n_total, tokens))
    warnings: tuple[str, ...] = ()
    if ratio < 1:
        warnings = (
            f"undertrained by the Chinchilla heuristic: {tokens / n_total:,.1f} tokens per parameter, below ~20 "
            f"(Hoffmann et al. 2022). The same {flops:.3g} FLOPs would train a {float(opt_n) / 1e9:,.3g}B model "
            f"on {float(opt_d) / 1e12:,.3g}T tokens (approach {approach}) to a lower loss",
        )
    return _ScalingContext(loss=loss, optimal_params=float(opt_n), optimal_tokens=float(opt_d),
                           undertrained_ratio=ratio, warnings=warnings)


def _memory_notes(mem: MemoryCheck) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(warnings, notes) of the memory check."""
    warnings = () if mem.fits else (f"does not fit in memory: {mem.message}. {mem.suggestion}",)
    notes = ("layer shapes for the memory check are synthesized from the parameter count",) if mem.shape_assumed \
        else ()
    return warnings, notes


def _assemble_plan(
    inp: TrainingInputs, acc: _Accelerator, work: _Workload, compute: _Compute, price: _Price, layout: _Layout,
    billing: _Billing, energy: _Energy, context: _ScalingContext, mem: MemoryCheck,
) -> TrainingPlan:
    """The :class:`TrainingPlan` of the steps' results; cautions and notes in step order."""
    mem_warnings, mem_notes = _memory_notes(mem)
    warnings = (work.warnings + compute.warnings + price.warnings + layout.warnings + billing.warnings
                + energy.warnings + context.warnings + mem_warnings)
    fp, hw, q, spec = energy.footprint, acc.hw, price.quote, work.spec
    notes = (acc.notes + work.notes + price.notes + layout.notes + mem_notes + tuple(fp.assumptions)
             + (f"peak {acc.peak_flops_per_s / 1e12:,.1f} TFLOP/s dense {acc.dtype} per {hw.name}",))
    return TrainingPlan(
        model_name=spec.name, model_id=inp.model_id, params=spec.params_total, params_active=spec.params_active,
        tokens=work.tokens, tokens_per_param=work.tokens / spec.params_total, flops=work.flops,
        attention_flops=work.attention_flops, goodput=compute.goodput,
        gpu_hours_low=compute.gpu_hours_range[0] if compute.gpu_hours_range else None,
        gpu_hours_high=compute.gpu_hours_range[1] if compute.gpu_hours_range else None,
        hardware_id=hw.hardware_id, hardware_name=hw.name, compute_dtype=acc.dtype,
        peak_flops_per_s=acc.peak_flops_per_s, mfu=compute.mfu, mfu_source=compute.mfu_source,
        gpu_hours=compute.gpu_hours, gpu_hours_source=compute.gpu_hours_source,
        n_accelerators=layout.n_accelerators, dp=layout.n_accelerators // layout.group, tp=layout.tp, pp=inp.pp,
        zero_stage=inp.zero_stage, wall_clock_days=layout.wall_clock_days,
        instance_id=q.instance_id if q is not None else None,
        pricing_model=q.pricing_model if q is not None else None, instances=billing.instances,
        price_usd_per_accelerator_h=price.price_usd_per_accelerator_h, cost_usd=billing.cost_usd,
        region_id=energy.region.region_id if energy.region is not None else None,
        grid_gco2e_per_kwh=fp.grid_gco2e_per_kwh, pue=fp.pue, power_per_accelerator_w=fp.power_per_accelerator_w,
        energy_kwh=fp.energy_kwh, operational_co2e_kg=fp.operational_co2e_kg,
        embodied_co2e_kg=fp.embodied_co2e_kg, co2e_kg=fp.co2e_kg, chinchilla_loss=context.loss,
        loss_fit=work.loss_fit, approach=inp.approach, optimal_params=context.optimal_params,
        optimal_tokens=context.optimal_tokens, undertrained_ratio=context.undertrained_ratio, memory=mem,
        warnings=warnings, assumptions=notes,
    )


def estimate(inputs: TrainingInputs | None = None, *, memory_detail: bool = True, **kwargs: Any) -> TrainingPlan:
    """Plan one training run: FLOPs, GPU-hours, days, cost, energy, CO2e, memory fit.

    Pass a :class:`TrainingInputs` or its fields as keyword arguments. Raises
    ``InvalidInputError`` / ``UnknownIdError`` with a message a person can act on; nothing is
    computed from invalid input. ``memory_detail=False`` skips the search for the fewest
    accelerators that hold the model (the cross-instance comparison does not show it).

    Notes
    -----
    ``C = 6 N D``; ``T = C / (F_peak MFU 3600)`` (or the entered GPU-hours, reporting the MFU
    they imply); ``days = T / (24 n)``; ``cost = ceil(n/k) (T/n) p`` for instances of ``k``
    accelerators at ``p`` USD/h; energy and CO2e from :func:`estimator.carbon.footprint`.
    One named step each, in this order (the first that refuses the input raises):
    accelerator -> workload (model, tokens, FLOPs) -> compute (GPU-hours, MFU) -> price ->
    layout (count, TP, days) -> billing -> energy and carbon -> scaling-law context -> memory.
    """
    return _plan(_checked_inputs(inputs, kwargs), memory_detail, _Shared())


def _plan(inp: TrainingInputs, memory_detail: bool, shared: _Shared) -> TrainingPlan:
    """The steps of :func:`estimate`."""
    acc = _accelerator_step(inp)
    eff = _efficiency_step(inp, acc.hw)
    work = _workload_step(inp, acc, eff)
    compute = _compute_step(inp, acc, work, eff)
    price = _price_step(inp, acc.hw)
    layout = _layout_step(inp, acc.hw, work.spec, compute.gpu_hours, price)
    billing = _billing_step(inp, compute.gpu_hours, price, layout)
    energy = _energy_step(inp, acc.hw, compute.gpu_hours, price.quote, shared)
    context = _scaling_step(inp.approach, work, shared)
    mem = _memory_check(work.spec, acc.hw, inp, layout.n_accelerators, layout.tp, memory_detail)
    return _assemble_plan(inp, acc, work, compute, price, layout, billing, energy, context, mem)


# ---------------------------------------------------------------------------
# Budget -> plan
# ---------------------------------------------------------------------------


def _budget_value(name: str, value: float, upper: float, unit: str) -> float:
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if v <= 0:
        raise InvalidInputError(f"{name} must be greater than zero, got {v:g}")
    if v > upper:
        raise InvalidInputError(f"{name} = {v:.3g} exceeds the supported maximum of {upper:.0e} {unit}")
    return v


def _budget_to_flops(
    probe: TrainingInputs, hw: HardwareSpec, peak: float, budget_usd: float | None, budget_gpu_hours: float | None
) -> float:
    """FLOPs a dollar or GPU-hour budget buys on ``hw`` at dense peak ``peak``: ``T = B / p_acc``
    (the entered price, else the resolved instance's), ``C = T * 3600 * F_peak * MFU * goodput``
    (entered or fitted, :func:`_efficiency_step`); refused beyond the supported maximum."""
    if budget_usd is not None:
        usd = _budget_value("dollar budget", budget_usd, MAX_USD, "USD")
        q = _resolve_instance(probe, hw)
        price = probe.price_usd_per_accelerator_h or (q.price_usd_per_accelerator_h if q else None)
        if price is None:  # pragma: no cover - _resolve_instance returns None only with an entered price
            raise InvalidInputError("enter a price per accelerator-hour or choose an instance")
        hours = usd / price
    elif budget_gpu_hours is not None:
        hours = _budget_value("GPU-hour budget", budget_gpu_hours, _MAX_HOURS, "GPU-hours")
    else:  # pragma: no cover - budget_to_plan checks that one budget is given
        raise InvalidInputError("give a dollar or GPU-hour budget")
    eff = _efficiency_step(probe, hw)
    flops = _six_nd_share(hours * 3600.0 * peak * eff.mfu * eff.goodput, probe)
    if flops > scaling.MAX_COMPUTE_FLOPS:
        raise InvalidInputError(
            f"the budget buys {flops:.3g} FLOPs, beyond the supported maximum of {scaling.MAX_COMPUTE_FLOPS:.0e}"
        )
    return flops


def _six_nd_share(train_flops: float, probe: TrainingInputs) -> float:
    """The Chinchilla compute ``C = 6ND`` whose compute-optimal model executes ``train_flops`` once the
    attention term is added: the fixed point of ``C = C_train 6N(C) / (6N(C) + 12 L s d_attn)``,
    ``N(C)`` from :func:`estimator.scaling.chinchilla_optimal` (the ratio moves by well under 1 % per
    step, so a few steps converge)."""
    if not probe.attention:
        return train_flops
    fit = probe.fit if probe.approach == 3 else None
    c = train_flops
    for _ in range(6):
        n_opt, _ = scaling.chinchilla_optimal(c, probe.approach, fit)
        spec = synthetic_model_spec(float(n_opt))
        c = train_flops * 6.0 * spec.params_active / train_flops_per_token(spec, probe.seq_len)
    return c


def budget_to_plan(
    *,
    budget_usd: float | None = None,
    budget_flops: float | None = None,
    budget_gpu_hours: float | None = None,
    hardware_id: str = "h100-sxm",
    instance_id: str | None = None,
    pricing_model: pricing.PricingModel | str = pricing.PricingModel.ON_DEMAND,
    region_id: str | None = "aws:us-east-1",
    mfu: float | None = None,
    approach: int = 1,
    fit: str | None = None,
    n_accelerators: int | None = None,
    **kwargs: Any,
) -> TrainingPlan:
    """"I have $2M and H100s in us-east-1": the compute-optimal model, tokens, days, cost, CO2e.

    Exactly one budget: dollars, FLOPs or GPU-hours. Dollars become accelerator-hours at the
    instance's per-accelerator price (cheapest catalog instance with ``hardware_id`` unless
    ``instance_id`` is given), accelerator-hours become FLOPs at ``mfu`` of the dense peak, and
    FLOPs become (N, D) by Chinchilla ``approach`` (Hoffmann et al. 2022). Other keyword
    arguments go to :class:`TrainingInputs` (parallelism, region overrides, ...).

    Notes
    -----
    ``T = B / p_acc``; ``C_train = T * 3600 * F_peak * MFU * goodput = (6N + 12 L s d_attn) D``;
    ``N = k C^a``, ``D = C / (6N)`` with ``C`` the 6ND share of ``C_train`` (a FLOP budget is that ``C``). ``mfu=None``: fitted for the accelerator (:func:`fitted_efficiency`).
    """
    given = {k: v for k, v in (("budget_usd", budget_usd), ("budget_flops", budget_flops),
                               ("budget_gpu_hours", budget_gpu_hours)) if v is not None}
    if len(given) != 1:
        raise InvalidInputError(
            "give exactly one budget: dollars (budget_usd), FLOPs (budget_flops) or GPU-hours (budget_gpu_hours)"
            + (f"; got {', '.join(given)}" if given else "")
        )
    probe = TrainingInputs.build(
        compute_budget_flops=1e20, hardware_id=hardware_id, instance_id=instance_id, pricing_model=pricing_model,
        region_id=region_id, mfu=mfu, approach=approach, fit=fit, n_accelerators=n_accelerators, **kwargs,
    )
    hw = catalog.get_hardware(probe.hardware_id)
    peak, _ = _peak(hw, probe.compute_dtype, [])
    if budget_flops is not None:
        flops = _budget_value("FLOP budget", budget_flops, scaling.MAX_COMPUTE_FLOPS, "FLOPs")
    else:
        flops = _budget_to_flops(probe, hw, peak, budget_usd, budget_gpu_hours)
    return estimate(probe.model_copy(update={"compute_budget_flops": flops}))


# ---------------------------------------------------------------------------
# Across hardware and clouds
# ---------------------------------------------------------------------------


_COMPARISON_COLUMNS: tuple[str, ...] = (
    "instance", "hardware", "accelerators", "days", "cost (USD)", "tCO2e", "energy (MWh)", "fits", "multi-node",
    "GPU-hours",
    "USD per accelerator-hour", "region", "grid gCO2e/kWh", "provider", "pricing", "note",
)
"""Column order of :func:`compare_instances`."""


def _comparison_region(inputs: TrainingInputs, chosen: Region | None, inst: Instance) -> tuple[str | None, str]:
    """(region id, note) a compared instance is costed in: the chosen region when the provider
    matches (or none was chosen), else the provider's price region when the catalog has it, else
    the chosen one as a proxy. A probe, not user input: a miss is a fallback, not an error."""
    if chosen is None or chosen.provider == inst.provider:
        return inputs.region_id, ""
    candidate = f"{inst.provider}:{inst.price_region}"
    if catalog.find_region(candidate) is not None:
        return candidate, ""
    return inputs.region_id, f"no {inst.provider} region data; {inputs.region_id} used as proxy"


def _comparison_figures(
    plan: TrainingPlan, inputs: TrainingInputs, inst: Instance, pm: pricing.PricingModel, n: int, region_id: str | None,
    region_note: str, shared: _Shared,
) -> dict[str, Any]:
    """One row's figures: :func:`estimate` of the same model, tokens, MFU and TP on ``n`` of
    ``inst``'s accelerators (no search for the fewest that hold it); an input error becomes the
    row's note."""
    try:
        p = _plan(
            inputs.model_copy(update={
                "model_id": plan.model_id, "params": None if plan.model_id else plan.params,
                "compute_budget_flops": None,
                "tokens": plan.tokens, "known_gpu_hours": None, "hardware_id": inst.hardware_id,
                "instance_id": inst.instance_id, "pricing_model": pm, "n_accelerators": n,
                "region_id": region_id, "mfu": plan.mfu, "price_usd_per_accelerator_h": None,
                "tp": plan.tp,
            }),
            False,
            shared,
        )
    except EstimatorError as exc:
        return {"note": str(exc)}
    notes = (
        region_note,
        "spot: interruptible" if pm == pricing.PricingModel.SPOT else "",
        "1-accelerator instances: no NVLink between machines" if inst.accelerator_count == 1 and n > 1 else "",
    )
    return {
        "GPU-hours": p.gpu_hours, "days": p.wall_clock_days, "cost (USD)": p.cost_usd,
        "USD per accelerator-hour": p.price_usd_per_accelerator_h, "energy (MWh)": p.energy_kwh / 1000.0,
        "tCO2e": p.co2e_kg / 1000.0, "grid gCO2e/kWh": p.grid_gco2e_per_kwh, "fits": p.memory.fits,
        "note": "; ".join(x for x in notes if x),
    }


def compare_instances(
    plan: TrainingPlan,
    inputs: TrainingInputs,
    *,
    pricing_model: pricing.PricingModel | str | None = None,
    hardware_ids: list[str] | None = None,
) -> pd.DataFrame:
    """The same run (same model, tokens, MFU, layout) on every catalog instance with a price.

    Each row keeps ``plan.n_accelerators`` rounded up to whole instances (and whole TP x PP
    groups). The region is the chosen one where the provider matches, else the provider's price
    region when the catalog has it, else the chosen region as a proxy (column ``region``, and a
    ``note``). Columns: instance, provider, hardware, accelerators, GPU-hours, days, cost (USD),
    energy (MWh), tCO2e, fits, note. Sorted by cost.
    """
    pm = pricing.PricingModel(pricing_model or inputs.pricing_model)
    chosen_region = _region(inputs)
    shared = _Shared()
    rows: list[dict[str, Any]] = []
    for q in pricing.quotes(pricing_model=pm):
        inst = q.instance
        if hardware_ids is not None and inst.hardware_id not in hardware_ids:
            continue
        hw = catalog.get_hardware(inst.hardware_id)
        if hw.kind == HardwareKind.CPU or hw.hardware_id in INFERENCE_ONLY_HARDWARE:
            continue
        region_id, region_note = _comparison_region(inputs, chosen_region, inst)
        unit = math.lcm(inst.accelerator_count, plan.tp * plan.pp)
        n = unit * math.ceil(plan.n_accelerators / unit)
        figures = _comparison_figures(plan, inputs, inst, pm, n, region_id, region_note, shared)
        suitable, why = _multi_node_ready(inst, hw, n)
        if why:
            figures["note"] = "; ".join(x for x in (why, figures.get("note", "")) if x)
        rows.append({"instance": inst.instance_id, "provider": inst.provider, "hardware": hw.name,
                     "pricing": pm.value, "region": region_id, "accelerators": n, "multi-node": suitable,
                     **figures})
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in _COMPARISON_COLUMNS if c in frame.columns]]
    if not frame.empty and "cost (USD)" in frame:
        # runs that cannot span nodes go last, however cheap their hourly price
        frame = frame.sort_values(["multi-node", "cost (USD)"], ascending=[False, True],
                                  na_position="last").reset_index(drop=True)
    return frame


def _multi_node_ready(inst: Instance, hw: HardwareSpec, accelerators: int) -> tuple[bool, str]:
    """Whether a run on ``accelerators`` devices can use ``inst``: one instance always can; a run over
    several needs whole nodes (all ``hw.max_per_node`` devices sharing the node's NVLink/Infinity
    Fabric), since data-parallel gradient all-reduce and tensor/pipeline traffic between nodes
    otherwise go over a partial node's ordinary network. Partial-node instances (a single GPU of
    a community pod, a 4-GPU slice) suit single-instance runs only (Narayanan et al. 2021,
    "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", sec. 3:
    tensor parallelism within a node, data/pipeline parallelism across nodes over InfiniBand)."""
    if accelerators <= inst.accelerator_count:
        return True, ""
    if inst.accelerator_count < hw.max_per_node:
        return False, (f"needs {math.ceil(accelerators / inst.accelerator_count):,} instances, but each holds "
                       f"{inst.accelerator_count} of a node's {hw.max_per_node} {hw.name}: multi-node training "
                       "needs whole nodes with a cluster interconnect")
    return True, ""


# ------------------------------------------------------------------ from a Scenario

APPROACH_CHOICES: dict[str, tuple[int, str | None, str]] = {
    "approach-1": (1, None, "Chinchilla approach 1 (minimum over training curves)"),
    "approach-2": (2, None, "Chinchilla approach 2 (IsoFLOP profiles)"),
    "approach-3": (3, "hoffmann2022", "Chinchilla approach 3 (parametric loss, published constants)"),
    "epoch-refit": (3, "epoch2024", "Chinchilla approach 3 with the Epoch 2024 refit (Besiroglu et al.)"),
}
"""Scenario ``train.approach`` -> (Chinchilla approach, loss fit, label)."""


def scenario_kwargs(scenario: Any) -> dict[str, Any]:
    """The keyword arguments ``estimate``/``budget_to_plan`` take, read from a ``Scenario``."""
    t, d, a, mem = scenario.train, scenario.deploy, scenario.assumptions, scenario.memory
    return dict(
        hardware_id=d.hardware_id,
        instance_id=d.instance_id or None,
        pricing_model=d.pricing.value,
        region_id=f"{d.provider}:{d.region}",
        mfu=None if t.mfu is None else float(t.mfu),
        n_accelerators=int(t.accelerators) or None,
        tp=int(d.tp) or None,
        pp=int(t.pp),
        zero_stage=int(mem.zero_stage),
        recompute=mem.recompute,
        seq_len=int(mem.seq_len),
        micro_batch=int(mem.micro_batch),
        target_days=float(t.target_days),
        power_utilization=float(t.power_utilization),
        host_overhead_fraction=(
            carbon.HOST_OVERHEAD_FRACTION if a.host_overhead_fraction is None else float(a.host_overhead_fraction)
        ),
        include_embodied=bool(t.include_embodied),
        grid_gco2e_per_kwh=a.grid_gco2e_per_kwh,
        pue=a.pue,
    )


def plan_for_scenario(scenario: Any) -> TrainingPlan:
    """The training plan the Training budget page shows for ``scenario`` (``estimator.scenario``).

    ``train.start == "budget"``: the compute-optimal model for the budget (``budget_to_plan``);
    ``"model"``: the cost of training the catalog or custom model on ``tokens_b`` billion tokens.
    """
    t = scenario.train
    common = scenario_kwargs(scenario)
    if t.start == "budget":
        approach, fit, _ = APPROACH_CHOICES[t.approach]
        budget = {"usd": {"budget_usd": t.budget_usd}, "gpu-hours": {"budget_gpu_hours": t.budget_gpu_hours},
                  "flops": {"budget_flops": t.budget_flops}}[t.budget_unit]
        return budget_to_plan(**budget, approach=approach, fit=fit, **common)
    model_kwargs: dict[str, Any] = {"tokens": t.tokens_b * 1e9}
    if t.model_source == "catalog":
        model_kwargs["model_id"] = scenario.model.model_id
    else:
        model_kwargs["params"] = t.params_b * 1e9
    if t.known_gpu_hours:
        model_kwargs["known_gpu_hours"] = t.known_gpu_hours
    return estimate(**model_kwargs, **common)
