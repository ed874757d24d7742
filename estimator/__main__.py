"""Command line: evaluate a scenario headless, with the same numbers as the page.

    python -m estimator report SCENARIO [--page memory] [--format csv|json] [--output FILE]
                                        [--model-config config.json]
    python -m estimator deploy SCENARIO [--output DIR] [--model-config config.json]

SCENARIO is a JSON file (a scenario, or a report exported from the app), a page link
(``http://host/capacity?m=llama-2-7b&rpd=1e6`` or just ``?m=llama-2-7b``; ``?s=<id>`` loads a saved
scenario), or ``-`` for JSON on standard input. ``--model-config`` replaces the scenario's model with
the one a Hugging Face ``config.json`` describes (an imported model, as on the Model & memory page).
Exit status 2 means the scenario is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from estimator import hf, imported
from estimator import report as report_mod
from estimator.errors import EstimatorError
from estimator.scenario import ModelChoice, Scenario, check_catalog_ids, from_query_params, validate_scenario
from estimator.store import default_store

__all__ = ["main", "load_scenario"]

MAX_FILE_BYTES = 5_000_000


class ScenarioInputError(EstimatorError):
    """The SCENARIO argument cannot be read or is not a valid scenario."""


def _page_from_path(path: str) -> str | None:
    name = path.strip("/").split("/")[-1] if path.strip("/") else ""
    return name or None


def load_scenario(arg: str, *, strict: bool = True) -> tuple[Scenario, str | None, list[str]]:
    """Read SCENARIO (file, link or ``-``); return the scenario, the page named by a link, and what
    was ignored. With ``strict``, ignored link parameters are an error."""
    if arg == "-":
        text = sys.stdin.read(MAX_FILE_BYTES + 1)
        return (*_from_json_text(text, "standard input"), [])
    if arg.startswith(("http://", "https://", "?")) or ("=" in arg and not _is_file(arg)):
        try:
            parts = urlsplit(arg if "?" in arg or "://" in arg else "?" + arg)
        except ValueError as exc:  # e.g. "http://[::1/?m=x": an unclosed IPv6 host
            raise ScenarioInputError(f"the link cannot be read ({exc})") from None
        # a repeated parameter stays a list (multiselects: ?v_models=a&v_models=b); others use their last value
        params: dict[str, str | list[str]] = {
            k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
        }
        page = _page_from_path(parts.path)
        if "s" in params:
            sid = params["s"] if isinstance(params["s"], str) else params["s"][-1]
            saved = default_store().get(sid)
            if saved.scenario is None:
                raise ScenarioInputError(f"saved scenario {sid!r}: {saved.problem}")
            return saved.scenario, page or saved.page or None, []
        scenario, ignored = from_query_params(params)
        if ignored and strict:
            raise ScenarioInputError("the link has parameters that cannot be used: " + "; ".join(ignored))
        return scenario, page, ignored
    shown = _show(arg)
    if not _is_file(arg):
        raise ScenarioInputError(f"{shown}: no such file (give a JSON file, a page link, or -)")
    try:
        if Path(arg).stat().st_size > MAX_FILE_BYTES:
            raise ScenarioInputError(f"{shown}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
        text = Path(arg).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ScenarioInputError(f"{shown}: cannot be read ({exc.strerror or 'input/output error'})") from None
    return (*_from_json_text(text, shown), [])


def _is_file(arg: str) -> bool:
    """Whether ``arg`` names a readable file; a name the OS refuses (too long, NUL) is not one."""
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):
        return False


def _show(arg: str, limit: int = 80) -> str:
    """``arg`` as it may appear in a message: printable characters, at most ``limit`` of them."""
    text = "".join(ch for ch in arg if ch.isprintable())
    return text[:limit] + ("…" if len(text) > limit else "")


def _from_json_text(text: str, where: str) -> tuple[Scenario, str | None]:
    """A scenario from JSON text: a bare scenario, or a report exported from a page (its page
    is then the default report)."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioInputError(f"{where}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not allowed")))
    except ValueError as exc:
        raise ScenarioInputError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ScenarioInputError(f"{where}: the JSON is nested too deeply to be a scenario") from None
    page = None
    if isinstance(data, dict) and isinstance(data.get("scenario"), dict):
        page = data.get("page") if isinstance(data.get("page"), str) else None
        data = data["scenario"]  # an exported report
    if not isinstance(data, dict):
        raise ScenarioInputError(f"{where}: a scenario must be a JSON object")
    return validate_scenario(data), page


