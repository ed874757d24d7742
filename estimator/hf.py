"""Build a ``ModelSpec`` from any Hugging Face ``config.json``: a dict, its text, or a Hub model id.

Exact families (parameter counts equal the published ones, ``tests/test_hf_published.py``): Llama 2/3,
Mistral, Mixtral, Qwen2, Qwen3 and Qwen3-MoE, Gemma 2 and Gemma 3 (``gemma3``/``gemma3_text``), Phi-3/
Phi-4 (``phi3``), Llama 4 (``llama4``: interleaved MoE, shared expert, chunked attention), GPT-OSS
(``gpt_oss``: MoE with biases, attention sinks, alternating sliding-window layers), DeepSeek-V3/R1
(``deepseek_v3``, MLA) and Kimi K2 (``kimi_k2``, the DeepSeek-V3 architecture), Falcon
(``falcon``, ``RefinedWebModel``, ``RefinedWeb``), GPT-NeoX, GPT-J, OLMo 2, Granite, GPT-2 and the BERT
family (encoders). Multimodal wrappers are read through their ``text_config`` (the text decoder only).

Any other ``model_type`` goes through the generic path: the standard keys (``hidden_size`` /
``n_embd`` / ``d_model``, ``num_hidden_layers`` / ``n_layer``, ``num_attention_heads``,
``num_key_value_heads``, ``head_dim``, ``intermediate_size``, ``vocab_size``, expert counts, shared
experts, ``sliding_window``, MLA ranks, ``tie_word_embeddings``) and a Llama-style block. Every
default the importer falls back on is written into :attr:`ImportedModel.assumptions`, so a person
sees what was guessed.

Parameter counts are computed from the shapes (embeddings included), because ``config.json`` does
not record them; :func:`import_from_hub` also reads the checkpoint's own total where the Hub has
one. For Llama-2-7B the count is 6,738,415,616, the value ``model.num_parameters()`` reports.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from estimator.errors import ConfigError, EstimatorError
from estimator.specs import Architecture, AttentionKind, ModelSpec
from estimator.units import DType

__all__ = [
    "EXACT_MODEL_TYPES",
    "ImportedModel",
    "SUPPORTED_MODEL_TYPES",
    "import_config",
    "import_config_json",
    "import_from_hub",
    "model_from_config",
    "model_from_json",
]

EXACT_MODEL_TYPES: tuple[str, ...] = (
    "deepseek_v3", "falcon", "gemma2", "gemma3", "gemma3_text", "gpt2", "gpt_neox", "gpt_oss", "gptj",
    "granite", "kimi_k2", "llama", "llama4", "llama4_text", "mistral", "mixtral", "olmo2", "phi3", "qwen2",
    "qwen3", "qwen3_moe", "refinedweb", "refinedwebmodel",
)
"""``model_type`` values whose parameter count follows the family's own layer layout."""
_DECODER_TYPES = {
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
    "gemma3_text", "phi3", "phi", "deepseek_v2", "deepseek_v3", "kimi_k2", "gpt2", "opt", "olmo", "olmo2",
    "granite", "cohere", "starcoder2", "stablelm", "internlm2", "yi", "gpt_neox", "gptj", "gpt_oss",
    "llama4_text", "falcon", "refinedweb", "refinedwebmodel",
}
_ENCODER_TYPES = {"bert", "roberta", "distilbert", "xlm-roberta", "deberta-v2", "electra"}
_UNSUPPORTED_TYPES = {
    "whisper": "an encoder-decoder speech model", "t5": "an encoder-decoder model",
    "bart": "an encoder-decoder model", "mbart": "an encoder-decoder model", "marian": "an encoder-decoder model",
    "mamba": "a state-space model (no attention KV cache)", "mamba2": "a state-space model (no attention KV cache)",
    "rwkv": "a recurrent model (no attention KV cache)",
}
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_DECODER_TYPES | _ENCODER_TYPES))
"""Known ``model_type`` values; any other decoder is read through the generic path."""

_FALCON_TYPES = {"falcon", "refinedweb", "refinedwebmodel"}
_NOT_GATED = {"opt", "phi", "starcoder2", "gpt_bigcode"}
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3_text"}
_QKV_BIAS = {"qwen2", "qwen2_moe"}
_DEEPSEEK = {"deepseek_v2", "deepseek_v3", "kimi_k2"}
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers Gemma3TextConfig.__init__ defaults: Gemma 3's multimodal configs omit them.
    "gemma3_text": {"vocab_size": 262_208, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "max_position_embeddings": 131_072, "sliding_window": 4096},
}
_MAX_REASONABLE = {
    "hidden_size": 1 << 17,
    "num_hidden_layers": 1000,
    "num_attention_heads": 4096,
    "intermediate_size": 1 << 20,
    "vocab_size": 1 << 24,
}
_MAX_ANY_INT = 1 << 40
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class ImportedModel:
    """A model read from a Hugging Face config: the spec, what was assumed, and how weights are stored.

    ``weight_dtype`` comes from the config's ``quantization_config`` (fp8, mxfp4, nvfp4, int4, int8)
    or ``torch_dtype``; ``experts_only`` is true where only the routed experts are quantized (gpt-oss's
    MXFP4 checkpoints, see ``estimator.memory.weights_bytes``). ``checkpoint_params`` is the total the
    checkpoint itself records (``model.safetensors.index.json``), when it was read.
    """

    spec: ModelSpec
    assumptions: tuple[str, ...]
    weight_dtype: DType
    experts_only: bool
    source: str
    checkpoint_params: int | None = None


