#!/usr/bin/env python3
"""Rebuild rows of ``data/instances.csv`` from a price-catalog snapshot.

Input: one SkyPilot-format ``vms.csv`` (``catalogs/v7/<cloud>/vms.csv`` of
github.com/skypilot-org/skypilot-catalog, or a fork in the same format such as
github.com/anycloud-sh/catalog) for one provider, plus ``data/instance_map.csv``, which names the
instance types to track and maps the snapshot's accelerator names to our ``hardware_id``. No network.

How a snapshot row becomes prices (USD per instance-hour):

* AWS, Azure, Lambda, RunPod: one row per instance type and region (AWS: per availability zone) with
  ``Price`` (on-demand) and ``SpotPrice``.
* GCP GPU VMs: the machine-type row prices the host only; the GPUs are a separate row with an empty
  ``InstanceType`` and ``AcceleratorName``/``AcceleratorCount``. Instance price = host + accelerator
  row of the same region and zone (e.g. a4-highgpu-8g = host 0.0 + ``B200`` x8 row).
* GCP TPUs: only an accelerator row whose ``AcceleratorName`` is the slice name (``tpu-v6e-8``); the
  map row's ``instance_type`` is that slice name and its ``accelerator_count`` the chips in the slice.

Per region: on-demand = lowest zone on-demand, spot = lowest zone spot; a spot not below on-demand is
no spot offer (Azure lists spot = on-demand where none exists) and is dropped. Regions whose
on-demand exceeds ``PLACEHOLDER_FACTOR`` x the price region's are treated as placeholders (GCP TPU
rows carry 700.0 where a slice is not sold) and left out of ``regions``.

Rows of ``instances.csv`` that the map does not name, or that the snapshot lacks, are kept as they
are (``--drop-missing`` removes mapped rows the snapshot lacks). A mapped row whose rebuilt values
equal the current ones is left byte-for-byte alone (its provenance still holds). Output is
deterministic: existing rows keep their order, new rows are appended sorted by ``instance_id``.

Usage::

    python scripts/build_instances.py --provider gcp --snapshot /tmp/gcp/vms.csv \\
        --source "github.com/anycloud-sh/catalog @62ff0a98... (catalog update 2026-05-20) gcp/vms.csv" \\
        --as-of 2026-05-20 [--check] [--drop-missing]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCES = ROOT / "data" / "instances.csv"
DEFAULT_MAP = ROOT / "data" / "instance_map.csv"
PLACEHOLDER_FACTOR = 10.0
PRICE_FIELDS = ("price_on_demand_usd_per_h", "price_spot_usd_per_h")
COMMIT_FIELDS = ("price_1y_usd_per_h", "price_3y_usd_per_h")
COMPARED_FIELDS = ("hardware_id", "accelerator_count", "vcpu", "ram_gb", *PRICE_FIELDS, "price_region")
MAP_FIELDS = ("provider", "instance_type", "accelerator_name", "accelerator_count", "hardware_id",
              "price_region", "source", "as_of", "notes")


@dataclass(frozen=True)
class Offer:
    """One snapshot row: an instance type (or bare accelerator) priced in one region/zone."""

    instance_type: str
    accelerator_name: str
    accelerator_count: float | None
    vcpu: float | None
    ram_gib: float | None
    on_demand_usd_per_h: float | None
    spot_usd_per_h: float | None
    region: str
    zone: str


@dataclass(frozen=True)
class MapEntry:
    """One row of ``instance_map.csv``: an instance type to track and its hardware."""

    provider: str
    instance_type: str
    accelerator_name: str
    accelerator_count: int
    hardware_id: str
    price_region: str
    notes: str

    @property
    def instance_id(self) -> str:
        return f"{self.provider}:{self.instance_type.lower()}"


@dataclass(frozen=True)
class RegionPrice:
    """Prices (USD per instance-hour) of one instance type in one region."""

    region: str
    on_demand_usd_per_h: float
    spot_usd_per_h: float | None


@dataclass(frozen=True)
class Rebuilt:
    """What the snapshot says about one mapped instance type."""

    entry: MapEntry
    vcpu: float | None
    ram_gib: float | None
    prices: tuple[RegionPrice, ...]


@dataclass(frozen=True)
class Provenance:
    """Where the snapshot comes from: written to ``source``/``as_of`` of rows whose values change."""

    source: str
    as_of: str
    snapshot_name: str


@dataclass(frozen=True)
class Change:
    """One difference between the current and the rebuilt file."""

    kind: str  # "added", "removed" or "updated"
    instance_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:8s} {self.instance_id}: {self.detail}"


def _float(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def parse_snapshot(text: str) -> list[Offer]:
    """Rows of a SkyPilot ``vms.csv`` (any column order; ``AvailabilityZone`` optional)."""
    offers = []
    for row in csv.DictReader(io.StringIO(text)):
        offers.append(Offer(
            instance_type=(row.get("InstanceType") or "").strip(),
            accelerator_name=(row.get("AcceleratorName") or "").strip(),
            accelerator_count=_float(row.get("AcceleratorCount")),
            vcpu=_float(row.get("vCPUs")),
            ram_gib=_float(row.get("MemoryGiB")),
            on_demand_usd_per_h=_float(row.get("Price")),
            spot_usd_per_h=_float(row.get("SpotPrice")),
            region=(row.get("Region") or "").strip(),
            zone=(row.get("AvailabilityZone") or "").strip(),
        ))
    return offers


def parse_map(text: str, provider: str) -> list[MapEntry]:
    """The map rows of ``provider``; a missing column or a non-positive count is a ValueError."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(MAP_FIELDS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"instance map lacks columns {sorted(missing)}")
    entries = []
    for row in reader:
        if row["provider"].strip() != provider:
            continue
        count = int(row["accelerator_count"])
        if count <= 0 or not row["hardware_id"].strip() or not row["price_region"].strip():
            raise ValueError(f"instance map row {row['instance_type']!r}: needs count > 0, "
                             "hardware_id and price_region")
        entries.append(MapEntry(provider, row["instance_type"].strip(), row["accelerator_name"].strip(),
                                count, row["hardware_id"].strip(), row["price_region"].strip(),
                                row["notes"].strip()))
    return entries


