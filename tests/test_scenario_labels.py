"""Links of the options the pages show by a label (volume, inference mode, pricing): the link carries the label,
as the pages' bound selects write it, and links made before (option ids) still open the same scenario."""

from __future__ import annotations

import itertools
from enum import StrEnum

import pytest

from estimator import modes, pricing
from estimator.scenario import (
    LABELLED_KEYS,
    LIST_KEYS,
    MODE_LABELS,
    PRICING_LABELS,
    InferenceMode,
    Pricing,
    RecommendInputs,
    Scenario,
    Traffic,
    Volume,
    from_query_params,
    option_id,
    option_label,
    to_query_params,
)


def _scenario(volume: Volume, mode: InferenceMode, price: Pricing, rpm: tuple[str, ...] = ()) -> Scenario:
    d = Scenario()
    return d.replace(traffic=Traffic(volume=volume, peak_rps=12.5),
                     deploy=d.deploy.model_copy(update={"mode": mode, "pricing": price}),
                     recommend=RecommendInputs(pricing=rpm))


def test_labels_are_the_names_the_plan_uses() -> None:
    # the plan's headline names modes by estimator.modes.MODE_NAMES and its pricing table and messages name
    # pricing models by estimator.pricing.PRICING_LABELS: the selects must use the same words
    assert {m: MODE_LABELS[m] for m in modes.MODE_NAMES} == modes.MODE_NAMES
    assert {p.value: label for p, label in PRICING_LABELS.items()} == {
        p.value: label for p, label in pricing.PRICING_LABELS.items()}


@pytest.mark.parametrize("key", sorted(LABELLED_KEYS))
def test_every_option_has_one_label_that_is_no_other_options_id(key: str) -> None:
    labels = LABELLED_KEYS[key]
    ids = {str(o) for o in labels}
    assert len(set(labels.values())) == len(labels)
    for option, label in labels.items():
        # differs from its id as written (links with the id get rewritten), and names no other option even in
        # another case (links are read case-insensitively: "vLLM" is vllm's label, never another option's)
        assert label != str(option) and label.casefold() not in ids - {str(option)}
        assert "," not in label  # a multiselect's link value may be comma-separated (from_query_params)
        assert option_label(key, str(option)) == label and option_id(key, label) == str(option)
    first = next(iter(labels))
    if isinstance(first, StrEnum):
        assert set(labels) == set(type(first))  # every member of the enum
    else:  # text fields validated by a pattern: every option the scenario accepts, and only those
        from estimator import training

        assert set(labels) == {"bu": {"usd", "gpu-hours", "flops"}, "ap": set(training.APPROACH_CHOICES)}[key]
        for option in labels:
            assert from_query_params({key: str(option)}) == from_query_params({key: labels[option]})
            assert from_query_params({key: labels[option]})[1] == []


def test_a_link_carries_the_labels() -> None:
    s = _scenario(Volume.PEAK_RPS, InferenceMode.REALTIME, Pricing.SPOT, ("spot", "committed_3y"))
    assert to_query_params(s) == {"vol": "Peak requests/s", "prps": "12.5", "mode": "Real-time endpoint",
                                  "price": "Spot / preemptible", "rpm": ["Spot / preemptible", "3-year commitment"]}


@pytest.mark.parametrize(("volume", "mode", "price"), list(itertools.product(Volume, InferenceMode, Pricing)))
def test_label_links_and_id_links_open_the_same_scenario(volume: Volume, mode: InferenceMode, price: Pricing) -> None:
    s = _scenario(volume, mode, price, (price.value, Pricing.ON_DEMAND.value))
    params = to_query_params(s)
    assert from_query_params(params) == (s, [])
    # a link made before the labels: option ids, as every link carried them
    old = {k: ([str(option_id(k, x)) for x in v] if isinstance(v, list) else option_id(k, v)) for k, v in params.items()}
    assert all(old[k] != params[k] for k in LABELLED_KEYS if k in params)
    assert from_query_params(old) == (s, [])


def test_labels_read_in_any_case_and_comma_separated_ids() -> None:
    s, ignored = from_query_params({"vol": " peak REQUESTS/S ", "price": "SPOT / PREEMPTIBLE",
                                    "mode": "batch transform", "rpm": "spot,committed_1y"})
    assert ignored == []
    assert (s.traffic.volume, s.deploy.pricing, s.deploy.mode) == (Volume.PEAK_RPS, Pricing.SPOT, InferenceMode.BATCH)
    assert s.recommend.pricing == ("spot", "committed_1y")
    assert "rpm" in LIST_KEYS


@pytest.mark.parametrize(("key", "value"), [("price", "free"), ("vol", "requests per hour"), ("mode", "Automatic"),
                                            ("rpm", ["spot", "Spot instances"])])
def test_text_that_names_no_option_is_still_refused(key: str, value: str | list[str]) -> None:
    s, ignored = from_query_params({key: value})
    assert s == Scenario()
    assert len(ignored) == 1 and ignored[0].startswith(f"{key}=")
