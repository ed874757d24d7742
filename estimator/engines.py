"""Serving engines (vLLM, SGLang, TensorRT-LLM): their scheduler and memory defaults, and how each one
splits device memory between weights, activations and the KV cache.

The defaults are data (``data/engines.csv``, each row with its source file or page and date) and the
user can override every one (``Scenario.engine``). The three engines size their KV cache differently:

- **vLLM** ``--gpu-memory-utilization f`` bounds *everything*:
  ``W + A + O + KV <= f M`` (vLLM engine-arguments docs, ``CacheConfig.gpu_memory_utilization``).
- **SGLang** ``--mem-fraction-static f`` bounds the static pools, weights plus KV:
  ``W + KV <= f M``; activations and CUDA graphs use the remaining ``(1 - f) M``
  (``python/sglang/srt/server_args.py``; SGLang hyperparameter-tuning docs).
- **TensorRT-LLM** ``free_gpu_memory_fraction f`` takes a share of what is *free* once the engine
  is loaded: ``KV <= f (M - W - A - O)`` (``tensorrt_llm/llmapi/llm_args.py`` ``KvCacheConfig``).

:func:`memory_budget_bytes` turns each rule into one per-device budget for ``W + A + O + KV``, so a
single memory model (``estimator.memory``) serves fit, max batch and max context for every engine.
``M`` is device memory as the device reports it (``HardwareSpec.device_memory_bytes``).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from estimator import catalog, memory
from estimator.errors import CatalogError, InvalidInputError
from estimator.specs import HardwareSpec, ModelSpec
from estimator.units import DType

if TYPE_CHECKING:  # the scenario imports this module for its Engine enum
    from estimator.scenario import Scenario

__all__ = [
    "Engine",
    "MemoryRule",
    "EngineDefaults",
    "EngineSettings",
    "defaults",
    "settings",
    "memory_budget_bytes",
    "memory_utilization",
    "for_scenario",
    "SMALL_GPU_BYTES",
]


class Engine(StrEnum):
    """Serving engines whose defaults the catalog carries."""

    VLLM = "vllm"
    SGLANG = "sglang"
    TRTLLM = "trtllm"


class MemoryRule(StrEnum):
    """How an engine's memory fraction bounds device memory (module docstring)."""

    FRACTION_OF_DEVICE = "fraction_of_device"  # vLLM
    STATIC_FRACTION = "static_fraction"  # SGLang
    FRACTION_OF_FREE = "fraction_of_free"  # TensorRT-LLM


RULES: dict[Engine, MemoryRule] = {
    Engine.VLLM: MemoryRule.FRACTION_OF_DEVICE,
    Engine.SGLANG: MemoryRule.STATIC_FRACTION,
    Engine.TRTLLM: MemoryRule.FRACTION_OF_FREE,
}

LABELS: dict[Engine, str] = {Engine.VLLM: "vLLM", Engine.SGLANG: "SGLang", Engine.TRTLLM: "TensorRT-LLM"}

SMALL_GPU_BYTES: dict[Engine, float] = {Engine.VLLM: 70 * 2**30, Engine.SGLANG: 25_000 * 2**20}
"""Below this device memory an engine picks its small-GPU defaults: vLLM ``get_batch_defaults``
(``device_memory >= 70 * GiB_bytes and "a100" not in device_name``); SGLang ``gpu_mem < 25_000`` MB."""


class EngineDefaults(BaseModel):
    """An engine version's defaults, as ``data/engines.csv`` gives them (one source per setting)."""

    model_config = ConfigDict(frozen=True)

    engine: Engine
    version: str
    values: dict[str, float]
    sources: dict[str, str]
    flags: dict[str, str]


class EngineSettings(BaseModel):
    """The settings a deployment runs with: the engine's defaults for this accelerator and layout, with
    the user's overrides applied. Units: sequences, fraction, tokens."""

    model_config = ConfigDict(frozen=True)

    engine: Engine
    version: str
    rule: MemoryRule
    max_seqs: int = Field(ge=1)
    memory_fraction: float = Field(gt=0, le=1)
    kv_block_tokens: int = Field(ge=1)
    prefill_chunk_tokens: int = Field(ge=1)
    overridden: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{LABELS[self.engine]} {self.version}"


