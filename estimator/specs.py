"""Pydantic specifications of catalog entities: models, accelerators, instances, regions.

Every quantity is stored in SI base units (bytes, FLOP/s, W, USD); the CSV files in
``data/`` use display units (GB, TFLOPS, GB/s) and ``estimator.catalog`` converts them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from estimator.errors import InvalidInputError
from estimator.units import DType

__all__ = [
    "Architecture",
    "AttentionKind",
    "HardwareKind",
    "ModelSpec",
    "HardwareSpec",
    "Instance",
    "Region",
]


class Architecture(StrEnum):
    DECODER = "decoder"
    ENCODER = "encoder"
    ENCODER_DECODER = "encoder-decoder"


class AttentionKind(StrEnum):
    """Attention variants that change the KV-cache size.

    - ``mha``: multi-head attention, one K and V per query head (Vaswani et al. 2017).
    - ``gqa``: grouped-query attention, ``n_kv_heads`` shared K/V heads (Ainslie et al. 2023).
    - ``mqa``: multi-query attention, a single K/V head (Shazeer 2019).
    - ``mla``: multi-head latent attention, a compressed latent of rank ``kv_lora_rank``
      plus a decoupled RoPE key of ``qk_rope_head_dim`` is cached (DeepSeek-V2, arXiv:2405.04434).
    """

    MHA = "mha"
    GQA = "gqa"
    MQA = "mqa"
    MLA = "mla"


class HardwareKind(StrEnum):
    GPU = "gpu"
    TPU = "tpu"
    ASIC = "asic"
    CPU = "cpu"


class _Sourced(BaseModel):
    """Provenance every catalog row carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assumed: bool = False
    source: str = Field(default="user input", min_length=1)
    as_of: date | None = None
    notes: str = ""


