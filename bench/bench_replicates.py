"""How far apart published replicates are: the error floor of any performance model (issue 12).

Run: ``.venv/bin/python bench/bench_replicates.py``

Groups the scored rows of ``data/measurements.csv`` (``excluded_reason`` empty) by the model's
inputs (``estimator.replicates.INPUT_KEYS``: model, accelerator, dtype, KV dtype, TP, PP, GPUs,
attention DP, scenario, batch, concurrency, input/output tokens, metric; throughputs per GPU) and
prints:

(a) groups with one engine and several rows (another version or source): what a model that knows
    the engine but not its version cannot separate, with each group's floor: the worst-factor floor
    sqrt(max/min) (at the geometric midpoint), the median-|error| floor, and the rows that must miss
    10% / 1.5x whatever one number is predicted;
(b) groups with more than one engine: the spread the engine input must explain;
(c) near-replicates: (b) with attention DP ignored, and same-engine max-throughput rows that differ
    only in the engine's batch cap / concurrency cap / replica count (per GPU);
(d) release-to-release ratios of the same publisher (later / earlier release, same rows);
then the summary and what the floor implies for the 10% median / 1.5x targets per engine x vendor
cell, with the current leave-one-source-out errors (``data/calibration_loso.csv``) of the rows.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator import replicates
from estimator.replicates import INPUT_KEYS, ReplicateGroup

DATA = Path(__file__).resolve().parent.parent / "data"
NEAR_DP_KEYS = tuple(k for k in INPUT_KEYS if k != "attention_dp")
NEAR_CAP_KEYS = tuple(k for k in INPUT_KEYS if k not in ("batch", "concurrency", "gpus"))


def describe(g: ReplicateGroup) -> str:
    """One line naming the configuration of a group."""
    bc = f"b{g.get('batch') or '-'} c{g.get('concurrency') or '-'}"
    dp = " dp-attn" if g.get("attention_dp") == "true" else ""
    return (f"{g.get('model_id')} on {g.get('gpus') or '?'}x {g.get('hardware_id')}, {g.get('dtype')}/kv "
            f"{g.get('kv_dtype')}, tp{g.get('tp')} pp{g.get('pp')}{dp}, {g.get('scenario')} {bc}, "
            f"{g.get('input_tokens')}/{g.get('output_tokens')} tok, {g.get('metric')}")


def print_group(g: ReplicateGroup, loso: dict[str, float]) -> None:
    """The rows of a group, its spread and its floor."""
    f = g.floor
    print(f"- {describe(g)}")
    for r in sorted(g.rows, key=lambda r: (r.engine, r.as_of, r.engine_version)):
        now = f"{math.expm1(abs(loso[r.measurement_id])):6.1%}" if r.measurement_id in loso else "   n/a"
        print(f"    {r.value:>12.5g}  {r.engine:<8}{r.engine_version[:26]:<27}{r.as_of:<11}LOSO|err| {now}  "
              f"{r.measurement_id}\n{'':<16}{r.source[:100]}  <{r.url}>")
    print(f"    max/min {f.spread_ratio:.3f}; floor: worst factor {f.min_worst_factor:.3f}x "
          f"(sqrt(max/min)-1 = {f.min_worst_factor - 1:.1%} at {f.geometric_midpoint_value:.5g}), "
          f"min median |err| {f.min_median_abs_error:.1%}; must miss 10%: {f.forced_misses_10pct}/{f.points}, "
          f"1.5x: {f.forced_misses_1_5x}/{f.points}")


def print_view(title: str, groups: Sequence[ReplicateGroup], loso: dict[str, float]) -> None:
    print(f"\n== {title}: {len(groups)} groups ==")
    for g in groups:
        print_group(g, loso)
    print(spread_line(groups))


def spread_line(groups: Sequence[ReplicateGroup]) -> str:
    """Count, median and max of max/min and of the median-|error| floor over groups."""
    if not groups:
        return "   (none)"
    s = [g.floor.spread_ratio for g in groups]
    m = [g.floor.min_median_abs_error for g in groups]
    return (f"   {len(groups)} groups, {sum(g.floor.points for g in groups)} rows: max/min median {statistics.median(s):.3f}, "
            f"max {max(s):.3f}; median-|err| floor median {statistics.median(m):.1%}, max {max(m):.1%}")


def new_groups(groups: Sequence[ReplicateGroup], known: Sequence[ReplicateGroup]) -> list[ReplicateGroup]:
    """Groups whose row set is not already one of ``known``'s."""
    seen = {frozenset(r.measurement_id for r in g.rows) for g in known}
    return [g for g in groups if frozenset(r.measurement_id for r in g.rows) not in seen]


