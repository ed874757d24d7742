"""Hugging Face config.json import: key styles of the major families, and clear errors."""

from __future__ import annotations

import json

import pytest

from estimator import hf, memory
from estimator.catalog import get_model
from estimator.errors import ConfigError
from estimator.hf import model_from_config, model_from_json
from estimator.specs import AttentionKind, ModelSpec
from estimator.units import DType

# meta-llama/Llama-2-7b-hf config.json (HF hub); num_parameters() = 6,738,415,616 (model card, HF).
LLAMA2_7B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05, "tie_word_embeddings": False, "torch_dtype": "float16",
}
# meta-llama/Llama-3.1-70B config.json: 70,553,706,496 parameters (HF safetensors total).
LLAMA31_70B = {
    "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
    "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "tie_word_embeddings": False,
}
# mistralai/Mistral-7B-v0.1 config.json: 7,241,732,096 parameters; sliding_window 4096.
MISTRAL_7B = {
    "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
    "max_position_embeddings": 32768, "sliding_window": 4096, "tie_word_embeddings": False,
}
# mistralai/Mixtral-8x7B-v0.1 config.json: 46,702,792,704 parameters (HF safetensors total).
MIXTRAL = {
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
    "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2,
    "sliding_window": None, "tie_word_embeddings": False,
}
# Qwen/Qwen2-7B config.json: q/k/v projections carry biases; 7,615,616,512 parameters (HF model card "7.61B").
QWEN2_7B = {
    "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
    "max_position_embeddings": 131072, "sliding_window": 131072, "use_sliding_window": False,
    "tie_word_embeddings": False,
}
# google/gemma-2-9b config.json: head_dim 256 (not hidden/heads); tied embeddings; 9,241,705,984 params.
GEMMA2_9B = {
    "model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336, "num_hidden_layers": 42,
    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256, "vocab_size": 256000,
    "max_position_embeddings": 8192, "sliding_window": 4096,
}
# microsoft/Phi-3-mini-4k-instruct config.json: 3,821,079,552 parameters (HF model card "3.8B").
PHI3_MINI = {
    "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064,
    "max_position_embeddings": 4096, "tie_word_embeddings": False, "sliding_window": 2047,
}
# deepseek-ai/DeepSeek-V3 config.json; 671B total / 37B active (DeepSeek-V3 report, arXiv:2412.19437 §1);
# the HF checkpoint's 685B adds the 14B multi-token-prediction module, which is not counted here.
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432, "num_hidden_layers": 61,
    "num_attention_heads": 128, "num_key_value_heads": 128, "vocab_size": 129280,
    "max_position_embeddings": 163840, "moe_intermediate_size": 2048, "n_routed_experts": 256,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "kv_lora_rank": 512,
    "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
    "tie_word_embeddings": False,
}


@pytest.mark.parametrize(
    ("config", "expected", "rel"),
    [
        (LLAMA2_7B, 6_738_415_616, 0),
        (LLAMA31_70B, 70_553_706_496, 0),
        (MISTRAL_7B, 7_241_732_096, 0),
        (MIXTRAL, 46_702_792_704, 0),
        (QWEN2_7B, 7_615_616_512, 0),
        (GEMMA2_9B, 9_241_705_984, 0),
        (PHI3_MINI, 3_821_079_552, 0),
        (DEEPSEEK_V3, 671e9, 0.01),
    ],
)
def test_parameter_count_matches_published(config: dict, expected: float, rel: float) -> None:
    spec = model_from_config(config)
    if rel:
        assert spec.params_total == pytest.approx(expected, rel=rel)
    else:
        assert spec.params_total == expected


def test_imported_config_equals_catalog_memory() -> None:
    spec = model_from_config(LLAMA2_7B, name="Llama-2-7B (imported)")
    cat = get_model("llama-2-7b")
    assert memory.weights_bytes(spec, "fp16") == memory.weights_bytes(cat, "fp16")
    assert memory.kv_cache_bytes_per_token(spec, "fp16") == memory.kv_cache_bytes_per_token(cat, "fp16")