def _whole(key: str, value: Any) -> int:
    """``value`` as a whole number within the plausible range for ``key``; ConfigError names the key."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value)) or value != int(value)):
        raise ConfigError(f"config key {key!r} must be a whole number, got {value!r}")
    number = int(value)
    if number < 0:
        raise ConfigError(f"config key {key!r} must not be negative, got {number}")
    if number > _MAX_REASONABLE.get(key, _MAX_ANY_INT):
        raise ConfigError(f"config key {key!r} = {number} is implausibly large")
    return number


def _get(cfg: dict[str, Any], *keys: str, default: Any = ..., kind: type = int) -> Any:
    """First present key among ``keys`` converted to ``kind``; ConfigError names the key."""
    for key in keys:
        if key in cfg and cfg[key] is not None:
            value = cfg[key]
            if kind is int:
                return _whole(key, value)
            if kind is bool and not isinstance(value, bool):
                raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
            return value
    if default is ...:
        names = " or ".join(repr(k) for k in keys)
        raise ConfigError(f"config.json lacks the required key {names}")
    return default


def _opt(cfg: dict[str, Any], notes: list[str], keys: tuple[str, ...], default: Any, why: str,
         kind: type = int) -> Any:
    """Like :func:`_get` with a default, recording ``why`` in ``notes`` when no key is present."""
    value = _get(cfg, *keys, default=None, kind=kind)
    if value is None:
        notes.append(why)
        return default
    return value


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")
    return s[:80] or "custom-model"


def _parse_json(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("config.json is not UTF-8 text") from exc
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError("config.json is larger than 1 MB; a Hugging Face config is a few KB")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config.json is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError:
        raise ConfigError("config.json is nested too deeply") from None


def model_from_json(text: str | bytes, name: str | None = None) -> ModelSpec:
    """Parse ``config.json`` text and build a ``ModelSpec`` (see :func:`model_from_config`)."""
    return import_config_json(text, name=name).spec


def import_config_json(text: str | bytes, name: str | None = None,
                       source: str = "Imported Hugging Face config.json") -> ImportedModel:
    """Parse ``config.json`` text and import it (see :func:`import_config`)."""
    return import_config(_parse_json(text), name=name, source=source)


def model_from_config(config: dict[str, Any], name: str | None = None) -> ModelSpec:
    """Build a ``ModelSpec`` from a Hugging Face ``config.json`` dictionary (see :func:`import_config`).

    >>> spec = model_from_config({"model_type": "llama", "hidden_size": 4096,
    ...     "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
    ...     "vocab_size": 32000, "max_position_embeddings": 4096})
    >>> int(spec.params_total)
    6738415616
    """
    return import_config(config, name=name).spec


def import_config(config: Any, name: str | None = None,
                  source: str = "Imported Hugging Face config.json") -> ImportedModel:
    """Import a Hugging Face ``config.json`` dictionary: the spec, the assumptions and the weight format.

    Raises ``ConfigError`` naming the missing or bad key, or the model kind it cannot represent; no
    other exception escapes, whatever the JSON object holds.
    """
    if not isinstance(config, dict):
        raise ConfigError("config.json must hold a JSON object")
    notes: list[str] = []
    try:
        cfg, model_type = _flatten(config, notes)
        spec = _build(cfg, model_type, name, source, notes)
        dtype, experts_only = _weight_format(config, cfg, notes)
    except EstimatorError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "config"
        raise ConfigError(f"config.json gives an invalid {where}: {first.get('msg', exc)}") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        raise ConfigError(f"config.json could not be read as a model: {type(exc).__name__}: {exc}") from None
    return ImportedModel(spec=spec, assumptions=tuple(dict.fromkeys(notes)), weight_dtype=dtype,
                         experts_only=experts_only, source=source)


def _flatten(config: dict[str, Any], notes: list[str]) -> tuple[dict[str, Any], str]:
    """The text decoder's keys (a multimodal wrapper's ``text_config`` over the top level), the lower-case
    ``model_type``, and the family's ``transformers`` defaults for keys the file omits."""
    cfg = dict(config)
    text_config = cfg.get("text_config")
    if isinstance(text_config, dict):
        cfg.update(text_config)
        outer = str(config.get("model_type", "")).lower()
        cfg["model_type"] = text_config.get("model_type") or outer
        notes.append(f"multimodal {outer or 'wrapper'} config: only the text decoder (text_config) is counted")
    raw_type = cfg.get("model_type")
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise ConfigError("config.json lacks the required key 'model_type'")
    model_type = raw_type.strip().lower()
    if model_type in _UNSUPPORTED_TYPES:
        raise ConfigError(f"model_type {model_type!r} is not supported: it is {_UNSUPPORTED_TYPES[model_type]}")
    for key, value in _FAMILY_DEFAULTS.get(model_type, {}).items():
        if cfg.get(key) is None:
            cfg[key] = value
            notes.append(f"no {key}: the {model_type} default {value} (transformers config class)")
    return cfg, model_type


def _build(cfg: dict[str, Any], model_type: str, name: str | None, source: str, notes: list[str]) -> ModelSpec:
    if model_type in _ENCODER_TYPES:
        return _encoder(cfg, model_type, name, source)
    if model_type == "gpt2":
        return _gpt2(cfg, name, source)
    if model_type == "gptj":
        return _gptj(cfg, name, source, notes)
    if model_type == "gpt_neox":
        return _gpt_neox(cfg, name, source, notes)
    if model_type in _FALCON_TYPES:
        return _falcon(cfg, model_type, name, source, notes)
    if model_type not in _DECODER_TYPES:
        notes.append(f"unknown model_type {model_type!r}: a Llama-style decoder is assumed "
                     "(RMSNorm, gated MLP, no biases)")
    return _decoder(cfg, model_type, name, source, notes)


# ----------------------------------------------------------------------- weight format


_QUANT_METHODS = {"fp8": "fp8", "fbgemm_fp8": "fp8", "mxfp4": "mxfp4", "nvfp4": "nvfp4", "fp4": "nvfp4"}
_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32"}


def _dtype(value: str, notes: list[str], what: str) -> DType:
    """``DType(value)`` where the member exists (the catalog's formats), else bf16 with a note."""
    if value in {member.value for member in DType}:
        return DType(value)
    notes.append(f"{what}: {value} is not a weight format the estimator has; bf16 assumed")
    return DType.BF16


def _quant_bits(q: dict[str, Any]) -> str | None:
    """int4/int8 from GPTQ/AWQ ``bits``, bitsandbytes ``load_in_*bit``, compressed-tensors ``num_bits``."""
    bits = q.get("bits") or q.get("w_bit")
    if q.get("load_in_4bit") is True:
        bits = 4
    elif q.get("load_in_8bit") is True:
        bits = 8
    groups = q.get("config_groups")
    if bits is None and isinstance(groups, dict):
        for group in groups.values():
            weights = group.get("weights") if isinstance(group, dict) else None
            if isinstance(weights, dict):
                if weights.get("type") == "float" and weights.get("num_bits") == 4:
                    return "nvfp4"
                if weights.get("type") == "float" and weights.get("num_bits") == 8:
                    return "fp8"
                bits = weights.get("num_bits")
                break
    return {4: "int4", 8: "int8"}.get(bits) if isinstance(bits, int) else None


