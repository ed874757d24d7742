"""Reference catalogs: coverage, provenance, typed loading, clear errors, thread safety."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from estimator import catalog
from estimator.errors import CatalogError, UnknownIdError
from estimator.units import DType

REQUIRED_MODELS = [
    "nlarge-s", "nlarge-m", "nlarge-prod", "nlarge-l", "nlarge-xl", "gpt-3-175b", "gopher-280b",
    "jurassic-1-178b", "mt-nlg-530b", "chinchilla-70b", "llama-2-7b", "llama-2-13b", "llama-2-70b",
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b",
    "deepseek-v3", "bert-base", "bert-large", "distilbert-base", "led-base", "led-large", "bigbird-base",
    "bigbird-large",
]
REQUIRED_HARDWARE = [
    "v100-sxm2", "t4", "a10g", "l4", "l40s", "a100-40gb-sxm", "a100-80gb-sxm", "a100-40gb-pcie",
    "a100-80gb-pcie", "h100-sxm", "h100-pcie", "h100-nvl", "h200", "b200", "mi300x", "tpu-v5e",
    "inferentia2", "cpu-xeon-spr",
]


def test_catalog_sizes() -> None:
    assert len(catalog.list_models()) >= 30
    assert len(catalog.list_hardware()) >= 15
    instances = catalog.list_instances()
    assert len(instances) >= 40
    assert {"aws", "gcp", "azure"} <= {i.provider for i in instances}
    assert {i.provider for i in instances} - {"aws", "gcp", "azure"}, "at least one GPU cloud"
    assert len(catalog.list_regions()) >= 20


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_required_models(model_id: str) -> None:
    model = catalog.get_model(model_id)
    assert model.source and model.as_of is not None


@pytest.mark.parametrize("hardware_id", REQUIRED_HARDWARE)
def test_required_hardware(hardware_id: str) -> None:
    hw = catalog.get_hardware(hardware_id)
    assert hw.source and hw.memory_bytes > 0 and hw.memory_bandwidth_bytes_per_s > 0


def test_nlarge_family_is_marked_illustrative_and_sized_as_in_the_brief() -> None:
    # Product brief (shared/brief/000): S ~100M dense, M ~1B dense, Prod ~5B dense, L ~10B MoE, XL ~50B MoE.
    nominal = {"nlarge-s": 100e6, "nlarge-m": 1e9, "nlarge-prod": 5e9, "nlarge-l": 10e9, "nlarge-xl": 50e9}
    for model_id, size in nominal.items():
        m = catalog.get_model(model_id)
        assert m.assumed, model_id
        assert m.params_total == pytest.approx(size, rel=0.1), model_id
    assert not catalog.get_model("nlarge-prod").is_moe
    assert catalog.get_model("nlarge-l").is_moe and catalog.get_model("nlarge-xl").is_moe


def test_moe_and_attention_kinds() -> None:
    mixtral = catalog.get_model("mixtral-8x7b")
    assert (mixtral.n_experts, mixtral.n_experts_active) == (8, 2)
    assert mixtral.params_active == pytest.approx(12.9e9, rel=0.01)
    ds = catalog.get_model("deepseek-v3")
    # DeepSeek-V3 technical report (arXiv:2412.19437): 671B total, 37B activated per token, MLA.
    assert ds.params_total == pytest.approx(671e9, rel=0.01)
    assert ds.params_active == pytest.approx(37e9, rel=0.03)
    assert ds.attention == "mla"
    assert catalog.get_model("falcon-7b").attention == "mqa"
    assert catalog.get_model("led-large").architecture == "encoder-decoder"
    assert catalog.get_model("bert-base").architecture == "encoder"


def test_dense_not_sparse_tensor_figures() -> None:
    # NVIDIA H100 SXM datasheet: "BF16 Tensor Core 1,979 TFLOPS*" (*with sparsity) -> dense 989.4.
    h100 = catalog.get_hardware("h100-sxm")
    assert h100.peak_flops_per_s(DType.BF16) == pytest.approx(989.4e12, rel=0.01)
    assert h100.peak_flops_per_s(DType.FP8) == pytest.approx(1978.9e12, rel=0.01)
    assert h100.memory_bandwidth_bytes_per_s == pytest.approx(3.35e12, rel=0.01)
    # NVIDIA A100 datasheet: BF16 312 TFLOPS dense (624 sparse), 2,039 GB/s for the 80GB SXM; no FP8.
    a100 = catalog.get_hardware("a100-80gb-sxm")
    assert a100.peak_flops_per_s("bf16") == pytest.approx(312e12)
    assert a100.memory_bandwidth_bytes_per_s == pytest.approx(2039e9)
    assert not a100.supports("fp8")
    # H200: 141 GB HBM3e, 4.8 TB/s (MLCommons v4.1 system description; NVIDIA H200 page).
    h200 = catalog.get_hardware("h200")
    assert h200.memory_datasheet_gb * 1e9 == pytest.approx(141e9) and h200.memory_bandwidth_bytes_per_s == pytest.approx(4.8e12)


def test_every_row_has_provenance() -> None:
    for table in catalog.TABLES:
        frame = catalog.table_frame(table)
        assert frame["source"].str.strip().ne("").all(), table
        assert frame["as_of"].notna().all(), table
        assert "assumed" in frame


def test_instances_reference_known_hardware_and_sane_prices() -> None:
    hw_ids = {h.hardware_id for h in catalog.list_hardware()}
    for inst in catalog.list_instances():
        assert inst.hardware_id in hw_ids, inst.instance_id
        if inst.price_spot_usd_per_h is not None:
            assert inst.price_spot_usd_per_h <= inst.price_on_demand_usd_per_h
        if inst.price_3y_usd_per_h is not None and inst.price_1y_usd_per_h is not None:
            assert inst.price_3y_usd_per_h <= inst.price_1y_usd_per_h


def test_unknown_id_names_close_matches() -> None:
    with pytest.raises(UnknownIdError, match="llama-2-7b"):
        catalog.get_model("llama2-7b")
    with pytest.raises(UnknownIdError, match="h100-sxm"):
        catalog.get_hardware("h100sxm")
    with pytest.raises(KeyError):  # UnknownIdError is also a KeyError
        catalog.get_region("aws:mars-1")


def test_ids_are_case_and_space_tolerant() -> None:
    assert catalog.get_model(" Llama-2-7B ").model_id == "llama-2-7b"


def test_region_lookup() -> None:
    r = catalog.get_region("aws:us-east-1")
    assert 0 < r.grid_gco2e_per_kwh < 1000 and 1.0 <= r.pue < 2.0


def test_cursor_per_thread() -> None:
    # DuckDB: one connection shared by threads fails ("connection is busy"); each thread takes a cursor.
    def work(i: int) -> int:
        cur = catalog.cursor()
        return int(cur.execute("SELECT count(*) FROM models WHERE params_total > ?", [i]).fetchone()[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert all(r >= 30 for r in results)


def test_bad_csv_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = catalog.data_dir()
    for f in src.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    text = (tmp_path / "hardware.csv").read_text().replace("memory_gb,", "memory,", 1)
    (tmp_path / "hardware.csv").write_text(text)
    monkeypatch.setenv("LLMCP_DATA_DIR", str(tmp_path))
    catalog.reload()
    try:
        with pytest.raises(CatalogError, match="header does not match"):
            catalog.list_hardware()
    finally:
        monkeypatch.delenv("LLMCP_DATA_DIR")
        catalog.reload()
    assert catalog.get_hardware("h100-sxm")


def test_sources_frame() -> None:
    frame = catalog.sources_frame("models", ["llama-2-7b", "nlarge-s"])
    assert set(frame["id"]) == {"llama-2-7b", "nlarge-s"}
    assert frame.set_index("id").loc["nlarge-s", "assumed"]


def test_find_region_is_a_lookup_without_an_error() -> None:
    # find_region is for code that probes for a region and falls back (training.compare_instances):
    # a miss is None, with no UnknownIdError and no difflib suggestions built.
    assert catalog.find_region("aws:us-east-1") is catalog.get_region("aws:us-east-1")
    assert catalog.find_region(" AWS:US-EAST-1 ") is catalog.get_region("aws:us-east-1")
    assert catalog.find_region("aws:mars-1") is None
    assert catalog.find_region("") is None


def test_find_region_builds_no_suggestions(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_difflib(*args: object, **kwargs: object) -> list[str]:
        raise AssertionError("suggestions built for a probe")

    monkeypatch.setattr(catalog.difflib, "get_close_matches", no_difflib)
    assert catalog.find_region("gcp:nowhere-1") is None


def test_get_region_still_names_close_matches() -> None:
    with pytest.raises(UnknownIdError, match="aws:us-east-1") as info:
        catalog.get_region("aws:us-east-l")
    assert "aws:us-east-1" in info.value.suggestions