@lru_cache(maxsize=16)
def defaults(engine: Engine | str, version: str = "") -> EngineDefaults:
    """The defaults of ``engine`` at ``version`` ('' = the newest version in ``data/engines.csv``)."""
    e = Engine(engine)
    frame = catalog.table_frame("engines")
    rows = frame[frame["engine"] == e.value]
    if rows.empty:
        raise CatalogError(f"engines.csv has no rows for {e.value}")
    versions = sorted(set(rows["version"]), key=_version_key)
    wanted = version or versions[-1]
    if wanted not in versions:
        raise InvalidInputError(f"{LABELS[e]} version {wanted!r} is not in the catalog (it has {', '.join(versions)})")
    rows = rows[rows["version"] == wanted]
    return EngineDefaults(
        engine=e, version=wanted,
        values={str(r.setting): float(r.value) for r in rows.itertuples()},
        sources={str(r.setting): f"{r.source} ({r.as_of})" for r in rows.itertuples()},
        flags={str(r.setting): str(r.flag) for r in rows.itertuples()},
    )


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in str(text).split("."))


def _memory_fraction(d: EngineDefaults, tp: int) -> float:
    """SGLang's default depends on the tensor-parallel degree (``memory_fraction_tp<k>`` rows)."""
    best = d.values["memory_fraction"]
    for k in (2, 4, 8, 16):
        key = f"memory_fraction_tp{k}"
        if tp >= k and key in d.values:
            best = d.values[key]
    return best


def settings(
    engine: Engine | str,
    version: str = "",
    *,
    device_memory_bytes: float,
    tp: int = 1,
    max_seqs: int | None = None,
    memory_fraction: float | None = None,
    kv_block_tokens: int | None = None,
    prefill_chunk_tokens: int | None = None,
) -> EngineSettings:
    """The engine's effective settings on an accelerator of ``device_memory_bytes`` at tensor parallel ``tp``.

    Defaults follow the engine's own rules (small-GPU values below :data:`SMALL_GPU_BYTES`, SGLang's
    memory fraction by TP); a non-``None`` argument overrides its default.
    """
    d = defaults(engine, version)
    small = device_memory_bytes < SMALL_GPU_BYTES.get(d.engine, 0.0)
    v = d.values

    def pick(name: str) -> float:
        return v.get(f"{name}_small_gpu", v[name]) if small else v[name]

    given = {"max_seqs": max_seqs, "memory_fraction": memory_fraction, "kv_block_tokens": kv_block_tokens,
             "prefill_chunk_tokens": prefill_chunk_tokens}
    return EngineSettings(
        engine=d.engine, version=d.version, rule=RULES[d.engine],
        max_seqs=int(max_seqs if max_seqs is not None else pick("max_seqs")),
        memory_fraction=memory_fraction if memory_fraction is not None else _memory_fraction(d, tp),
        kv_block_tokens=int(kv_block_tokens if kv_block_tokens is not None else v["kv_block_tokens"]),
        prefill_chunk_tokens=int(prefill_chunk_tokens if prefill_chunk_tokens is not None
                                 else pick("prefill_chunk_tokens")),
        overridden=tuple(k for k, x in given.items() if x is not None),
    )


def memory_budget_bytes(
    rule: MemoryRule | str,
    fraction: float,
    device_memory_bytes: float,
    *,
    weights_bytes: float,
    activation_bytes: float,
    overhead_bytes: float,
) -> float:
    """Per-device budget for ``W + A + O + KV`` under an engine's memory rule (bytes).

    Notes
    -----
    With device memory ``M``, memory fraction ``f``, and per-device weights ``W``, peak activations
    ``A`` and runtime overhead ``O``:

    - vLLM (fraction of device): ``B = f M``;
    - SGLang (static fraction): ``W + KV <= f M`` and ``A + O`` come from the rest, so
      ``B = f M + A + O``;
    - TensorRT-LLM (fraction of free): ``KV <= f (M - W - A - O)``, so
      ``B = W + A + O + f (M - W - A - O)``.

    Sources: vLLM ``CacheConfig.gpu_memory_utilization``; SGLang ``server_args.py``
    ``mem_fraction_static``; TensorRT-LLM ``KvCacheConfig.free_gpu_memory_fraction`` (data/engines.csv).

    >>> memory_budget_bytes("fraction_of_device", 0.9, 80e9, weights_bytes=16e9, activation_bytes=2e9,
    ...                     overhead_bytes=1e9) / 1e9
    72.0
    >>> memory_budget_bytes("fraction_of_free", 0.9, 80e9, weights_bytes=16e9, activation_bytes=2e9,
    ...                     overhead_bytes=1e9) / 1e9
    73.9
    """
    if not 0 < fraction <= 1:
        raise InvalidInputError(f"memory fraction must be in (0, 1], got {fraction}")
    r = MemoryRule(rule)
    if r is MemoryRule.FRACTION_OF_DEVICE:
        return fraction * device_memory_bytes
    if r is MemoryRule.STATIC_FRACTION:
        return fraction * device_memory_bytes + activation_bytes + overhead_bytes
    fixed = weights_bytes + activation_bytes + overhead_bytes
    return fixed + fraction * max(0.0, device_memory_bytes - fixed)