def _zone_key(offer: Offer) -> tuple[str, str]:
    return offer.region, offer.zone


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _host_plus_gpus(hosts: list[Offer], entry: MapEntry, offers: Sequence[Offer]) -> list[Offer]:
    """Host rows of ``entry`` with their price made whole (GCP: + the accelerator row of the zone)."""
    gpus = {_zone_key(o): o for o in offers
            if not o.instance_type and o.accelerator_name.lower() == entry.accelerator_name.lower()
            and o.accelerator_count == entry.accelerator_count}
    whole = []
    for host in hosts:
        if host.accelerator_name or not entry.accelerator_name:
            if host.accelerator_name and host.accelerator_name.lower() != entry.accelerator_name.lower():
                raise ValueError(f"{entry.instance_id}: snapshot accelerator {host.accelerator_name!r} "
                                 f"is not the map's {entry.accelerator_name!r}")
            if host.accelerator_count is not None and host.accelerator_count != entry.accelerator_count:
                raise ValueError(f"{entry.instance_id}: snapshot lists {host.accelerator_count:g} "
                                 f"accelerators, the map {entry.accelerator_count}")
            whole.append(host)
        elif (gpu := gpus.get(_zone_key(host))) is not None:
            whole.append(Offer(host.instance_type, gpu.accelerator_name, gpu.accelerator_count, host.vcpu,
                               host.ram_gib, _add(host.on_demand_usd_per_h, gpu.on_demand_usd_per_h),
                               _add(host.spot_usd_per_h, gpu.spot_usd_per_h), host.region, host.zone))
    return whole


def offers_of(entry: MapEntry, offers: Sequence[Offer]) -> list[Offer]:
    """The snapshot rows that price ``entry``, one per region/zone, with whole-instance prices."""
    hosts = [o for o in offers if o.instance_type == entry.instance_type]
    if hosts:
        return _host_plus_gpus(hosts, entry, offers)
    return [o for o in offers if not o.instance_type and o.accelerator_name == entry.instance_type]


