"""The ``Scenario``: every input of every page in one versioned pydantic model.

One ``Scenario`` in, one report out. The same object backs the page state, the page link (URL
query parameters), saved scenarios, CSV/JSON export and the CLI, so they cannot disagree.

URL encoding is compact: each leaf field has a short query key (``QUERY_KEYS``) and only values
that differ from the defaults are written. Decoding is forgiving: a bad or unknown parameter is
dropped, the default applies, and the caller gets the list of what was ignored to show the user.
Links written by older schema versions are upgraded by ``MIGRATIONS``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from estimator import imported
from estimator.engines import Engine
from estimator.errors import InvalidInputError
from estimator.specs import ModelSpec
from estimator.units import DType

__all__ = [
    "SCHEMA_VERSION",
    "TrafficPattern",
    "InferenceMode",
    "Pricing",
    "Volume",
    "VOLUME_LABELS",
    "MODE_LABELS",
    "PRICING_LABELS",
    "ENGINE_LABELS",
    "BUDGET_UNIT_LABELS",
    "APPROACH_LABELS",
    "LABELLED_KEYS",
    "option_label",
    "option_id",
    "ModelChoice",
    "Deployment",
    "Traffic",
    "TokenLengths",
    "SLO",
    "Autoscaling",
    "Assumptions",
    "MemoryInputs",
    "TrainingBudget",
    "PerformanceInputs",
    "EngineInputs",
    "VariantsInputs",
    "LifetimeInputs",
    "MoEInputs",
    "KvTierInputs",
    "LoraInputs",
    "TcoInputs",
    "RecommendInputs",
    "Serving",
    "Scenario",
    "QUERY_KEYS",
    "LIST_KEYS",
    "to_query_params",
    "from_query_params",
    "MIGRATIONS",
    "encode_value",
    "widget_value",
    "validate_scenario",
]

SCHEMA_VERSION: int = 2
"""Current schema version. v1 links (long parameter names, before compact keys) are migrated."""

MAX_QUERY_VALUE_CHARS = 2000
MAX_PROFILE_CHARS = 168 * 26
"""A weekly profile: 168 numbers at full double precision (up to 24 characters each) and commas."""
MAX_QUERY_PARAMS = 200


class TrafficPattern(StrEnum):
    STEADY = "steady"
    DIURNAL = "diurnal"
    BUSINESS_HOURS = "business_hours"
    BURSTY = "bursty"
    CUSTOM = "custom"


class InferenceMode(StrEnum):
    AUTO = "auto"
    REALTIME = "realtime"
    SERVERLESS = "serverless"
    ASYNC = "async"
    BATCH = "batch"


class Pricing(StrEnum):
    ON_DEMAND = "on_demand"
    SPOT = "spot"
    COMMITTED_1Y = "committed_1y"
    COMMITTED_3Y = "committed_3y"


class Volume(StrEnum):
    REQUESTS_PER_DAY = "requests_per_day"
    PEAK_RPS = "peak_rps"


VOLUME_LABELS: dict[Volume, str] = {
    Volume.REQUESTS_PER_DAY: "Requests per day",
    Volume.PEAK_RPS: "Peak requests/s",
}
MODE_LABELS: dict[InferenceMode, str] = {
    InferenceMode.AUTO: "Auto: cheapest meeting SLO",
    InferenceMode.REALTIME: "Real-time endpoint",
    InferenceMode.SERVERLESS: "Serverless inference",
    InferenceMode.ASYNC: "Asynchronous inference",
    InferenceMode.BATCH: "Batch transform",
}
"""The modes' names as the plan's headline writes them (``estimator.modes.MODE_NAMES``, which cannot be imported
here: it imports this module; ``tests/test_scenario_labels.py`` keeps the two equal)."""
PRICING_LABELS: dict[Pricing, str] = {
    Pricing.ON_DEMAND: "On-demand",
    Pricing.SPOT: "Spot / preemptible",
    Pricing.COMMITTED_1Y: "1-year commitment",
    Pricing.COMMITTED_3Y: "3-year commitment",
}
"""As the plan's pricing table and messages write them (``estimator.pricing.PRICING_LABELS``, kept equal by
``tests/test_scenario_labels.py``; that module loads the catalog, which this one must not)."""

ENGINE_LABELS: dict[Engine, str] = {
    Engine.VLLM: "vLLM",
    Engine.SGLANG: "SGLang",
    Engine.TRTLLM: "TensorRT-LLM",
}
"""The serving engines as their projects write their names."""

BUDGET_UNIT_LABELS: dict[str, str] = {"usd": "US dollars", "gpu-hours": "GPU-hours", "flops": "FLOPs"}
"""The training budget's units (``train.budget_unit``)."""
APPROACH_LABELS: dict[str, str] = {
    "approach-1": "Approach 1: curves",
    "approach-2": "Approach 2: IsoFLOP",
    "approach-3": "Approach 3: Hoffmann",
    "epoch-refit": "Approach 3: Epoch refit",
}
"""Short names of the Chinchilla approaches (``train.approach``; Hoffmann et al. 2022 approaches 1-3, the Epoch
2024 refit of approach 3; the training page's caption gives each in full, ``estimator.training.APPROACH_CHOICES``)."""

LABELLED_KEYS: dict[str, dict[Any, str]] = {"vol": VOLUME_LABELS, "mode": MODE_LABELS, "price": PRICING_LABELS,
                                             "rpm": PRICING_LABELS, "eng": ENGINE_LABELS, "bu": BUDGET_UNIT_LABELS,
                                             "ap": APPROACH_LABELS}
"""Link keys whose page widgets show a label for each option id (``format_func=option_label``): a bound
Streamlit select writes that label to the link and drops a value that is not one, so links carry the label
(:func:`to_query_params`); :func:`from_query_params` reads the label or the id (links made before)."""

_LABEL_TO_ID: dict[str, dict[str, str]] = {
    key: {text.casefold(): str(option) for option, label in labels.items() for text in (str(option), label)}
    for key, labels in LABELLED_KEYS.items()
}


def option_label(key: str, value: str) -> str:
    """The label a page shows for option id (or label) ``value`` of link key ``key``; ``value`` itself when the
    key has no labels or the value names no option.

    >>> option_label("vol", "peak_rps"), option_label("price", "spot"), option_label("m", "llama-2-7b")
    ('Peak requests/s', 'Spot / preemptible', 'llama-2-7b')
    """
    labels = LABELLED_KEYS.get(key)
    option = _LABEL_TO_ID.get(key, {}).get(str(value).strip().casefold())
    return labels[option] if labels is not None and option is not None else value  # StrEnum keys: by value


