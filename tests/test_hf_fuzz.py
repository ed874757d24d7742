"""Any JSON object fed to the Hugging Face importer raises only ``estimator.errors`` (or imports a valid model).

The objects are built around the keys the importer reads (every family's), mutated real configs, and
arbitrary JSON; the example count follows the ``ci``/``fuzz`` Hypothesis profiles (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from estimator import hf, memory
from estimator.errors import EstimatorError

FIXTURES = Path(__file__).parent / "data" / "hf_configs"
REAL = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]

KEYS = [
    "model_type", "hidden_size", "n_embd", "d_model", "num_hidden_layers", "n_layer", "num_layers",
    "num_attention_heads", "n_head", "num_key_value_heads", "num_kv_heads", "n_head_kv", "head_dim",
    "intermediate_size", "ffn_hidden_size", "n_inner", "intermediate_size_mlp", "vocab_size",
    "max_position_embeddings", "n_positions", "tie_word_embeddings", "attention_bias", "mlp_bias",
    "num_local_experts", "n_routed_experts", "num_experts", "num_experts_per_tok", "experts_per_token",
    "moe_intermediate_size", "n_shared_experts", "shared_expert_intermediate_size", "first_k_dense_replace",
    "decoder_sparse_step", "mlp_only_layers", "interleave_moe_layer_step", "moe_layers", "sliding_window",
    "use_sliding_window", "sliding_window_pattern", "layer_types", "attention_chunk_size", "no_rope_layers",
    "no_rope_layer_interval", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
    "v_head_dim", "topk_method", "multi_query", "new_decoder_architecture", "parallel_attn", "bias", "alibi",
    "quantization_config", "torch_dtype", "text_config", "_name_or_path", "type_vocab_size", "dim",
    "n_layers", "n_heads", "hidden_dim",
]
TYPES = ["llama", "mistral", "mixtral", "qwen2_moe", "qwen3", "qwen3_moe", "gemma2", "gemma3", "gemma3_text",
         "phi3", "deepseek_v3", "kimi_k2", "gpt2", "gptj", "gpt_neox", "falcon", "RefinedWebModel", "RefinedWeb",
         "gpt_oss", "llama4", "llama4_text", "olmo2", "granite", "bert", "distilbert", "whisper", "unknown", ""]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=300), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from([*TYPES, "sliding_attention", "full_attention", "fp8", "mxfp4"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6)),
    max_leaves=20,
)


def _check(config: Any) -> None:
    try:
        got = hf.import_config(config)
    except EstimatorError:
        return
    spec = got.spec
    assert math.isfinite(spec.params_total) and spec.params_total >= spec.params_active > 0
    assert 0 <= spec.n_sliding_layers <= spec.n_layers
    tokens = memory.kv_cached_tokens(spec, 10_000.0)
    assert 0 <= tokens <= 10_000.0


@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=16), st.sampled_from(TYPES))
def test_any_object_of_config_keys(config: dict[str, Any], model_type: str) -> None:
    _check({"model_type": model_type, **config})


@given(st.sampled_from(REAL), st.dictionaries(st.sampled_from(KEYS), json_values, min_size=1, max_size=4))
def test_real_configs_with_damaged_keys(real: dict[str, Any], damage: dict[str, Any]) -> None:
    _check({**real, **damage})
    if isinstance(real.get("text_config"), dict):
        _check({**real, "text_config": {**real["text_config"], **damage}})


@given(json_values)
def test_any_json_value(value: Any) -> None:
    _check(value)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_text(text: str | bytes) -> None:
    with contextlib.suppress(EstimatorError):
        hf.import_config_json(text)


def test_every_real_config_imports() -> None:
    for config in REAL:
        _check(config)
        assert hf.import_config(config).spec.params_total > 1e8
