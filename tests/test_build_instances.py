"""scripts/build_instances.py: rebuilding instances.csv rows from a SkyPilot-format vms.csv snapshot.

Fixture rows (tests/data/instances/, see its README.md) are real rows of
github.com/anycloud-sh/catalog @62ff0a98 (catalog update 2026-05-20) gcp/azure/lambda vms.csv and of
github.com/skypilot-org/skypilot-catalog @27f67dd4 catalogs/v7/aws/vms.csv; each expected price below is
read off those rows (the comment says which).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "instances"
PROV_SOURCE = "fixture snapshot"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_instances", ROOT / "scripts" / "build_instances.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_instances"] = module
    spec.loader.exec_module(module)
    return module


bi = _load_script()


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _rebuild(provider: str, drop_missing: bool = False,
             rows: list[dict[str, str]] | None = None) -> tuple[dict[str, dict[str, str]], list, list[str]]:
    fieldnames, current = bi.read_instances(_fixture("instances.csv"))
    entries = bi.parse_map(_fixture("instance_map.csv"), provider)
    offers = bi.parse_snapshot(_fixture(f"{provider}_vms.csv"))
    prov = bi.Provenance(PROV_SOURCE, "2026-05-20", f"{provider}/vms.csv")
    new_rows, changes = bi.rebuild(rows if rows is not None else current, fieldnames, entries, offers, prov,
                                   drop_missing)
    return {r["instance_id"]: r for r in new_rows}, changes, [r["instance_id"] for r in new_rows]


def test_gcp_gpu_vm_price_is_host_plus_accelerator_rows() -> None:
    rows, changes, _ = _rebuild("gcp")
    a4 = rows["gcp:a4-highgpu-8g"]
    # gcp/vms.csv us-central1-b: host a4-highgpu-8g 0.0 / 0.0 + accelerator B200 x8 90.216 / 34.2368
    assert float(a4["price_on_demand_usd_per_h"]) == pytest.approx(0.0 + 90.216)
    assert float(a4["price_spot_usd_per_h"]) == pytest.approx(0.0 + 34.2368)
    # host row: 224 vCPUs, 3968 GiB; the map gives 8 B200 -> hardware b200
    assert (a4["vcpu"], a4["ram_gb"], a4["accelerator_count"], a4["hardware_id"]) == ("224", "3968", "8", "b200")
    # us-west2-c prices the same VM at 64.44: listed as a region, not the price region
    assert a4["regions"] == "us-central1;us-west2" and a4["price_region"] == "us-central1"
    assert {c.kind for c in changes} == {"added"}


def test_tpu_slice_priced_from_its_accelerator_row_and_placeholders_left_out() -> None:
    rows, _, _ = _rebuild("gcp")
    tpu = rows["gcp:tpu-v6e-8"]
    # gcp/vms.csv tpu-v6e-8 us-central1-a/-b: 21.6 on-demand, 4.11533 spot (= 2.70 per chip-hour x 8 chips)
    assert float(tpu["price_on_demand_usd_per_h"]) == pytest.approx(21.6)
    assert float(tpu["price_spot_usd_per_h"]) == pytest.approx(4.11533)
    assert tpu["accelerator_count"] == "8" and tpu["hardware_id"] == "tpu-v6e"
    # asia-east1 lists 700.0 (> 10 x 21.6): a placeholder, not a region where the slice is sold;
    # southamerica-west1 sells it at 21.6 but lists spot 700.0 (not below on-demand: no spot offer)
    assert tpu["regions"].split(";") == ["southamerica-west1", "us-central1", "us-east4"]
    assert tpu["vcpu"] == "" and tpu["ram_gb"] == ""


def test_aws_spot_is_the_lowest_zone_and_a_price_change_is_reported() -> None:
    rows, changes, _ = _rebuild("aws")
    p5en = rows["aws:p5en.48xlarge"]
    # skypilot-catalog @27f67dd4 aws/vms.csv: p5en.48xlarge 84.8 in usw2-az3 (spot 25.26) and usw2-az4 (25.6251)
    assert p5en["price_on_demand_usd_per_h"] == "84.8"
    assert p5en["price_spot_usd_per_h"] == "25.26"
    assert p5en["source"] == PROV_SOURCE and p5en["as_of"] == "2026-05-20"
    (change,) = changes
    assert change.kind == "updated" and change.instance_id == "aws:p5en.48xlarge"
    # the fixture row (dstack offer 2026-08-06) has 63.296 / 27.1988 in us-east-1
    assert "price_on_demand_usd_per_h 63.296 -> 84.8" in change.detail
    assert "price_region us-east-1 -> us-west-2" in change.detail


def test_azure_spot_equal_to_on_demand_is_no_spot_and_count_comes_from_the_map() -> None:
    rows, _, _ = _rebuild("azure")
    gb200 = rows["azure:standard_nd128isr_ndr_gb200_v6"]
    # azure/vms.csv eastus2: 108.16 on-demand and 108.16 "spot" (no real spot offer); no AcceleratorName
    assert gb200["price_on_demand_usd_per_h"] == "108.16" and gb200["price_spot_usd_per_h"] == ""
    assert (gb200["accelerator_count"], gb200["hardware_id"], gb200["vcpu"]) == ("4", "gb200", "128")
    h200 = rows["azure:standard_nd96isr_h200_v5"]
    # azure/vms.csv eastus2 84.8 (= the catalog row); the fixture snapshot holds two regions only
    assert h200["price_on_demand_usd_per_h"] == "84.8" and h200["regions"] == "centralus;eastus2"


def test_rows_it_cannot_rebuild_are_kept_in_place() -> None:
    _, current = bi.read_instances(_fixture("instances.csv"))
    rows, changes, order = _rebuild("lambda")
    # p3.2xlarge is not in the map; gpu_8x_b200_sxm6 is, but the fixture snapshot lacks it
    for row in current:
        if row["instance_id"] in ("aws:p3.2xlarge", "lambda:gpu_8x_b200_sxm6", "aws:p5en.48xlarge"):
            assert rows[row["instance_id"]] == row
    assert order[: len(current)] == [r["instance_id"] for r in current]
    assert order[-1] == "lambda:gpu_1x_b200_sxm6"  # new rows appended after the existing ones
    # lambda/vms.csv gpu_1x_b200_sxm6 us-east-1: 6.99, 26 vCPU, 360 GiB, no spot
    new = rows["lambda:gpu_1x_b200_sxm6"]
    assert (new["price_on_demand_usd_per_h"], new["vcpu"], new["ram_gb"]) == ("6.99", "26", "360")
    assert [c.kind for c in changes] == ["added"]


def test_drop_missing_removes_mapped_rows_the_snapshot_lacks() -> None:
    rows, changes, _ = _rebuild("lambda", drop_missing=True)
    assert "lambda:gpu_8x_b200_sxm6" not in rows and "aws:p3.2xlarge" in rows
    assert ("removed", "lambda:gpu_8x_b200_sxm6") in {(c.kind, c.instance_id) for c in changes}


def test_commit_prices_are_kept_and_their_source_noted_when_on_demand_changes() -> None:
    _, current = bi.read_instances(_fixture("instances.csv"))
    # synthetic 1y/3y on the fixture row, to see that a rebuild keeps what the snapshot cannot give
    current = [r | {"price_1y_usd_per_h": "40.0", "price_3y_usd_per_h": "30.0"}
               if r["instance_id"] == "aws:p5en.48xlarge" else r for r in current]
    rows, _, _ = _rebuild("aws", rows=current)
    p5en = rows["aws:p5en.48xlarge"]
    assert (p5en["price_1y_usd_per_h"], p5en["price_3y_usd_per_h"]) == ("40.0", "30.0")
    assert "1y/3y kept from the earlier source" in p5en["notes"]


def test_rebuild_is_deterministic_and_idempotent() -> None:
    fieldnames, current = bi.read_instances(_fixture("instances.csv"))
    entries = bi.parse_map(_fixture("instance_map.csv"), "gcp")
    offers = bi.parse_snapshot(_fixture("gcp_vms.csv"))
    prov = bi.Provenance(PROV_SOURCE, "2026-05-20", "gcp/vms.csv")
    first, _ = bi.rebuild(current, fieldnames, entries, offers, prov)
    again, changes = bi.rebuild(first, fieldnames, entries, list(reversed(offers)), prov)
    assert bi.render_csv(fieldnames, again) == bi.render_csv(fieldnames, first)
    assert changes == []


def test_map_and_snapshot_disagreeing_on_the_count_is_an_error() -> None:
    entry = bi.MapEntry("aws", "p5en.48xlarge", "H200", 4, "h200", "us-west-2", "")
    with pytest.raises(ValueError, match="8 accelerators, the map 4"):
        bi.rebuild_entry(entry, bi.parse_snapshot(_fixture("aws_vms.csv")))


def test_number_text_is_stable() -> None:
    assert [bi.fmt_number(x) for x in (84.8, 224.0, 0.1 + 0.2, 113.9328, None)] == ["84.8", "224", "0.3",
                                                                                  "113.9328", ""]


def _cli(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    target = tmp_path / "instances.csv"
    if not target.exists():
        shutil.copy(FIXTURES / "instances.csv", target)
    rc = bi.main(["--provider", "gcp", "--snapshot", str(FIXTURES / "gcp_vms.csv"), "--source", PROV_SOURCE,
                  "--as-of", "2026-05-20", "--map", str(FIXTURES / "instance_map.csv"),
                  "--instances", str(target), *extra])
    return rc, target


def test_cli_check_exits_1_and_writes_nothing_then_0_once_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, target = _cli(tmp_path, "--check")
    assert rc == 1 and target.read_text(encoding="utf-8") == _fixture("instances.csv")
    out = capsys.readouterr().out
    assert "added    gcp:a4-highgpu-8g: on-demand 90.216 spot 34.2368 (us-central1)" in out
    assert _cli(tmp_path)[0] == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {"gcp:a4-highgpu-8g", "gcp:tpu-v6e-8"} <= {r["instance_id"] for r in rows}
    assert _cli(tmp_path, "--check")[0] == 0
    assert "up to date" in capsys.readouterr().out


def test_cli_rejects_a_bad_date(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _cli(tmp_path, "--as-of", "20-05-2026")
