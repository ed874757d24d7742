"""Inference-mode limits (data/inference_modes.csv), feasibility reasons, API prices."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from estimator import catalog, modes
from estimator.errors import CatalogError, InvalidInputError
from estimator.scenario import InferenceMode

GB = 1e9


def test_every_mode_and_limit_has_a_source_and_date() -> None:
    specs = modes.mode_specs()
    assert set(specs) == {InferenceMode.REALTIME, InferenceMode.SERVERLESS, InferenceMode.ASYNC, InferenceMode.BATCH}
    for spec in specs.values():
        for lim in spec.limits.values():
            assert lim.source.strip() and lim.as_of is not None


@pytest.mark.parametrize("mode, limit, value", [
    # facts.md §6 (AWS SageMaker docs and API references)
    ("realtime", "payload_max_bytes", 6e6),
    ("realtime", "response_max_s", 60),
    ("serverless", "payload_max_bytes", 4e6),
    ("serverless", "response_max_s", 60),
    ("serverless", "memory_max_bytes", 6144 * 2**20),
    ("serverless", "memory_min_bytes", 1024 * 2**20),
    ("serverless", "max_concurrency", 200),
    ("serverless", "gpu", 0),
    ("async", "payload_max_bytes", 1e9),
    ("async", "response_max_s", 3600),
    ("async", "scale_to_zero", 1),
    ("batch", "record_max_bytes", 100e6),
    ("batch", "response_max_s", 3600),
])
def test_published_limits(mode: str, limit: str, value: float) -> None:
    assert modes.mode_spec(mode).value(limit) == pytest.approx(value)


def test_serverless_price_is_per_gb_second() -> None:
    s = modes.mode_spec("serverless")
    assert s.value("price_usd_per_gb_s") == pytest.approx(0.00002)
    assert s.limits["price_usd_per_gb_s"].assumed  # one secondary source: flagged


def _demand(**kw: float | bool) -> modes.ModeDemand:
    base: dict[str, float | bool] = dict(request_bytes_p95=12_000, response_bytes_p95=3_200, memory_needed_bytes=0.0,
                                         needs_gpu=True, ttft_p95_s=0.4, e2e_p95_s=20, ttft_slo_s=1, e2e_slo_s=30)
    base.update(kw)
    return modes.ModeDemand(**base)  # type: ignore[arg-type]


def test_realtime_response_limit_reason() -> None:
    within, meets, reasons = modes.check_mode("realtime", _demand(e2e_p95_s=84, e2e_slo_s=120))
    assert not within and not meets
    assert reasons == ["p95 response 84 s exceeds the 60 s real-time limit"]


def test_serverless_memory_reason_in_plain_words() -> None:
    d = _demand(memory_needed_bytes=142.9 * GB, weights_bytes=141.1 * GB, needs_gpu=False)
    within, _, reasons = modes.check_mode("serverless", d)
    assert not within
    assert any(r.startswith("weights need 141.1 GB") and "serverless allows 6 GB" in r for r in reasons)


def test_serverless_is_cpu_only_and_limits_concurrency() -> None:
    _, _, reasons = modes.check_mode("serverless", _demand(needs_gpu=True, peak_concurrency=250))
    assert any("CPU only" in r for r in reasons)
    assert any("250 concurrent" in r and "200" in r for r in reasons)


def test_async_has_no_streaming() -> None:
    within, meets, reasons = modes.check_mode("async", _demand(ttft_p95_s=20))
    assert within and not meets
    assert any("no response streaming" in r for r in reasons)


def test_payload_limits() -> None:
    within, _, reasons = modes.check_mode("serverless", _demand(request_bytes_p95=5e6, needs_gpu=False))
    assert not within and any("4.0 MB" in r for r in reasons)
    assert modes.check_mode("async", _demand(request_bytes_p95=5e6, ttft_p95_s=20, ttft_slo_s=60))[0]


def test_batch_results_arrive_after_the_job() -> None:
    d = _demand(ttft_p95_s=30 * 3600, e2e_p95_s=30 * 3600, invocation_p95_s=50, results_after_job=True)
    within, meets, reasons = modes.check_mode("batch", d)
    assert within and not meets
    assert reasons and "scheduled job" in reasons[0]


def test_auto_is_not_a_mode() -> None:
    with pytest.raises(InvalidInputError):
        modes.mode_spec("auto")
    with pytest.raises(InvalidInputError):
        modes.mode_spec("edge")


def test_api_prices_have_sources_and_cover_llama_70b() -> None:
    prices = modes.api_prices()
    assert all(p.source and p.as_of and p.output_usd_per_mtok > 0 for p in prices)
    same = {p.provider for p in prices if p.catalog_model_id == "llama-3.1-70b"}
    assert {"Together AI", "Fireworks AI", "Groq"} <= same
    known = {m.model_id for m in catalog.list_models()}
    assert all(p.catalog_model_id in known for p in prices if p.catalog_model_id)
    gpt = next(p for p in prices if p.model == "gpt-4o")
    assert gpt.cost_usd(1e6, 1e6) == pytest.approx(12.5)


def test_a_bad_header_is_a_catalog_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in catalog.data_dir().glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "inference_modes.csv"
    rows = list(csv.reader(path.open()))
    rows[0][2] = "amount"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    monkeypatch.setenv("LLMCP_DATA_DIR", str(tmp_path))
    modes.mode_specs.cache_clear()
    catalog.reload()  # the catalog loads every table through DuckDB and checks each header
    try:
        with pytest.raises(CatalogError, match="header"):
            modes.mode_specs()
    finally:
        monkeypatch.delenv("LLMCP_DATA_DIR")
        modes.mode_specs.cache_clear()
        catalog.reload()
    assert modes.mode_specs()


def test_outside_a_limit_never_meets_the_slo() -> None:
    # a payload over the real-time limit, with latencies inside the goals
    within, meets, reasons = modes.check_mode("realtime", _demand(request_bytes_p95=7e6, e2e_p95_s=5))
    assert (within, meets) == (False, False)
    assert reasons == ["p95 request 7.0 MB exceeds the 6.0 MB real-time payload limit"]


def test_limit_reasons_come_before_slo_reasons() -> None:
    within, meets, reasons = modes.check_mode("realtime", _demand(request_bytes_p95=7e6, ttft_p95_s=3, e2e_p95_s=5))
    assert (within, meets) == (False, False)
    assert [r.split()[1] for r in reasons] == ["request", "TTFT"]


def test_unstable_queue_breaks_the_response_limit() -> None:
    within, _, reasons = modes.check_mode("async", _demand(stable=False, e2e_p95_s=5))
    assert not within
    assert reasons == ["p95 response 5.00 s exceeds the 1.0 h asynchronous limit"]
