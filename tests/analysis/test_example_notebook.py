"""The example notebook runs top to bottom (so it never rots); ~7 s, not marked slow."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is this interpreter (the venv's ipykernel), whatever is installed globally.
    spec_dir = tmp_path / "kernels" / "evolve-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "evolve",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("EVOLVE_ROOT", str(ROOT))
    notebook = nbformat.read(ROOT / "examples" / "inspect_a_run.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="evolve-test",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "programs," in text and "report.html" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3
