"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

`make test` installs chromium; Playwright's own browser download is never used.
A screenshot is kept in test-artifacts/report.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evolve.analysis.report import write_report
from evolve.analysis.run import Run
from tests.analysis.synthetic import XSS, synthetic_run

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    root = tmp_path_factory.mktemp("report")
    run_dir = synthetic_run(root, 60, hostile=True)
    return write_report(run_dir, root / "report.html"), Run.open(run_dir)


def test_report_renders_and_a_click_shows_the_code(
    report: tuple[Path, Run], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    path, run = report
    shot = tmp_path / "report.png"
    assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs it (apt chromium)"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector("#tree circle")
            assert page.locator("#tree circle").count() == len(run.programs)
            # The hostile program is the best: shown on load, inert.
            assert page.evaluate("window.__pwned === undefined")
            assert XSS in page.locator("#sel-code").text_content()
            target = run.programs.index[7]
            page.locator(f'#tree circle[data-id="{target}"]').click()
            assert page.locator("#sel-title").text_content().startswith(target)
            assert page.locator("#sel-code").text_content() == run.code(target)
            assert page.locator("#sel-diff").text_content() == (
                run.diff(target) or "(the seed: no parent)"
            )
            assert page.evaluate("window.__pwned === undefined")
            assert page.locator("#curve polyline").count() == 2  # best and median
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert shot.stat().st_size > 10_000
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(shot, artifacts / "report.png")
    print(f"report screenshot: {shot} (copied to {artifacts / 'report.png'})")
