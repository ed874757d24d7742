"""Regions of the GPU clouds outside the big three (Lambda, CoreWeave, RunPod, Nebius, Crusoe).

data/regions.csv gives each of their regions a grid carbon intensity and a PUE, so the capacity
planner (which needs ``catalog.get_region(f"{provider}:{region}")``) and the recommender (which
drops instances with "no allowed region") can place their instances.
"""

from __future__ import annotations

import pytest

from estimator import capacity, catalog
from estimator import recommend as rec
from estimator.scenario import Deployment, Scenario

NEOCLOUDS = ("lambda", "coreweave", "runpod", "nebius", "crusoe")

# Uptime Institute Global Data Center Survey 2024: average annual PUE 1.56 (the industry average
# used where a provider publishes no PUE; every neocloud row is marked assumed for it).
UPTIME_2024_PUE = 1.56


@pytest.mark.parametrize("provider", NEOCLOUDS)
def test_every_instance_region_is_a_catalog_region(provider: str) -> None:
    regions = {r.region for r in catalog.list_regions(provider)}
    insts = catalog.list_instances(provider=provider)
    assert regions and insts
    for inst in insts:
        assert inst.price_region in regions, inst.instance_id
        assert inst.regions and set(inst.regions) <= regions, (inst.instance_id, set(inst.regions) - regions)


@pytest.mark.parametrize("provider", NEOCLOUDS)
def test_region_rows_are_sourced_and_assumed(provider: str) -> None:
    for r in catalog.list_regions(provider):
        assert r.source and r.as_of and r.country and r.location, r.region_id
        # none of these clouds publishes a PUE figure: the industry average, flagged as assumed
        assert r.pue == UPTIME_2024_PUE and r.assumed, r.region_id
        assert "Uptime Institute" in r.source and "Derived" in r.notes, r.region_id


@pytest.mark.parametrize(
    ("region_ids", "g_per_kwh"),
    [
        # Electricity Maps yearly 2025 zone averages (gCO2eq/kWh) as published in
        # thegreenwebfoundation/co2.js data/output/electricity-maps/yearly_2025.json @df82c78e:
        # US-MIDA-PJM 418 (Virginia, Washington DC, New Jersey, Ohio)
        (("lambda:us-east-1", "lambda:us-east-2", "coreweave:us-east-04", "coreweave:us-east-02",
          "coreweave:us-east-06", "crusoe:us-east1", "runpod:us-de-1"), 418),
        # US-TEX-ERCO 363 (Texas)
        (("lambda:us-south-1", "coreweave:us-central-06", "runpod:us-tx-3", "crusoe:us-southcentral1"), 363),
        # US-CENT-SWPP 477 (Kansas, Kansas City)
        (("nebius:us-central1", "runpod:us-ks-2"), 477),
        # FI 68, FR 31, IS 28, CA-QC 41, US-NY-NYIS 314, US-NW-PACE 618 (Utah)
        (("nebius:eu-north1",), 68),
        (("nebius:eu-west1",), 31),
        (("crusoe:eu-iceland1", "runpod:eur-is-1"), 28),
        (("runpod:ca-mtl-1",), 41),
        (("coreweave:us-east-01",), 314),
        (("lambda:us-west-3",), 618),
        # country averages where the provider names only the country: JP 463, IN 593
        (("lambda:asia-northeast-1", "lambda:asia-northeast-2"), 463),
        (("lambda:asia-south-1",), 593),
    ],
)
def test_grid_intensity_is_the_electricity_maps_zone_average(region_ids: tuple[str, ...], g_per_kwh: float) -> None:
    for rid in region_ids:
        r = catalog.get_region(rid)
        assert r.grid_gco2e_per_kwh == g_per_kwh, rid
        assert f"carbonIntensity {g_per_kwh} gCO2eq/kWh" in r.source, rid


def test_operational_carbon_scales_with_the_region_grid() -> None:
    # Operational CO2e = energy x PUE x grid intensity (estimator.capacity): the same Crusoe H200 fleet
    # planned in Iceland (IS 28 g/kWh) and Texas (ERCOT 363 g/kWh), both PUE 1.56, differs by 363/28.
    inst = catalog.get_instance("crusoe:h200-8x")
    plans = {reg: capacity.plan(Scenario().replace(deploy=Deployment(
        provider="crusoe", region=reg, instance_id=inst.instance_id, hardware_id=inst.hardware_id)))
        for reg in ("eu-iceland1", "us-southcentral1")}
    ice, tex = plans["eu-iceland1"], plans["us-southcentral1"]
    assert ice.monthly_cost_usd == tex.monthly_cost_usd  # one Crusoe price list
    assert tex.operational_co2e_kg_per_month / ice.operational_co2e_kg_per_month == pytest.approx(363 / 28, rel=1e-9)


@pytest.mark.parametrize(
    "instance_id",
    ["lambda:gpu_8x_h100_sxm5", "coreweave:hgx-h200-8x", "runpod:1x_h100_sxm_secure", "nebius:8gpu-h200",
     "crusoe:h200-8x"],
)
def test_capacity_plan_runs_in_the_price_region(instance_id: str) -> None:
    inst = catalog.get_instance(instance_id)
    assert catalog.default_region(inst.provider, inst.hardware_id) == inst.price_region
    s = Scenario().replace(deploy=Deployment(provider=inst.provider, region=inst.price_region,
                                             instance_id=inst.instance_id, hardware_id=inst.hardware_id))
    p = capacity.plan(s)
    assert (p.provider, p.region, p.instance_id) == (inst.provider, inst.price_region, instance_id)


def test_recommend_places_neocloud_instances() -> None:
    r = rec.recommend(Scenario())
    placed = {o.provider for o in r.all_rows() if o.provider in NEOCLOUDS and o.reason != rec.R_NO_REGION}
    assert len(placed) >= 3, placed
    no_region = [o for o in r.rejected if o.reason == rec.R_NO_REGION]
    assert not any(p in o.detail for o in no_region for p in NEOCLOUDS), [o.detail for o in no_region]