def _weight_format(config: dict[str, Any], cfg: dict[str, Any], notes: list[str]) -> tuple[DType, bool]:
    """Default weight storage format: ``quantization_config`` first, else ``torch_dtype`` (HF docs,
    "Quantization" and ``PretrainedConfig.torch_dtype``); ``True`` when only routed experts are
    quantized (``modules_to_not_convert`` names attention or the router)."""
    q = config.get("quantization_config")
    q = q if isinstance(q, dict) else cfg.get("quantization_config")
    if isinstance(q, dict):
        method = str(q.get("quant_method", "")).lower()
        algo = str(q.get("quant_algo", "")).lower()
        fmt = _QUANT_METHODS.get(method) or _QUANT_METHODS.get(algo) or _quant_bits(q)
        if fmt is None:
            notes.append(f"quantization_config {method or '(no quant_method)'} not recognised: bf16 weights assumed")
            return DType.BF16, False
        skipped = " ".join(str(m) for m in q.get("modules_to_not_convert") or [] if isinstance(m, str))
        experts_only = fmt in ("mxfp4", "nvfp4") and "self_attn" in skipped
        if fmt in ("int4", "int8"):
            notes.append(f"{method or 'quantized'} checkpoint: {fmt} weights with 16-bit scales per group assumed")
        return _dtype(fmt, notes, f"quantization_config {method}"), experts_only
    raw = cfg.get("torch_dtype", cfg.get("dtype"))
    stored = _TORCH_DTYPES.get(str(raw).lower()) if isinstance(raw, str) else None
    if stored is None:
        notes.append("no torch_dtype: bf16 weights assumed")
        return DType.BF16, False
    if stored == "fp32":
        notes.append("checkpoint stored in float32: served in bf16 (half the bytes) assumed")
        return DType.BF16, False
    return DType(stored), False


# ----------------------------------------------------------------------- decoder (Llama-style)


@dataclass(frozen=True, slots=True)
class _DecoderShape:
    """Dense shape of a decoder ``config.json``: widths, depth, heads, vocabulary, context."""

    d: int
    n_layers: int
    n_heads: int
    n_kv: int
    vocab: int
    max_ctx: int
    d_ff: int
    tied: bool
    gated: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool


@dataclass(frozen=True, slots=True)
class _MoE:
    """Mixture-of-experts keys, in each family's style (``n_experts == 1``: dense)."""

    n_experts: int
    n_active: int
    n_shared: int
    d_ff_expert: int
    shared_width: int
    n_dense: int  # dense layers (DeepSeek ``first_k_dense_replace``, Llama 4 / Qwen interleaving)
    d_ff_dense: int = 0  # width of those dense layers' MLP (Llama 4 ``intermediate_size_mlp``)
    router_extra: int = 0  # router bias / score-correction bias per expert (gpt-oss, DeepSeek-V3)
    expert_bias: bool = False  # biases on every expert projection (gpt-oss)
    shared_gate: bool = False  # Qwen2-MoE's sigmoid gate on the shared expert (d weights)


@dataclass(frozen=True, slots=True)
class _Attention:
    """Attention kind, per-head width and weights of one layer's attention block."""

    kind: AttentionKind
    head_dim: int
    rope: int
    kv_lora: int
    params: int


def _decoder_shape(cfg: dict[str, Any], model_type: str, notes: list[str] | None = None) -> _DecoderShape:
    """The dense shape; ``num_key_value_heads`` must divide ``num_attention_heads``."""
    notes = [] if notes is None else notes
    d = _get(cfg, "hidden_size", "n_embd", "d_model")
    n_layers = _get(cfg, "num_hidden_layers", "n_layer", "num_layers")
    n_heads = _get(cfg, "num_attention_heads", "n_head", "num_heads")
    n_kv = _opt(cfg, notes, ("num_key_value_heads", "num_kv_heads", "n_head_kv"), n_heads,
                "no num_key_value_heads: one K/V head per query head (MHA) assumed")
    if n_heads == 0 or d == 0 or n_layers == 0:
        raise ConfigError("hidden_size, num_hidden_layers and num_attention_heads must be positive")
    if n_kv == 0 or n_heads % n_kv != 0:
        raise ConfigError(f"num_key_value_heads ({n_kv}) must divide num_attention_heads ({n_heads})")
    tied_default = model_type in _TIED_BY_DEFAULT
    bias = bool(_get(cfg, "attention_bias", default=model_type == "gpt_oss", kind=bool))
    return _DecoderShape(
        d=d, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=_get(cfg, "vocab_size"),
        max_ctx=_opt(cfg, notes, ("max_position_embeddings", "max_sequence_length", "seq_length", "n_positions"),
                     4096, "no max_position_embeddings: a 4,096-token context assumed"),
        d_ff=_opt(cfg, notes, ("intermediate_size", "ffn_hidden_size", "n_inner"), 4 * d,
                  "no intermediate_size: 4 x hidden_size assumed"),
        tied=bool(_opt(cfg, notes, ("tie_word_embeddings",), tied_default,
                       f"no tie_word_embeddings: {'tied' if tied_default else 'separate'} input and output "
                       "embeddings assumed", kind=bool)),
        gated=model_type not in _NOT_GATED,
        qkv_bias=bias or model_type in _QKV_BIAS,
        o_bias=bias,
        mlp_bias=bool(_get(cfg, "mlp_bias", default=False, kind=bool)),
    )


def _moe_layers(cfg: dict[str, Any], model_type: str, n_layers: int, n_experts: int) -> int:
    """Dense (non-MoE) layers: DeepSeek ``first_k_dense_replace``, Qwen ``decoder_sparse_step`` /
    ``mlp_only_layers``, Llama 4 ``interleave_moe_layer_step`` / ``moe_layers``."""
    if n_experts <= 1:
        return 0
    moe_layers = cfg.get("moe_layers")
    if isinstance(moe_layers, list) and moe_layers:
        return n_layers - len({i for i in moe_layers if isinstance(i, int) and 0 <= i < n_layers})
    step = _get(cfg, "interleave_moe_layer_step", "decoder_sparse_step", "moe_layer_freq", default=1) or 1
    only_dense = cfg.get("mlp_only_layers")
    dense = {i for i in only_dense if isinstance(i, int)} if isinstance(only_dense, list) else set()
    first = _get(cfg, "first_k_dense_replace", default=0)
    is_moe = [i >= first and i not in dense and (i + 1) % step == 0 for i in range(n_layers)]
    return n_layers - sum(is_moe)


