"""The report page itself (no browser): data, escaping, self-containment, sampling."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from evolve.analysis.report import build_report
from evolve.analysis.report.build import embed_json
from evolve.analysis.review import decide, new_bests
from evolve.analysis.run import Run
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.engine.verify import verify_run
from evolve.store import RunStore
from tests.analysis.synthetic import XSS, synthetic_run
from tests.problem_factory import write_problem


def _data(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert match, "no data element"
    assert "<" not in match.group(1)  # nothing in the data can start a tag
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Run]:
    run = Run.open(synthetic_run(tmp_path_factory.mktemp("hostile"), 80, hostile=True))
    return build_report(run), run


def test_one_node_per_program_with_its_parent(hostile: tuple[str, Run]) -> None:
    page, run = hostile
    data = _data(page)
    assert [n["id"] for n in data["nodes"]] == list(run.programs.index)
    assert all(n["parent"] == run.parent(n["id"]) for n in data["nodes"])
    assert data["path"] == run.path_to_best() and data["sampled"] is False
    assert set(data["code"]) == set(run.programs.index)  # 80 <= max_code: all embedded


def test_hostile_code_round_trips_and_never_appears_raw(hostile: tuple[str, Run]) -> None:
    page, run = hostile
    worst = run.programs.index[-1]
    assert XSS in _data(page)["code"][worst]
    assert XSS not in page
    assert page.count("</script>") == 2  # the data element's end and the renderer's end
    assert "<!--" not in page


def test_self_contained_with_a_hash_only_content_security_policy(
    hostile: tuple[str, Run],
) -> None:
    page, _ = hostile
    assert not re.search(r"\b(src|href)\s*=", page.split('id="report-data"')[0])
    assert "<link" not in page and "@import" not in page
    urls = set(re.findall(r"https?://[^\s\"']+", page)) - {"http://www.w3.org/2000/svg"}
    assert urls == set()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


def test_a_big_run_embeds_a_sample_and_says_so(tmp_path: Path) -> None:
    run = Run.open(synthetic_run(tmp_path, 4000))
    data = _data(build_report(run, max_nodes=1000, max_code=50))
    assert data["sampled"] is True and data["total"] == 4000
    assert len(data["nodes"]) == 1000 and len(data["code"]) == len(data["diff"]) == 50
    shown = {n["id"] for n in data["nodes"]}
    assert set(run.path_to_best()) <= shown and set(run.path_to_best()) <= set(data["code"])
    assert set(run.best(5).index) <= set(data["code"])


def test_an_empty_run_still_renders(tmp_path: Path) -> None:
    RunStore.create(tmp_path / "run", {"problem": "tiny"}, write_problem(tmp_path / "p"))
    page = build_report(Run.open(tmp_path / "run"))
    assert _data(page)["nodes"] == [] and "No scored evaluation yet" in page


def test_embed_json_is_valid_json_for_any_text() -> None:
    text = "</script><!--<script>\u2028</SCRIPT >\"'&"
    assert json.loads(embed_json({"t": text})) == {"t": text}


def test_each_program_carries_its_provenance(tmp_path: Path) -> None:
    """Model, edit, parents, prompt hash (for LLM children), record hash, the
    review decision and what evolve verify said: on every node."""
    out = tmp_path / "run"
    start_run(
        write_problem(tmp_path / "problem"),
        out,
        RunOptions(seed=2, deterministic=True),
        RunLimits(evaluations=6, concurrency=1),
    )
    rows = RunStore.open(out).read_table("programs").to_pylist()
    best = new_bests(rows)[-1]["id"]
    decide(out, best, "approved", "fine by me", by="ada")
    verify_run(out, top=1, repeats=1)
    nodes = {n["id"]: n for n in _data(build_report(Run.open(out)))["nodes"]}
    for row in rows:
        node = nodes[row["id"]]
        assert node["parents"] == list(row["parent_ids"] or [])
        assert node["record_hash"] == row["record_hash"]
        assert node["prompt_hash"] is None  # the offline mutator makes no LLM call
    assert nodes[best]["review"] == "approved by ada: fine by me"
    assert nodes[best]["verified"].startswith("exact, chain holds (certificate-")
    others = [n for pid, n in nodes.items() if pid != best]
    assert all(n["review"] is None and n["verified"] is None for n in others)
