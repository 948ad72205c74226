"""Quality verdicts on a synthetic batch with known defects, the batch summary, and the HTML
report opened in a real headless Chromium (Debian's chromium and chromium-driver)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from batchtrack.cli import main
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.io.tables import read_quality
from batchtrack.synth import make_movie, write_sequence

FLAGS = [f"--{name}={value}" for name, value in DEMO_PARAMETERS.items()]
N_FRAMES = 120

#: name -> (movie, the reason expected in its quality.json; None for ok)
DEFECTS = {
    "clean": (dict(n_objects=4, shape=(240, 240), seed=1), None),
    "touching": (
        dict(n_objects=14, shape=(150, 150), seed=2, length=(18, 24), width=(4, 5)), "merges"
    ),
    "dimming": (dict(n_objects=4, shape=(240, 240), seed=3, dimming=0.3), "area drifts"),
    "dropped": (dict(n_objects=4, shape=(240, 240), seed=4), "frames lost"),
}


def batch(*args: str):
    return CliRunner().invoke(main, ["batch", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The four movies in one manifest, run through ``batch run`` (which writes the report)."""
    root = tmp_path_factory.mktemp("quality")
    manifest = root / "stack.toml"
    for name, (options, _) in DEFECTS.items():
        folder = write_sequence(make_movie(N_FRAMES, **options), root / name)
        if name == "dropped":  # the camera lost every 12th frame: empty files
            for k in range(10, N_FRAMES, 12):
                (folder / f"frame_{k:06d}.pgm").write_bytes(b"")
        # animals unknown (FastTrack's behaviour): with it given, identity stitching splits
        # touching animals and matches the lighting, and the defects show as missing animals
        added = batch("add", str(manifest), str(folder), *FLAGS)
        assert added.exit_code == 0, added.output
    result = batch("run", str(manifest), "--backend", "inprocess", "-q")
    assert result.exit_code == 0, result.output
    return manifest


def test_verdicts_name_the_defect(finished: Path) -> None:
    for name, (_, reason) in DEFECTS.items():
        quality = read_quality(finished.parent / name / "Tracking_Result")
        assert quality is not None
        if reason is None:
            assert quality["verdict"] == "ok" and quality["reasons"] == [], (name, quality)
        else:
            assert quality["verdict"] == "check", (name, quality)
            assert any(reason in text for text in quality["reasons"]), (name, quality)
    assert read_quality(finished.parent / "dropped" / "Tracking_Result")["skipped_frames"] == 10


def test_summary_entries_are_flat_records(finished: Path) -> None:
    text = finished.with_name("stack-summary.json").read_text()
    entries = json.loads(text)["entries"]
    table = pd.read_json(io.StringIO(json.dumps(entries)), orient="records")
    assert pd.json_normalize(entries).columns.tolist() == table.columns.tolist()
    assert {"result", "seconds", "verdict", "reasons"} <= set(table.columns)
    assert table["verdict"].tolist() == ["ok", "check", "check", "check"]
    assert (table["seconds"] > 0).all()
    assert all(Path(p).name == "Tracking_Result" for p in table["result"])
    csv = pd.read_csv(finished.with_name("stack-summary.csv"))  # comma-separated
    assert csv["verdict"].tolist() == table["verdict"].tolist()


def test_batch_tables_have_every_entry(finished: Path) -> None:
    tracks = pq.read_table(finished.with_name("stack-tracks.parquet")).to_pandas()
    assert tracks.columns[0] == "entry" and set(tracks["entry"]) == set(DEFECTS)
    singles = sum(
        pq.read_metadata(finished.parent / name / "Tracking_Result" / "tracking.parquet").num_rows
        for name in DEFECTS
    )
    assert len(tracks) == singles
    animals = pd.read_csv(finished.with_name("stack-animals.csv"))
    assert animals.columns[0] == "entry" and set(animals["entry"]) == set(DEFECTS)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "install Debian's chromium and chromium-driver (.ci/run)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _verdicts(driver) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#entries td.verdict")]


def test_report_in_chromium_has_check_first_sorts_and_no_console_error(
    finished: Path, browser, tmp_path: Path
) -> None:
    page = finished.with_name("stack-report.html")
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained
    browser.get(page.as_uri())
    assert browser.title == "batchtrack report: stack.toml"
    assert _verdicts(browser) == ["CHECK", "CHECK", "CHECK", "OK"]
    images = browser.find_elements(By.CSS_SELECTOR, "#entries img")
    assert len(images) == 3 * len(DEFECTS)
    assert all(browser.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images)
    header = browser.find_element(By.XPATH, "//th[text()='entry']")
    header.click()
    names = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#entries td.name")]
    assert names == sorted(names)
    browser.find_element(By.XPATH, "//th[text()='verdict']").click()
    browser.find_element(By.XPATH, "//th[text()='verdict']").click()
    assert _verdicts(browser)[0] == "OK"  # descending: ok last rank first
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    assert browser.save_screenshot(str(tmp_path / "report.png"))


def test_report_command_on_folders(finished: Path, tmp_path: Path) -> None:
    folders = [str(finished.parent / name) for name in ("clean", "dropped")]
    out = tmp_path / "mine.html"
    result = CliRunner().invoke(main, ["report", *folders, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "mine-tracks.parquet").is_file()
    assert (tmp_path / "mine-animals.csv").is_file()
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ")