def region_prices(offers: Iterable[Offer]) -> tuple[RegionPrice, ...]:
    """Lowest on-demand and lowest spot per region; spot >= on-demand is no spot offer."""
    on_demand: dict[str, float] = {}
    spot: dict[str, float] = {}
    for o in offers:
        if o.on_demand_usd_per_h is None or o.on_demand_usd_per_h <= 0 or not o.region:
            continue
        on_demand[o.region] = min(on_demand.get(o.region, o.on_demand_usd_per_h), o.on_demand_usd_per_h)
        if o.spot_usd_per_h is not None and o.spot_usd_per_h > 0:
            spot[o.region] = min(spot.get(o.region, o.spot_usd_per_h), o.spot_usd_per_h)
    out = []
    for region in sorted(on_demand):
        s = spot.get(region)
        out.append(RegionPrice(region, on_demand[region], s if s is not None and s < on_demand[region]
                               else None))
    return tuple(out)


def rebuild_entry(entry: MapEntry, offers: Sequence[Offer]) -> Rebuilt | None:
    """Prices and shape of one mapped instance type; None when the snapshot does not price it."""
    mine = offers_of(entry, offers)
    prices = region_prices(mine)
    if not any(p.region == entry.price_region for p in prices):
        return None
    first = next(o for o in mine if o.region == entry.price_region)
    return Rebuilt(entry, first.vcpu, first.ram_gib, prices)


def fmt_number(value: float | None) -> str:
    """Deterministic decimal text: at most 6 decimals, no trailing zeros (``84.8``, ``224``)."""
    if value is None:
        return ""
    text = f"{round(value, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _listed_regions(rebuilt: Rebuilt) -> list[str]:
    home = next(p for p in rebuilt.prices if p.region == rebuilt.entry.price_region)
    limit = PLACEHOLDER_FACTOR * home.on_demand_usd_per_h
    return [p.region for p in rebuilt.prices if p.on_demand_usd_per_h <= limit]


def _notes(rebuilt: Rebuilt, old: dict[str, str] | None) -> str:
    e = rebuilt.entry
    parts = [f"rebuilt by scripts/build_instances.py from the snapshot in source; prices in {e.price_region}: "
             "spot = lowest zone spot there (none when not below on-demand); vCPU/RAM (GiB) as listed; "
             f"regions = every region the snapshot prices within {PLACEHOLDER_FACTOR:g}x of {e.price_region}"]
    if e.notes:
        parts.append(e.notes)
    if old and any(old.get(f) for f in COMMIT_FIELDS):
        parts.append(f"1y/3y kept from the earlier source ({old.get('source', '')}, as_of {old.get('as_of', '')})")
    return "; ".join(parts)


def _values(rebuilt: Rebuilt, old: dict[str, str] | None) -> dict[str, str]:
    """The fields the snapshot decides (vCPU/RAM fall back to the old row when the snapshot has none)."""
    e = rebuilt.entry
    home = next(p for p in rebuilt.prices if p.region == e.price_region)
    old = old or {}
    return {
        "hardware_id": e.hardware_id,
        "accelerator_count": str(e.accelerator_count),
        "vcpu": fmt_number(rebuilt.vcpu) if rebuilt.vcpu is not None else old.get("vcpu", ""),
        "ram_gb": fmt_number(rebuilt.ram_gib) if rebuilt.ram_gib is not None else old.get("ram_gb", ""),
        "price_on_demand_usd_per_h": fmt_number(home.on_demand_usd_per_h),
        "price_spot_usd_per_h": fmt_number(home.spot_usd_per_h),
        "price_region": e.price_region,
    }


def _same_number(a: str, b: str) -> bool:
    if not a or not b:
        return a == b
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def _diff(old: dict[str, str], new_values: dict[str, str], regions: list[str]) -> list[str]:
    diffs = [f"{f} {old.get(f, '') or '-'} -> {v or '-'}" for f, v in new_values.items()
             if not _same_number(old.get(f, ""), v)]
    old_regions = {r for r in old.get("regions", "").split(";") if r}
    if old_regions != set(regions):
        added, gone = sorted(set(regions) - old_regions), sorted(old_regions - set(regions))
        diffs.append(f"regions +{','.join(added) or '-'} -{','.join(gone) or '-'}")
    return diffs


