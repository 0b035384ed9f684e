"""Text from candidates, scorers and run directories reaches a terminal with its
control characters shown as escapes, never obeyed: ``evolve eval``, ``evolve
show``, the live progress line and error messages. ``--json`` stays exact."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.cli.main import main
from evolve.cli.run import ProgressPrinter
from evolve.cli.terminal import printable
from evolve.engine import Progress
from evolve.records import Program, Status
from evolve.store import RunStore
from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[2]
FAKE = "\x1b[2K\rstatus: ok  score: 999"
# Every character a terminal may act on: C0, DEL, C1 (all of Unicode's Cc).
CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]


def survivors(text: str, keep: str = "\n\t") -> set[str]:
    return {c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in keep}


# -- the helper ------------------------------------------------------------------------


@given(st.text(st.characters(codec=None)))
def test_no_control_character_survives(text: str) -> None:
    assert not survivors(printable(text))
    assert not survivors(printable(text, one_line=True), keep="")


@given(st.text(st.characters(exclude_categories=["Cc", "Cs"])))
def test_plain_text_is_unchanged(text: str) -> None:
    assert printable(text) == text == printable(text, one_line=True)


@given(st.text(st.characters(exclude_categories=["Cc", "Cs"]) | st.sampled_from("\n\t")))
def test_newlines_and_tabs_stay_unless_one_line(text: str) -> None:
    assert printable(text) == text
    assert "\n" not in printable(text, one_line=True) and "\t" not in printable(text, one_line=True)


@given(st.lists(st.sampled_from(CONTROLS) | st.text(max_size=3)).map("".join))
def test_escapes_are_visible_and_one_per_control(text: str) -> None:
    shown = printable(text, one_line=True)
    # Each control becomes a backslash escape; nothing is dropped silently.
    assert shown.count("\\") == text.count("\\") + sum(c in CONTROLS for c in text)


def test_the_fake_status_line_is_shown_not_obeyed() -> None:
    assert printable(FAKE) == "\\x1b[2K\\rstatus: ok  score: 999"
    assert printable("\x9b31m\x07\x00\x7f") == "\\x9b31m\\x07\\x00\\x7f"
    assert printable("a\nb\tc") == "a\nb\tc" and printable("a\nb", one_line=True) == "a\\nb"
    assert printable("\ud800") == "\\ud800"  # a lone surrogate from JSON would crash print


# -- evolve eval, end to end -------------------------------------------------------------

HOSTILE_SCORER = textwrap.dedent(
    """\
    def evaluate(program_path):
        if "raise" in open(program_path).read():
            raise ValueError({fake!r})
        return {{
            "metrics": {{"score": 1.0}},
            "artifacts": {{"log": {fake!r}, "\\x1b[31mname": "\\x9b2J"}},
        }}
    """
).format(fake=FAKE)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    seed = "# EVOLVE-BLOCK-START\nprint('\\x1b]0;title\\x07')\n# EVOLVE-BLOCK-END\n"
    problem = write_problem(tmp_path / "hostile", seed=seed, scorer=HOSTILE_SCORER)
    (problem / "raises.py").write_text(seed + "# raise\n")
    return problem


def evolve_eval(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "evolve.cli", "eval", *args],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize("program", [None, "raises.py"], ids=["artifacts", "reason"])
def test_evolve_eval_prints_no_raw_escape_from_a_candidate(
    hostile: Path, program: str | None
) -> None:
    args = [str(hostile)] + (["--program", str(hostile / program)] if program else [])
    out = evolve_eval(*args)
    assert out.returncode in (0, 1), out.stderr.decode()
    assert b"\x1b" not in out.stdout and b"\r" not in out.stdout and b"\xc2\x9b" not in out.stdout
    assert b"\\x1b[2K\\rstatus: ok  score: 999" in out.stdout  # shown, as text
    if program:
        assert out.stdout.startswith(b"status: error") and b"reason: " in out.stdout
    else:
        assert b"--- \\x1b[31mname ---\n\\x9b2J" in out.stdout

    exact = json.loads(evolve_eval(*args, "--json").stdout)  # --json keeps the real text
    if program:  # the harness folds the reason onto one line; the ESC is kept
        assert "\x1b[2K status: ok" in exact["reason"]
    else:
        assert exact["artifacts"]["log"] == FAKE and exact["artifacts"]["\x1b[31mname"] == "\x9b2J"


# -- evolve show, the progress line, errors ------------------------------------------------


def test_evolve_show_escapes_what_a_run_directory_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    problem = write_problem(tmp_path / "problem")
    store = RunStore.create(run_dir, {"problem": "tiny)\nbest score 1e9"}, problem)
    hostile_id = "p1\x1b[8m"  # "conceal": hides what follows on many terminals
    for pid, parents in (("p0", ()), (hostile_id, ("p0\x07",))):
        store.append_program(
            Program(
                id=pid,
                code=f"x = {pid!r}\n",
                parent_ids=parents,
                status=Status.OK,
                score=1.0,
                fitness=1.0,
                edit_kind="seed" if pid == "p0" else "diff",
                wall_time_s=0.1,
            )
        )
    store.append_llm_call(
        {"id": "c1", "model": FAKE, "prompt_tokens": 1, "completion_tokens": 1, "cost_usd": 0.5}
    )
    store.commit({"controller": {"stop_reason": FAKE}})
    capsys.readouterr()

    assert main(["show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "\\x1b[2K\\rstatus: ok  score: 999" in out  # the model and the stop reason
    assert "p1\\x1b[8m" in out and "p0\\x07" in out
    assert "tiny)\\nbest score 1e9" in out and "\nbest score 1e9" not in out

    assert main(["show", str(run_dir), "--json"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["problem"] == "tiny)\nbest score 1e9" and FAKE in exact["llm"]["by_model"]
    assert exact["stop_reason"] == FAKE and {r["id"] for r in exact["top"]} == {"p0", hostile_id}


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_live_progress_line_has_only_its_own_escape() -> None:
    # A guard: the line holds only counters today; printable keeps it so if a
    # field from a candidate is ever added.
    stream = FakeTTY()
    progress = Progress(best_score=2.5, llm_calls=3, cost_usd=0.25)
    ProgressPrinter(stream)(progress, force=True)
    written = stream.getvalue()
    assert written.startswith("\r\x1b[2K") and written.count("\x1b") == 1
    assert "\r" not in written[1:]


def test_an_error_message_quoting_a_scorer_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scorer = f"def evaluate(program_path):\n    raise RuntimeError({FAKE!r})\n"
    problem = write_problem(tmp_path / "broken", scorer=scorer)
    assert main(["run", str(problem), "--iterations", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "failed to score" in err and "\x1b" not in err and "\\x1b[2K\\rstatus" in err


def test_log_lines_escape_control_characters() -> None:
    import logging

    from evolve.cli.terminal import PrintableFormatter

    record = logging.LogRecord(
        "evolve.test", logging.WARNING, __file__, 1, "model said %s", ("\x1b[2Kfake",), None
    )
    line = PrintableFormatter("%(levelname)s %(message)s").format(record)
    assert "\x1b" not in line and "\\x1b[2Kfake" in line