def with_model_config(scenario: Scenario, path: str) -> Scenario:
    """``scenario`` serving the model of the Hugging Face ``config.json`` at ``path`` (an imported model)."""
    shown = _show(path)
    if not _is_file(path):
        raise ScenarioInputError(f"{shown}: no such config.json file")
    try:
        text = Path(path).read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise ScenarioInputError(f"{shown}: cannot be read ({exc.strerror or 'input/output error'})") from None
    spec = imported.canonical(hf.model_from_json(text, name=Path(path).parent.name or None))
    choice = ModelChoice(model_id=spec.model_id, weight_dtype=scenario.model.weight_dtype,
                         kv_dtype=scenario.model.kv_dtype, custom=spec)
    return scenario.replace(model=choice)


def with_hub_model(scenario: Scenario, repo_id: str) -> Scenario:
    """``scenario`` serving the Hugging Face model ``repo_id`` (its config.json through ``huggingface_hub``;
    ``HF_ENDPOINT`` may name a mirror); its quantization becomes the weight format."""
    result = hf.import_from_hub(repo_id)
    spec = imported.canonical(result.spec)
    choice = ModelChoice(model_id=spec.model_id, weight_dtype=result.weight_dtype, kv_dtype=scenario.model.kv_dtype,
                         custom=spec)
    return scenario.replace(model=choice)


def _add_store_commands(sub: Any) -> None:
    """The ``save`` and ``scenarios`` sub-commands (the saved-scenario store, headless)."""
    save = sub.add_parser("save", help="save a scenario (JSON file or page link); print its new id",
                          description="Save a scenario into the saved-scenario store and print its new id. "
                          "Saving under an existing name adds a version; older ids keep working.")
    save.add_argument("scenario", help="JSON file, page link (URL or ?key=value...), or - for stdin")
    save.add_argument("--name", default=None, help="name (default: the scenario's own name, else the file name)")
    save.add_argument("--note", default="", help="a note shown with it")
    save.add_argument("--page", choices=sorted(report_mod.REPORTS), default=None,
                      help="the page its link opens (default: the page named in the link or report)")
    lst = sub.add_parser("scenarios", help="list saved scenarios (id, name, page, saved at)",
                         description="List saved scenarios, newest first, as tab-separated id, name, page and "
                         "saved_at (UTC).")
    lst.add_argument("--search", default="", help="only those whose name or note contains this text")
    lst.add_argument("--trash", action="store_true", help="list the trash instead (restorable for 30 days)")


def _cmd_save(args: argparse.Namespace) -> int:
    try:
        scenario, link_page, _ = load_scenario(args.scenario)
        check_catalog_ids(scenario)  # a link naming an unknown model must not be saved as the default one
        fallback = Path(args.scenario).stem if _is_file(args.scenario) else ""
        name = args.name or scenario.name or fallback
        page = args.page or (link_page if link_page in report_mod.REPORTS else "")
        store = default_store()
        sid = store.save(scenario, name, args.note, page)
        saved = store.get(sid)
    except EstimatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(sid)
    print(f"saved {saved.name!r}, version {saved.version}", file=sys.stderr)
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    try:
        store = default_store()
        rows = store.trash() if args.trash else store.list(args.search)
    except EstimatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("id\tname\tpage\tsaved_at")
    for s in rows:
        when = s.saved_at or s.updated_at
        name = " ".join(s.name.split())  # one line, no tabs
        print(f"{s.id}\t{name}\t{s.page}\t{when:%Y-%m-%dT%H:%M:%SZ}")
    return 0


def _add_deploy_command(sub: Any) -> None:
    """``deploy SCENARIO [--output DIR]``: the capacity plan's launch command and Kubernetes manifests."""
    dep = sub.add_parser("deploy", help="write the engine launch command and Kubernetes manifests of the capacity plan",
                         description="Plan capacity for the scenario, then write launch.sh (the engine command of one "
                         "replica) and deployment.yaml, service.yaml, hpa.yaml (and configmap.yaml for TensorRT-LLM "
                         "extra options) into DIR; print the launch command. Exit status 2 means the scenario is "
                         "invalid or cannot be deployed.")
    dep.add_argument("scenario", help="JSON file, page link (URL or ?key=value...), or - for stdin")
    dep.add_argument("--output", "-o", metavar="DIR", help="directory to write the files into (created if missing)")
    dep.add_argument("--model-config", metavar="CONFIG_JSON",
                     help="serve the model this Hugging Face config.json describes instead of the scenario's")
    dep.add_argument("--hf-model", metavar="OWNER/NAME",
                     help="serve this Hugging Face model (config.json read from the Hub or HF_ENDPOINT)")