def _moe(cfg: dict[str, Any], d_ff: int, model_type: str = "", n_layers: int = 1,
         notes: list[str] | None = None) -> _MoE:
    """Experts (Mixtral ``num_local_experts``, DeepSeek ``n_routed_experts``, Qwen ``num_experts``),
    active experts per token, shared experts and their width, dense layers and router biases."""
    notes = [] if notes is None else notes
    n_experts = _get(cfg, "num_local_experts", "n_routed_experts", "num_experts", default=1) or 1
    if n_experts > 1 and _get(cfg, "num_experts_per_tok", "experts_per_token", "moe_top_k", default=None) is None:
        notes.append("no num_experts_per_tok: 2 active experts per token assumed")
    n_active = _get(cfg, "num_experts_per_tok", "experts_per_token", "moe_top_k", default=1 if n_experts <= 1 else 2)
    llama4 = model_type == "llama4_text"
    d_ff_expert = _get(cfg, "moe_intermediate_size", default=d_ff if n_experts > 1 else 0)
    n_shared = 1 if llama4 and n_experts > 1 else _get(cfg, "n_shared_experts", default=0)
    shared_width = _get(cfg, "shared_expert_intermediate_size", default=n_shared * d_ff_expert)
    if shared_width and not n_shared:
        n_shared = max(1, round(shared_width / max(d_ff_expert, 1)))
    if n_experts < 1 or n_active < 1 or n_active > n_experts:
        raise ConfigError(f"num_experts_per_tok ({n_active}) must be between 1 and the expert count ({n_experts})")
    noaux = model_type in _DEEPSEEK and cfg.get("topk_method") == "noaux_tc"
    return _MoE(
        n_experts=n_experts, n_active=n_active, n_shared=n_shared, d_ff_expert=d_ff_expert,
        shared_width=shared_width, n_dense=_moe_layers(cfg, model_type, n_layers, n_experts),
        d_ff_dense=_get(cfg, "intermediate_size_mlp", default=d_ff) if llama4 else d_ff,
        router_extra=n_experts if (model_type == "gpt_oss" or noaux) else 0,
        expert_bias=model_type == "gpt_oss", shared_gate=model_type == "qwen2_moe" and shared_width > 0,
    )


def _mla(cfg: dict[str, Any], s: _DecoderShape, kv_lora: int) -> _Attention:
    """MLA (DeepSeek-V2/V3): with head dim ``h = nope + rope``,
    ``q = d r_q + r_q + r_q H h`` (or ``d H h`` without a query LoRA),
    ``kv = d (r_kv + rope) + r_kv + r_kv H (nope + v)``, plus the output ``H v d``
    (DeepSeek-V2, arXiv:2405.04434 §2.1; the ``+ r`` terms are the latent RMSNorms)."""
    d, n_heads = s.d, s.n_heads
    rope = _get(cfg, "qk_rope_head_dim")
    nope = _get(cfg, "qk_nope_head_dim")
    v_head = _get(cfg, "v_head_dim", default=nope)
    q_lora = _get(cfg, "q_lora_rank", default=0)
    head_dim = nope + rope
    if head_dim == 0:
        raise ConfigError("qk_nope_head_dim + qk_rope_head_dim must be positive")
    q_params = (d * q_lora + q_lora + q_lora * n_heads * head_dim) if q_lora else d * n_heads * head_dim
    kv_params = d * (kv_lora + rope) + kv_lora + kv_lora * n_heads * (nope + v_head)
    return _Attention(kind=AttentionKind.MLA, head_dim=head_dim, rope=rope, kv_lora=kv_lora,
                      params=q_params + kv_params + n_heads * v_head * d)


def _qk_norm_params(model_type: str, n_heads: int, n_kv: int, head_dim: int) -> int:
    """Weights of the query/key RMSNorms: per head width in Qwen3 and Gemma 3 (``2 h``), across all
    heads in OLMo 2 (``(H + H_kv) h``); Llama 4's QK norm has no weights."""
    if model_type in {"qwen3", "qwen3_moe", "gemma3_text"}:
        return 2 * head_dim
    if model_type == "olmo2":
        return (n_heads + n_kv) * head_dim
    return 0