def for_scenario(scenario: Scenario, hardware: HardwareSpec, tp: int = 1) -> EngineSettings:
    """The engine settings a scenario runs with on ``hardware`` at tensor parallel ``tp``."""
    e = scenario.engine
    return settings(
        e.name, e.version, device_memory_bytes=hardware.memory_bytes, tp=tp, max_seqs=e.max_seqs,
        memory_fraction=scenario.assumptions.memory_utilization, kv_block_tokens=e.kv_block_tokens,
        prefill_chunk_tokens=e.prefill_chunk_tokens,
    )


def memory_utilization(
    es: EngineSettings,
    model: ModelSpec,
    hardware: HardwareSpec,
    weight_dtype: DType | str,
    kv_dtype: DType | str,
    *,
    tp: int = 1,
    pp: int = 1,
    runtime_overhead_bytes: float = memory.RUNTIME_OVERHEAD_BYTES,
) -> float:
    """The engine's budget as a share of device memory, ``u = B / M`` (capped at 1), for the memory model.

    Notes
    -----
    ``B`` is :func:`memory_budget_bytes` with the per-device weights ``W / (t p)`` and the peak
    activation of one prefill chunk (``es.prefill_chunk_tokens`` tokens). ``estimate.memory`` then
    checks ``W + A + O + KV <= u M`` for every layout, batch and context, which is each engine's
    own rule. For vLLM ``u = f`` exactly.
    """
    if es.rule is MemoryRule.FRACTION_OF_DEVICE:
        return es.memory_fraction
    chunk = max(1, min(es.prefill_chunk_tokens, model.max_context))
    step = memory.inference_memory(model, weight_dtype, kv_dtype, chunk, 1, tp=tp, pp=pp,
                                   prefill_chunk_tokens=chunk, runtime_overhead_bytes=runtime_overhead_bytes)
    budget = memory_budget_bytes(
        es.rule, es.memory_fraction, hardware.memory_bytes, weights_bytes=step.per_device_weights_bytes,
        activation_bytes=step.per_device_activation_bytes, overhead_bytes=runtime_overhead_bytes,
    )
    return min(1.0, budget / hardware.memory_bytes)


def resident_tokens(input_mean_tokens: float, output_mean_tokens: float, block_tokens: int) -> float:
    """Mean KV-cache tokens one sequence holds under continuous batching with a paged KV cache.

    Notes
    -----
    ``R = E[I] + E[O]/2 + b/2``: a paged engine allocates blocks of ``b`` tokens as tokens arrive
    (vLLM, Kwon et al. SOSP 2023 arXiv:2309.06180 §4.1-4.2: "allocates physical blocks on demand"),
    so a sequence holds its prompt plus the tokens generated so far, on average half its output over
    the decode phase that dominates its lifetime, plus on average half a block of unfilled slots
    (the only waste of paging, §4.1). Reserving ``I + O`` for every sequence, as a static engine
    does, overstates the memory per sequence by ``E[O]/2 - b/2``. Units: tokens.

    >>> resident_tokens(1000, 250, 16)
    1133.0
    """
    if input_mean_tokens < 0 or output_mean_tokens < 0 or block_tokens < 1:
        raise InvalidInputError("token lengths must be zero or more and the block at least one token")
    return float(input_mean_tokens) + float(output_mean_tokens) / 2.0 + block_tokens / 2.0