class ModelSpec(_Sourced):
    """Architecture of a transformer language model.

    Parameter counts include embeddings (the Chinchilla convention, Hoffmann et al. 2022 App. F).
    ``n_layers`` counts decoder layers (encoder layers for encoder-only models);
    ``n_encoder_layers`` counts the encoder stack of encoder-decoder models.
    """

    model_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1)
    family: str = ""
    architecture: Architecture = Architecture.DECODER
    params_total: float = Field(gt=0, description="All parameters including embeddings")
    params_active: float = Field(gt=0, description="Parameters used per token (MoE: active experts)")
    n_layers: int = Field(gt=0, le=1000)
    n_encoder_layers: int = Field(default=0, ge=0, le=1000)
    d_model: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    n_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    d_ff: int = Field(ge=0)
    vocab_size: int = Field(gt=0)
    max_context: int = Field(gt=0)
    n_experts: int = Field(default=1, ge=1)
    n_experts_active: int = Field(default=1, ge=1)
    n_shared_experts: int = Field(default=0, ge=0)
    d_ff_expert: int = Field(default=0, ge=0)
    n_dense_layers: int = Field(default=0, ge=0)
    attention: AttentionKind = AttentionKind.MHA
    sliding_window: int = Field(default=0, ge=0)
    n_sliding_layers: int = Field(
        default=0, ge=0, le=1000,
        description="Layers that attend within sliding_window (0 with a window: all of them)",
    )
    kv_lora_rank: int = Field(default=0, ge=0)
    qk_rope_head_dim: int = Field(default=0, ge=0)
    gated_mlp: bool = True
    tied_embeddings: bool = False
    released: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.params_active > self.params_total * (1 + 1e-9):
            raise InvalidInputError(
                f"{self.model_id}: active parameters ({self.params_active:.3g}) exceed "
                f"total parameters ({self.params_total:.3g})"
            )
        if self.n_experts_active > self.n_experts:
            raise InvalidInputError(
                f"{self.model_id}: {self.n_experts_active} active experts but only "
                f"{self.n_experts} experts"
            )
        if self.n_kv_heads > self.n_heads:
            raise InvalidInputError(
                f"{self.model_id}: {self.n_kv_heads} KV heads exceed {self.n_heads} query heads"
            )
        if self.n_sliding_layers > self.n_layers:
            raise InvalidInputError(
                f"{self.model_id}: {self.n_sliding_layers} sliding-window layers exceed {self.n_layers} layers"
            )
        if self.attention == AttentionKind.MLA and self.kv_lora_rank <= 0:
            raise InvalidInputError(f"{self.model_id}: MLA attention needs kv_lora_rank > 0")
        return self

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model (more than one routed expert)."""
        return self.n_experts > 1

    @property
    def total_layers(self) -> int:
        """Encoder plus decoder layers."""
        return self.n_layers + self.n_encoder_layers

    @property
    def generates(self) -> bool:
        """True where the model decodes tokens autoregressively (not encoder-only)."""
        return self.architecture != Architecture.ENCODER


class HardwareSpec(_Sourced):
    """One accelerator (or one CPU socket), with *dense* peak throughput per dtype.

    Vendors quote Tensor-Core figures with 2:4 structured sparsity; the catalog stores
    the dense value (half the sparse one) and ``peak_flops_per_s`` returns it.
    """

    hardware_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1)
    vendor: str = ""
    kind: HardwareKind = HardwareKind.GPU
    memory_bytes: float = Field(gt=0)
    """Device memory the estimator plans with: ``memory_reported_bytes`` where the catalog knows it
    (issue 12: engines allocate from what the device reports), else the datasheet's GB x 10^9."""
    memory_datasheet_gb: float | None = Field(default=None, gt=0)
    """The datasheet's memory figure as printed ("80 GB"), for display and checks against datasheets."""
    memory_reported_bytes: float | None = Field(default=None, gt=0)
    """Device memory in bytes as the device/driver reports it (CUDA ``total_memory``/
    ``cudaMemGetInfo`` total, ROCm/HIP total, ``nvidia-smi``/``hl-smi`` memory.total), or None
    where unknown. Datasheets' "80 GB" on NVIDIA/AMD/Intel HBM parts is GiB-sized (80 x 2^30 B)
    less a driver reservation: H100 SXM reports 85,017,493,504 B (bench/results-h100-device-
    roofline.json). Each catalog row's notes say whether the value is measured or derived."""
    memory_bandwidth_bytes_per_s: float = Field(gt=0)
    peak_flops_per_s_by_dtype: dict[DType, float] = Field(
        description="Dense peak FLOP/s (OP/s for integers); a dtype absent is unsupported"
    )
    tdp_w: float = Field(gt=0)
    idle_w: float = Field(ge=0)
    intra_node_link: str = "none"
    intra_node_bandwidth_bytes_per_s: float = Field(default=0.0, ge=0)
    inter_node_bandwidth_bytes_per_s: float = Field(default=0.0, ge=0)
    max_per_node: int = Field(default=1, ge=1)
    embodied_kgco2e: float | None = Field(default=None, ge=0)
    released: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> HardwareSpec:
        if not self.peak_flops_per_s_by_dtype:
            raise InvalidInputError(f"{self.hardware_id}: no peak throughput for any dtype")
        if self.idle_w > self.tdp_w:
            raise InvalidInputError(f"{self.hardware_id}: idle power exceeds TDP")
        return self

    def supports(self, dtype: DType | str) -> bool:
        """Whether the hardware computes natively in ``dtype``."""
        return DType(dtype) in self.peak_flops_per_s_by_dtype

    def peak_flops_per_s(self, dtype: DType | str) -> float:
        """Dense peak FLOP/s in ``dtype``; raises ``InvalidInputError`` if unsupported."""
        d = DType(dtype)
        try:
            return self.peak_flops_per_s_by_dtype[d]
        except KeyError:
            have = ", ".join(sorted(str(k) for k in self.peak_flops_per_s_by_dtype))
            raise InvalidInputError(
                f"{self.name} has no native {d} compute (it supports {have})"
            ) from None

    @property
    def ridge_point_flops_per_byte(self) -> float:
        """Roofline ridge point in bf16 (or the best supported dtype): peak FLOP/s / bandwidth."""
        peak = self.peak_flops_per_s_by_dtype.get(
            DType.BF16, self.peak_flops_per_s_by_dtype.get(DType.FP16, max(self.peak_flops_per_s_by_dtype.values()))
        )
        return peak / self.memory_bandwidth_bytes_per_s


class Instance(_Sourced):
    """A cloud instance type and its hourly prices (USD) in ``price_region``."""

    instance_id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    hardware_id: str = Field(min_length=1)
    accelerator_count: int = Field(gt=0)
    vcpu: int = Field(ge=0)
    ram_gb: float = Field(ge=0)
    price_on_demand_usd_per_h: float = Field(gt=0)
    price_spot_usd_per_h: float | None = Field(default=None, gt=0)
    price_1y_usd_per_h: float | None = Field(default=None, gt=0)
    price_3y_usd_per_h: float | None = Field(default=None, gt=0)
    price_region: str = ""
    regions: tuple[str, ...] = ()


class Region(_Sourced):
    """A cloud region's grid carbon intensity and data-centre PUE."""

    provider: str = Field(min_length=1)
    region: str = Field(min_length=1)
    location: str = ""
    country: str = ""
    grid_gco2e_per_kwh: float = Field(ge=0, le=2000)
    pue: float = Field(ge=1.0, le=3.0)

    @property
    def region_id(self) -> str:
        """``provider:region``, unique across providers."""
        return f"{self.provider}:{self.region}"
