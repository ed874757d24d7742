"""LoRA: trainable parameters, adapter memory and slots, mixed-batch cost, QLoRA memory, anchors, the page."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estimator import catalog, lora, memory
from estimator.errors import InvalidInputError
from estimator.scenario import Scenario, encode_value, from_query_params, to_query_params

ROOT = Path(__file__).resolve().parent.parent


def test_trainable_params_match_published_counts() -> None:
    # PEFT prints "trainable params: 4,194,304" for Llama-2-7B with r=8 on q_proj, v_proj: 32 x 8 x 2 x (4096 + 4096)
    assert lora.trainable_params(catalog.get_model("llama-2-7b"), 8, "qv") == 4_194_304
    # LoRA paper Table 5: GPT-3 175B, W_q and W_v at r=4 = "18M": 96 x 4 x 2 x 24576 = 18,874,368
    assert lora.trainable_params(catalog.get_model("gpt-3-175b"), 4, "qv") == 18_874_368
    # same budget with all four attention weights at r=2 (Table 5)
    assert lora.trainable_params(catalog.get_model("gpt-3-175b"), 2, "attention") == 18_874_368


def test_gqa_and_gated_mlp_shapes() -> None:
    m = catalog.get_model("llama-3.1-8b")  # d 4096, 8 KV heads x 128, d_ff 14336, gated
    # q 4096+4096, k 4096+1024, v 4096+1024, o 4096+4096, gate/up 4096+14336 each, down 14336+4096
    per_layer = 8192 + 5120 + 5120 + 8192 + 3 * 18432
    assert lora.trainable_params(m, 16, "all_linear") == 32 * 16 * per_layer == 41_943_040
    assert lora.adapter_bytes(m, 16, "all_linear") == 2 * 41_943_040
    # vLLM reserves --max-loras slots at --max-lora-rank
    assert lora.slot_bytes(m, 16, "all_linear", 4) == 4 * 2 * 41_943_040
    with pytest.raises(InvalidInputError):
        lora.trainable_params(m, 0, "qv")
    with pytest.raises(InvalidInputError):
        lora.module_shapes(m, "everything")


def test_expected_distinct_adapters() -> None:
    # occupancy: N (1 - (1 - 1/N)^B); 2 adapters, batch 2 -> 2 (1 - 1/4) = 1.5
    assert lora.expected_distinct_adapters(2, 2) == pytest.approx(1.5)
    assert lora.expected_distinct_adapters(1000, 32) == pytest.approx(1000 * (1 - 0.999**32))
    assert lora.expected_distinct_adapters(1000, 32, max_loras=8) == 8
    assert lora.expected_distinct_adapters(1, 64) == 1


def test_mixed_batch_overhead_is_bytes_over_bandwidth_plus_flops() -> None:
    m = catalog.get_model("llama-2-7b")
    p = lora.trainable_params(m, 16, "qv")
    dt = lora.mixed_batch_step_overhead_s(m, 16, "qv", 4, 8, 2e12, 1e15, memory_efficiency=0.5, compute_efficiency=0.5)
    assert dt == pytest.approx(4 * 2 * p / 1e12 + 8 * 2 * p / 5e14)


def test_qlora_memory_terms() -> None:
    m = catalog.get_model("llama-2-7b")
    q = lora.finetune_memory(m, 8, "qv", qlora=True, seq_len=512, runtime_overhead_bytes=0)
    full16 = lora.finetune_memory(m, 8, "qv", qlora=False, seq_len=512, runtime_overhead_bytes=0)
    emb = memory.embedding_params(m)
    # NF4 + double quantization: 4 + 8/64 + 32/(64 x 256) = 4.127 bits per parameter (QLoRA §3: 0.127 bits of constants)
    assert abs(lora.NF4_BITS_PER_PARAM - 4.127) < 5e-4
    assert q.base_weights_bytes == pytest.approx((m.params_total - emb) * 4.126953125 / 8 + 2 * emb)
    assert full16.base_weights_bytes == pytest.approx(2 * m.params_total)
    assert q.adapter_states_bytes == 12 * 4_194_304  # bf16 weight + grad, fp32 Adam m and v
    assert q.total_bytes < full16.total_bytes


def test_anchors_within_25_percent() -> None:
    # LoRA Table 5 (18M), PEFT README mt0-large (2,359,296), QLoRA 65B on one 48 GB GPU, Punica +2 ms per token
    with (ROOT / "data" / "serving_anchors.csv").open(newline="") as fh:
        published = {r["anchor_id"]: float(r["published_value"]) for r in csv.DictReader(fh) if r["technique"] == "lora"}
    assert len(published) >= 4
    predicted = lora.anchor_predictions()
    for anchor_id, value in published.items():
        assert predicted[anchor_id] == pytest.approx(value, rel=0.25), anchor_id
    assert predicted["lora-peft-mt0-large-r8"] == 2_359_296  # exact: the formula, not a fit
    # QLoRA §1: 16-bit full fine-tuning of a 65B model needs more than 780 GB; QLoRA fits in 48 GB
    m65 = lora._llama_65b()
    full = memory.training_memory(m65, seq_len=512, micro_batch=1, zero_stage=0, recompute="full")
    assert full.total_bytes > 780e9
    assert predicted["lora-qlora-65b-48gb"] < 48


def test_finetune_plan_orders_the_methods() -> None:
    s = Scenario().replace(lora={"enabled": True, "targets": "all_linear", "rank": 16})
    plan = lora.finetune_plan(s)
    full, lo, q = plan.options
    assert q.per_gpu_bytes < lo.per_gpu_bytes
    assert 0 < q.gpus <= lo.gpus <= full.gpus
    # LoRA does 6N per token against full fine-tuning's 8N (both with recomputation): 25% less GPU time
    assert lo.hours * lo.gpus == pytest.approx(0.75 * full.hours * full.gpus)
    assert plan.trainable_params == lora.trainable_params(catalog.get_model("llama-3.1-70b"), 16, "all_linear")


def test_serving_rows() -> None:
    v = lora.serving(Scenario().replace(lora={"enabled": True, "adapters": 1000, "max_loras": 16}))
    assert v.points and all(p.distinct_adapters <= 16 for p in v.points)
    assert v.host_bytes == pytest.approx(1000 * v.adapter_bytes)
    assert v.points[-1].extra_s > v.points[0].extra_s


def test_scenario_section_round_trips_through_the_link() -> None:
    s = Scenario().replace(lora={"enabled": True, "rank": 64, "targets": "all_linear", "qlora": False})
    q = to_query_params(s)
    assert q["lo"] == encode_value(True) and q["loq"] == encode_value(False)
    assert q["lor"] == "64" and q["lotgt"] == "all_linear"
    back, ignored = from_query_params(q)
    assert not ignored and back == s
    _, ignored = from_query_params({"lotgt": "everything"})
    assert ignored


def test_training_page_section_runs() -> None:
    at = AppTest.from_file("../pages/training.py", default_timeout=60)
    at.query_params["lo"] = "true"  # Streamlit writes bound booleans as true/false
    at.run()
    assert not at.exception
    assert any("How this is computed (LoRA)" in e.label for e in at.expander)
    labels = {m.label: m.value for m in at.metric}
    expected = lora.trainable_params(catalog.get_model("llama-3.1-70b"), 16, "attention")
    assert labels["Trainable parameters"] == f"{expected:,}"