def near_replicates(frame: pd.DataFrame, exact_a: Sequence[ReplicateGroup],
                    exact_b: Sequence[ReplicateGroup]) -> tuple[list[ReplicateGroup], list[ReplicateGroup]]:
    """(i) cross-engine groups once attention DP is ignored; (ii) same-engine max-throughput groups once
    the engine's batch/concurrency cap and the replica count (per-GPU values) are ignored."""
    dp = new_groups(replicates.cross_engine_groups(frame, NEAR_DP_KEYS), exact_b)
    mt = frame[frame["scenario"] == "max_throughput"]
    caps = new_groups(replicates.replicate_groups(mt, NEAR_CAP_KEYS, by_engine=True), exact_a)
    return dp, caps


def site(url: str) -> str:
    """The publisher of a URL: its host, or the owner on github.com (``nvidia.github.io`` is NVIDIA's)."""
    u = urlparse(url)
    host = u.netloc.removeprefix("www.").lower()
    if host.endswith(".github.io"):
        return "github.com/" + host.removesuffix(".github.io")
    return host + "/" + u.path.strip("/").split("/")[0].lower() if host == "github.com" else host


def release_ratios(groups: Sequence[ReplicateGroup]) -> dict[tuple[str, str, str], list[float]]:
    """Later / earlier value per (engine, earlier release, later release), releases ordered by as_of."""
    out: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for g in groups:
        rows = sorted(g.rows, key=lambda r: (r.as_of, r.engine_version))
        for a, b in itertools.pairwise(rows):
            if a.engine_version != b.engine_version and (a.measurement_id, b.measurement_id) not in seen:
                seen.add((a.measurement_id, b.measurement_id))
                who = "same publisher" if site(a.url) == site(b.url) else "other publisher"
                out[(f"{a.engine} ({who})", a.engine_version or "?", b.engine_version)].append(b.value / a.value)
    return dict(out)


def print_releases(groups: Sequence[ReplicateGroup]) -> None:
    print("\n== (d) Release to release, same configuration (later / earlier, by as_of) ==")
    for (engine, old, new), ratios in sorted(release_ratios(groups).items()):
        gm = math.exp(statistics.fmean(math.log(r) for r in ratios))
        print(f"  {engine:<24}{old[:24]:>25} -> {new[:24]:<25} n={len(ratios)}  ratios "
              f"{', '.join(f'{r:.3f}' for r in sorted(ratios))}  geo-mean {gm:.3f}")


