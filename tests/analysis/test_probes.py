"""What candidates tried that their sandbox refused, as a reviewer reads it:
``Run.programs`` / ``Run.probes`` / ``Run.probe_summary``, ``evolve show`` and
the report; a real run records a report for every evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from evolve.analysis.probes import read_probes
from evolve.analysis.report import build_report
from evolve.analysis.run import Run
from evolve.analysis.summary import format_summary, run_summary
from evolve.cli.main import main
from evolve.store import RunStore
from tests.analysis.synthetic import XSS, synthetic_run
from tests.finished_runs import copy_of, finished_run

ALL_KINDS = ["network", "write", "read", "syscall", "limit"]
PROBING = {
    "counts": {"read": 3, "network": 1},
    "log": [
        "read: open '/job/1/work/secret.csv', which it may not read (x3)",
        "network: socket(AF_INET) (candidate): the sandbox has no network",
    ],
    "seen": ALL_KINDS,
}
CLEAN = {"counts": {}, "log": [], "seen": ALL_KINDS}
HOSTILE = {"counts": {"write": 1}, "log": [f"write: open '{XSS}\x1b[2J'"], "seen": ALL_KINDS}


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten programs: p3 and p7 tried (p7 with a hostile log line), p5 was not
    monitored (an old sandbox), the rest were monitored and clean."""
    run_dir = synthetic_run(tmp_path_factory.mktemp("probed"), 10)
    store = RunStore.open(run_dir)
    for i in range(10):
        program = store.get_program(f"p{i:06d}")
        probes = {3: PROBING, 5: None, 7: HOSTILE}.get(i, CLEAN)
        store.append_evaluation(program, 10.0, 1, probes)
    store.commit({})
    store.close()
    return run_dir


def test_programs_flag_what_each_tried_and_unknown_is_not_zero(probed_run: Path) -> None:
    programs = Run.open(probed_run).programs
    assert programs.loc["p000003", "probes"] == 4
    assert programs.loc["p000003", "probe_kinds"] == "network,read"
    assert programs.loc["p000007", "probes"] == 1
    assert programs.loc["p000000", "probes"] == 0 and programs.loc["p000000", "probe_kinds"] == ""
    assert pd.isna(programs.loc["p000005", "probes"])  # not monitored: unknown
    assert pd.isna(programs.loc["p000005", "probe_kinds"])


def test_the_run_level_count_and_the_per_program_table(probed_run: Path) -> None:
    run = Run.open(probed_run)
    summary = run.probe_summary
    assert summary["monitored"] == 9 and summary["unmonitored_evaluations"] == 1
    assert summary["programs_tried"] == 2
    assert summary["counts"] == {"network": 1, "write": 1, "read": 3}
    assert summary["first_iteration"] == 3
    assert [p["id"] for p in summary["programs"]] == ["p000003", "p000007"]
    table = run.probes
    assert list(table["program_id"][:2]) == ["p000003", "p000007"]  # most attempts first
    assert table.iloc[0]["read"] == 3 and table.iloc[0]["total"] == 4
    assert table.iloc[0]["log"] == PROBING["log"]


def test_an_evaluation_reported_twice_adds_up(probed_run: Path, tmp_path: Path) -> None:
    run_dir = copy_of(probed_run, tmp_path / "run")
    store = RunStore.open(run_dir)
    store.append_evaluation(store.get_program("p000003"), 10.0, 1, PROBING)  # a re-score
    store.commit({})
    store.close()
    report = read_probes(RunStore.open(run_dir)).programs["p000003"]
    assert report.counts == {"read": 6, "network": 2}
    assert report.log == PROBING["log"]  # distinct lines, once


def test_show_prints_the_count_the_programs_and_flags_the_top(
    probed_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = format_summary(run_summary(probed_run, top=10))
    assert "probes     2 of 9 monitored programs tried what the sandbox refuses" in text
    assert "(network 1, write 1, read 3), first at iteration 3" in text
    assert re.search(r"p000003 +iteration 3 +network 1, read 3: read: open", text)
    assert main(["show", str(probed_run), "--top", "10"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown  # the hostile log line is made printable
    flagged = {line.split()[0]: line.split()[-1] for line in shown.splitlines() if " -  " in line}
    assert flagged  # the top table has a tried column
    assert main(["show", str(probed_run), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["probes"]["programs_tried"] == 2


def test_the_report_shows_the_section_and_rings_the_nodes(probed_run: Path) -> None:
    page = build_report(Run.open(probed_run))
    assert "<h2>Sandbox probes</h2>" in page
    assert "2 of 9 monitored programs tried what their sandbox refuses" in page
    assert XSS not in page  # the hostile log line is escaped everywhere
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert match
    nodes = {n["id"]: n for n in json.loads(match.group(1))["nodes"]}
    assert nodes["p000003"]["probes"]["tried"] == "network 1, read 3"
    assert nodes["p000000"]["probes"] == {"tried": "", "log": []}
    assert nodes["p000005"]["probes"] is None  # not monitored


def test_a_run_records_a_report_for_every_evaluation(tmp_path: Path) -> None:
    run_dir = finished_run(tmp_path, seed=3, evaluations=6)
    run = Run.open(run_dir)
    evaluations = RunStore.open(run_dir).read_table("evaluations").to_pylist()
    assert evaluations and all(row["probes"] is not None for row in evaluations)
    seen = [set(json.loads(row["probes"])["seen"]) for row in evaluations]
    assert all(kinds == set(ALL_KINDS) for kinds in seen), seen
    assert run.probe_summary["programs_tried"] == 0  # the offline mutator does not probe
    assert "probes     none:" in format_summary(run_summary(run_dir))
