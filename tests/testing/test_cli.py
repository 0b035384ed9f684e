"""``evolve mutator serve`` (also ``python -m evolve.testing``)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

import pytest

from evolve.edits import apply_edit
from evolve.testing import FAULT_KINDS
from evolve.testing.serve import add_arguments, api_key_from_args, fault_plan_from_args, main
from tests.testing.helpers import PARENT, prompt, sync_client


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_build_the_faultfault_plan_from_args() -> None:
    args = parse(
        "--fail-rate", "0.2", "--fault-weights", "500=2,hang", "--fault-script", "429,ok",
        "--retry-after", "3", "--hang", "4", "--fault-seed", "9",
    )  # fmt: skip
    plan = fault_plan_from_args(args)
    assert plan.fail_rate == 0.2 and plan.script == ("429", "ok")
    assert plan.weights == {k: {"500": 2.0, "hang": 1.0}.get(k, 0.0) for k in FAULT_KINDS}
    assert (plan.retry_after_s, plan.hang_s, plan.seed) == (3.0, 4.0, 9)
    defaults = parse()
    expected = ("127.0.0.1", 8000, 0, None, 0.0)
    assert (defaults.host, defaults.port, defaults.seed, defaults.api_key, defaults.latency) == (
        expected
    )
    assert fault_plan_from_args(defaults).fail_rate == 0


def test_bad_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--fail-rate", "2"]) == 2
    assert "fail_rate" in capsys.readouterr().err
    assert main(["--port", "0", "--fault-script", "ok,teapot"]) == 2


@pytest.mark.parametrize(
    "entry", [["evolve.cli", "mutator", "serve"], ["evolve.testing"]], ids=["cli", "module"]
)
def test_serves_until_sigterm_and_prints_the_base_url(repo_root, entry) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo_root), "EVOLVE_TEST_SERVER_KEY": "k"}
    proc = subprocess.Popen(
        [sys.executable, "-m", *entry, "--port", "0", "--api-key-env", "EVOLVE_TEST_SERVER_KEY"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with sync_client(base_url, api_key="k") as c:
            reply = c.chat.completions.create(model="m", messages=prompt())
        apply_edit(PARENT, reply.choices[0].message.content or "")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "requests: ok=1" in err


def test_the_key_comes_from_a_variable_or_a_file_never_the_command_line(
    tmp_path, monkeypatch, capsys
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv("EVOLVE_TEST_KEY", "from-env")
    assert api_key_from_args(parser.parse_args(["--api-key-env", "EVOLVE_TEST_KEY"])) == "from-env"
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert api_key_from_args(parser.parse_args(["--api-key-file", str(key_file)])) == "from-file"
    assert api_key_from_args(parser.parse_args([])) is None
    with pytest.raises(ValueError, match="is not set"):
        api_key_from_args(parser.parse_args(["--api-key-env", "EVOLVE_TEST_UNSET"]))
    # The old flag is refused, saying why: /proc/PID/cmdline is world-readable.
    assert main(["--port", "0", "--api-key", "sekret"]) == 2
    assert "command line" in capsys.readouterr().err
