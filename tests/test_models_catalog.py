"""Open-weight models of 2025 in data/models.csv: counts recomputed from the published configs.

Each parameter count in the catalog is recomputed here from the model's ``config.json`` (the
copies in ``tests/data/hf_configs``, provenance in its ``SOURCES.md``) with the formula of its
family, then checked against the catalog row and against the figure its publisher printed.
Counts include the input embedding and the output head (the house convention of
``ModelSpec``; ``performance.py`` subtracts the embedding where it needs to). Multimodal
checkpoints are counted as their text model, which is what is served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from estimator import catalog

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _config(name: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    return cfg


def gpt_oss_params(c: dict[str, Any]) -> tuple[int, int]:
    """GPT-OSS (transformers ``GptOssForCausalLM``), per layer:
    q/k/v/o projections with biases, one attention-sink logit per head, a router
    ``d*E + E`` and ``E`` SwiGLU experts (``gate_up_proj`` ``d x 2f`` + bias, ``down_proj``
    ``f x d`` + bias), two RMSNorms; plus untied embedding and head and a final norm.
    Source: OpenAI gpt-oss model card (arXiv:2508.10925) Section 2 and Table 1.
    """
    d, h, kv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    n_layers, n_exp, k, f, v = (c["num_hidden_layers"], c["num_local_experts"], c["num_experts_per_tok"],
                                c["intermediate_size"], c["vocab_size"])
    attn = (d * h * hd + h * hd) + 2 * (d * kv * hd + kv * hd) + (h * hd * d + d) + h
    expert = (d * 2 * f + 2 * f) + (f * d + d)
    shared = attn + (d * n_exp + n_exp) + 2 * d
    emb = 2 * v * d + d
    return n_layers * (shared + n_exp * expert) + emb, n_layers * (shared + k * expert) + emb


def qwen3_params(c: dict[str, Any]) -> tuple[int, int]:
    """Qwen3 dense and MoE (transformers ``Qwen3ForCausalLM`` / ``Qwen3MoeForCausalLM``):
    per layer GQA projections without bias, QK-RMSNorm (``2*head_dim``), two RMSNorms and a
    SwiGLU MLP ``3*d*f`` (MoE: ``E`` experts of ``moe_intermediate_size`` plus a router
    ``d*E``); untied embedding and head. Source: Qwen3 technical report (arXiv:2505.09388) Table 1-2.
    """
    d, h, kv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    n_layers, v = c["num_hidden_layers"], c["vocab_size"]
    base = d * h * hd + 2 * d * kv * hd + h * hd * d + 2 * hd + 2 * d
    emb = v * d * (1 if c["tie_word_embeddings"] else 2) + d
    if "num_experts" not in c:
        total = n_layers * (base + 3 * d * c["intermediate_size"]) + emb
        return total, total
    n_exp, k, fe = c["num_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"]
    return (n_layers * (base + d * n_exp + n_exp * 3 * d * fe) + emb,
            n_layers * (base + d * n_exp + k * 3 * d * fe) + emb)


def deepseek_v3_params(c: dict[str, Any]) -> tuple[int, int]:
    """DeepSeek-V3 family (DeepSeek-V3/R1/V3.1, Kimi K2): multi-head latent attention with
    query compression (``q_a`` ``d*q_lora`` + norm, ``q_b`` ``q_lora*H*(nope+rope)``,
    ``kv_a`` ``d*(kv_lora+rope)`` + norm, ``kv_b`` ``kv_lora*H*(nope+v)``, ``o`` ``H*v*d``),
    ``first_k_dense_replace`` dense SwiGLU layers, then MoE layers with ``E`` routed and
    ``n_shared`` shared experts, a router ``d*E`` and its score-correction bias ``E``; the
    multi-token-prediction module is excluded. Source: DeepSeek-V3 report (arXiv:2412.19437)
    Sections 2.1-2.2 and 4.2 ("671B total, 37B activated").
    """
    d, h, n_layers, v = c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"], c["vocab_size"]
    ql, kl = c["q_lora_rank"], c["kv_lora_rank"]
    nope, rope, vd = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    attn = d * ql + ql + ql * h * (nope + rope) + d * (kl + rope) + kl + kl * h * (nope + vd) + h * vd * d
    n_exp, k, fe, ns = c["n_routed_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"], c["n_shared_experts"]
    n_dense = c["first_k_dense_replace"]
    dense = attn + 3 * d * c["intermediate_size"] + 2 * d
    moe_base = attn + d * n_exp + n_exp + 2 * d
    emb = 2 * v * d + d
    n_moe = n_layers - n_dense
    return (n_dense * dense + n_moe * (moe_base + (n_exp + ns) * 3 * d * fe) + emb,
            n_dense * dense + n_moe * (moe_base + (k + ns) * 3 * d * fe) + emb)


def llama4_text_params(c: dict[str, Any]) -> tuple[int, int]:
    """Llama 4 text model (transformers ``Llama4TextModel``): GQA without bias (its QK norm has
    no weights), two RMSNorms; every ``interleave_moe_layer_step``-th layer is MoE with
    ``E`` routed SwiGLU experts of ``intermediate_size``, one shared expert of the same size
    and a router ``d*E``; the other layers are dense SwiGLU of ``intermediate_size_mlp``;
    untied embedding and head. The vision encoder is not counted. Source: Meta Llama 4 model
    card (17B active; 109B / 400B total including the vision encoder).
    """
    t = c["text_config"]
    d, h, kv, hd = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
    n_layers, v, n_exp, k = t["num_hidden_layers"], t["vocab_size"], t["num_local_experts"], t["num_experts_per_tok"]
    fe, fd = t["intermediate_size"], t["intermediate_size_mlp"]
    n_moe = n_layers // t["interleave_moe_layer_step"]
    attn = d * h * hd + 2 * d * kv * hd + h * hd * d + 2 * d
    dense = attn + 3 * d * fd
    emb = 2 * v * d + d
    rest = (n_layers - n_moe) * dense + emb
    return (n_moe * (attn + d * n_exp + (n_exp + 1) * 3 * d * fe) + rest,
            n_moe * (attn + d * n_exp + (k + 1) * 3 * d * fe) + rest)


GEMMA3_TEXT = {
    # google/gemma-3-{4b,12b,27b}-it config.json text_config; keys the file omits take the
    # transformers Gemma3TextConfig defaults (8 heads, 4 KV heads, head_dim 256, vocab 262208).
    # Same dims in Gemma 3 technical report (arXiv:2503.19786) and keras-hub gemma3 presets.
    "gemma-3-4b": {"d": 2560, "layers": 34, "heads": 8, "kv": 4, "head_dim": 256, "ff": 10240},
    "gemma-3-12b": {"d": 3840, "layers": 48, "heads": 16, "kv": 8, "head_dim": 256, "ff": 15360},
    "gemma-3-27b": {"d": 5376, "layers": 62, "heads": 32, "kv": 16, "head_dim": 128, "ff": 21504},
}


def gemma3_text_params(g: dict[str, int], vocab: int = 262208) -> tuple[int, int]:
    """Gemma 3 text decoder (transformers ``Gemma3ForCausalLM``), per layer: GQA projections
    without bias, QK-RMSNorm (``2*head_dim``), four RMSNorms (pre/post attention and MLP),
    GeGLU MLP ``3*d*f``; tied embedding and a final norm. Returns (total, non-embedding).
    Source: Gemma 3 technical report (arXiv:2503.19786) Section 2 and Table 1.
    """
    d, hd = g["d"], g["head_dim"]
    per_layer = d * g["heads"] * hd + 2 * d * g["kv"] * hd + g["heads"] * hd * d + 2 * hd + 3 * d * g["ff"] + 4 * d
    body = g["layers"] * per_layer
    return body + vocab * d + d, body


def llama_style_params(d: int, layers: int, heads: int, kv: int, head_dim: int, ff: int, vocab: int,
                       tied: bool) -> int:
    """Llama-style dense decoder (Mistral, Phi-3/Phi-4 with fused qkv/gate_up of the same size):
    per layer ``d*H*hd + 2*d*kv*hd + H*hd*d`` attention, ``3*d*f`` SwiGLU, two RMSNorms;
    embedding and head (one matrix if tied) and a final norm.
    Source: Touvron et al. 2023 (arXiv:2302.13971) Section 2.2; transformers MistralModel/Phi3Model.
    """
    per_layer = d * heads * head_dim + 2 * d * kv * head_dim + heads * head_dim * d + 3 * d * ff + 2 * d
    return layers * per_layer + vocab * d * (1 if tied else 2) + d


def test_phi4_count_from_config() -> None:
    c = _config("microsoft__phi-4")
    hd = c["hidden_size"] // c["num_attention_heads"]
    total = llama_style_params(c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"],
                               c["num_key_value_heads"], hd, c["intermediate_size"], c["vocab_size"],
                               c["tie_word_embeddings"])
    m = catalog.get_model("phi-4")
    assert m.params_total == m.params_active == total
    assert (m.n_kv_heads, m.head_dim, m.max_context) == (10, 128, c["max_position_embeddings"])
    # Hugging Face microsoft/phi-4 safetensors: "14.7B params"; Phi-4 report (arXiv:2412.08905): 14B.
    assert round(total / 1e9, 1) == 14.7


def test_mistral_small_31_text_count() -> None:
    # mistralai/Mistral-Small-3.1-24B-Instruct-2503 config.json text_config: hidden 5120, 40 layers,
    # 32 heads, 8 KV heads, head_dim 128, intermediate 32768, vocab 131072, untied.
    total = llama_style_params(5120, 40, 32, 8, 128, 32768, 131072, tied=False)
    m = catalog.get_model("mistral-small-3.1-24b")
    assert m.params_total == m.params_active == total
    # Model card: "24B" with the Pixtral vision encoder; the text decoder alone is 23.57B
    # (Hugging Face shows 23.6B for the text-only Mistral-Small-24B-Base-2501 with the same decoder).
    assert round(total / 1e9, 1) == 23.6 and total < 24e9


CONFIG_MODELS = [
    ("gpt-oss-20b", "openai__gpt-oss-20b", gpt_oss_params),
    ("gpt-oss-120b", "openai__gpt-oss-120b", gpt_oss_params),
    ("qwen3-8b", "Qwen__Qwen3-8B", qwen3_params),
    ("qwen3-32b", "Qwen__Qwen3-32B", qwen3_params),
    ("qwen3-30b-a3b", "Qwen__Qwen3-30B-A3B", qwen3_params),
    ("qwen3-235b-a22b", "Qwen__Qwen3-235B-A22B", qwen3_params),
    ("deepseek-v3", "deepseek-ai__DeepSeek-V3", deepseek_v3_params),
    ("deepseek-r1", "deepseek-ai__DeepSeek-R1", deepseek_v3_params),
    ("deepseek-v3.1", "nvidia__DeepSeek-V3.1-NVFP4", deepseek_v3_params),
    ("kimi-k2", "moonshotai__Kimi-K2-Instruct", deepseek_v3_params),
    ("llama-4-scout", "meta-llama__Llama-4-Scout-17B-16E-Instruct", llama4_text_params),
    ("llama-4-maverick", "meta-llama__Llama-4-Maverick-17B-128E-Instruct", llama4_text_params),
]


@pytest.mark.parametrize(("model_id", "config_name", "formula"), CONFIG_MODELS)
def test_counts_equal_the_config_arithmetic(model_id: str, config_name: str, formula: Any) -> None:
    model = catalog.get_model(model_id)
    total, active = formula(_config(config_name))
    assert (model.params_total, model.params_active) == (total, active)
    assert model.source and model.as_of is not None and not model.assumed


@pytest.mark.parametrize(("model_id", "config_name", "formula"), CONFIG_MODELS)
def test_architecture_fields_match_the_config(model_id: str, config_name: str, formula: Any) -> None:
    cfg = _config(config_name)
    text = cfg.get("text_config", cfg)
    m = catalog.get_model(model_id)
    assert (m.d_model, m.n_layers, m.n_heads, m.vocab_size) == (
        text["hidden_size"], text["num_hidden_layers"], text["num_attention_heads"], text["vocab_size"])
    assert m.n_kv_heads == text["num_key_value_heads"]
    n_experts = text.get("num_local_experts") or text.get("num_experts") or text.get("n_routed_experts") or 1
    assert m.n_experts == n_experts
    assert m.n_experts_active == text.get("num_experts_per_tok", 1)
    assert m.tied_embeddings is bool(cfg.get("tie_word_embeddings", False))
    if "kv_lora_rank" in text:
        assert m.attention == "mla"
        assert (m.kv_lora_rank, m.qk_rope_head_dim) == (text["kv_lora_rank"], text["qk_rope_head_dim"])
        assert m.n_dense_layers == text["first_k_dense_replace"]
        assert m.n_shared_experts == text["n_shared_experts"]
    else:
        assert m.attention == "gqa" and m.head_dim == text["head_dim"]


@pytest.mark.parametrize("model_id", list(GEMMA3_TEXT))
def test_gemma3_text_counts(model_id: str) -> None:
    m = catalog.get_model(model_id)
    g = GEMMA3_TEXT[model_id]
    total, _ = gemma3_text_params(g)
    assert m.params_total == m.params_active == total
    assert (m.d_model, m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim, m.d_ff) == (
        g["d"], g["layers"], g["heads"], g["kv"], g["head_dim"], g["ff"])
    assert m.tied_embeddings and m.vocab_size == 262208


@pytest.mark.parametrize(("model_id", "keras_params", "report_non_embedding_m"), [
    # keras-hub keras_hub/src/models/gemma3/gemma3_presets.py, "params" of gemma3_{4b,12b,27b}_text
    # (262144-token vocabulary; 27009002240 is also llama.cpp's n_params for gemma-3-27b-it).
    # Gemma 3 report (arXiv:2503.19786) Table 1 non-embedding parameters: 3,209M / 10,759M / 25,600M.
    ("gemma-3-4b", 3_880_099_328, 3209),
    ("gemma-3-12b", 11_765_788_416, 10759),
    ("gemma-3-27b", 27_009_002_240, 25600),
])
def test_gemma3_formula_reproduces_published_counts(model_id: str, keras_params: int,
                                                    report_non_embedding_m: int) -> None:
    total, body = gemma3_text_params(GEMMA3_TEXT[model_id], vocab=262144)
    assert total == keras_params
    assert round(body / 1e6) == report_non_embedding_m
    # The HF checkpoint's embedding has 64 more rows (262208) than the tokenizer vocabulary.
    assert catalog.get_model(model_id).params_total - keras_params == 64 * GEMMA3_TEXT[model_id]["d"]


def test_gpt_oss_matches_model_card_table_1() -> None:
    # OpenAI gpt-oss model card (arXiv:2508.10925) Table 1: 120b 116.83B total / 5.13B active,
    # 20b 20.91B / 3.61B; the card's active count leaves out the input embedding (V*d).
    for model_id, total_b, active_b in [("gpt-oss-120b", 116.83, 5.13), ("gpt-oss-20b", 20.91, 3.61)]:
        m = catalog.get_model(model_id)
        assert round(m.params_total / 1e9, 2) == total_b
        assert round((m.params_active - m.vocab_size * m.d_model) / 1e9, 2) == active_b


def test_qwen3_matches_model_cards() -> None:
    # Qwen3 model cards: 8B "8.2B, non-embedding 6.95B"; 32B "32.8B, non-embedding 31.2B";
    # 30B-A3B "30.5B total, 3.3B activated"; 235B-A22B "235B total, 22B activated".
    for model_id, total_b, non_emb_b in [("qwen3-8b", 8.2, 6.95), ("qwen3-32b", 32.8, 31.2)]:
        m = catalog.get_model(model_id)
        assert round(m.params_total / 1e9, 1) == total_b
        non_emb = m.params_total - 2 * m.vocab_size * m.d_model
        assert round(non_emb / 1e9, 2 if non_emb_b == 6.95 else 1) == non_emb_b
    a3b, a22b = catalog.get_model("qwen3-30b-a3b"), catalog.get_model("qwen3-235b-a22b")
    assert round(a3b.params_total / 1e9, 1) == 30.5
    assert a3b.params_active == pytest.approx(3.3e9, rel=0.02)
    assert (round(a22b.params_total / 1e9), round(a22b.params_active / 1e9)) == (235, 22)


def test_large_moe_match_published_round_figures() -> None:
    # DeepSeek-V3 report (arXiv:2412.19437): 671B total, 37B activated (MTP excluded); R1 and V3.1
    # share the architecture. Kimi K2 model card: 1T total, 32B activated. Llama 4 model card:
    # 17B active; Maverick 400B total; Scout 109B total with its vision encoder.
    for model_id in ("deepseek-v3", "deepseek-r1", "deepseek-v3.1"):
        m = catalog.get_model(model_id)
        assert round(m.params_total / 1e9) == 671
        assert m.params_active == pytest.approx(37e9, rel=0.02)
    kimi = catalog.get_model("kimi-k2")
    assert kimi.params_total == pytest.approx(1.0e12, rel=0.03)
    assert kimi.params_active == pytest.approx(32e9, rel=0.03)
    for model_id in ("llama-4-scout", "llama-4-maverick"):
        assert catalog.get_model(model_id).params_active == pytest.approx(17e9, rel=0.02)
    assert catalog.get_model("llama-4-maverick").params_total == pytest.approx(400e9, rel=0.005)
    scout_text = catalog.get_model("llama-4-scout").params_total
    assert 107e9 < scout_text < 109e9  # text model; the 109B headline adds the vision encoder


@pytest.mark.parametrize("model_id", [mid for mid, _, _ in CONFIG_MODELS])
def test_moe_active_below_total(model_id: str) -> None:
    m = catalog.get_model(model_id)
    if m.model_id.startswith("qwen3-") and not m.is_moe:
        assert m.params_active == m.params_total
        return
    assert m.is_moe and m.params_active < m.params_total
    assert m.n_experts_active < m.n_experts


def test_hybrid_attention_layer_counts_in_configs() -> None:
    # GPT-OSS alternates 128-token sliding and full attention (config layer_types).
    for name, layers in [("openai__gpt-oss-20b", 24), ("openai__gpt-oss-120b", 36)]:
        cfg = _config(name)
        assert cfg["sliding_window"] == 128
        assert cfg["layer_types"].count("sliding_attention") == layers // 2
        assert catalog.get_model(name.split("__")[1]).n_layers == layers
    # Llama 4: chunked attention of 8192 tokens (global NoPE layer every 4th).
    for name in ("meta-llama__Llama-4-Scout-17B-16E-Instruct", "meta-llama__Llama-4-Maverick-17B-128E-Instruct"):
        assert _config(name)["text_config"]["attention_chunk_size"] == 8192
