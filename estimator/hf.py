"""Build a ``ModelSpec`` from a Hugging Face ``config.json``.

Supported key styles: Llama / Mistral / Qwen2 / Qwen3 / Gemma / Gemma 2 / Phi-3 (``hidden_size``,
``num_key_value_heads``...), Mixtral and Qwen-MoE (``num_local_experts``, ``num_experts``,
``moe_intermediate_size``), DeepSeek-V2/V3 (MLA: ``kv_lora_rank``, ``qk_rope_head_dim``;
``n_routed_experts``, ``first_k_dense_replace``), GPT-2 (``n_embd``, ``n_layer``), BERT/RoBERTa
and DistilBERT (encoders), and multimodal wrappers with a nested ``text_config``.

Parameter counts are computed from the shapes (embeddings included), because ``config.json``
does not record them. For Llama-2-7B the count is 6,738,415,616, the value
``model.num_parameters()`` reports (Hugging Face transformers).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from estimator.errors import ConfigError
from estimator.specs import Architecture, AttentionKind, ModelSpec

__all__ = ["model_from_config", "model_from_json", "SUPPORTED_MODEL_TYPES"]

_DECODER_TYPES = {
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
    "gemma3_text", "phi3", "phi", "deepseek_v2", "deepseek_v3", "gpt2", "opt", "falcon", "olmo",
    "olmo2", "granite", "cohere", "starcoder2", "stablelm", "internlm2", "yi", "gpt_neox",
}
_ENCODER_TYPES = {"bert", "roberta", "distilbert", "xlm-roberta", "deberta-v2", "electra"}
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_DECODER_TYPES | _ENCODER_TYPES))

_MAX_REASONABLE = {
    "hidden_size": 1 << 17,
    "num_hidden_layers": 1000,
    "num_attention_heads": 4096,
    "intermediate_size": 1 << 20,
    "vocab_size": 1 << 24,
}


def _get(cfg: dict[str, Any], *keys: str, default: Any = ..., kind: type = int) -> Any:
    """First present key among ``keys`` converted to ``kind``; ConfigError names the key."""
    for key in keys:
        if key in cfg and cfg[key] is not None:
            value = cfg[key]
            if kind is int:
                if (isinstance(value, bool) or not isinstance(value, (int, float))
                        or (isinstance(value, float) and not math.isfinite(value)) or value != int(value)):
                    raise ConfigError(f"config key {key!r} must be a whole number, got {value!r}")
                value = int(value)
                if value < 0:
                    raise ConfigError(f"config key {key!r} must not be negative, got {value}")
                limit = _MAX_REASONABLE.get(key)
                if limit is not None and value > limit:
                    raise ConfigError(f"config key {key!r} = {value} is implausibly large")
            elif kind is bool and not isinstance(value, bool):
                raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
            return value
    if default is ...:
        names = " or ".join(repr(k) for k in keys)
        raise ConfigError(f"config.json lacks the required key {names}")
    return default


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")
    return s[:80] or "custom-model"


def model_from_json(text: str | bytes, name: str | None = None) -> ModelSpec:
    """Parse ``config.json`` text and build a ``ModelSpec`` (see ``model_from_config``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("config.json is not UTF-8 text") from exc
    if len(text) > 1_000_000:
        raise ConfigError("config.json is larger than 1 MB; a Hugging Face config is a few KB")
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config.json is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    return model_from_config(cfg, name=name)


def model_from_config(config: dict[str, Any], name: str | None = None) -> ModelSpec:
    """Build a ``ModelSpec`` from a Hugging Face ``config.json`` dictionary.

    Raises ``ConfigError`` naming the missing or bad key, or the unsupported ``model_type``.

    >>> spec = model_from_config({"model_type": "llama", "hidden_size": 4096,
    ...     "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
    ...     "vocab_size": 32000, "max_position_embeddings": 4096})
    >>> int(spec.params_total)
    6738415616
    """
    if not isinstance(config, dict):
        raise ConfigError("config.json must hold a JSON object")
    cfg = dict(config)
    if isinstance(cfg.get("text_config"), dict):
        merged = dict(cfg)
        merged.update(cfg["text_config"])
        if "model_type" in cfg["text_config"]:
            merged["model_type"] = cfg["text_config"]["model_type"]
        cfg = merged
    model_type = str(cfg.get("model_type", "")).lower()
    if not model_type:
        raise ConfigError("config.json lacks the required key 'model_type'")
    if model_type not in _DECODER_TYPES and model_type not in _ENCODER_TYPES:
        raise ConfigError(
            f"model_type {model_type!r} is not supported; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    try:
        if model_type in _ENCODER_TYPES:
            return _encoder(cfg, model_type, name)
        if model_type == "gpt2":
            return _gpt2(cfg, name)
        return _decoder(cfg, model_type, name)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "config"
        raise ConfigError(f"config.json gives an invalid {where}: {first.get('msg', exc)}") from None


def _display_name(cfg: dict[str, Any], model_type: str, name: str | None) -> str:
    return name or str(cfg.get("_name_or_path") or f"custom {model_type}")


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


@dataclass(frozen=True, slots=True)
class _MoE:
    """Mixture-of-experts keys, in each family's style (``n_experts == 1``: dense)."""

    n_experts: int
    n_active: int
    n_shared: int
    d_ff_expert: int
    shared_width: int
    n_dense: int  # leading dense layers (DeepSeek ``first_k_dense_replace``)


@dataclass(frozen=True, slots=True)
class _Attention:
    """Attention kind, per-head width and weights of one layer's attention block."""

    kind: AttentionKind
    head_dim: int
    rope: int
    kv_lora: int
    params: int


def _decoder_shape(cfg: dict[str, Any], model_type: str) -> _DecoderShape:
    """The dense shape; ``num_key_value_heads`` must divide ``num_attention_heads``."""
    d = _get(cfg, "hidden_size")
    n_layers = _get(cfg, "num_hidden_layers")
    n_heads = _get(cfg, "num_attention_heads")
    n_kv = _get(cfg, "num_key_value_heads", default=n_heads)
    if n_heads == 0 or d == 0 or n_layers == 0:
        raise ConfigError("hidden_size, num_hidden_layers and num_attention_heads must be positive")
    if n_kv == 0 or n_heads % n_kv != 0:
        raise ConfigError(
            f"num_key_value_heads ({n_kv}) must divide num_attention_heads ({n_heads})"
        )
    return _DecoderShape(
        d=d, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=_get(cfg, "vocab_size"),
        max_ctx=_get(cfg, "max_position_embeddings", "max_sequence_length", "seq_length"),
        d_ff=_get(cfg, "intermediate_size", "ffn_hidden_size", default=4 * d),
        tied=bool(_get(cfg, "tie_word_embeddings", default=model_type.startswith("gemma"), kind=bool)),
        gated=model_type not in {"opt", "falcon", "phi", "gpt_neox", "starcoder2"},
        qkv_bias=bool(cfg.get("attention_bias", False)) or model_type in {"qwen2", "qwen2_moe"},
    )


def _moe(cfg: dict[str, Any], d_ff: int) -> _MoE:
    """Experts (Mixtral ``num_local_experts``, DeepSeek ``n_routed_experts``, Qwen ``num_experts``),
    active experts per token, shared experts and their width, leading dense layers."""
    n_experts = _get(cfg, "num_local_experts", "n_routed_experts", "num_experts", default=1)
    n_active = _get(cfg, "num_experts_per_tok", default=1 if n_experts <= 1 else 2)
    n_shared = _get(cfg, "n_shared_experts", default=0)
    d_ff_expert = _get(cfg, "moe_intermediate_size", default=d_ff if n_experts > 1 else 0)
    shared_width = _get(cfg, "shared_expert_intermediate_size", default=n_shared * d_ff_expert)
    if shared_width and not n_shared:
        n_shared = max(1, round(shared_width / max(d_ff_expert, 1)))
    n_dense = _get(cfg, "first_k_dense_replace", default=0) if n_experts > 1 else 0
    if n_experts < 1 or n_active < 1 or n_active > n_experts:
        raise ConfigError(f"num_experts_per_tok ({n_active}) must be between 1 and the expert count ({n_experts})")
    return _MoE(n_experts=n_experts, n_active=n_active, n_shared=n_shared, d_ff_expert=d_ff_expert,
                shared_width=shared_width, n_dense=n_dense)


def _attention(cfg: dict[str, Any], s: _DecoderShape) -> _Attention:
    """Weights of one attention block.

    MLA (DeepSeek-V2/V3, ``kv_lora_rank`` > 0), with head dim ``h = nope + rope``:
    ``q = d r_q + r_q + r_q H h`` (or ``d H h`` without a query LoRA),
    ``kv = d (r_kv + rope) + r_kv + r_kv H (nope + v)``, plus the output ``H v d``.
    Otherwise ``2 d H h + 2 d H_kv h`` (q, o and k, v), plus ``H h + 2 H_kv h`` biases where the
    family has them (Qwen2). MHA when ``H_kv = H``, MQA when 1, else GQA.
    """
    d, n_heads, n_kv = s.d, s.n_heads, s.n_kv
    kv_lora = _get(cfg, "kv_lora_rank", default=0)
    if kv_lora:
        rope = _get(cfg, "qk_rope_head_dim")
        nope = _get(cfg, "qk_nope_head_dim")
        v_head = _get(cfg, "v_head_dim", default=nope)
        q_lora = _get(cfg, "q_lora_rank", default=0)
        head_dim = nope + rope
        q_params = (d * q_lora + q_lora + q_lora * n_heads * head_dim) if q_lora else d * n_heads * head_dim
        kv_params = d * (kv_lora + rope) + kv_lora + kv_lora * n_heads * (nope + v_head)
        return _Attention(kind=AttentionKind.MLA, head_dim=head_dim, rope=rope, kv_lora=kv_lora,
                          params=q_params + kv_params + n_heads * v_head * d)
    head_dim = _get(cfg, "head_dim", default=d // n_heads)
    if head_dim == 0:
        raise ConfigError("head_dim must be positive")
    kind = AttentionKind.MHA if n_kv == n_heads else (AttentionKind.MQA if n_kv == 1 else AttentionKind.GQA)
    q_out, kv_out = n_heads * head_dim, n_kv * head_dim
    attn = d * q_out + 2 * d * kv_out + q_out * d
    if s.qkv_bias:
        attn += q_out + 2 * kv_out
    return _Attention(kind=kind, head_dim=head_dim, rope=0, kv_lora=kv_lora, params=attn)


def _sliding_window(cfg: dict[str, Any]) -> int:
    """``sliding_window`` unless ``use_sliding_window`` is false (Qwen2); 0 for none."""
    sliding = _get(cfg, "sliding_window", default=0)
    return 0 if cfg.get("use_sliding_window") is False else sliding


def _decoder_params(model_type: str, s: _DecoderShape, moe: _MoE, attn: _Attention) -> tuple[int, int]:
    """(total, active) parameters.

    Per layer: attention + norms (``2d``; Gemma 2/3 ``4d``) + MLP (``3 d f`` gated, ``2 d f`` not).
    An MoE layer has ``E`` expert MLPs of width ``f_e`` (``k`` active), the shared experts and a
    router ``d E``; the first ``n_dense`` layers stay dense. Plus embeddings ``V d`` (twice
    untied) and the final norm ``d``.
    """
    d = s.d
    mlp_mats = 3 if s.gated else 2
    dense_mlp = mlp_mats * d * s.d_ff
    if moe.n_experts > 1:
        shared_and_router = mlp_mats * d * moe.shared_width + d * moe.n_experts
        moe_mlp_total = moe.n_experts * mlp_mats * d * moe.d_ff_expert + shared_and_router
        moe_mlp_active = moe.n_active * mlp_mats * d * moe.d_ff_expert + shared_and_router
    else:
        moe_mlp_total = moe_mlp_active = dense_mlp
    # Gemma 2/3 add post-attention and post-feedforward norms: four RMSNorms per layer.
    norms = (4 if model_type in {"gemma2", "gemma3_text"} else 2) * d
    n_moe_layers = s.n_layers - moe.n_dense if moe.n_experts > 1 else 0
    emb = s.vocab * d * (1 if s.tied else 2)
    base = s.n_layers * (attn.params + norms) + (s.n_layers - n_moe_layers) * dense_mlp + emb + d
    return base + n_moe_layers * moe_mlp_total, base + n_moe_layers * moe_mlp_active


def _decoder(cfg: dict[str, Any], model_type: str, name: str | None) -> ModelSpec:
    """A decoder ``ModelSpec``: shape -> experts -> attention -> sliding window -> parameter counts."""
    s = _decoder_shape(cfg, model_type)
    moe = _moe(cfg, s.d_ff)
    attn = _attention(cfg, s)
    sliding = _sliding_window(cfg)
    total, active = _decoder_params(model_type, s, moe, attn)
    display = _display_name(cfg, model_type, name)
    is_moe = moe.n_experts > 1
    return ModelSpec(
        model_id=_slug(name or display),
        name=display,
        family=model_type,
        architecture=Architecture.DECODER,
        params_total=float(total),
        params_active=float(active),
        n_layers=s.n_layers,
        d_model=s.d,
        n_heads=s.n_heads,
        n_kv_heads=s.n_kv if attn.kind != AttentionKind.MLA else s.n_heads,
        head_dim=attn.head_dim,
        d_ff=s.d_ff,
        vocab_size=s.vocab,
        max_context=s.max_ctx,
        n_experts=max(1, moe.n_experts),
        n_experts_active=moe.n_active if is_moe else 1,
        n_shared_experts=moe.n_shared,
        d_ff_expert=moe.d_ff_expert if is_moe else 0,
        n_dense_layers=moe.n_dense,
        attention=attn.kind,
        sliding_window=sliding or 0,
        kv_lora_rank=attn.kv_lora,
        qk_rope_head_dim=attn.rope,
        gated_mlp=s.gated,
        tied_embeddings=s.tied,
        source="Imported Hugging Face config.json",
        notes="Parameter count computed from the config's shapes (embeddings included).",
    )


def _gpt2(cfg: dict[str, Any], name: str | None) -> ModelSpec:
    d = _get(cfg, "n_embd")
    n_layers = _get(cfg, "n_layer")
    n_heads = _get(cfg, "n_head")
    vocab = _get(cfg, "vocab_size")
    n_pos = _get(cfg, "n_positions", "n_ctx")
    d_ff = _get(cfg, "n_inner", default=4 * d)
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("n_embd, n_layer and n_head must be positive")
    # per layer: qkv (3d^2 + 3d), proj (d^2 + d), mlp (2 d f + f + d), 2 layer norms (4d)
    layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    total = n_layers * layer + vocab * d + n_pos * d + 2 * d
    display = _display_name(cfg, "gpt2", name)
    return ModelSpec(
        model_id=_slug(name or display), name=display, family="gpt2", architecture=Architecture.DECODER,
        params_total=float(total), params_active=float(total), n_layers=n_layers, d_model=d,
        n_heads=n_heads, n_kv_heads=n_heads, head_dim=d // n_heads, d_ff=d_ff, vocab_size=vocab,
        max_context=n_pos, attention=AttentionKind.MHA, gated_mlp=False, tied_embeddings=True,
        source="Imported Hugging Face config.json",
        notes="Parameter count computed from the config's shapes (embeddings included).",
    )


def _encoder(cfg: dict[str, Any], model_type: str, name: str | None) -> ModelSpec:
    if model_type == "distilbert":
        d = _get(cfg, "dim")
        n_layers = _get(cfg, "n_layers")
        n_heads = _get(cfg, "n_heads")
        d_ff = _get(cfg, "hidden_dim")
        type_vocab = 0
    else:
        d = _get(cfg, "hidden_size")
        n_layers = _get(cfg, "num_hidden_layers")
        n_heads = _get(cfg, "num_attention_heads")
        d_ff = _get(cfg, "intermediate_size")
        type_vocab = _get(cfg, "type_vocab_size", default=2)
    if d == 0 or n_layers == 0 or n_heads == 0:
        raise ConfigError("hidden size, layer count and head count must be positive")
    vocab = _get(cfg, "vocab_size")
    n_pos = _get(cfg, "max_position_embeddings")
    # per layer: q,k,v,o with biases (4d^2 + 4d), FFN (2 d f + f + d), two LayerNorms (4d)
    layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    emb = (vocab + n_pos + type_vocab) * d + 2 * d
    total = n_layers * layer + emb
    display = _display_name(cfg, model_type, name)
    return ModelSpec(
        model_id=_slug(name or display), name=display, family=model_type, architecture=Architecture.ENCODER,
        params_total=float(total), params_active=float(total), n_layers=n_layers, d_model=d,
        n_heads=n_heads, n_kv_heads=n_heads, head_dim=d // n_heads, d_ff=d_ff, vocab_size=vocab,
        max_context=n_pos, attention=AttentionKind.MHA, gated_mlp=False, tied_embeddings=True,
        source="Imported Hugging Face config.json",
        notes="Encoder only (no pooler or task head counted); parameter count computed from shapes.",
    )