def _attention(cfg: dict[str, Any], s: _DecoderShape, model_type: str = "llama",
               notes: list[str] | None = None) -> _Attention:
    """Weights of one attention block.

    MLA when ``kv_lora_rank`` > 0 (:func:`_mla`). Otherwise ``2 d H h + 2 d H_kv h`` (q, o and k, v),
    plus ``H h + 2 H_kv h`` biases where the family has them (Qwen2, ``attention_bias``) and ``d`` for
    an output bias, the Q/K norms (:func:`_qk_norm_params`) and gpt-oss's ``H`` attention-sink logits
    (OpenAI 2025, gpt-oss model card arXiv:2508.10925 §2.1). MHA when ``H_kv = H``, MQA when 1, else GQA.
    """
    notes = [] if notes is None else notes
    kv_lora = _get(cfg, "kv_lora_rank", default=0)
    if kv_lora:
        return _mla(cfg, s, kv_lora)
    d, n_heads, n_kv = s.d, s.n_heads, s.n_kv
    head_dim = _opt(cfg, notes, ("head_dim",), d // n_heads, "no head_dim: hidden_size / num_attention_heads")
    if head_dim == 0:
        raise ConfigError("head_dim must be positive")
    kind = AttentionKind.MHA if n_kv == n_heads else (AttentionKind.MQA if n_kv == 1 else AttentionKind.GQA)
    q_out, kv_out = n_heads * head_dim, n_kv * head_dim
    attn = d * q_out + 2 * d * kv_out + q_out * d + _qk_norm_params(model_type, n_heads, n_kv, head_dim)
    if s.qkv_bias:
        attn += q_out + 2 * kv_out
    if s.o_bias:
        attn += d
    if model_type == "gpt_oss":
        attn += n_heads
    return _Attention(kind=kind, head_dim=head_dim, rope=0, kv_lora=kv_lora, params=attn)


def _sliding_window(cfg: dict[str, Any]) -> int:
    """``sliding_window`` unless ``use_sliding_window`` is false (Qwen2); 0 for none."""
    sliding = _get(cfg, "sliding_window", default=0)
    return 0 if cfg.get("use_sliding_window") is False else sliding


def _windowed_layers(cfg: dict[str, Any], model_type: str, n_layers: int) -> int:
    """How many layers attend within a window (0: all of them, when there is a window).

    ``layer_types`` where the config lists it (gpt-oss: alternating ``sliding_attention``); Gemma 2
    alternates (even layers local); Gemma 3 has ``sliding_window_pattern - 1`` local layers per global
    one (5:1; Gemma 3 report arXiv:2503.19786 §2.2); Llama 4 chunks every layer that uses RoPE, all but
    every ``no_rope_layer_interval``-th (3 of 4; transformers ``Llama4TextConfig.no_rope_layers``).
    """
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and len(layer_types) == n_layers:
        return sum(1 for t in layer_types if t in ("sliding_attention", "chunked_attention"))
    if model_type == "gemma2":
        return (n_layers + 1) // 2
    if model_type == "gemma3_text":
        pattern = _get(cfg, "sliding_window_pattern", default=6) or 1
        return n_layers - n_layers // pattern
    if model_type == "llama4_text":
        no_rope = cfg.get("no_rope_layers")
        if isinstance(no_rope, list) and len(no_rope) == n_layers:
            return sum(1 for flag in no_rope if flag)
        interval = _get(cfg, "no_rope_layer_interval", default=4) or 1
        return n_layers - n_layers // interval
    return 0


def _window(cfg: dict[str, Any], model_type: str, s: _DecoderShape, notes: list[str]) -> tuple[int, int]:
    """(window tokens, windowed layers): Llama 4's ``attention_chunk_size`` counts as a window (a
    chunk never needs more than that many cached tokens); a window at least the context is none."""
    window = _sliding_window(cfg)
    if model_type == "llama4_text":
        window = _get(cfg, "attention_chunk_size", default=0)
        if window:
            notes.append(f"chunked attention: the KV cache of chunked layers holds at most {window:,} tokens")
    if window <= 0 or window >= s.max_ctx:
        return 0, 0
    n_windowed = _windowed_layers(cfg, model_type, s.n_layers)
    return window, (0 if n_windowed >= s.n_layers else n_windowed)


def _layer_norms(model_type: str, d: int) -> int:
    """RMSNorm weights per layer: ``2 d`` (before attention and MLP), ``4 d`` in Gemma 2/3 (also after)."""
    return (4 if model_type in {"gemma2", "gemma3_text"} else 2) * d


def _mlp_params(d: int, width: int, gated: bool, bias: bool) -> int:
    """One MLP: ``3 d f`` gated (gate, up, down) or ``2 d f``, plus ``2f + d`` / ``f + d`` biases."""
    mats = 3 if gated else 2
    return mats * d * width + ((mats - 1) * width + d if bias else 0)


def _decoder_params(model_type: str, s: _DecoderShape, moe: _MoE, attn: _Attention) -> tuple[int, int]:
    """(total, active) parameters.

    Per layer: attention + norms (:func:`_layer_norms`) + MLP (:func:`_mlp_params`). An MoE layer
    has ``E`` expert MLPs of width ``f_e`` (``k`` active), the shared experts, a router ``d E`` (plus
    per-expert biases in gpt-oss and DeepSeek-V3's score-correction bias); the ``n_dense`` dense
    layers use ``d_ff_dense``. Plus embeddings ``V d`` (twice untied) and the final norm ``d``::

        P = L (A + N) + (L - L_moe) M_dense + L_moe (E M_e + M_shared + d E + b_router) + V d (1|2) + d

    Units: parameters. Sources: the Llama block (RMSNorm, SwiGLU; Touvron et al. 2023 arXiv:2302.13971
    §2), MoE layers (Mixtral, Jiang et al. 2024 arXiv:2401.04088 §2; DeepSeek-V3 arXiv:2412.19437
    §2.1.2 for shared experts and the bias term), and each family's HF modeling file; pinned to published
    totals in ``tests/test_hf_published.py`` (e.g. DeepSeek-V3 671,026,419,200 = "671B").
    """
    d = s.d
    dense_mlp = _mlp_params(d, moe.d_ff_dense or s.d_ff, s.gated, s.mlp_bias)
    n_moe_layers = s.n_layers - moe.n_dense if moe.n_experts > 1 else 0
    moe_total = moe_active = 0
    if n_moe_layers:
        expert = _mlp_params(d, moe.d_ff_expert, s.gated, moe.expert_bias)
        shared = _mlp_params(d, moe.shared_width, s.gated, False) if moe.shared_width else 0
        fixed = shared + d * moe.n_experts + moe.router_extra + (d if moe.shared_gate else 0)
        moe_total, moe_active = moe.n_experts * expert + fixed, moe.n_active * expert + fixed
    emb = s.vocab * d * (1 if s.tied else 2)
    base = (s.n_layers * (attn.params + _layer_norms(model_type, d))
            + (s.n_layers - n_moe_layers) * dense_mlp + emb + d)
    return base + n_moe_layers * moe_total, base + n_moe_layers * moe_active


def _display_name(cfg: dict[str, Any], model_type: str, name: str | None) -> str:
    return name or str(cfg.get("_name_or_path") or f"custom {model_type}")[:120]


def _decoder(cfg: dict[str, Any], model_type: str, name: str | None, source: str, notes: list[str]) -> ModelSpec:
    """A decoder ``ModelSpec``: shape -> experts -> attention -> window -> parameter counts."""
    s = _decoder_shape(cfg, model_type, notes)
    moe = _moe(cfg, s.d_ff, model_type, s.n_layers, notes)
    attn = _attention(cfg, s, model_type, notes)
    window, n_windowed = _window(cfg, model_type, s, notes)
    total, active = _decoder_params(model_type, s, moe, attn)
    display = _display_name(cfg, model_type, name)
    is_moe = moe.n_experts > 1
    return ModelSpec(
        model_id=_slug(name or display), name=display, family=model_type, architecture=Architecture.DECODER,
        params_total=float(total), params_active=float(active), n_layers=s.n_layers, d_model=s.d,
        n_heads=s.n_heads, n_kv_heads=s.n_kv if attn.kind != AttentionKind.MLA else s.n_heads,
        head_dim=attn.head_dim, d_ff=moe.d_ff_dense if is_moe else s.d_ff, vocab_size=s.vocab,
        max_context=s.max_ctx, n_experts=max(1, moe.n_experts), n_experts_active=moe.n_active if is_moe else 1,
        n_shared_experts=moe.n_shared if is_moe else 0, d_ff_expert=moe.d_ff_expert if is_moe else 0,
        n_dense_layers=moe.n_dense, attention=attn.kind, sliding_window=window, n_sliding_layers=n_windowed,
        kv_lora_rank=attn.kv_lora, qk_rope_head_dim=attn.rope, gated_mlp=s.gated, tied_embeddings=s.tied,
        source=source, notes="Parameter count computed from the config's shapes (embeddings included).",
    )


# ----------------------------------------------------------------------- other decoder layouts


def _plain_spec(cfg: dict[str, Any], family: str, name: str | None, source: str, *, total: int, d: int,
                n_layers: int, n_heads: int, n_kv: int, d_ff: int, vocab: int, max_ctx: int, tied: bool,
                gated: bool = False, notes: str = "") -> ModelSpec:
    """A dense decoder spec from a family-specific count (GPT-2, GPT-J, GPT-NeoX, Falcon)."""
    display = _display_name(cfg, family, name)
    kind = AttentionKind.MHA if n_kv == n_heads else (AttentionKind.MQA if n_kv == 1 else AttentionKind.GQA)
    return ModelSpec(
        model_id=_slug(name or display), name=display, family=family, architecture=Architecture.DECODER,
        params_total=float(total), params_active=float(total), n_layers=n_layers, d_model=d, n_heads=n_heads,
        n_kv_heads=n_kv, head_dim=d // n_heads, d_ff=d_ff, vocab_size=vocab, max_context=max_ctx, attention=kind,
        gated_mlp=gated, tied_embeddings=tied, source=source,
        notes=notes or "Parameter count computed from the config's shapes (embeddings included).",
    )


def _gpt2(cfg: dict[str, Any], name: str | None, source: str = "Imported Hugging Face config.json") -> ModelSpec:
    """GPT-2: per layer qkv ``3d^2 + 3d``, proj ``d^2 + d``, MLP ``2 d f + f + d``, two LayerNorms
    ``4d``; token and position embeddings, tied head, final LayerNorm ``2d`` (Radford et al. 2019)."""
    d = _get(cfg, "n_embd")
    n_layers = _get(cfg, "n_layer")
    n_heads = _get(cfg, "n_head")
    vocab = _get(cfg, "vocab_size")
    n_pos = _get(cfg, "n_positions", "n_ctx")
    d_ff = _get(cfg, "n_inner", default=4 * d)
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("n_embd, n_layer and n_head must be positive")
    layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    total = n_layers * layer + vocab * d + n_pos * d + 2 * d
    return _plain_spec(cfg, "gpt2", name, source, total=total, d=d, n_layers=n_layers, n_heads=n_heads,
                       n_kv=n_heads, d_ff=d_ff, vocab=vocab, max_ctx=n_pos, tied=True)


def _gptj(cfg: dict[str, Any], name: str | None, source: str, notes: list[str]) -> ModelSpec:
    """GPT-J (Wang & Komatsuzaki 2021; HF ``GPTJForCausalLM``): parallel block with one LayerNorm
    ``2d``; q, k, v, out without bias ``4 d^2``; MLP ``fc_in`` ``d f + f`` and ``fc_out`` ``f d + d``;
    token embedding ``V d``, untied ``lm_head`` with bias ``V d + V``; final LayerNorm ``2d``."""
    d = _get(cfg, "n_embd", "hidden_size")
    n_layers = _get(cfg, "n_layer", "num_hidden_layers")
    n_heads = _get(cfg, "n_head", "num_attention_heads")
    vocab = _get(cfg, "vocab_size")
    d_ff = _opt(cfg, notes, ("n_inner",), 4 * d, "no n_inner: 4 x n_embd (the GPT-J default)")
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("n_embd, n_layer and n_head must be positive")
    layer = 4 * d * d + 2 * d * d_ff + d_ff + d + 2 * d
    total = n_layers * layer + 2 * vocab * d + vocab + 2 * d
    return _plain_spec(cfg, "gptj", name, source, total=total, d=d, n_layers=n_layers, n_heads=n_heads,
                       n_kv=n_heads, d_ff=d_ff, vocab=vocab, max_ctx=_get(cfg, "n_positions", default=2048),
                       tied=False)


def _gpt_neox(cfg: dict[str, Any], name: str | None, source: str, notes: list[str]) -> ModelSpec:
    """GPT-NeoX / Pythia (Black et al. 2022; HF ``GPTNeoXForCausalLM``): two LayerNorms ``4d``; fused
    qkv with bias ``3d^2 + 3d`` and dense ``d^2 + d`` (``attention_bias``, default true); MLP
    ``2 d f + f + d``; ``embed_in`` and untied ``embed_out`` ``2 V d``; final LayerNorm ``2d``."""
    d = _get(cfg, "hidden_size")
    n_layers = _get(cfg, "num_hidden_layers")
    n_heads = _get(cfg, "num_attention_heads")
    vocab = _get(cfg, "vocab_size")
    d_ff = _opt(cfg, notes, ("intermediate_size",), 4 * d, "no intermediate_size: 4 x hidden_size assumed")
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("hidden_size, num_hidden_layers and num_attention_heads must be positive")
    bias = bool(_get(cfg, "attention_bias", default=True, kind=bool))
    tied = bool(_get(cfg, "tie_word_embeddings", default=False, kind=bool))
    layer = 4 * d * d + (4 * d if bias else 0) + 2 * d * d_ff + d_ff + d + 4 * d
    total = n_layers * layer + vocab * d * (1 if tied else 2) + 2 * d
    return _plain_spec(cfg, "gpt_neox", name, source, total=total, d=d, n_layers=n_layers, n_heads=n_heads,
                       n_kv=n_heads, d_ff=d_ff, vocab=vocab,
                       max_ctx=_get(cfg, "max_position_embeddings", default=2048), tied=tied)


def _falcon_heads(cfg: dict[str, Any], n_heads: int) -> tuple[int, bool]:
    """K/V heads and the decoder layout (HF ``FalconAttention``): ``multi_query`` without
    ``new_decoder_architecture`` (Falcon-7B) has one K/V head; otherwise ``num_kv_heads`` groups
    (Falcon-40B/180B), defaulting to one per query head."""
    new_arch = bool(_get(cfg, "new_decoder_architecture", default=False, kind=bool))
    multi_query = bool(_get(cfg, "multi_query", default=True, kind=bool))
    if multi_query and not new_arch:
        return 1, False
    return _get(cfg, "num_kv_heads", "n_head_kv", default=n_heads), new_arch


def _falcon(cfg: dict[str, Any], model_type: str, name: str | None, source: str, notes: list[str]) -> ModelSpec:
    """Falcon (Almazrouei et al. 2023; HF ``FalconForCausalLM`` and the original ``RWForCausalLM``).

    Per layer: fused qkv ``d (H + 2 H_kv) h`` and dense ``d^2`` (plus biases when ``bias``), MLP
    ``2 d f`` (``f = 4d`` unless ``ffn_hidden_size``), LayerNorms with bias: one (``2d``) for the
    parallel block of Falcon-7B, two (``4d``) for ``new_decoder_architecture`` or a sequential block.
    Word embeddings ``V d`` tied to the head, final LayerNorm ``2d``.
    """
    d = _get(cfg, "hidden_size", "n_embed")
    n_layers = _get(cfg, "num_hidden_layers", "n_layer")
    n_heads = _get(cfg, "num_attention_heads", "n_head")
    vocab = _get(cfg, "vocab_size")
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("hidden_size, n_layer and n_head must be positive")
    n_kv, new_arch = _falcon_heads(cfg, n_heads)
    if n_kv == 0 or n_heads % n_kv:
        raise ConfigError(f"num_kv_heads ({n_kv}) must divide n_head ({n_heads})")
    head = d // n_heads
    d_ff = _get(cfg, "ffn_hidden_size", default=4 * d)
    bias = bool(_get(cfg, "bias", default=False, kind=bool))
    parallel = bool(_get(cfg, "parallel_attn", default=True, kind=bool))
    n_norms = 2 if (new_arch and _get(cfg, "num_ln_in_parallel_attn", default=2) == 2) or not parallel else 1
    qkv_out = (n_heads + 2 * n_kv) * head
    layer = d * qkv_out + d * d + 2 * d * d_ff + n_norms * 2 * d
    if bias:
        layer += qkv_out + d + d_ff + d
    tied = bool(_get(cfg, "tie_word_embeddings", default=True, kind=bool))
    total = n_layers * layer + vocab * d * (1 if tied else 2) + 2 * d
    max_ctx = _opt(cfg, notes, ("max_position_embeddings",), 2048,
                   "no max_position_embeddings: Falcon's 2,048-token training context assumed")
    if _get(cfg, "alibi", default=False, kind=bool):
        notes.append("ALiBi positions: no rotary embedding parameters (none are counted anyway)")
    return _plain_spec(cfg, "falcon", name, source, total=total, d=d, n_layers=n_layers, n_heads=n_heads,
                       n_kv=n_kv, d_ff=d_ff, vocab=vocab, max_ctx=max_ctx, tied=tied,
                       notes=f"Falcon ({model_type}); parameter count computed from the config's shapes.")


def _encoder(cfg: dict[str, Any], model_type: str, name: str | None,
             source: str = "Imported Hugging Face config.json") -> ModelSpec:
    """BERT-family encoder: per layer q, k, v, o with biases ``4d^2 + 4d``, FFN ``2 d f + f + d``,
    two LayerNorms ``4d``; token, position and token-type embeddings plus their LayerNorm."""
    if model_type == "distilbert":
        d, n_layers, n_heads, d_ff = (_get(cfg, "dim"), _get(cfg, "n_layers"), _get(cfg, "n_heads"),
                                      _get(cfg, "hidden_dim"))
        type_vocab = 0
    else:
        d, n_layers, n_heads, d_ff = (_get(cfg, "hidden_size"), _get(cfg, "num_hidden_layers"),
                                      _get(cfg, "num_attention_heads"), _get(cfg, "intermediate_size"))
        type_vocab = _get(cfg, "type_vocab_size", default=2)
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("hidden size, layer count and head count must be positive")
    vocab = _get(cfg, "vocab_size")
    n_pos = _get(cfg, "max_position_embeddings")
    layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    total = n_layers * layer + (vocab + n_pos + type_vocab) * d + 2 * d
    display = _display_name(cfg, model_type, name)
    return ModelSpec(
        model_id=_slug(name or display), name=display, family=model_type, architecture=Architecture.ENCODER,
        params_total=float(total), params_active=float(total), n_layers=n_layers, d_model=d,
        n_heads=n_heads, n_kv_heads=n_heads, head_dim=d // n_heads, d_ff=d_ff, vocab_size=vocab,
        max_context=n_pos, attention=AttentionKind.MHA, gated_mlp=False, tied_embeddings=True, source=source,
        notes="Encoder only (no pooler or task head counted); parameter count computed from shapes.",
    )


# ----------------------------------------------------------------------- Hugging Face Hub


def _hub_settings() -> tuple[str, str | None]:
    """The endpoint and cache folder, read when called: ``HF_ENDPOINT`` (default huggingface.co),
    ``HF_HUB_CACHE`` or ``HF_HOME``/hub (huggingface_hub's environment variables)."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"
    cache = os.environ.get("HF_HUB_CACHE") or (
        str(Path(os.environ["HF_HOME"]) / "hub") if os.environ.get("HF_HOME") else None)
    return endpoint, cache


def _hub_error(exc: Exception, repo_id: str, filename: str, endpoint: str, online: bool = True) -> ConfigError:
    """A ConfigError that says what went wrong fetching ``filename`` and what to do."""
    from huggingface_hub import errors as hub_errors

    if isinstance(exc, hub_errors.GatedRepoError):
        return ConfigError(f"{repo_id} is gated: accept its licence on the Hub and set HF_TOKEN")
    if isinstance(exc, hub_errors.RepositoryNotFoundError):
        return ConfigError(f"no model {repo_id!r} on {endpoint} (or it is private: set HF_TOKEN)")
    if isinstance(exc, hub_errors.RevisionNotFoundError):
        return ConfigError(f"{repo_id} has no such revision")
    local_miss = isinstance(exc, hub_errors.LocalEntryNotFoundError)
    if isinstance(exc, hub_errors.EntryNotFoundError) and not local_miss:
        return ConfigError(f"{repo_id} has no {filename}")
    if isinstance(exc, hub_errors.HfHubHTTPError):
        return ConfigError(f"{endpoint} refused {repo_id}/{filename}: {str(exc).splitlines()[0][:200]}")
    if not online or local_miss or isinstance(exc, OSError) or "Connect" in type(exc).__name__:
        return ConfigError(f"cannot reach {endpoint} for {repo_id}/{filename} and no copy is cached; "
                           "check the connection or HF_ENDPOINT")
    return ConfigError(f"could not fetch {repo_id}/{filename} from {endpoint}: {type(exc).__name__}")


def _reachable(endpoint: str, timeout_s: float) -> bool:
    """Whether a TCP connection to the endpoint opens (skipped behind a proxy, which the client uses):
    an unreachable Hub then fails at once instead of after huggingface_hub's ~20 s of retries."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return True
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=min(timeout_s, 3.0)):
            return True
    except (OSError, ValueError):
        return False


