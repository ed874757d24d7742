"""Instance rows added for Blackwell, H200, GB200, TPU v6e and RTX PRO 6000 (issue 13), pinned to
their sources, and every instance's (and instance-map row's) hardware id present in hardware.csv."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from estimator import catalog, pricing
from estimator.specs import Instance

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
# Hardware ids another helper is adding to hardware.csv in the same change; rows naming them are
# tolerated only until the deadline below, after which a missing id fails the test.
PENDING_HARDWARE = frozenset({"b300", "gb200", "gb300", "tpu-v6e", "rtx-pro-6000"})
PENDING_UNTIL = dt.datetime(2026, 11, 29, 22, 0, tzinfo=dt.UTC)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _hardware_ids() -> set[str]:
    return {r["hardware_id"] for r in _rows("hardware.csv")}


def _missing(wanted: dict[str, str]) -> list[str]:
    """``id (hardware)`` for wanted ids absent from hardware.csv, minus pending ones before the deadline."""
    known = _hardware_ids()
    grace = dt.datetime.now(dt.UTC) < PENDING_UNTIL
    return [f"{k} ({hw})" for k, hw in wanted.items()
            if hw not in known and not (grace and hw in PENDING_HARDWARE)]


def test_every_instance_names_a_known_hardware_id() -> None:
    missing = _missing({r["instance_id"]: r["hardware_id"] for r in _rows("instances.csv")})
    assert not missing, f"hardware ids not in hardware.csv: {missing}"


def test_every_instance_map_row_names_a_known_hardware_id_and_matches_its_instance() -> None:
    mapping = _rows("instance_map.csv")
    missing = _missing({f"{r['provider']}:{r['instance_type']}": r["hardware_id"] for r in mapping})
    assert not missing, f"hardware ids not in hardware.csv: {missing}"
    assert all(r["source"].strip() and dt.date.fromisoformat(r["as_of"]) for r in mapping)
    instances = {r["instance_id"]: r for r in _rows("instances.csv")}
    for r in mapping:
        iid = f"{r['provider']}:{r['instance_type'].lower()}"
        assert iid in instances, f"{iid}: mapped but not in instances.csv (run scripts/build_instances.py)"
        assert instances[iid]["hardware_id"] == r["hardware_id"], iid
        assert instances[iid]["accelerator_count"] == r["accelerator_count"], iid


def _inst(instance_id: str) -> Instance:
    return catalog.get_instance(instance_id)


def test_aws_blackwell_instances_pinned_to_the_vantage_snapshot() -> None:
    # github.com/tsaol/aws-gpu data/p6-b200_instances.js @7412fd25 (vantage extract, 2026-01-21):
    # p6-b200.48xlarge us-east-1 onDemand 113.9328; gpu_instances_raw.json @2d0108c7 (2025-11-30) spot_min 37.872
    b200 = _inst("aws:p6-b200.48xlarge")
    assert (b200.price_on_demand_usd_per_h, b200.price_spot_usd_per_h) == (113.9328, 37.872)
    assert (b200.hardware_id, b200.accelerator_count, b200.price_region) == ("b200", 8, "us-east-1")
    # same files: p6-b300.48xlarge is priced in us-west-2 only, onDemand 142.416, spot_min 103.7412
    b300 = _inst("aws:p6-b300.48xlarge")
    assert (b300.price_on_demand_usd_per_h, b300.price_spot_usd_per_h) == (142.416, 103.7412)
    assert b300.regions == ("us-west-2",)


def test_aws_post_cut_h100_prices() -> None:
    # tsaol/aws-gpu data/p5_instances.js @7412fd25 (2026-01-21): p5.48xlarge 55.04 and p5.4xlarge 6.88 in
    # us-east-1, i.e. the single-GPU size is exactly one eighth of the 8-GPU one after the Jun-2025 cut
    p5, p5_1 = _inst("aws:p5.48xlarge"), _inst("aws:p5.4xlarge")
    assert (p5.price_on_demand_usd_per_h, p5_1.price_on_demand_usd_per_h) == (55.04, 6.88)
    assert pricing.price_per_accelerator_hour_usd(p5) == pytest.approx(
        pricing.price_per_accelerator_hour_usd(p5_1))
    # gpu_instances_raw.json @2d0108c7: p5.4xlarge yrTerm1Convertible.noUpfront 5.418, yrTerm3Standard.noUpfront 2.97216
    assert (p5_1.price_1y_usd_per_h, p5_1.price_3y_usd_per_h) == (5.418, 2.97216)


def test_gcp_b200_and_tpu_v6e_pinned_to_the_anycloud_snapshot() -> None:
    # anycloud-sh/catalog @62ff0a98 (2026-05-20) gcp/vms.csv us-central1-b: host a4-highgpu-8g 0.0 + B200 x8 90.216
    a4 = _inst("gcp:a4-highgpu-8g")
    assert (a4.price_on_demand_usd_per_h, a4.price_spot_usd_per_h, a4.accelerator_count) == (90.216, 34.2368, 8)
    # same file: tpu-v6e-1 2.7, tpu-v6e-8 21.6 in us-central1: a chip-hour costs the same in both slices
    one, eight = _inst("gcp:tpu-v6e-1"), _inst("gcp:tpu-v6e-8")
    assert (one.price_on_demand_usd_per_h, eight.price_on_demand_usd_per_h) == (2.7, 21.6)
    assert pricing.price_per_accelerator_hour_usd(eight) == pytest.approx(2.7)


def test_gb200_instances_pinned() -> None:
    # anycloud-sh/catalog @62ff0a98 azure/vms.csv eastus2: Standard_ND128isr_NDR_GB200_v6 108.16 (spot listed
    # equal to on-demand: none); 4 GPUs per VM per the Azure ND GB200 v6 size page
    azure = _inst("azure:standard_nd128isr_ndr_gb200_v6")
    assert (azure.price_on_demand_usd_per_h, azure.price_spot_usd_per_h, azure.accelerator_count) == (108.16, None, 4)
    # api-evangelist/coreweave plans/coreweave-plans-pricing.yml @27bcc25e (2026-09-20): GB200 NVL72 node $42.00/h
    # for 4 GPUs; the same file quotes "$10.50 for GB200" single-GPU, which is 42.00 / 4
    cw = _inst("coreweave:gb200-nvl72-4x")
    assert cw.price_on_demand_usd_per_h == 42.0
    assert pricing.price_per_accelerator_hour_usd(cw) == pytest.approx(10.50)


def test_lambda_single_b200_pinned() -> None:
    # anycloud-sh/catalog @62ff0a98 lambda/vms.csv us-east-1: gpu_1x_b200_sxm6 6.99, gpu_8x_b200_sxm6 53.52
    one, eight = _inst("lambda:gpu_1x_b200_sxm6"), _inst("lambda:gpu_8x_b200_sxm6")
    assert (one.price_on_demand_usd_per_h, eight.price_on_demand_usd_per_h) == (6.99, 53.52)
    assert pricing.price_per_accelerator_hour_usd(eight) < one.price_on_demand_usd_per_h


def test_new_rows_carry_a_source_and_a_dated_as_of() -> None:
    new = {"aws:p6-b200.48xlarge", "aws:p6-b300.48xlarge", "aws:p5.4xlarge", "aws:g7e.2xlarge",
           "aws:g7e.48xlarge", "gcp:a4-highgpu-8g", "gcp:tpu-v6e-1", "gcp:tpu-v6e-4", "gcp:tpu-v6e-8",
           "azure:standard_nd128isr_ndr_gb200_v6", "lambda:gpu_1x_b200_sxm6", "coreweave:gb200-nvl72-4x",
           "coreweave:rtx-pro-6000-8x", "nebius:1gpu-b300", "nebius:1gpu-b200", "nebius:1gpu-h200",
           "nebius:1gpu-rtx-pro-6000", "crusoe:h200-8x", "crusoe:mi300x-8x"}
    rows = {r["instance_id"]: r for r in _rows("instances.csv")}
    assert new <= set(rows)
    for iid in new:
        assert rows[iid]["source"].strip(), iid
        assert dt.date(2025, 1, 1) <= dt.date.fromisoformat(rows[iid]["as_of"]) <= dt.date(2026, 11, 29), iid


def test_aws_june_2025_cut_is_in_the_catalog() -> None:
    # pre-cut us-east-1 on-demand: skypilot-catalog @27f67dd4 catalogs/v7/aws/vms.csv lists p5.48xlarge 98.32 and
    # p4d.24xlarge 32.7726; www.usage.ai/blogs/aws/ai-ml-cost/llm-cost-optimization-aws (updated 2026-06-30):
    # in June 2025 P5 On-Demand pricing "dropped by up to 45%"
    p5, p4d = _inst("aws:p5.48xlarge"), _inst("aws:p4d.24xlarge")
    cut_p5 = 1 - p5.price_on_demand_usd_per_h / 98.32
    assert cut_p5 == pytest.approx(0.44, abs=0.005) and cut_p5 <= 0.45
    assert 1 - p4d.price_on_demand_usd_per_h / 32.7726 == pytest.approx(0.33, abs=0.005)


def test_neocloud_per_gpu_prices_pinned() -> None:
    # api-evangelist/nebius plans/nebius-plans-pricing.yml @37bdedf3 (nebius.com/prices read 2026-10-07):
    # HGX B200 "$8.50 effective October 1, 2026" per GPU-hour, 20 vCPUs and 224 GB RAM per GPU
    b200 = _inst("nebius:1gpu-b200")
    assert (b200.price_on_demand_usd_per_h, b200.vcpu, b200.ram_gb) == (8.5, 20, 224)
    # the 8-GPU row is derived (8 x per-GPU) and flagged assumed
    eight = _inst("nebius:8gpu-b200")
    assert eight.assumed and pricing.price_per_accelerator_hour_usd(eight) == pytest.approx(8.5)
    # api-evangelist/crusoe plans/crusoe-plans-pricing.yml @39cd780e (2026-09-20): AMD MI300X 192GB $3.45/GPU-hr
    assert pricing.price_per_accelerator_hour_usd(_inst("crusoe:mi300x-8x")) == pytest.approx(3.45)
