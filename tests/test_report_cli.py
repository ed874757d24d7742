"""Reports (CSV/JSON, injection-safe) and the headless CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from estimator import report
from estimator.__main__ import main
from estimator.scenario import ModelChoice, Scenario, to_query_params

ROOT = Path(__file__).resolve().parents[1]


def test_csv_parses_and_carries_units() -> None:
    rep = report.memory_report(Scenario())
    frame = pd.read_csv(io.StringIO(report.to_csv(rep)))
    assert list(frame.columns) == ["section", "name", "value", "unit", "source", "as_of"]
    assert set(frame["section"]) >= {"input", "output", "assumption", "source"}
    out = frame[frame.section == "output"].set_index("name")
    assert int(out.loc["weights_total_bytes", "value"]) == 141_107_412_992  # Llama-3.1-70B bf16
    assert out.loc["weights_total_bytes", "unit"] == "bytes"


@pytest.mark.parametrize("bad", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x"])
def test_formula_injection_escaped(bad: str) -> None:
    assert report.escape_cell(bad) == "'" + bad


@pytest.mark.parametrize("cell", ["x\r=1+1", "x\n=1+1", "x\r\n@SUM(A1)", "\r=x", "ok\n-2+3\n+cmd"])
def test_every_line_of_a_cell_is_guarded_and_quoted(cell: str) -> None:
    # issue 11: escaping looked at the first character only, and a lone CR was not quoted, so
    # deploy.instance_id = "x\r=1+1" became a formula row in spreadsheets
    escaped = report.escape_cell(cell)
    assert "\r" not in escaped
    assert all(not line.startswith(("=", "+", "-", "@", "\t")) or line.lstrip("-").replace(".", "").isdigit()
               for line in escaped.split("\n"))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["a", escaped])
    text = buf.getvalue()
    assert text.startswith('a,"') and text.endswith('"\n')  # quoted: one record, however a reader splits lines
    assert next(csv.reader(io.StringIO(text))) == ["a", escaped]


def test_injection_in_scenario_name_is_escaped_in_csv() -> None:
    sc = Scenario(name="=HYPERLINK(\"http://evil\")", model=ModelChoice(model_id="llama-2-7b"))
    text = report.comparison_csv([report.memory_report(sc)], [sc.name])
    assert "'=HYPERLINK" in text


def test_comparison_csv() -> None:
    a = report.memory_report(Scenario(model=ModelChoice(model_id="llama-2-7b")))
    b = report.memory_report(Scenario(model=ModelChoice(model_id="llama-2-13b")))
    frame = pd.read_csv(io.StringIO(report.comparison_csv([a, b], ["7B", "13B"])))
    row = frame[frame.name == "weights_total_bytes"].iloc[0]
    assert int(row["7B"]) == 13_476_831_232 and int(row["13B"]) == 26_031_728_640


def test_json_round_trips_the_scenario(tmp_path: Path) -> None:
    sc = Scenario(model=ModelChoice(model_id="mistral-7b"))
    text = report.to_json(report.memory_report(sc))
    data = json.loads(text)
    assert Scenario.model_validate(data["scenario"]) == sc
    path = tmp_path / "export.json"
    path.write_text(text)
    out = tmp_path / "out.json"
    assert main(["report", str(path), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["rows"] == data["rows"]


def test_cli_link_equals_page_report(capsys: pytest.CaptureFixture[str]) -> None:
    sc = Scenario(model=ModelChoice(model_id="llama-2-7b"))
    link = "http://127.0.0.1:8501/memory?" + "&".join(f"{k}={v}" for k, v in to_query_params(sc).items())
    assert main(["report", link]) == 0
    assert capsys.readouterr().out == report.to_csv(report.memory_report(sc))


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("?m=no-such-model", "Unknown model id"),
        ("?ctx=-4", "cannot be used"),
        ("/no/such/file.json", "no such file"),
    ],
)
def test_cli_bad_scenario_exits_2(arg: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", arg]) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for content, message in [("{bad", "not valid JSON"), ('{"memory": {"batch": NaN}}', "not allowed"),
                             ('{"version": 99}', "newer"), ('{"model": {"model_id": 5}}', "model.model_id"),
                             ("[1]", "JSON object")]:
        p = tmp_path / "s.json"
        p.write_text(content)
        assert main(["report", str(p)]) == 2, content
        assert message in capsys.readouterr().err, content


def test_cli_help_and_module_entry() -> None:
    res = subprocess.run([sys.executable, "-m", "estimator", "report", "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert res.returncode == 0 and "--format" in res.stdout and "SCENARIO" in res.stdout
    res = subprocess.run([sys.executable, "-m", "estimator", "report", "?m=nope"], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert res.returncode == 2 and "error:" in res.stderr


def test_cli_save_refuses_unknown_catalog_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["save", "?m=no-such-model"]) == 2
    assert "Unknown model id 'no-such-model'" in capsys.readouterr().err


def test_cli_saved_link_reports_the_page_it_was_saved_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["save", "?m=llama-2-7b", "--page", "memory", "--name", "seven"]) == 0
    sid = capsys.readouterr().out.strip()
    assert main(["report", f"?s={sid}"]) == 0
    assert capsys.readouterr().out == report.to_csv(report.memory_report(Scenario(
        name="seven", model=ModelChoice(model_id="llama-2-7b"))))


@pytest.mark.parametrize("arg", ["m=llama-2-7b&" * 30, "http://[::1/?m=x", "?v=1&in=inf"])
def test_cli_bad_links_exit_2_without_traceback(arg: str, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 11: a link over 255 bytes without "?" raised OSError, an unclosed IPv6 host ValueError,
    # v1 links with inf OverflowError
    code = main(["report", arg, "--page", "memory"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err
    if arg.startswith("http"):
        assert code == 2 and "cannot be read" in err