def _hub_file(repo_id: str, filename: str, revision: str | None, token: str | None, timeout_s: float) -> bytes:
    """``filename`` from the model repo (cached under the HF cache; the cached copy when the Hub
    cannot be reached), or ConfigError."""
    from huggingface_hub import hf_hub_download

    endpoint, cache = _hub_settings()
    online = _reachable(endpoint, timeout_s)
    try:
        path = hf_hub_download(repo_id, filename, revision=revision, token=token, cache_dir=cache,
                               endpoint=endpoint, etag_timeout=timeout_s, local_files_only=not online)
        with open(path, "rb") as fh:
            return fh.read(MAX_CONFIG_BYTES + 1)
    except Exception as exc:  # every client failure becomes a ConfigError with advice
        raise _hub_error(exc, repo_id, filename, endpoint, online) from None


def _checkpoint_params(repo_id: str, revision: str | None, token: str | None, timeout_s: float) -> int | None:
    """``metadata.total_parameters`` of ``model.safetensors.index.json`` (written by transformers'
    ``save_pretrained`` for sharded checkpoints), or None where the repo has no such record."""
    try:
        index = _parse_json(_hub_file(repo_id, "model.safetensors.index.json", revision, token, timeout_s))
    except ConfigError:
        return None
    meta = index.get("metadata") if isinstance(index, dict) else None
    total = meta.get("total_parameters") if isinstance(meta, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else None


def import_from_hub(repo_id: str, revision: str | None = None, token: str | None = None,
                    timeout_s: float = 10.0) -> ImportedModel:
    """Import a model by Hub id (``"openai/gpt-oss-20b"``): its ``config.json`` through
    ``huggingface_hub.hf_hub_download`` (``HF_ENDPOINT``, ``HF_HOME`` and ``HF_TOKEN`` honoured),
    plus the checkpoint's own parameter total from ``model.safetensors.index.json`` when it has one.

    An unquantized checkpoint's total replaces the shape-derived count (it also holds what the
    config does not describe: a vision tower, multi-token-prediction layers); the difference is
    listed in the assumptions. Every failure (unknown repo, missing file, offline, bad JSON) raises
    ``ConfigError`` with a message that says what to do.
    """
    if not isinstance(repo_id, str) or not _HUB_ID.match(repo_id.strip()):
        raise ConfigError(f"{repo_id!r} is not a Hugging Face model id (owner/name)")
    if revision is not None and not _REVISION.match(revision):
        raise ConfigError(f"{revision!r} is not a revision (a branch, tag or commit)")
    repo_id = repo_id.strip()
    where = f"Hugging Face Hub {repo_id}" + (f"@{revision}" if revision else "")
    token = token or os.environ.get("HF_TOKEN") or None
    result = import_config_json(_hub_file(repo_id, "config.json", revision, token, timeout_s),
                                name=repo_id, source=f"{where} config.json")
    if result.weight_dtype in (DType.BF16, DType.FP16):
        result = _with_modelopt_format(result, repo_id, revision, token, timeout_s)
    total = _checkpoint_params(repo_id, revision, token, timeout_s)
    if total is None:
        return result
    return _with_checkpoint_total(result, total)


_MODELOPT_ALGOS = {"nvfp4": DType.NVFP4, "fp8": DType.FP8, "w4a16_awq": DType.INT4, "w4a8_awq": DType.INT4,
                   "int8_sq": DType.INT8, "mxfp4": DType.MXFP4}


def _with_modelopt_format(result: ImportedModel, repo_id: str, revision: str | None, token: str | None,
                          timeout_s: float) -> ImportedModel:
    """``result`` with the weight format of NVIDIA TensorRT Model Optimizer's ``hf_quant_config.json``
    (``quantization.quant_algo``: NVFP4, FP8, ...), which its exports carry beside a config.json that has
    no ``quantization_config``."""
    try:
        data = _parse_json(_hub_file(repo_id, "hf_quant_config.json", revision, token, timeout_s))
    except ConfigError:
        return result
    quant = data.get("quantization") if isinstance(data, dict) else None
    algo = str(quant.get("quant_algo", "")).lower() if isinstance(quant, dict) else ""
    dtype = _MODELOPT_ALGOS.get(algo)
    if dtype is None:
        return result
    notes = [*result.assumptions, f"weights in {dtype} from hf_quant_config.json (quant_algo {algo.upper()})"]
    kv_algo = quant.get("kv_cache_quant_algo") if isinstance(quant, dict) else None
    if isinstance(kv_algo, str) and kv_algo:
        notes.append(f"the checkpoint is calibrated for a {kv_algo} KV cache")
    return ImportedModel(spec=result.spec, assumptions=tuple(dict.fromkeys(notes)), weight_dtype=dtype,
                         experts_only=False, source=result.source, checkpoint_params=result.checkpoint_params)


def _with_checkpoint_total(result: ImportedModel, total: int) -> ImportedModel:
    """``result`` with the checkpoint's parameter total, where that is a count of real weights."""
    spec, notes = result.spec, list(result.assumptions)
    derived = int(spec.params_total)
    if result.weight_dtype not in (DType.BF16, DType.FP16, DType.FP32):
        notes.append(f"checkpoint index counts {total:,} stored elements of a {result.weight_dtype} checkpoint "
                     f"(packed); the shape-derived {derived:,} parameters are used")
        return _replace(result, spec=spec, notes=notes, total=total)
    if total != derived:
        notes.append(f"parameter total {total:,} from the checkpoint index; the config's text decoder "
                     f"accounts for {derived:,} (the rest: vision tower, extra heads or buffers)")
        spec = spec.model_copy(update={
            "params_total": float(max(total, spec.params_active)),
            "notes": "Parameter total from the checkpoint's model.safetensors.index.json.",
        })
    return _replace(result, spec=spec, notes=notes, total=total)


def _replace(result: ImportedModel, *, spec: ModelSpec, notes: list[str], total: int) -> ImportedModel:
    return ImportedModel(spec=spec, assumptions=tuple(dict.fromkeys(notes)), weight_dtype=result.weight_dtype,
                         experts_only=result.experts_only, source=result.source, checkpoint_params=total)