def engine_speed_ratios(groups: Sequence[ReplicateGroup]) -> dict[tuple[str, str], list[float]]:
    """Per engine pair (a, b), a's speed over b's in each cross-engine group: value ratio for a
    throughput, inverse ratio for a time (``_s`` metrics), so > 1 means engine a is faster."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for g in groups:
        by = {e: statistics.fmean(r.value for r in g.rows if r.engine == e) for e in g.engines}
        for a, b in itertools.combinations(g.engines, 2):
            ratio = by[a] / by[b]
            out[(a, b)].append(1 / ratio if g.get("metric").endswith("_s") else ratio)
    return dict(out)


def print_engine_ratios(groups: Sequence[ReplicateGroup]) -> None:
    for (a, b), ratios in sorted(engine_speed_ratios(groups).items()):
        gm = math.exp(statistics.fmean(math.log(r) for r in ratios))
        print(f"   {a} speed / {b} speed: n={len(ratios)}  {', '.join(f'{r:.3f}' for r in sorted(ratios))}  "
              f"geo-mean {gm:.3f}")


def read_loso() -> pd.DataFrame:
    """The stored leave-one-source-out predictions (empty frame when the file is absent)."""
    path = DATA / "calibration_loso.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["measurement_id", "engine", "vendor",
                                                                         "log_ratio"])


def cell_implications(groups: Sequence[ReplicateGroup], loso: pd.DataFrame) -> None:
    """Per engine x vendor cell: rows that must miss 10% / 1.5x against the cell's allowance, and the
    replicate rows' unavoidable |error| at the geometric midpoint next to their current LOSO |error|."""
    vendor = dict(zip(loso["measurement_id"], loso["vendor"], strict=True))
    now = dict(zip(loso["measurement_id"], loso["log_ratio"].astype(float), strict=True))
    cells: dict[tuple[str, str], list[ReplicateGroup]] = defaultdict(list)
    for g in groups:
        cells[(g.rows[0].engine, str(vendor.get(g.rows[0].measurement_id, "?")))].append(g)
    print("\n== What the same-engine floor implies per engine x vendor cell (points: calibration_loso.csv) ==")
    print(f"{'cell':<16}{'points':>7}{'in groups':>10}{'must miss 10%':>15}{'allowed (N/2)':>15}"
          f"{'must miss 1.5x':>16}{'floor |err| med/max':>21}{'LOSO |err| med':>16}")
    for (engine, v), gs in sorted(cells.items()):
        n = int(((loso["engine"] == engine) & (loso["vendor"] == v)).sum())
        rows = [(g, r) for g in gs for r in g.rows]
        floor = [abs(g.floor.geometric_midpoint_value / r.value - 1) for g, r in rows]
        loso_err = [math.expm1(abs(now[r.measurement_id])) for _, r in rows if r.measurement_id in now]
        med_now = f"{statistics.median(loso_err):.1%}" if loso_err else "n/a"
        print(f"{engine + ' x ' + v:<16}{n:>7}{len(rows):>10}{sum(g.floor.forced_misses_10pct for g in gs):>15}"
              f"{n / 2:>15.1f}{sum(g.floor.forced_misses_1_5x for g in gs):>16}"
              f"{statistics.median(floor):>13.1%} / {max(floor):.1%}{med_now:>16}")


def main() -> int:
    frame = pd.read_csv(DATA / "measurements.csv")
    loso_frame = read_loso()
    loso = dict(zip(loso_frame["measurement_id"], loso_frame["log_ratio"].astype(float), strict=True))
    scored = replicates.replicate_rows(frame)
    print(f"{len(scored)} scored rows of {len(frame)} in data/measurements.csv; keys: {', '.join(INPUT_KEYS)} "
          "(throughputs per GPU)")
    same = replicates.same_engine_groups(frame)
    cross = replicates.cross_engine_groups(frame)
    print_view("(a) Same engine, another version or source", same, loso)
    print_view("(b) Different engines, same inputs", cross, loso)
    print_engine_ratios(cross)
    dp, caps = near_replicates(frame, same, cross)
    print_view("(c1) Near: different engines, same inputs except attention DP", dp, loso)
    print_engine_ratios(dp)
    print_view("(c2) Near: same engine, max-throughput, same inputs except batch/concurrency cap and GPU count",
               caps, loso)
    print_releases([*same, *caps])
    cell_implications(same, loso_frame)
    print("\n== Summary ==")
    for name, gs in (("(a) same engine", same), ("(b) cross engine", cross), ("(c1) near, attention DP", dp),
                     ("(c2) near, caps", caps)):
        print(f"{name:<26}{spread_line(gs)}")
    per_row = [abs(g.floor.geometric_midpoint_value / r.value - 1) for g in same for r in g.rows]
    print(f"(a) per row at the geometric midpoint: median |err| {statistics.median(per_row):.1%}, "
          f"max {max(per_row):.1%}; rows over 10%: {sum(e > 0.10 for e in per_row)} of {len(per_row)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
