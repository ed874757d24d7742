"""Units, dtype sizes and display formatting.

The estimator stores SI base units: bytes, seconds, FLOP, watts, joules, US dollars.
GB (1e9 bytes) and GiB (2**30 bytes) appear only at display time and are labelled.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DType",
    "BYTES_PER_ELEMENT",
    "BLOCK_BYTES_PER_WEIGHT",
    "BLOCK_SCALED_FP4",
    "GGUF_DTYPES",
    "KV_DTYPES",
    "WEIGHT_DTYPES",
    "GB",
    "GIB",
    "TB",
    "TERA",
    "HOURS_PER_MONTH",
    "HOURS_PER_YEAR",
    "SECONDS_PER_HOUR",
    "bytes_per_element",
    "stored_bytes_per_weight",
    "bytes_to_gb",
    "bytes_to_gib",
    "format_bytes",
]

GB: float = 1e9
"""Bytes in a gigabyte (SI, 10**9)."""
GIB: float = float(2**30)
"""Bytes in a gibibyte (2**30)."""
TB: float = 1e12
TERA: float = 1e12
SECONDS_PER_HOUR: float = 3600.0
HOURS_PER_YEAR: float = 8760.0
HOURS_PER_MONTH: float = HOURS_PER_YEAR / 12.0
"""730 h: the average month that cloud price pages use (AWS, GCP and Azure calculators)."""


class DType(StrEnum):
    """Numeric formats for weights, KV cache and compute.

    ``fp32`` ... ``int4`` are element formats (weights, KV cache, compute). ``fp4`` (E2M1) is a
    compute format only: the hardware catalog lists it where the accelerator has FP4 tensor cores
    (Blackwell, MI355X). The rest are weight storage formats with block scales
    (:data:`BLOCK_BYTES_PER_WEIGHT`): ``nvfp4`` and ``mxfp4`` compute in ``fp4`` where the hardware
    has it and are otherwise dequantized to bf16/fp16 (weight-only); the GGUF formats ``q4_k_m``,
    ``q5_k_m`` and ``q8_0`` (llama.cpp) are always weight-only.
    """

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    FP4 = "fp4"
    NVFP4 = "nvfp4"
    MXFP4 = "mxfp4"
    Q4_K_M = "q4_k_m"
    Q5_K_M = "q5_k_m"
    Q8_0 = "q8_0"


BYTES_PER_ELEMENT: dict[DType, float] = {
    DType.FP32: 4.0,
    DType.BF16: 2.0,
    DType.FP16: 2.0,
    DType.FP8: 1.0,
    DType.INT8: 1.0,
    DType.INT4: 0.5,
    DType.FP4: 0.5,
    DType.NVFP4: 0.5,
    DType.MXFP4: 0.5,
    DType.Q4_K_M: 0.5,
    DType.Q5_K_M: 0.625,
    DType.Q8_0: 1.0,
}
"""Storage bytes per element, before any quantization scales (IEEE 754; OCP FP8 spec; E2M1 is the
4-bit element of NVFP4 and MXFP4; a GGUF format's nominal quant width: 4, 5 and 8 bits). Block
formats store more per weight: :func:`stored_bytes_per_weight`."""

BLOCK_SCALED_FP4: frozenset[DType] = frozenset({DType.NVFP4, DType.MXFP4})
"""FP4 weight formats: computed in ``fp4`` on FP4 tensor cores, else dequantized to 16 bit."""

GGUF_DTYPES: frozenset[DType] = frozenset({DType.Q4_K_M, DType.Q5_K_M, DType.Q8_0})
"""llama.cpp GGUF formats; their bytes per weight are whole-file averages (embeddings included)."""

BLOCK_BYTES_PER_WEIGHT: dict[DType, float] = {
    DType.NVFP4: (16 * 0.5 + 1) / 16,
    DType.MXFP4: (32 * 0.5 + 1) / 32,
    DType.Q8_0: (2 + 32) / 32,
    DType.Q4_K_M: 4.8944 / 8,
    DType.Q5_K_M: 5.7036 / 8,
}
"""Stored bytes per weight of the block-scaled formats, scales included.

- ``nvfp4``: 16 E2M1 elements (8 B) share one FP8 E4M3 scale (1 B): 9 B / 16 = 0.5625 B (4.5 bits);
  the per-tensor FP32 second-level scale adds 4 B per tensor (negligible). NVIDIA, "Introducing
  NVFP4 for Efficient and Accurate Low-Precision Inference" (developer blog, 2025-06-24); TensorRT
  Model Optimizer ``NVFP4_DEFAULT_CFG``: ``num_bits (2, 1)``, ``block_sizes {-1: 16,
  scale_bits: (4, 3)}`` (modelopt/torch/quantization/config.py).
- ``mxfp4``: 32 E2M1 elements (16 B) share one E8M0 scale (1 B): 17 B / 32 = 0.53125 B (4.25 bits).
  OCP Microscaling Formats (MX) Specification v1.0 (2023-09), Table 1 (MXFP4: k = 32, scale
  E8M0, element E2M1); llama.cpp ``block_mxfp4`` (ggml/src/ggml-common.h).
- ``q8_0``: ``block_q8_0`` is one fp16 scale + 32 int8 quants = 34 B / 32 = 1.0625 B (8.5 bits)
  (llama.cpp ggml/src/ggml-common.h).
- ``q4_k_m`` / ``q5_k_m``: llama.cpp's "medium" mixes of k-quant tensors: most tensors in Q4_K
  (144 B per 256 weights, 4.5 bits) or Q5_K (176 B / 256, 5.5 bits), with the sensitive ones
  (``output.weight``, part of ``attn_v`` and ``ffn_down``) in Q6_K (210 B / 256, 6.5625 bits)
  (``block_q4_K``/``block_q5_K``/``block_q6_K`` in ggml-common.h). The mix is not a block layout,
  so the figure is llama.cpp's measured whole-file average: 4.8944 and 5.7036 bits per weight for
  Llama-3.1-8B (tools/quantize/README.md, "Quantization" table; the same README's Q4_K_M sizes of
  the 70B and 405B models, 43.1 GB and 249.1 GB, are 4.89 and 4.91 bits per weight).
"""

KV_DTYPES: tuple[DType, ...] = (DType.FP32, DType.BF16, DType.FP16, DType.FP8, DType.INT8)
"""Formats a KV cache is modelled in (16/32 bit, and 8 bit as vLLM ``--kv-cache-dtype fp8`` and
TensorRT-LLM's FP8/INT8 KV caches store it)."""

WEIGHT_DTYPES: tuple[DType, ...] = tuple(d for d in DType if d != DType.FP4)
"""Formats weights can be stored in: every format but the compute-only ``fp4``."""


def bytes_per_element(dtype: DType | str) -> float:
    """Return the storage size of one element of ``dtype`` in bytes.

    >>> bytes_per_element("bf16")
    2.0
    >>> bytes_per_element(DType.INT4)
    0.5
    """
    return BYTES_PER_ELEMENT[DType(dtype)]


def stored_bytes_per_weight(dtype: DType | str) -> float:
    """Bytes one weight occupies stored in ``dtype``, block scales included.

    ``b = (k b_e + s) / k`` for a block format of ``k`` elements of ``b_e`` bytes sharing ``s``
    bytes of scales (:data:`BLOCK_BYTES_PER_WEIGHT`, sources there); the element size for the
    other formats (group-quantized int8/int4 add their scales in
    :func:`estimator.memory.weights_bytes`).

    >>> stored_bytes_per_weight("nvfp4"), stored_bytes_per_weight("mxfp4"), stored_bytes_per_weight("q8_0")
    (0.5625, 0.53125, 1.0625)
    >>> stored_bytes_per_weight("bf16")
    2.0
    """
    d = DType(dtype)
    return BLOCK_BYTES_PER_WEIGHT.get(d, BYTES_PER_ELEMENT[d])


def bytes_to_gb(n_bytes: float) -> float:
    """Convert bytes to GB (10**9 bytes).

    >>> bytes_to_gb(13_476_831_232)
    13.476831232
    """
    return n_bytes / GB


def bytes_to_gib(n_bytes: float) -> float:
    """Convert bytes to GiB (2**30 bytes).

    >>> round(bytes_to_gib(2**31), 3)
    2.0
    """
    return n_bytes / GIB


def format_bytes(n_bytes: float, unit: str = "GB", digits: int = 2) -> str:
    """Format a byte count with an explicit unit label: ``"GB"`` (10**9) or ``"GiB"`` (2**30).

    >>> format_bytes(13_476_831_232)
    '13.48 GB'
    >>> format_bytes(13_476_831_232, "GiB")
    '12.55 GiB'
    """
    if unit == "GB":
        return f"{n_bytes / GB:,.{digits}f} GB"
    if unit == "GiB":
        return f"{n_bytes / GIB:,.{digits}f} GiB"
    if unit == "MB":
        return f"{n_bytes / 1e6:,.{digits}f} MB"
    if unit == "KiB":
        return f"{n_bytes / 1024:,.{digits}f} KiB"
    raise ValueError(f"unit must be GB, GiB, MB or KiB, not {unit!r}")