def build_row(rebuilt: Rebuilt, prov: Provenance, old: dict[str, str] | None,
              fieldnames: Sequence[str]) -> tuple[dict[str, str], Change | None]:
    """The rebuilt row and its change (None: unchanged, the old row is returned as is)."""
    e = rebuilt.entry
    values = _values(rebuilt, old)
    regions = _listed_regions(rebuilt)
    if old is not None:
        diffs = _diff(old, values, regions)
        if not diffs:
            return old, None
        if {r for r in old.get("regions", "").split(";") if r} == set(regions):
            regions = old["regions"].split(";")
    row = dict.fromkeys(fieldnames, "") | (old or {})
    row |= values | {"instance_id": e.instance_id, "provider": e.provider, "instance_type": e.instance_type,
                     "regions": ";".join(regions), "assumed": "false", "source": prov.source,
                     "as_of": prov.as_of, "notes": _notes(rebuilt, old)}
    if old is None:
        return row, Change("added", e.instance_id, f"on-demand {values['price_on_demand_usd_per_h']}"
                           f" spot {values['price_spot_usd_per_h'] or '-'} ({e.price_region})")
    return row, Change("updated", e.instance_id, "; ".join(diffs))


def rebuild(rows: Sequence[dict[str, str]], fieldnames: Sequence[str], entries: Sequence[MapEntry],
            offers: Sequence[Offer], prov: Provenance,
            drop_missing: bool = False) -> tuple[list[dict[str, str]], list[Change]]:
    """The new rows of ``instances.csv`` and what changed; rows the snapshot cannot rebuild stay."""
    by_id = {e.instance_id: rebuild_entry(e, offers) for e in entries}
    out: list[dict[str, str]] = []
    changes: list[Change] = []
    for row in rows:
        iid = row["instance_id"]
        if iid not in by_id:
            out.append(row)
            continue
        rebuilt = by_id.pop(iid)
        if rebuilt is None:
            if drop_missing:
                changes.append(Change("removed", iid, f"not priced in {prov.snapshot_name}"))
            else:
                out.append(row)
            continue
        new, change = build_row(rebuilt, prov, row, fieldnames)
        out.append(new)
        changes += [change] if change else []
    for iid in sorted(by_id):
        rebuilt = by_id[iid]
        if rebuilt is not None:
            new, change = build_row(rebuilt, prov, None, fieldnames)
            out.append(new)
            changes += [change] if change else []
    return out, changes


def read_instances(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or ()), list(reader)


def render_csv(fieldnames: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    """CSV text as the catalog writes it: minimal quoting, ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fieldnames), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _date(text: str) -> str:
    return dt.date.fromisoformat(text).isoformat()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--provider", required=True, help="provider id as in instances.csv (aws, gcp, ...)")
    p.add_argument("--snapshot", required=True, type=Path, help="SkyPilot-format vms.csv of that provider")
    p.add_argument("--source", required=True, help="provenance of the snapshot: repository @commit and path")
    p.add_argument("--as-of", required=True, type=_date, help="date of the snapshot (YYYY-MM-DD)")
    p.add_argument("--map", type=Path, default=DEFAULT_MAP, help="instance map (default data/instance_map.csv)")
    p.add_argument("--instances", type=Path, default=DEFAULT_INSTANCES, help="instances.csv to rebuild")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file would change")
    p.add_argument("--drop-missing", action="store_true", help="remove mapped rows the snapshot lacks")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    current = args.instances.read_text(encoding="utf-8")
    fieldnames, rows = read_instances(current)
    entries = parse_map(args.map.read_text(encoding="utf-8"), args.provider)
    offers = parse_snapshot(args.snapshot.read_text(encoding="utf-8"))
    prov = Provenance(args.source, args.as_of, f"{args.provider}/{args.snapshot.name}")
    new_rows, changes = rebuild(rows, fieldnames, entries, offers, prov, args.drop_missing)
    text = render_csv(fieldnames, new_rows)
    for change in changes:
        print(change)
    unpriced = [e.instance_id for e in entries if rebuild_entry(e, offers) is None]
    if unpriced:
        print(f"not priced in the snapshot (kept): {', '.join(unpriced)}")
    if text == current:
        print(f"{args.instances.name}: up to date ({len(entries)} mapped {args.provider} instance types)")
        return 0
    if args.check:
        print(f"{args.instances.name}: would change ({len(changes)} rows); run without --check to write")
        return 1
    args.instances.write_text(text, encoding="utf-8")
    print(f"{args.instances.name}: wrote {len(changes)} changed rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
