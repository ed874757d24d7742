"""Fuzzing every entry point a person can feed: links, reports, the CLI, scenario JSON imports,
Hugging Face configs, traffic-profile and histogram uploads.

The assertion is always the same: only ``estimator.errors`` exceptions, never another one. The
example counts are bounded for CI (the ``ci`` Hypothesis profile, about a minute in all); run
``pytest tests/test_fuzz.py --fuzz`` for the large run (``fuzz`` profile).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from estimator import hf, report, traffic
from estimator.__main__ import main
from estimator.errors import EstimatorError
from estimator.scenario import (
    LIST_KEYS,
    QUERY_KEYS,
    Scenario,
    from_query_params,
    to_query_params,
    validate_scenario,
)

HOSTILE_NUMBERS = ["inf", "-inf", "nan", "NaN", "1e999", "1e400", "-1e400", "1e-320", "5e-324", "-0", "0", "-1",
                   "1e308", "9" * 400, "0x10", "1_000", " 7 ", "", "1e9", "576286728", "3.5", "1e15"]
HOSTILE_TEXT = ["auto", "llama-2-7b", "llama-3.1-8b", "a10g", "h100-sxm", "aws", "gcp", "\x00", "%00", "<img src=x>",
                "![x](http://example.invalid/x.png)", "=1+1", "\r=1+1", "ÿ" * 50, "x" * 5000, "peak_rps", "bursty"]
KEYS = sorted(set(QUERY_KEYS.values()) | {"v", "s", "name", "zz", "", "cme", "tmode", "tsrc", "pb", "tb"})

values = st.one_of(st.sampled_from(HOSTILE_NUMBERS + HOSTILE_TEXT), st.text(max_size=30),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str))
link_params = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)),
                              st.one_of(values, st.lists(values, max_size=3)), max_size=8)

def n(examples: int) -> int:
    """``examples`` for CI; 50 times as many in the long ``--fuzz`` run."""
    return examples * 50 if os.environ.get("LLMCP_FUZZ") else examples


PAGES = ["memory", "performance", "training", "capacity", "variants"]


def _only_estimator_errors(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except EstimatorError:
        return None


@settings(max_examples=n(300), deadline=None)
@given(link_params)
def test_links_never_raise(params: dict[str, Any]) -> None:
    scenario, ignored = from_query_params(params)
    assert isinstance(scenario, Scenario)
    assert all(isinstance(i, str) for i in ignored)
    again, ignored_again = from_query_params(to_query_params(scenario))
    assert again == scenario.model_copy(update={"name": again.name}) or ignored_again == []


def _page_params(page: str) -> st.SearchStrategy[dict[str, Any]]:
    sections = {"memory": ("model", "deploy", "memory", "assumptions"),
                "performance": ("model", "deploy", "tokens", "slo", "assumptions", "perf", "memory"),
                "training": ("train", "deploy", "assumptions"),
                "capacity": ("model", "deploy", "traffic", "tokens", "slo", "autoscaling", "assumptions"),
                "variants": ("variants", "tokens", "slo", "deploy")}[page]
    keys = sorted(k for (sec, _), k in QUERY_KEYS.items() if sec in sections and k not in LIST_KEYS)
    return st.dictionaries(st.sampled_from(keys), values, max_size=4)


@pytest.mark.parametrize("page", PAGES)
def test_every_report_from_a_hostile_link(page: str) -> None:
    @settings(max_examples=n(8 if page in ("capacity", "variants") else 25), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_page_params(page))
    def run(params: dict[str, Any]) -> None:
        scenario, _ = from_query_params(params)
        rep = _only_estimator_errors(report.build_report, scenario, page)
        if rep is not None:
            text = report.to_csv(rep)
            assert text.startswith("section,name,value")
            data = json.loads(report.to_json(rep))  # strict JSON: no inf/NaN
            assert data["page"] == page

    run()


@settings(max_examples=n(40), deadline=None)
@given(st.one_of(st.text(max_size=300), st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS),
                 link_params.map(lambda p: "?" + "&".join(f"{k}={v if isinstance(v, str) else v[0] if v else ''}"
                                                          for k, v in p.items()))))
def test_cli_exits_0_or_2(arg: str) -> None:
    # only memory: the cheapest page, so the fuzzing time goes into the argument handling
    if "\x00" in arg or arg.startswith("-"):
        arg = "?" + arg
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["report", arg, "--page", "memory", "--lenient"])
    assert code in (0, 2), err.getvalue()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)
sections = st.fixed_dictionaries({}, optional={
    name: st.dictionaries(st.sampled_from(sorted(type(getattr(Scenario(), name)).model_fields)), json_values, max_size=3)
    for name in ("model", "deploy", "traffic", "tokens", "slo", "memory", "train")
})


@settings(max_examples=n(200), deadline=None)
@given(st.one_of(sections, st.dictionaries(st.text(max_size=10), json_values, max_size=5)))
def test_scenario_json_imports(data: dict[str, Any]) -> None:
    _only_estimator_errors(validate_scenario, data)


def test_deeply_nested_scenario_json_is_a_clear_error(tmp_path: Any) -> None:
    deep: Any = {}
    node = deep
    for _ in range(5000):
        node["model"] = {}
        node = node["model"]
    with pytest.raises(EstimatorError):
        validate_scenario(deep)
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["report", str(path)]) == 2
    assert "nested too deeply" in err.getvalue()


config_values = st.one_of(st.integers(min_value=-(10**12), max_value=10**12),
                          st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10), st.none(),
                          st.booleans(), st.lists(st.integers(min_value=-5, max_value=10**6), max_size=3))
CONFIG_KEYS = ["model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
               "intermediate_size", "vocab_size", "max_position_embeddings", "tie_word_embeddings", "head_dim",
               "n_routed_experts", "num_experts", "num_experts_per_tok", "moe_intermediate_size", "sliding_window",
               "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "n_embd", "n_layer", "n_head", "torch_dtype",
               "first_k_dense_replace", "num_local_experts", "architectures", "_name_or_path"]
model_types = st.sampled_from(["llama", "mistral", "mixtral", "qwen2", "gemma2", "phi3", "deepseek_v3", "gpt2",
                               "bert", "RefinedWebModel", "gpt_oss", "unknown"])


@settings(max_examples=n(150), deadline=None)
@given(st.dictionaries(st.sampled_from(CONFIG_KEYS), config_values, max_size=14), model_types)
def test_hf_configs(config: dict[str, Any], model_type: str) -> None:
    config = {"model_type": model_type, **config}
    spec = _only_estimator_errors(hf.model_from_config, config)
    if spec is not None:
        assert math.isfinite(spec.params) and spec.params > 0


def test_hf_config_with_nan_or_infinity_from_json_is_a_clear_error() -> None:
    # issue 11: a config.json with NaN/Infinity raised ValueError/OverflowError in hf._get
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        text = (f'{{"model_type": "llama", "hidden_size": {literal}, "num_hidden_layers": 32, "num_attention_heads": 32, '
                '"intermediate_size": 11008, "vocab_size": 32000}')
        with pytest.raises(EstimatorError):
            hf.model_from_config(json.loads(text))


uploads = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.one_of(st.sampled_from([*HOSTILE_NUMBERS, "tokens,count", "hour,value", ";", "\t", '"']),
                       st.text(max_size=12)), max_size=200)
    .flatmap(lambda cells: st.sampled_from(["\n", "\r", "\r\n", ",", ";"]).map(lambda sep: sep.join(cells))),
)


@settings(max_examples=n(150), deadline=None)
@given(uploads)
def test_uploads(data: str | bytes) -> None:
    _only_estimator_errors(traffic.parse_custom_profile, data)
    _only_estimator_errors(traffic.parse_histogram, data)


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_profile_with_any_line_ending(sep: str) -> None:
    # issue 11: CR-only line endings raised _csv.Error
    text = "hour,value" + sep + sep.join(f"{h},{1 + h % 24}" for h in range(168))
    assert len(traffic.parse_custom_profile(text)) == 168
    assert traffic.parse_histogram(sep.join(["tokens,count", "100,3", "1000,1"])) == ([100.0, 1000.0], [3.0, 1.0])


def test_cell_over_the_csv_field_limit_is_a_clear_error() -> None:
    with pytest.raises(EstimatorError, match="not readable CSV"):
        traffic.parse_histogram("100," + "1" * 140_000)


APP_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("page", [*PAGES, "scenarios", "catalog"])
def test_every_page_with_hostile_link_parameters(page: str) -> None:
    """AppTest of each page with fuzzed link parameters: a message on the page, never an exception."""
    strategy = _page_params(page) if page in PAGES else link_params

    @settings(max_examples=n(3), deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(params: dict[str, Any]) -> None:
        at = AppTest.from_file(str(APP_ROOT / "pages" / f"{page}.py"), default_timeout=30)
        for key, value in params.items():
            at.query_params[key] = value if isinstance(value, str) else [str(v) for v in value]
        at.run()
        assert not at.exception, [e.value for e in at.exception]

    run()