def _cmd_deploy(args: argparse.Namespace) -> int:
    from estimator import deploy, entrypoints

    try:
        scenario, _, _ = load_scenario(args.scenario)
        if args.model_config:
            scenario = with_model_config(scenario, args.model_config)
        if args.hf_model:
            scenario = with_hub_model(scenario, args.hf_model)
        check_catalog_ids(scenario)
        result = deploy.bundle(scenario, entrypoints.compute("capacity", scenario))
    except EstimatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        out = Path(args.output)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, text in deploy.files(result).items():
                (out / name).write_text(text, encoding="utf-8")
                if name.endswith(".sh"):
                    (out / name).chmod(0o755)
        except OSError as exc:
            print(f"error: cannot write to {_show(args.output)} ({exc.strerror or exc})", file=sys.stderr)
            return 2
        print(f"wrote {', '.join(deploy.files(result))} to {out}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.command.shell())
    return 0


_STORE_COMMANDS = {"save": _cmd_save, "scenarios": _cmd_scenarios}


def _add_recommend_command(sub: Any) -> None:
    """``recommend SCENARIO --format csv|json [--output FILE]``: the cheapest plans over the catalog."""
    rec = sub.add_parser("recommend", help="rank every accelerator, cloud, region and weight format by monthly cost",
                         description="Search the catalog for the cheapest plans that serve the scenario's traffic "
                         "within its p95 goals (constraints: the scenario's recommend section, link keys rcl, rxcl, "
                         "rreg, rpm, rhw, rxhw, rmaxa, rwf, rctry, rtop). Rows: exact plans ranked by monthly cost, "
                         "then screening estimates, then infeasible options with their reason. Exit status 2 means "
                         "the scenario is invalid.")
    rec.add_argument("scenario", help="JSON file, page link (URL or ?key=value...), or - for stdin")
    rec.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    rec.add_argument("--output", "-o", help="write to this file instead of standard output")


def _cmd_recommend(args: argparse.Namespace) -> int:
    import csv
    import io

    from estimator import entrypoints
    from estimator.recommend import ROW_FIELDS, option_rows

    try:
        scenario, _, _ = load_scenario(args.scenario)
        check_catalog_ids(scenario)
        rows = option_rows(entrypoints.compute("recommend", scenario))
    except EstimatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        text = json.dumps(rows, indent=2, allow_nan=False) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(ROW_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: report_mod.escape_cell(v) for k, v in r.items()} for r in rows)
        text = buf.getvalue()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m estimator",
        description="LLM Capacity Planner: evaluate a scenario headless (same numbers as the app).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="evaluate a scenario and print its report",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("scenario", help="JSON file, page link (URL or ?key=value...), or - for stdin")
    rep.add_argument("--page", choices=sorted(report_mod.REPORTS), default=None,
                     help="which page's report (default: the page named in the link, else capacity)")
    rep.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    rep.add_argument("--output", "-o", help="write to this file instead of standard output")
    rep.add_argument("--lenient", action="store_true",
                     help="ignore bad link parameters (with a warning on stderr) instead of failing")
    rep.add_argument("--model-config", metavar="CONFIG_JSON",
                     help="serve the model this Hugging Face config.json describes instead of the scenario's")
    rep.add_argument("--hf-model", metavar="OWNER/NAME",
                     help="serve this Hugging Face model (config.json read from the Hub or HF_ENDPOINT)")
    _add_store_commands(sub)
    _add_deploy_command(sub)
    _add_recommend_command(sub)
    args = parser.parse_args(argv)
    if args.command in _STORE_COMMANDS:
        return _STORE_COMMANDS[args.command](args)
    if args.command == "deploy":
        return _cmd_deploy(args)
    if args.command == "recommend":
        return _cmd_recommend(args)

    try:
        scenario, link_page, ignored = load_scenario(args.scenario, strict=not args.lenient)
        for item in ignored:
            print(f"warning: ignored {item}", file=sys.stderr)
        if args.model_config:
            scenario = with_model_config(scenario, args.model_config)
        if args.hf_model:
            scenario = with_hub_model(scenario, args.hf_model)
        page = args.page or (link_page if link_page in report_mod.REPORTS else None) or "capacity"
        rep_obj = report_mod.build_report(scenario, page)
    except EstimatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = report_mod.to_csv(rep_obj) if args.format == "csv" else report_mod.to_json(rep_obj)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