def test_key_styles_map_to_attention_kinds() -> None:
    assert model_from_config(LLAMA2_7B).attention == AttentionKind.MHA
    assert model_from_config(MISTRAL_7B).attention == AttentionKind.GQA
    assert model_from_config(MISTRAL_7B).sliding_window == 4096
    assert model_from_config(QWEN2_7B).sliding_window == 0  # use_sliding_window false
    ds = model_from_config(DEEPSEEK_V3)
    assert ds.attention == AttentionKind.MLA and ds.kv_lora_rank == 512 and ds.n_dense_layers == 3
    # DeepSeek-V3 report: 37B activated parameters per token.
    assert ds.params_active == pytest.approx(37e9, rel=0.02)
    mix = model_from_config(MIXTRAL)
    # Mixtral paper (Jiang et al. 2024 arXiv:2401.04088): "13B active parameters".
    assert mix.is_moe and mix.params_active == pytest.approx(12.9e9, rel=0.01)


def test_nested_text_config() -> None:
    wrapped = {"model_type": "llava", "text_config": dict(LLAMA2_7B)}
    assert model_from_config(wrapped).params_total == 6_738_415_616


def test_encoders() -> None:
    bert = {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}
    # bert-base-uncased: 109,482,240 parameters with the pooler (HF); 108,891,648 without the 768x768+768 pooler.
    assert model_from_config(bert).params_total == 109_482_240 - 768 * 768 - 768


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hidden_size": 4096}, "model_type"),
        ({"model_type": "llama"}, "hidden_size"),
        ({**LLAMA2_7B, "num_hidden_layers": "32"}, "num_hidden_layers"),
        ({**LLAMA2_7B, "num_key_value_heads": 5}, "num_key_value_heads"),
        ({**LLAMA2_7B, "hidden_size": -1}, "hidden_size"),
        ({**LLAMA2_7B, "hidden_size": 10**12}, "implausibly large"),
        ({**LLAMA2_7B, "vocab_size": None}, "vocab_size"),
        ({"model_type": "whisper"}, "not supported"),
        ({**MIXTRAL, "num_experts_per_tok": 9}, "num_experts_per_tok"),
    ],
)
def test_bad_configs_name_the_key(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model_from_config(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), (b"\xff\xfe", "UTF-8"), ("x" * 1_000_001, "1 MB")],
)
def test_bad_json(text: str | bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model_from_json(text)


def test_json_roundtrip() -> None:
    assert model_from_json(json.dumps(LLAMA2_7B)).params_total == 6_738_415_616


def test_decoder_steps_split_the_count() -> None:
    # Llama-2-7B by hand: per layer 4 d^2 attention + 3 d f gated MLP + 2 d norms; untied embeddings 2 V d; final norm d
    from estimator import hf

    shape = hf._decoder_shape(LLAMA2_7B, "llama")
    moe = hf._moe(LLAMA2_7B, shape.d_ff)
    attn = hf._attention(LLAMA2_7B, shape)
    d, f, v, layers = 4096, 11008, 32000, 32
    assert attn.params == 4 * d * d and attn.kind == AttentionKind.MHA and moe.n_experts == 1
    total, active = hf._decoder_params("llama", shape, moe, attn)
    assert total == active == layers * (4 * d * d + 3 * d * f + 2 * d) + 2 * v * d + d == 6_738_415_616


def test_mla_attention_weights() -> None:
    # DeepSeek-V3 (arXiv:2412.19437 §2.1.1): q via a 1536 LoRA, kv via a 512 latent plus a 64-wide shared RoPE key
    from estimator import hf

    attn = hf._attention(DEEPSEEK_V3, hf._decoder_shape(DEEPSEEK_V3, "deepseek_v3"))
    d, h, nope, rope, v, q_lora, kv_lora = 7168, 128, 128, 64, 128, 1536, 512
    q = d * q_lora + q_lora + q_lora * h * (nope + rope)
    kv = d * (kv_lora + rope) + kv_lora + kv_lora * h * (nope + v)
    assert attn.kind == AttentionKind.MLA and attn.head_dim == nope + rope
    assert attn.params == q + kv + h * v * d


@pytest.mark.parametrize(("extra", "window"), [({}, 0), ({"sliding_window": 4096}, 4096),
                                              ({"sliding_window": 4096, "use_sliding_window": False}, 0),
                                              ({"sliding_window": None}, 0)])
def test_sliding_window_key(extra: dict, window: int) -> None:
    from estimator import hf

    assert hf._sliding_window(extra) == window


def test_unknown_model_type_takes_the_generic_path_and_says_so() -> None:
    # An unknown type with Llama-2-7B's keys: the Llama-style block gives Llama-2-7B's count, and every
    # guess is listed (no head_dim, no num_key_value_heads, no tie_word_embeddings, the block layout).
    cfg = {k: v for k, v in LLAMA2_7B.items() if k not in ("num_key_value_heads", "tie_word_embeddings")}
    got = hf_import({**cfg, "model_type": "my_new_llm"})
    assert got.spec.params_total == 6_738_415_616
    notes = " | ".join(got.assumptions)
    for phrase in ("unknown model_type 'my_new_llm'", "Llama-style", "no head_dim", "no num_key_value_heads",
                   "no tie_word_embeddings"):
        assert phrase in notes
    assert got.weight_dtype == DType.FP16  # torch_dtype float16


def test_generic_path_reads_other_key_spellings() -> None:
    # n_embd / n_layer / n_head (GPT-style names) and num_kv_heads on an unknown type
    cfg = {"model_type": "x", "n_embd": 4096, "n_layer": 32, "n_head": 32, "num_kv_heads": 8,
           "intermediate_size": 14336, "vocab_size": 32000, "max_position_embeddings": 32768}
    spec = hf_import(cfg).spec
    assert spec.n_kv_heads == 8 and spec.attention == AttentionKind.GQA
    assert spec.params_total == MISTRAL_7B_PARAMS


MISTRAL_7B_PARAMS = 7_241_732_096  # mistralai/Mistral-7B-v0.1 (see MISTRAL_7B above)


def test_multimodal_wrapper_notes_text_decoder_only() -> None:
    got = hf_import({"model_type": "llava", "text_config": dict(LLAMA2_7B), "vision_config": {"hidden_size": 1024}})
    assert got.spec.params_total == 6_738_415_616
    assert any("text decoder" in n for n in got.assumptions)


def test_sparse_gemma3_text_config_takes_transformers_defaults() -> None:
    # Gemma 3 multimodal configs omit Gemma3TextConfig defaults (heads 8, kv 4, head_dim 256, vocab
    # 262,208, window 4096; transformers configuration_gemma3.py). Sparse text_config as google/gemma-3-4b-it
    # ships it (hidden 2560, intermediate 10240, 34 layers, window 1024).
    cfg = {"model_type": "gemma3", "text_config": {"model_type": "gemma3_text", "hidden_size": 2560,
                                                   "intermediate_size": 10240, "num_hidden_layers": 34,
                                                   "sliding_window": 1024}}
    got = hf_import(cfg)
    d, h = 2560, 256
    layer = d * 8 * h + 2 * d * 4 * h + 8 * h * d + 2 * h + 3 * d * 10240 + 4 * d
    assert got.spec.params_total == 262_208 * d + 34 * layer + d
    assert (got.spec.n_heads, got.spec.n_kv_heads, got.spec.head_dim) == (8, 4, 256)
    assert (got.spec.sliding_window, got.spec.n_sliding_layers) == (1024, 34 - 34 // 6)
    assert any("num_attention_heads" in n and "default" in n for n in got.assumptions)


def test_sliding_layer_count_is_validated() -> None:
    data = {**model_from_config(MISTRAL_7B).model_dump(), "n_sliding_layers": 33}
    with pytest.raises(ValueError, match="33 sliding-window layers exceed 32 layers"):
        ModelSpec.model_validate(data)


def test_catalog_rows_default_to_a_window_on_every_layer() -> None:
    # models.csv may omit the n_sliding_layers column (estimator.catalog._OPTIONAL_COLUMNS): 0 = all layers
    assert get_model("llama-2-7b").n_sliding_layers == 0


def hf_import(cfg: dict) -> hf.ImportedModel:
    return hf.import_config(cfg)


def test_granite_counts_like_llama_and_ignores_its_multipliers() -> None:
    # ibm-granite/granite-3.1-2b-base config keys (quoted in a Rust port's test as "golden values from
    # ibm-granite/granite-3.1-2b-base's real config.json"): the scaling multipliers change activations, not
    # shapes, so the count is the Llama formula's for the same dims.
    granite = {"model_type": "granite", "vocab_size": 49152, "hidden_size": 2048, "intermediate_size": 8192,
               "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8,
               "max_position_embeddings": 131072, "attention_multiplier": 0.015625, "embedding_multiplier": 12.0,
               "logits_scaling": 8.0, "residual_multiplier": 0.22}
    d, kv, f = 2048, 8 * 64, 8192  # the quoted keys have no tie_word_embeddings: separate head assumed
    expected = 40 * (2 * d * d + 2 * d * kv + 3 * d * f + 2 * d) + 2 * 49152 * d + d
    assert model_from_config(granite).params_total == expected
    assert model_from_config({**granite, "model_type": "llama"}).params_total == expected