def option_id(key: str, text: str) -> str:
    """The option id a link value names for link key ``key``: the id or its label, in any case, spaces around
    ignored; any other text unchanged (the schema then refuses it).

    >>> option_id("price", "Spot / preemptible"), option_id("price", "spot"), option_id("mode", "batch TRANSFORM")
    ('spot', 'spot', 'batch')
    """
    return _LABEL_TO_ID.get(key, {}).get(str(text).strip().casefold(), text)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class ModelChoice(_Section):
    """The model and its formats. ``custom`` carries an imported model (a Hugging Face config.json or
    a derived shape) inside the scenario; it applies while ``model_id`` names it (its content id,
    :mod:`estimator.imported`), and is dropped when the user picks a catalog model."""

    model_id: str = Field(default="llama-3.1-70b", min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    weight_dtype: DType = DType.BF16
    kv_dtype: DType = DType.BF16
    custom: ModelSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _canonical_custom(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("custom") is None:
            return data
        try:
            spec = imported.canonical(data["custom"])
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        out = dict(data)
        out["custom"] = spec if out.get("model_id") == spec.model_id else None
        return out

    @model_validator(mode="after")
    def _register_custom(self) -> ModelChoice:
        if self.custom is None and imported.is_imported_id(self.model_id):
            raise ValueError(f"{self.model_id} is an imported model; its architecture must travel with it")
        if self.custom is not None:
            from estimator import catalog  # late: the catalog loads data/ into DuckDB

            catalog.register_model(self.custom)
        return self


class Deployment(_Section):
    hardware_id: str = Field(default="h100-sxm", min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    tp: int = Field(default=0, ge=0, le=64, description="0 = auto: the planner compares the degrees that fit and keeps the cheapest")
    provider: str = Field(default="aws", min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")
    instance_id: str = Field(default="", max_length=120, description="'' = cheapest instance with the hardware")
    region: str = Field(default="us-east-1", min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
    pricing: Pricing = Pricing.ON_DEMAND
    mode: InferenceMode = InferenceMode.AUTO


_TOKEN_LIMITS = {"input_p95": 2_000_000, "output_p95": 200_000}


class TokenLengths(_Section):
    """Token length distributions (mean and p95) per request."""

    input_mean: int = Field(default=1000, gt=0, le=2_000_000)
    input_p95: int = Field(default=3000, gt=0, le=2_000_000)
    output_mean: int = Field(default=250, gt=0, le=200_000)
    output_p95: int = Field(default=800, gt=0, le=200_000)

    @model_validator(mode="before")
    @classmethod
    def _p95_follows_a_lone_mean(cls, data: Any) -> Any:
        """A mean given without its p95 (a link ``?in=4000``, a page without a p95 input) takes the
        p95 at the defaults' p95/mean ratio, never below the default p95, so the two stay consistent
        instead of the mean being refused."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for mean, p95 in (("input_mean", "input_p95"), ("output_mean", "output_p95")):
            if out.get(mean) is not None and out.get(p95) is None:
                fields = cls.model_fields
                d_mean, d_p95 = fields[mean].default, fields[p95].default
                with contextlib.suppress(TypeError, ValueError, OverflowError):
                    scaled = math.ceil(float(out[mean]) * d_p95 / d_mean)
                    out[p95] = min(max(d_p95, scaled), _TOKEN_LIMITS[p95])
        return out

    @model_validator(mode="after")
    def _p95_at_least_mean(self) -> TokenLengths:
        if self.input_p95 < self.input_mean:
            raise ValueError("input p95 must be at least the input mean")
        if self.output_p95 < self.output_mean:
            raise ValueError("output p95 must be at least the output mean")
        return self


class Traffic(_Section):
    pattern: TrafficPattern = TrafficPattern.DIURNAL
    volume: Volume = Volume.REQUESTS_PER_DAY
    requests_per_day: float = Field(default=2_000_000, gt=0, le=1e12)
    peak_rps: float = Field(default=50.0, gt=0, le=1e7)
    peak_to_trough: float = Field(default=3.0, ge=1.0, le=1000.0)
    peak_hour: int = Field(default=14, ge=0, le=23)
    weekend_factor: float = Field(default=0.3, ge=0.0, le=1.0)
    business_start_hour: int = Field(default=9, ge=0, le=23)
    business_end_hour: int = Field(default=18, ge=1, le=24)
    burst_height: float = Field(default=4.0, ge=1.0, le=1000.0)
    bursts_per_day: float = Field(default=2.0, ge=0.0, le=96.0)
    burst_minutes: float = Field(default=20.0, gt=0.0, le=1440.0)
    custom_profile: tuple[float, ...] = Field(default=(), max_length=168)
    monthly_growth: float = Field(default=0.0, ge=-0.99, le=10.0)
    response_cache_hit_rate: float = Field(default=0.0, ge=0.0, lt=1.0)
    prefix_cache_hit_rate: float = Field(default=0.0, ge=0.0, lt=1.0)

    @field_validator("custom_profile")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if v and len(v) != 168:
            raise ValueError(f"a custom profile needs 168 hourly values (one week), got {len(v)}")
        if any(not math.isfinite(x) or x < 0 for x in v):
            raise ValueError("custom profile values must be finite and non-negative")
        if v and max(v) <= 0:
            raise ValueError("a custom profile needs at least one hour with traffic")
        # Only the shape matters (volume is set separately): store it relative to the peak hour,
        # rounded to 4 decimals, so the link that carries it is short and exact.
        peak = max(v) if v else 1.0
        return tuple(round(x / peak, 4) for x in v)

    @model_validator(mode="after")
    def _consistent(self) -> Traffic:
        if self.pattern == TrafficPattern.CUSTOM and not self.custom_profile:
            raise ValueError("the custom pattern needs a 168-hour profile")
        if self.business_end_hour <= self.business_start_hour:
            raise ValueError("business hours must end after they start")
        return self


class SLO(_Section):
    ttft_p95_s: float = Field(default=1.0, gt=0, le=3600)
    e2e_p95_s: float = Field(default=30.0, gt=0, le=86_400)


class Autoscaling(_Section):
    min_replicas: int = Field(default=1, ge=0, le=10_000)
    max_replicas: int = Field(default=64, ge=1, le=10_000)
    target_utilization: float = Field(default=0.7, gt=0.05, le=1.0)
    scale_up_delay_s: float = Field(default=60.0, ge=0, le=3600)
    cold_start_s: float = Field(default=300.0, ge=0, le=7200)
    scale_to_zero: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_replicas < max(self.min_replicas, 1):
            raise ValueError("max replicas must be at least min replicas")
        return self


class Assumptions(_Section):
    """Overridable assumptions; ``None`` means the estimator's published/fitted default."""

    memory_utilization: float | None = Field(
        default=None, ge=0.3, le=1.0,
        description="the engine's memory fraction (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static, "
                    "TensorRT-LLM free_gpu_memory_fraction); None = the engine's default")
    runtime_overhead_gb: float = Field(default=1.5, ge=0.0, le=40.0)
    compute_efficiency: float | None = Field(default=None, ge=0.01, le=1.0)
    memory_efficiency: float | None = Field(default=None, ge=0.01, le=1.0)
    host_overhead_fraction: float | None = Field(default=None, ge=0.0, le=3.0)
    pue: float | None = Field(default=None, ge=1.0, le=3.0)
    grid_gco2e_per_kwh: float | None = Field(default=None, ge=0.0, le=2000.0)


class MemoryInputs(_Section):
    """Inputs only the Model & memory page uses (serving and training memory)."""

    context_tokens: int = Field(default=4096, ge=1, le=10_000_000)
    batch: int = Field(default=1, ge=1, le=65_536)
    optimizer: str = Field(default="adamw", pattern=r"^(adamw|adamw_8bit|sgd_momentum|adafactor)$")
    zero_stage: int = Field(default=3, ge=0, le=3)
    dp: int = Field(default=8, ge=1, le=65_536)
    seq_len: int = Field(default=4096, ge=1, le=1_000_000)
    micro_batch: int = Field(default=1, ge=1, le=1024)
    recompute: str = Field(default="selective", pattern=r"^(none|selective|full)$")


class TrainingBudget(_Section):
    """Inputs only the Training budget page uses. Budgets accept any finite number here so that
    the estimator, not the link parser, explains why zero or negative budgets are refused."""

    start: str = Field(default="budget", pattern=r"^(budget|model)$")
    budget_unit: str = Field(default="usd", pattern=r"^(usd|gpu-hours|flops)$")
    budget_usd: float = Field(default=2_000_000.0, ge=-1e15, le=1e15)
    budget_gpu_hours: float = Field(default=100_000.0, ge=-1e15, le=1e15)
    budget_flops: float = Field(default=1e23, ge=-1e40, le=1e40)
    approach: str = Field(default="approach-1", pattern=r"^(approach-1|approach-2|approach-3|epoch-refit)$")
    model_source: str = Field(default="catalog", pattern=r"^(catalog|custom)$")
    params_b: float = Field(default=7.0, ge=-1e9, le=1e9, description="custom model size, billions")
    tokens_b: float = Field(default=15_000.0, ge=-1e9, le=1e9, description="training tokens, billions")
    known_gpu_hours: float = Field(default=0.0, ge=0.0, le=1e15)
    mfu: float | None = Field(default=None, ge=0.05, le=1.0,
                              description="None = fitted on published runs for the accelerator (issue #12)")
    accelerators: int = Field(default=0, ge=0, le=1_000_000, description="0 = auto")
    target_days: float = Field(default=30.0, ge=0.1, le=3650.0)
    pp: int = Field(default=1, ge=1, le=128)
    power_utilization: float = Field(default=1.0, ge=0.0, le=1.0)
    include_embodied: bool = True


class EngineInputs(_Section):
    """The serving engine and its settings; ``None`` = the engine's own default for the accelerator
    (``data/engines.csv`` via :func:`estimator.engines.settings`). The memory fraction override is
    ``assumptions.memory_utilization``."""

    name: Engine = Engine.VLLM
    version: str = Field(default="", max_length=20, pattern=r"^[0-9a-z.]*$", description="'' = newest in the catalog")
    max_seqs: int | None = Field(default=None, ge=1, le=65_536)
    kv_block_tokens: int | None = Field(default=None, ge=1, le=1024)
    prefill_chunk_tokens: int | None = Field(default=None, ge=16, le=1_048_576)


class PerformanceInputs(_Section):
    """Inputs only the Latency & throughput page uses. Efficiency factors default to the values fitted
    on published measurements (``estimator.performance``); ``None`` means that fitted default."""

    compare_hardware_id: str = Field(default="h200", min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    low_precision_factor: float | None = Field(default=None, ge=0.01, le=1.0)
    link_efficiency: float | None = Field(default=None, ge=0.01, le=1.0)
    step_overhead_ms: float | None = Field(default=None, ge=0.0, le=100.0)
    prefill_overhead_ms: float | None = Field(default=None, ge=0.0, le=1000.0)
    allreduce_latency_us: float | None = Field(default=None, ge=0.0, le=1000.0)
    tpot_limit_ms: float = Field(default=50.0, ge=0.0, le=10_000.0, description="0 = no limit")


_Id = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
_DTypeName = Annotated[str, Field(pattern="^(" + "|".join(d.value for d in DType) + ")$")]
_Count = Annotated[str, Field(min_length=1, max_length=7, pattern=r"^[1-9][0-9]*$")]
_Pair = Annotated[str, Field(max_length=161, pattern=r"^[a-z0-9][a-z0-9._-]*>[a-z0-9][a-z0-9._-]*$")]


class VariantsInputs(_Section):
    """Inputs only the Compare variants page uses. Multiselects are tuples of option strings, in
    the order chosen (links carry them as repeated parameters, ``?v_models=a&v_models=b``).
    Whether an id is in the catalog is the page's and the estimator's check, not the link's."""

    model_ids: tuple[_Id, ...] = Field(
        default=("llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "llama-3.1-70b", "mistral-7b", "mixtral-8x7b",
                 "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "qwen2.5-72b", "gpt-oss-20b", "gpt-oss-120b"),
        max_length=100,
        description="published models with an MMLU score in data/accuracy.csv (issue 15: the illustrative NLarge "
                    "family, at chance on MMLU, stays selectable)")
    hardware_ids: tuple[_Id, ...] = Field(default=("l4", "a10g", "a100-80gb-sxm", "h100-sxm", "h200"), max_length=100)
    dtypes: tuple[_DTypeName, ...] = Field(default=("bf16", "fp8", "int4"), max_length=16)
    benchmark: str = Field(default="MMLU", min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9 .()-]*$")
    x_axis: str = Field(default="cost_usd_per_1m_tokens", pattern=r"^(cost_usd_per_1m_tokens|cost_usd_per_1k_requests"
                                                                  r"|ttft_s|tpot_s|e2e_s|energy_kwh_per_1m_tokens)$")
    tpot_limit_ms: float = Field(default=0.0, ge=0.0, le=10_000.0, description="0 = no limit")
    prune_ids: tuple[_Id, ...] = Field(default=("llama-3.1-8b",), max_length=100)
    distill_pairs: tuple[_Pair, ...] = Field(default=("llama-3.1-8b>llama-3.2-3b", "llama-3.1-8b>llama-3.2-1b"),
                                             max_length=50, description="teacher>student")
    elastic_parent: str = Field(default="llama-3.1-8b", min_length=1, max_length=80,
                                pattern=r"^[a-z0-9][a-z0-9._-]*$", description="'none' = no elastic family")
    widths: tuple[_Count, ...] = Field(default=("100", "75", "50", "25"), max_length=16,
                                       description="sub-network widths, percent of the parent")
    proxy: bool = True
    tokens_per_param: float = Field(default=20.0, ge=1.0, le=100_000.0)
    pue: float = Field(default=1.0, ge=1.0, le=3.0)
    tps: tuple[_Count, ...] = Field(default=("1", "2", "4", "8"), max_length=16)
    batches: tuple[_Count, ...] = Field(default=("1", "4", "16", "64", "256"), max_length=32)
    elastic_tpot_budget_ms: float = Field(default=20.0, ge=0.1, le=10_000.0)
    elastic_hardware_id: str = Field(default="", max_length=80, pattern=r"^([a-z0-9][a-z0-9._-]*)?$",
                                     description="'' = the first chosen accelerator")
    lc_model_ids: tuple[_Id, ...] = Field(
        default=("led-base", "led-large", "bigbird-large", "bigbird-base", "llama-3.2-1b", "llama-3.1-8b"),
        max_length=100)
    lc_hardware_id: str = Field(default="a100-80gb-sxm", min_length=1, max_length=80,
                                pattern=r"^[a-z0-9][a-z0-9._-]*$")
    lc_dtype: _DTypeName = "bf16"
    lc_output_tokens: int = Field(default=256, ge=1, le=16_384)
    lc_lengths: tuple[_Count, ...] = Field(default=("1024", "2048", "4096", "8192", "16384", "32768"), max_length=32)
    lc_budget_usd_per_1k: float | None = Field(default=None, ge=0.0, le=1e6,
                                               description="None = 1.5 x the cheapest published point")

    @field_validator("model_ids", "hardware_ids", "dtypes", "prune_ids", "distill_pairs", "widths", "tps", "batches",
                     "lc_model_ids", "lc_lengths")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v))  # a multiselect holds each option once, in the order chosen


class LifetimeInputs(_Section):
    """The Training page's lifetime mode (``estimator.lifetime``): size a model for training plus serving.

    Traffic, token mix, SLO and deployment come from the scenario's own sections; the quality to
    match is the Chinchilla-optimal model for the ``train`` budget under the loss fit ``fit``.
    """

    enabled: bool = False
    lifetime_months: float = Field(default=24.0, gt=0.0, le=240.0, description="months the model serves")
    fit: str = Field(default="epoch2024", pattern=r"^(hoffmann2022|hoffmann2022_tex|epoch2024)$")
    objective: str = Field(default="usd", pattern=r"^(usd|flops)$", description="minimise dollars or FLOPs")
    family: str = Field(default="llama3", pattern=r"^(llama3|qwen3)$", description="shape family of derived models")


class Serving(_Section):
    """Serving techniques beyond one colocated replica (issue 14), shared by their helpers.

    Disaggregated prefill/decode (``estimator.disagg``): prefill and decode run in separate pools;
    the decode pool uses ``deploy.hardware_id``, the prefill pool ``prefill_hardware_id`` ('' = the
    same); the KV cache crosses ``kv_link`` ('auto': the accelerator's intra-node link when both
    instances share one node, else the network).

    Speculative decoding (``estimator.speculative``): ``speculative`` picks the drafter ('off',
    'eagle3' head, 'mtp' module, 'draft' model), ``spec_tokens`` the tokens drafted per step, and
    ``acceptance_length`` the mean tokens accepted per target forward (None = the published mean
    for the method and model, ``data/speculative_acceptance.csv``).
    """

    disaggregated: bool = False
    prefill_hardware_id: str = Field(default="", max_length=80, pattern=r"^([a-z0-9][a-z0-9._-]*)?$",
                                     description="'' = the decode pool's accelerator")
    prefill_tp: int = Field(default=0, ge=0, le=64, description="0 = auto (the cheapest that meets the TTFT goal)")
    decode_tp: int = Field(default=0, ge=0, le=64, description="0 = auto (the cheapest that meets the goals)")
    kv_link: str = Field(default="auto", pattern=r"^(auto|nvlink|network|pcie)$")
    speculative: str = Field(default="off", pattern=r"^(off|eagle3|mtp|draft)$")
    spec_tokens: int = Field(default=3, ge=1, le=16, description="tokens drafted per step")
    acceptance_length: float | None = Field(default=None, ge=1.0, le=17.0,
                                            description="None = the published mean for the method and model")


_Cloud = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]
_RegionName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^([a-z0-9-]+:)?[A-Za-z0-9_-]+$")]
_PricingName = Annotated[str, Field(pattern="^(" + "|".join(p.value for p in Pricing) + ")$")]
_Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
RECOMMEND_WEIGHT_FORMATS: tuple[str, ...] = ("bf16", "fp8")
"""Weight formats :func:`estimator.recommend.recommend` searches by default (each where the accelerator runs it):
those whose published accuracy cost is negligible (FP8 W8A8: Llama-3.1-405B OpenLLM v1 78.67 -> 78.69,
data/compression.csv). 4-bit formats (int4, nvfp4, mxfp4) are opt-in ("Limit the search"): their published
retention varies by model and method (NVFP4 round-to-nearest keeps 0.94 of Llama-3.1-8B's score)."""


class RecommendInputs(_Section):
    """Constraints of the recommendation (:mod:`estimator.recommend`): an empty tuple means "any".

    The engine is the scenario's own (``engine.name``); ``pricing`` empty means the scenario's
    pricing model (``deploy.pricing``); ``countries`` (ISO 3166 alpha-2, ``data/regions.csv``
    ``country``) is the data-residency rule; ``regions`` are region names (``us-east-1``) or
    ``provider:region`` ids."""

    clouds: tuple[_Cloud, ...] = Field(default=(), max_length=50)
    exclude_clouds: tuple[_Cloud, ...] = Field(default=(), max_length=50)
    regions: tuple[_RegionName, ...] = Field(default=(), max_length=200)
    pricing: tuple[_PricingName, ...] = Field(default=(), max_length=4)
    accelerators: tuple[_Id, ...] = Field(default=(), max_length=100)
    exclude_accelerators: tuple[_Id, ...] = Field(default=(), max_length=100)
    max_accelerators: int = Field(default=0, ge=0, le=64, description="per replica; 0 = no limit")
    weight_formats: tuple[_DTypeName, ...] = Field(default=RECOMMEND_WEIGHT_FORMATS, min_length=1, max_length=16)
    countries: tuple[_Country, ...] = Field(default=(), max_length=250)
    top: int = Field(default=12, ge=1, le=40, description="screened candidates planned exactly")

    @field_validator("clouds", "exclude_clouds", "regions", "pricing", "accelerators", "exclude_accelerators",
                     "weight_formats")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v))

    @field_validator("countries")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(x.upper() for x in v))


class TcoInputs(_Section):
    """Buying servers instead of renting (:mod:`estimator.tco`); ``None`` = the sourced default of
    ``data/tco_defaults.csv`` (the server price: ``data/server_prices.csv`` for the accelerator)."""

    server_price_usd: float | None = Field(default=None, gt=0.0, le=1e8, description="USD per server")
    depreciation_years: float | None = Field(default=None, gt=0.0, le=20.0)
    cost_of_capital: float | None = Field(default=None, ge=0.0, le=1.0, description="annual rate")
    electricity_usd_per_kwh: float | None = Field(default=None, ge=0.0, le=5.0)
    pue: float | None = Field(default=None, ge=1.0, le=3.0)
    colocation_usd_per_kw_month: float | None = Field(default=None, ge=0.0, le=10_000.0)
    operations_share_per_year: float | None = Field(default=None, ge=0.0, le=2.0,
                                                    description="operations cost per year as a share of capex")


class KvTierInputs(_Section):
    """The Capacity page's KV-cache tiers (``estimator.kv_tiers``): a multi-turn session profile and
    the host-memory and SSD tiers that hold reusable prefixes."""

    enabled: bool = False
    turns: float = Field(default=4.0, ge=1.0, le=1000.0, description="turns per session")
    system_tokens: int = Field(default=200, ge=0, le=1_000_000, description="shared system prompt, tokens")
    gap_s: float = Field(default=60.0, gt=0.0, le=86_400.0, description="mean time between a session's turns")
    host_fraction: float = Field(default=0.5, ge=0.0, le=1.0, description="share of the instance's DRAM for KV")
    ssd_gb: float = Field(default=3840.0, ge=0.0, le=1e6, description="local NVMe for KV per instance, GB")
    ssd_read_gbps: float = Field(default=7.0, gt=0.0, le=1000.0, description="SSD read bandwidth per instance, GB/s")


class LoraInputs(_Section):
    """LoRA adapters (``estimator.lora``): serving many on one base model (Capacity page) and LoRA /
    QLoRA fine-tuning (Training page)."""

    enabled: bool = False
    rank: int = Field(default=16, ge=1, le=1024)
    targets: str = Field(default="attention", pattern=r"^(qv|attention|all_linear)$")
    adapters: int = Field(default=100, ge=1, le=1_000_000, description="adapters served")
    max_loras: int = Field(default=8, ge=1, le=4096, description="adapters per batch (vLLM --max-loras)")
    qlora: bool = True
    train_tokens_m: float = Field(default=100.0, gt=0.0, le=1e7, description="fine-tuning tokens, millions")


class MoEInputs(_Section):
    """Expert parallelism for mixture-of-experts models (``estimator.expert_parallel``; Latency & throughput
    page): the EP degree (0 = compare the default degrees and pick the best), data-parallel attention, and
    the routed-token load imbalance (max/mean over the GPUs; 1 = perfectly balanced)."""

    expert_parallel: int = Field(default=0, ge=0, le=4096, description="0 = auto (best of the default degrees)")
    dp_attention: bool = True
    expert_imbalance: float = Field(default=1.0, ge=1.0, le=64.0, description="max/mean routed tokens per GPU")


class Scenario(BaseModel):
    """Every input of the planner. Defaults reproduce the landing page."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    version: int = Field(default=SCHEMA_VERSION, ge=1)
    name: str = Field(default="", max_length=120)
    model: ModelChoice = ModelChoice()
    deploy: Deployment = Deployment()
    traffic: Traffic = Traffic()
    tokens: TokenLengths = TokenLengths()
    slo: SLO = SLO()
    autoscaling: Autoscaling = Autoscaling()
    assumptions: Assumptions = Assumptions()
    memory: MemoryInputs = MemoryInputs()
    train: TrainingBudget = TrainingBudget()
    perf: PerformanceInputs = PerformanceInputs()
    engine: EngineInputs = EngineInputs()
    variants: VariantsInputs = VariantsInputs()
    lifetime: LifetimeInputs = LifetimeInputs()
    kv_tiers: KvTierInputs = KvTierInputs()
    lora: LoraInputs = LoraInputs()
    tco: TcoInputs = TcoInputs()
    recommend: RecommendInputs = RecommendInputs()
    serving: Serving = Serving()
    moe: MoEInputs = MoEInputs()

    @field_validator("version")
    @classmethod
    def _not_future(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(
                f"scenario schema version {v} is newer than this planner understands ({SCHEMA_VERSION})"
            )
        return v

    @field_validator("name")
    @classmethod
    def _clean_name(cls, v: str) -> str:
        return "".join(ch for ch in v if ch.isprintable()).strip()

    def replace(self, **sections: Any) -> Scenario:
        """A copy with whole sections or top-level fields replaced, validated."""
        data = self.model_dump()
        for key, value in sections.items():
            data[key] = value.model_dump() if isinstance(value, BaseModel) else value
        return Scenario.model_validate(data)


# ------------------------------------------------------------------ URL encoding

QUERY_KEYS: dict[tuple[str, str], str] = {
    ("model", "model_id"): "m",
    ("model", "weight_dtype"): "wd",
    ("model", "kv_dtype"): "kd",
    ("model", "custom"): "mc",
    ("deploy", "hardware_id"): "hw",
    ("deploy", "tp"): "tp",
    ("deploy", "provider"): "cloud",
    ("deploy", "instance_id"): "inst",
    ("deploy", "region"): "reg",
    ("deploy", "pricing"): "price",
    ("deploy", "mode"): "mode",
    ("engine", "name"): "eng",
    ("engine", "version"): "engv",
    ("engine", "max_seqs"): "emax",
    ("engine", "kv_block_tokens"): "ekb",
    ("engine", "prefill_chunk_tokens"): "epc",
    ("traffic", "pattern"): "pat",
    ("traffic", "volume"): "vol",
    ("traffic", "requests_per_day"): "rpd",
    ("traffic", "peak_rps"): "prps",
    ("traffic", "peak_to_trough"): "p2t",
    ("traffic", "peak_hour"): "ph",
    ("traffic", "weekend_factor"): "wkend",
    ("traffic", "business_start_hour"): "bh0",
    ("traffic", "business_end_hour"): "bh1",
    ("traffic", "burst_height"): "bx",
    ("traffic", "bursts_per_day"): "bpd",
    ("traffic", "burst_minutes"): "bmin",
    ("traffic", "custom_profile"): "prof",
    ("traffic", "monthly_growth"): "grow",
    ("traffic", "response_cache_hit_rate"): "rch",
    ("traffic", "prefix_cache_hit_rate"): "pch",
    ("tokens", "input_mean"): "in",
    ("tokens", "input_p95"): "in95",
    ("tokens", "output_mean"): "out",
    ("tokens", "output_p95"): "out95",
    ("slo", "ttft_p95_s"): "ttft",
    ("slo", "e2e_p95_s"): "e2e",
    ("autoscaling", "min_replicas"): "rmin",
    ("autoscaling", "max_replicas"): "rmax",
    ("autoscaling", "target_utilization"): "util",
    ("autoscaling", "scale_up_delay_s"): "sud",
    ("autoscaling", "cold_start_s"): "cold",
    ("autoscaling", "scale_to_zero"): "s2z",
    ("assumptions", "memory_utilization"): "mu",
    ("assumptions", "runtime_overhead_gb"): "ovh",
    ("assumptions", "compute_efficiency"): "ceff",
    ("assumptions", "memory_efficiency"): "meff",
    ("assumptions", "host_overhead_fraction"): "host",
    ("assumptions", "pue"): "pue",
    ("assumptions", "grid_gco2e_per_kwh"): "grid",
    ("memory", "context_tokens"): "ctx",
    ("memory", "batch"): "b",
    ("memory", "optimizer"): "opt",
    ("memory", "zero_stage"): "zero",
    ("memory", "dp"): "dp",
    ("memory", "seq_len"): "seq",
    ("memory", "micro_batch"): "mb",
    ("memory", "recompute"): "rc",
    ("train", "start"): "tmode",
    ("train", "budget_unit"): "bu",
    ("train", "budget_usd"): "usd",
    ("train", "budget_gpu_hours"): "gh",
    ("train", "budget_flops"): "fl",
    ("train", "approach"): "ap",
    ("train", "model_source"): "tsrc",
    ("train", "params_b"): "pb",
    ("train", "tokens_b"): "tb",
    ("train", "known_gpu_hours"): "kgh",
    ("train", "mfu"): "mfu",
    ("train", "accelerators"): "n",
    ("train", "target_days"): "days",
    ("train", "pp"): "pp",
    ("train", "power_utilization"): "pu",
    ("train", "include_embodied"): "emb",
    ("perf", "compare_hardware_id"): "hw2",
    ("perf", "low_precision_factor"): "lpf",
    ("perf", "link_efficiency"): "cme",
    ("perf", "step_overhead_ms"): "sov",
    ("perf", "prefill_overhead_ms"): "pov",
    ("perf", "allreduce_latency_us"): "arl",
    ("perf", "tpot_limit_ms"): "tpotl",
    ("variants", "model_ids"): "v_models",
    ("variants", "hardware_ids"): "v_hw",
    ("variants", "dtypes"): "v_dt",
    ("variants", "benchmark"): "v_bench",
    ("variants", "x_axis"): "v_x",
    ("variants", "tpot_limit_ms"): "v_tpot",
    ("variants", "prune_ids"): "v_prune",
    ("variants", "distill_pairs"): "v_dist",
    ("variants", "elastic_parent"): "v_el",
    ("variants", "widths"): "v_w",
    ("variants", "proxy"): "v_proxy",
    ("variants", "tokens_per_param"): "v_tpp",
    ("variants", "pue"): "v_pue",
    ("variants", "tps"): "v_tp",
    ("variants", "batches"): "v_b",
    ("variants", "elastic_tpot_budget_ms"): "v_tpotb",
    ("variants", "elastic_hardware_id"): "v_elhw",
    ("variants", "lc_model_ids"): "v_lc",
    ("variants", "lc_hardware_id"): "v_lchw",
    ("variants", "lc_dtype"): "v_lcd",
    ("variants", "lc_output_tokens"): "v_lco",
    ("variants", "lc_lengths"): "v_lcl",
    ("variants", "lc_budget_usd_per_1k"): "v_lcb",
    ("lifetime", "enabled"): "lt",
    ("lifetime", "lifetime_months"): "ltmo",
    ("lifetime", "fit"): "ltfit",
    ("lifetime", "objective"): "ltobj",
    ("lifetime", "family"): "ltfam",
    ("moe", "expert_parallel"): "ep",
    ("moe", "dp_attention"): "dpa",
    ("moe", "expert_imbalance"): "eimb",
    ("kv_tiers", "enabled"): "kvt",
    ("kv_tiers", "turns"): "kvtn",
    ("kv_tiers", "system_tokens"): "kvsys",
    ("kv_tiers", "gap_s"): "kvgap",
    ("kv_tiers", "host_fraction"): "kvhf",
    ("kv_tiers", "ssd_gb"): "kvssd",
    ("kv_tiers", "ssd_read_gbps"): "kvsbw",
    ("lora", "enabled"): "lo",
    ("lora", "rank"): "lor",
    ("lora", "targets"): "lotgt",
    ("lora", "adapters"): "loads",
    ("lora", "max_loras"): "lomax",
    ("lora", "qlora"): "loq",
    ("lora", "train_tokens_m"): "lotok",
    ("tco", "server_price_usd"): "bsp",
    ("tco", "depreciation_years"): "byr",
    ("tco", "cost_of_capital"): "brate",
    ("tco", "electricity_usd_per_kwh"): "bkwh",
    ("tco", "pue"): "bpue",
    ("tco", "colocation_usd_per_kw_month"): "bcolo",
    ("tco", "operations_share_per_year"): "bops",
    ("recommend", "clouds"): "rcl",
    ("recommend", "exclude_clouds"): "rxcl",
    ("recommend", "regions"): "rreg",
    ("recommend", "pricing"): "rpm",
    ("recommend", "accelerators"): "rhw",
    ("recommend", "exclude_accelerators"): "rxhw",
    ("recommend", "max_accelerators"): "rmaxa",
    ("recommend", "weight_formats"): "rwf",
    ("recommend", "countries"): "rctry",
    ("recommend", "top"): "rtop",
    ("serving", "disaggregated"): "pd",
    ("serving", "prefill_hardware_id"): "pdhw",
    ("serving", "prefill_tp"): "pdtp",
    ("serving", "decode_tp"): "pddtp",
    ("serving", "kv_link"): "pdkv",
    ("serving", "speculative"): "sd",
    ("serving", "spec_tokens"): "sdk",
    ("serving", "acceptance_length"): "sdtau",
}
"""(section, field) -> short query-parameter name. Names are part of the link format: never reuse
a name for a different field; add a migration when one changes."""

_KEY_TO_PATH = {v: k for k, v in QUERY_KEYS.items()}


def _is_str_tuple(section: str, field: str) -> bool:
    annotation = Scenario.model_fields[section].annotation.model_fields[field].annotation  # type: ignore[union-attr]
    if get_origin(annotation) is not tuple:
        return False
    item = get_args(annotation)[0]
    return item is str or (get_origin(item) is Annotated and get_args(item)[0] is str)


LIST_KEYS: frozenset[str] = frozenset(key for (section, field), key in QUERY_KEYS.items() if _is_str_tuple(section, field))
"""Query keys of tuple-of-text fields (multiselects): repeated parameters, or one comma-separated value."""
SPECIAL_KEYS = {"v": "schema version", "name": "scenario name", "s": "saved scenario id"}

# v1 links used long names; map them to v2 compact names.
_V1_NAMES = {
    "model": "m", "hardware": "hw", "weights": "wd", "kv": "kd", "tensor_parallel": "tp", "cloud": "cloud",
    "region": "reg", "pricing": "price", "mode": "mode", "pattern": "pat", "requests_per_day": "rpd",
    "peak_to_trough": "p2t", "peak_hour": "ph", "input_tokens": "in", "output_tokens": "out",
    "ttft_s": "ttft", "e2e_s": "e2e", "context": "ctx", "batch": "b",
}


def _migrate_v1(params: dict[str, str]) -> dict[str, str]:
    """v1 -> v2: long parameter names became compact keys; v1 had one token length (no p95),
    so the p95 defaults to three times the mean, the ratio of the v2 defaults."""
    out: dict[str, str] = {}
    for key, value in params.items():
        out[_V1_NAMES.get(key, key)] = value
    for mean_key, p95_key in (("in", "in95"), ("out", "out95")):
        if mean_key in out and p95_key not in out:
            with contextlib.suppress(ValueError, OverflowError):  # "inf", "1e400": the schema refuses the mean
                out[p95_key] = str(int(float(out[mean_key]) * 3))
    out["v"] = "2"
    return out


MIGRATIONS: dict[int, Callable[[dict[str, str]], dict[str, str]]] = {1: _migrate_v1}
"""version -> function upgrading query parameters of that version to the next one."""


def encode_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # what a bound Streamlit toggle or checkbox reads from a link
    if isinstance(value, float):
        text = repr(value)  # shortest text that round-trips exactly
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, tuple | list):
        return ",".join(x if isinstance(x, str) else encode_value(float(x)) for x in value)
    return str(value)


def widget_value(section: str, field: str, value: Any) -> Any:
    """The value a page widget shows for a scenario field (``tp`` 0 shows as ``"auto"``)."""
    if (section, field) == ("deploy", "tp"):
        return "auto" if value == 0 else int(value)
    if isinstance(value, tuple) and QUERY_KEYS.get((section, field)) in LIST_KEYS:
        return list(value)  # a multiselect's value
    return value.value if isinstance(value, StrEnum) else value


def to_query_params(scenario: Scenario) -> dict[str, str | list[str]]:
    """Compact query parameters for ``scenario``: only fields that differ from the defaults.

    Tuple-of-text fields (multiselects, ``LIST_KEYS``) are lists, written as repeated parameters
    as Streamlit's bound multiselect does; an empty selection is ``""`` (``?v_models=``). Options
    the pages show by a label (``LABELLED_KEYS``: volume, mode, pricing, engine, budget unit, scaling
    law) are written as that label, as the pages' bound selects write them (``?price=Spot+%2F+preemptible``).

    >>> to_query_params(Scenario())
    {}
    >>> to_query_params(Scenario(model=ModelChoice(model_id="llama-2-7b")))
    {'m': 'llama-2-7b'}
    """
    default = Scenario()
    out: dict[str, str | list[str]] = {}
    for (section, field), key in QUERY_KEYS.items():
        value = getattr(getattr(scenario, section), field)
        if value != getattr(getattr(default, section), field):
            if key in LIST_KEYS:
                out[key] = [option_label(key, x) for x in value] if value else ""
            elif isinstance(value, ModelSpec):
                out[key] = imported.encode_link(value)
            else:
                out[key] = option_label(key, encode_value(value.value if isinstance(value, StrEnum) else value))
    if scenario.name:
        out["name"] = scenario.name
    return out


def _decode(section: str, field: str, raw: str | list[str]) -> Any:
    key = QUERY_KEYS[(section, field)]
    if key in LIST_KEYS:
        parts = raw if isinstance(raw, list) else [raw]
        return tuple(option_id(key, x.strip()) for part in parts for x in part.split(",") if x.strip())
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    if key in LABELLED_KEYS:
        return option_id(key, raw)  # the label the page's select writes, or the id (links made before)
    if (section, field) == ("model", "custom"):
        try:
            return imported.decode_link(raw)
        except InvalidInputError as exc:
            raise ValueError(str(exc).removeprefix("imported model: ")) from None
    annotation = type(getattr(getattr(Scenario(), section), field))
    if field == "custom_profile":
        return tuple(float(x) for x in raw.split(",") if x.strip())
    if field == "tp" and raw.strip().lower() == "auto":
        return 0
    if annotation is float and raw.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        raise ValueError("not a finite number")
    if annotation is bool:
        if raw.lower() in ("1", "true", "yes"):
            return True
        if raw.lower() in ("0", "false", "no"):
            return False
        raise ValueError("not a yes/no value")
    return raw


def from_query_params(params: Mapping[str, str | list[str]]) -> tuple[Scenario, list[str]]:
    """Build a ``Scenario`` from query parameters; return it and what was ignored (for the user).

    Unknown names, malformed or out-of-range values, oversize input and future versions are
    ignored one by one: the default applies for each and a message says which. A repeated
    parameter (a list value) counts by its last value, except for tuple-of-text fields
    (``LIST_KEYS``), which take all values, each of which may also be comma-separated. Options
    with a label (``LABELLED_KEYS``) are read by their label or their id (``price=spot``).

    >>> s, ignored = from_query_params({"m": "llama-2-7b", "ctx": "-1", "zz": "1"})
    >>> s.model.model_id, s.memory.context_tokens
    ('llama-2-7b', 4096)
    >>> ignored
    ['ctx=-1: Input should be greater than or equal to 1', 'zz: unknown parameter']
    """
    ignored: list[str] = []
    flat: dict[str, Any] = {}  # str, or list[str] for LIST_KEYS
    for i, (key, value) in enumerate(params.items()):
        if i >= MAX_QUERY_PARAMS:
            ignored.append(f"{len(params) - MAX_QUERY_PARAMS} further parameters (too many)")
            break
        if isinstance(value, list | tuple) and str(key) in LIST_KEYS:
            values = [str(x) if x is not None else "" for x in value]
            size = sum(len(x) + 1 for x in values)
            v: str | list[str] = values
        else:
            last = value[-1] if isinstance(value, list | tuple) and value else value
            v = str(last) if last is not None and last != [] and last != () else ""
            size = len(v)
        limit = MAX_PROFILE_CHARS if str(key) == "prof" else MAX_QUERY_VALUE_CHARS
        if size > limit or len(str(key)) > 40:
            ignored.append(f"{_show(str(key))}: value too long")
            continue
        flat[str(key)] = v

    version = SCHEMA_VERSION
    if "v" in flat:
        try:
            version = int(flat["v"])
        except ValueError:
            ignored.append(f"v={_show(flat['v'])}: not a schema version")
            version = SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            ignored.append(f"v={version}: made by a newer planner; read as version {SCHEMA_VERSION}")
            version = SCHEMA_VERSION
        if version < 1:
            ignored.append(f"v={version}: not a schema version")
            version = SCHEMA_VERSION
    while version < SCHEMA_VERSION:
        flat = MIGRATIONS[version](flat)
        version += 1
    flat.pop("v", None)

    data: dict[str, dict[str, Any]] = {}
    name = flat.pop("name", "")
    flat.pop("s", None)
    for key, raw in flat.items():
        path = _KEY_TO_PATH.get(key)
        if path is None:
            ignored.append(f"{_show(key)}: unknown parameter")
            continue
        section, field = path
        try:
            value = _field_adapter(section, field).validate_python(_decode(section, field, raw))
        except (ValidationError, ValueError) as exc:
            shown = ",".join(raw) if isinstance(raw, list) else raw
            ignored.append(f"{_show(key)}={_show(shown)}: {_reason(exc)}")
            continue
        data.setdefault(section, {})[field] = value
    # Fields passed one by one; a section's cross-field rules (p95 >= mean, min <= max ...) last.
    for section in list(data):
        model_cls = Scenario.model_fields[section].annotation
        try:
            model_cls.model_validate(data[section])  # type: ignore[union-attr]
        except ValidationError as exc:
            keys = ", ".join(QUERY_KEYS[(section, f)] for f in data[section])
            ignored.append(f"{keys}: {_reason(exc)}; defaults used for these")
            del data[section]
    scenario = Scenario.model_validate({**data, "name": name[:120]})
    return scenario, ignored


@cache
def _field_adapter(section: str, field: str) -> TypeAdapter[Any]:
    """A validator for one leaf field with its constraints (``Field(gt=0)`` ...), no model rules."""
    model_cls = Scenario.model_fields[section].annotation
    info = model_cls.model_fields[field]  # type: ignore[union-attr]
    return TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]


def _show(text: str, limit: int = 40) -> str:
    cleaned = "".join(ch for ch in text if ch.isprintable())
    return cleaned[:limit] + ("…" if len(cleaned) > limit else "")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        msg = str(err.get("msg", "invalid"))
        return msg.removeprefix("Value error, ")
    return str(exc) or "invalid value"


def validate_scenario(data: Mapping[str, Any], *, check_ids: bool = True) -> Scenario:
    """Validate a scenario dictionary (imported JSON); raise ``InvalidInputError`` naming the field.

    With ``check_ids`` the catalog ids it names (model, accelerator, instance) must exist: an
    imported file that names an unknown model must not open silently as the default one
    (``UnknownIdError`` with the closest ids).
    """
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "scenario"
        raise InvalidInputError(f"{where}: {_reason(exc)}") from None
    except RecursionError:
        raise InvalidInputError("scenario: nested too deeply") from None
    if check_ids:
        check_catalog_ids(scenario)
    return scenario


def check_catalog_ids(scenario: Scenario) -> None:
    """Raise ``UnknownIdError`` when ``scenario`` names a model, accelerator or instance that the
    catalog does not have."""
    from estimator import catalog  # late: the catalog loads data/ into DuckDB

    catalog.get_model(scenario.model.model_id)
    catalog.get_hardware(scenario.deploy.hardware_id)
    if scenario.serving.prefill_hardware_id:
        catalog.get_hardware(scenario.serving.prefill_hardware_id)
    if scenario.deploy.instance_id:
        catalog.get_instance(scenario.deploy.instance_id)
