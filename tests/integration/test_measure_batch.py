"""The measure workflow and a user's workflow through the batch machinery, on every backend.

A real Dask cluster (one scheduler, two workers, all on 127.0.0.1) runs in subprocesses for
the whole module; the user's module lives in a temporary folder on ``sys.path`` and on the
workers' ``PYTHONPATH``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd
import pytest
import tifffile
from click.testing import CliRunner

import batchtrack
from batchtrack.batch.manifest import load_manifest, save_manifest
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack, Status
from batchtrack.cli import main
from batchtrack.workflows import UserParameters
from batchtrack.workflows.measure import (
    MEASURE_COLUMNS,
    MeasureParameters,
    combine_measurements,
    synthetic_image,
)

#: The NEUBIAS nuclei images (read-only, beside the repository; see their README).
NEUBIAS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "neubias-nuclei"

#: Per image: (x, y, a, b, angle) of its objects; image i has 2 + i % 3 objects.
SHAPE = (160, 240)
SLOTS = [(40, 40, 18, 18, 0), (120, 40, 25, 12, 30), (200, 40, 15, 15, 0),
         (60, 115, 30, 15, 90)]  # fmt: skip
N_IMAGES = 6
PIXEL_SIZE = 0.5  # µm, in the ImageJ metadata of the TIFF images

USER_MODULE = '''
"""A user's workflow: count the bright pixels of an image."""
import os
from pathlib import Path

import cv2


def analyse(input_path, output_dir, params, progress=None):
    image = cv2.imread(str(input_path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{input_path} is not an image")
    level = params.model_extra.get("level", 100)
    bright = int((image > level).sum())
    Path(output_dir, Path(input_path).stem + "_bright.txt").write_text(f"{bright} {os.getpid()}")
    return {"message": f"{bright} bright pixels"}
'''


def _objects(i: int) -> list:
    return SLOTS[: 2 + i % 3]


def _write_images(folder: Path) -> Path:
    """Even images: 8-bit PNG (uncalibrated); odd ones: 16-bit ImageJ TIFF at PIXEL_SIZE."""
    folder.mkdir(parents=True)
    for i in range(N_IMAGES):
        if i % 2:
            image = synthetic_image(SHAPE, _objects(i), dtype="uint16", seed=i)
            tifffile.imwrite(folder / f"img{i}.tif", image, imagej=True,
                             resolution=(1 / PIXEL_SIZE, 1 / PIXEL_SIZE),
                             metadata={"unit": "micron"})  # fmt: skip
        else:
            cv2.imwrite(str(folder / f"img{i}.png"), synthetic_image(SHAPE, _objects(i), seed=i))
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def user_module(tmp_path_factory) -> str:
    """A folder holding the user's module ``bt_user_flow``, on sys.path and PYTHONPATH."""
    folder = tmp_path_factory.mktemp("user_code")
    (folder / "bt_user_flow.py").write_text(USER_MODULE)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
            str(folder), str(Path(batchtrack.__file__).parents[1]),
            os.environ.get("PYTHONPATH")])))  # fmt: skip
        yield str(folder)


@pytest.fixture(scope="module")
def dask_scheduler(user_module) -> str:
    """Address of a running Dask scheduler with two single-threaded workers."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    python = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([*python, "scheduler", "--host", "127.0.0.1", "--port",
                                   str(port), "--no-dashboard"], **quiet)]  # fmt: skip
    try:
        for _ in range(2):
            processes.append(subprocess.Popen([*python, "worker", address, "--nthreads", "1",
                                               "--host", "127.0.0.1", "--no-dashboard"],
                                              **quiet))  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return _write_images(tmp_path_factory.mktemp("data") / "images")


BACKENDS = ["inprocess", "local", "dask"]


def _run(stack: Stack, backend: str, scheduler: str | None, **options):
    if backend == "dask":
        return run_stack(stack, backend="dask", scheduler=scheduler, **options)
    return run_stack(stack, backend=backend, workers=2, **options)


@pytest.fixture
def scheduler_for(request):
    """The Dask scheduler's address when the test runs on Dask (started only then)."""

    def get(backend: str) -> str | None:
        return request.getfixturevalue("dask_scheduler") if backend == "dask" else None

    return get


@pytest.fixture(scope="module")
def reference(images, tmp_path_factory) -> pd.DataFrame:
    """The combined table of an in-process run."""
    out = tmp_path_factory.mktemp("reference")
    stack = Stack(MeasureParameters(), workflow="measure", output=out)
    stack.add([images])
    summary = run_stack(stack, backend="inprocess")
    assert summary.counts["Done"] == N_IMAGES
    return combine_measurements(out)


def test_reference_counts_and_calibrated_areas(reference):
    assert list(reference.columns) == ["image", *MEASURE_COLUMNS, "image_path", "label_path"]
    for i in range(N_IMAGES):
        rows = reference[reference["image"] == f"img{i}"]
        scale = PIXEL_SIZE**2 if i % 2 else 1.0
        expected = sorted(math.pi * a * b * scale for _, _, a, b, _ in _objects(i))
        assert len(rows) == len(_objects(i))
        assert sorted(rows["area"]) == pytest.approx(expected, rel=0.02)
        assert (rows["pixel_size"] == (PIXEL_SIZE if i % 2 else 1.0)).all()


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_backends_give_identical_results(backend, images, reference, scheduler_for, tmp_path):
    stack = Stack(MeasureParameters(), workflow="measure", output=tmp_path / "out")
    stack.add([images])
    summary = _run(stack, backend, scheduler_for(backend))
    assert summary.counts["Done"] == N_IMAGES, summary.entries
    combined = combine_measurements(tmp_path / "out")
    assert combined["label_path"][0].startswith(str((tmp_path / "out").resolve()))
    pd.testing.assert_frame_equal(combined.drop(columns="label_path"),
                                  reference.drop(columns="label_path"))  # fmt: skip
    labels = sorted((tmp_path / "out").glob("*_labels.tif"))
    assert len(labels) == N_IMAGES
    assert not (tmp_path / "out" / ".batchtrack-staging").exists()  # removed at the end


def test_stale_staging_of_a_dead_worker_is_removed(images, tmp_path):
    """An image's staging folder left by a killed worker (this host, a pid that no longer
    runs) is removed when the image runs again, and the staging folder with it."""
    import socket

    first = sorted(images.iterdir())[0]
    stale = tmp_path / "out" / ".batchtrack-staging" / (
        f".{first.name}.partial-{socket.gethostname()}-999999999")  # fmt: skip
    stale.mkdir(parents=True)
    (stale / "half.csv").write_text("label,ar")
    stack = Stack(MeasureParameters(), workflow="measure", output=tmp_path / "out")
    stack.add([images])
    assert run_stack(stack, backend="inprocess").counts["Done"] == N_IMAGES
    assert not (tmp_path / "out" / ".batchtrack-staging").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_corrupt_image_is_one_error(backend, images, scheduler_for, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in sorted(images.iterdir())[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.tif").write_bytes(b"II*\x00 truncated")
    stack = Stack(MeasureParameters(), workflow="measure")
    stack.add([folder])
    summary = _run(stack, backend, scheduler_for(backend))
    assert summary.counts["Done"] == 3 and summary.counts["Error"] == 1
    (broken,) = [e for e in stack if e.status is Status.ERROR]
    assert broken.path.name == "broken.tif" and "broken.tif" in broken.message
    assert "cannot be read" in broken.message
    assert len(list((folder / "Measurements").glob("*_measurements.csv"))) == 3


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_short_images_run_in_groups_and_a_bad_one_fails_alone(
    backend, images, scheduler_for, tmp_path, caplog
):
    """Many short images run several to a task; each ends as if alone: a corrupt one is an
    Error naming it, the others Done with the messages an in-process run gives."""
    folder = tmp_path / "many"
    folder.mkdir()
    sources = sorted(images.iterdir())
    for i in range(36):
        (folder / f"img{i:03d}.tif").write_bytes(sources[i % len(sources)].read_bytes())
    for i in (9, 20, 31):
        (folder / f"img{i:03d}.tif").write_bytes(b"II*\x00 truncated")
    stack = Stack(MeasureParameters(), workflow="measure", output=tmp_path / "out")
    stack.add([folder])
    with caplog.at_level(logging.DEBUG, logger="batchtrack.batch.run"):
        summary = _run(stack, backend, scheduler_for(backend))
    groups = [int(r.getMessage().split()[3]) for r in caplog.records
              if r.getMessage().startswith("one task for ")]  # fmt: skip
    assert summary.counts["Done"] == 33 and summary.counts["Error"] == 3
    assert groups and min(groups) > 1  # grouped, at least partly
    for entry in stack:
        if entry.path.stem in ("img009", "img020", "img031"):
            assert entry.status is Status.ERROR and entry.path.name in entry.message
        else:
            assert entry.status is Status.DONE and " objects, threshold " in entry.message
    single = Stack(MeasureParameters(), workflow="measure", output=tmp_path / "alone")
    single.add([folder])
    run_stack(single, backend="inprocess")
    assert [e.message for e in single] == [e.message for e in stack]


def test_resume_skips_finished_images(images, tmp_path):
    params = MeasureParameters(min_size=20)
    stack = Stack(params, workflow="measure", output=tmp_path / "out")
    stack.add([images])
    assert run_stack(stack, backend="inprocess").counts["Done"] == N_IMAGES
    assert run_stack(stack, backend="inprocess").counts["Skipped"] == N_IMAGES
    assert run_stack(stack, backend="inprocess", force=True).counts["Done"] == N_IMAGES
    changed = Stack(MeasureParameters(min_size=21), workflow="measure", output=tmp_path / "out")
    changed.add([images])
    assert run_stack(changed, backend="inprocess").counts["Done"] == N_IMAGES


@pytest.mark.parametrize("force", [False, True])
def test_a_task_run_again_within_its_run_reports_what_it_published(images, tmp_path, force):
    """A cluster runs a task again when its worker died before the result was fetched: the
    second run finds this run's own result and reports it (Done, same message), without
    redoing or archiving it; another run skips it (or, with force, redoes it)."""
    from batchtrack.batch.run import _job
    from batchtrack.batch.tasks import analyse_task

    stack = Stack(MeasureParameters(), workflow="measure", output=tmp_path / "out")
    stack.add([sorted(images.iterdir())[0]])
    (entry,) = stack
    first = analyse_task("measure", _job([entry], force, "run-1"))
    labels = tmp_path / "out" / f"{entry.path.stem}_labels.tif"
    written = labels.stat().st_mtime_ns
    again = analyse_task("measure", _job([entry], force, "run-1"))
    assert "skipped" not in again
    assert (again["frames"], again["message"]) == (first["frames"], first["message"])
    assert " objects, threshold " in first["message"]
    assert labels.stat().st_mtime_ns == written  # not redone
    assert not list((tmp_path / "out").glob("archive-*"))  # nothing archived
    other = analyse_task("measure", _job([entry], force, "run-2"))
    if force:  # another run with --force redoes it, archiving the previous files
        assert "skipped" not in other and list((tmp_path / "out").glob("archive-*"))
    else:
        assert other["skipped"] is True


def test_cli_measure(images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["measure", str(images), "--out", str(out), "--workers", "1", "--pixel-size", "2",
            "--min-size", "20", "--clear-border"]  # fmt: skip
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{N_IMAGES} images ({N_IMAGES} Done" in result.output
    combined = pd.read_csv(out / "measurements_all.csv")
    assert combined["image"].nunique() == N_IMAGES
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["image"]) == [f"img{i}" for i in range(N_IMAGES)]
    assert (out / "contact_sheet.png").is_file() and (out / "img0_overlay.png").is_file()
    assert (combined["pixel_size"] == 2.0).all()  # --pixel-size overrides the files
    first = combined[combined["image"] == "img0"]
    expected = sorted(math.pi * a * b * 4 for _, _, a, b, _ in _objects(0))
    assert sorted(first["area"]) == pytest.approx(expected, rel=0.02)
    assert "min_size = 20" in (out / "measure_params.toml").read_text()
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and f"{N_IMAGES} Skipped" in again.output
    (tmp_path / "bad.png").write_bytes(b"junk")
    failed = runner.invoke(main, ["measure", str(tmp_path / "bad.png"), "-q", "--workers", "1"])
    assert failed.exit_code == 1
    assert not (tmp_path / "measurements_all.csv").exists()  # no table when nothing finished
    bad = runner.invoke(main, ["measure", str(images), "--threshold", "median"])
    assert bad.exit_code == 1 and "--threshold" in bad.output


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_workflow(backend, user_module, images, scheduler_for, tmp_path):
    out = tmp_path / "out"
    stack = Stack(UserParameters(level=100), workflow="bt_user_flow:analyse", output=out)
    stack.add([images])
    summary = _run(stack, backend, scheduler_for(backend))
    assert summary.counts["Done"] == N_IMAGES, summary.entries
    first = (out / "img0_bright.txt").read_text().split()
    assert int(first[0]) == pytest.approx(sum(math.pi * a * b for *_, a, b, _ in _objects(0)),
                                          rel=0.03)  # fmt: skip
    if backend != "inprocess":  # really ran in other processes, which imported the module
        assert int(first[1]) != os.getpid()
    assert "bright pixels" in stack.entries[0].message


def test_user_workflow_through_a_manifest(user_module, images, tmp_path):
    stack = Stack(UserParameters(level=150), workflow="bt_user_flow:analyse",
                  output=tmp_path / "saved")  # fmt: skip
    stack.add([images])
    loaded = load_manifest(save_manifest(stack, tmp_path / "stack.toml"))
    assert loaded.workflow == "bt_user_flow:analyse" and len(loaded) == N_IMAGES
    assert loaded.entries[0].params.model_extra == {"level": 150}
    assert run_stack(loaded, backend="local", workers=2).counts["Done"] == N_IMAGES
    assert len(list((tmp_path / "saved").glob("*_bright.txt"))) == N_IMAGES
    # written by hand, relative paths, default output folders
    (tmp_path / "img1.tif").write_bytes((images / "img1.tif").read_bytes())
    (tmp_path / "hand.toml").write_text(
        'workflow = "bt_user_flow:analyse"\n[parameters]\nlevel = 50\n'
        '[[entry]]\npath = "img1.tif"\n'
    )
    by_hand = load_manifest(tmp_path / "hand.toml")
    assert by_hand.entries[0].params.model_extra == {"level": 50}  # the stack's table
    assert run_stack(by_hand, backend="inprocess").counts["Done"] == 1
    assert (tmp_path / "img1_results" / "img1_bright.txt").is_file()


def test_cli_measure_folders_table_in_their_common_parent(images, tmp_path):
    for name, source in [("a", "img0.png"), ("b", "img1.tif")]:
        (tmp_path / "plates" / name).mkdir(parents=True)
        (tmp_path / "plates" / name / source).write_bytes((images / source).read_bytes())
    folders = [str(tmp_path / "plates" / name) for name in "ab"]
    result = CliRunner().invoke(main, ["measure", *folders, "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plates" / "a" / "Measurements" / "img0_labels.tif").is_file()
    combined = pd.read_csv(tmp_path / "plates" / "measurements_all.csv")
    assert sorted(combined["image"].unique()) == ["img0", "img1"]


def test_cli_odd_folder(images, tmp_path):
    """Same stems, a NaN image, a sub-folder: every image measured or explained."""
    folder = tmp_path / "odd"
    (folder / "sub").mkdir(parents=True)
    (folder / "img0.png").write_bytes((images / "img0.png").read_bytes())
    (folder / "img0.tif").write_bytes((images / "img1.tif").read_bytes())
    (folder / "sub" / "img2.png").write_bytes((images / "img2.png").read_bytes())
    nan = synthetic_image(SHAPE, _objects(0), dtype="float32")
    nan[:2, :2] = float("nan")
    tifffile.imwrite(folder / "ratio.tif", nan)
    runner = CliRunner()
    result = runner.invoke(main, ["measure", str(folder), "--workers", "1"])
    assert result.exit_code == 1  # the NaN image failed, the others were measured
    output = " ".join(result.output.split())
    assert "ratio.tif has 4 NaN and 0 infinite pixels of 38400 (the finite values span [" in output
    assert "1 sub-folder(s) with images skipped (sub); add --recursive" in output
    summary = pd.read_csv(folder / "Measurements" / "summary.csv")
    assert list(summary["image"]) == ["img0_png", "img0_tif", "ratio"]
    assert list(summary["objects"]) == [2, 3, 0]
    assert summary["status"][2].startswith("error: ") and "[" in summary["status"][2]
    again = runner.invoke(main, ["measure", str(folder), "--workers", "1", "--recursive",
                                 "--columns", "area,centroid", "-q"])  # fmt: skip
    assert again.exit_code == 1
    assert (folder / "sub" / "Measurements" / "img2_measurements.csv").is_file()
    table = pd.read_csv(folder / "measurements_all.csv")
    assert sorted(table["image"].unique()) == ["img0_png", "img0_tif", "img2"]
    assert "feret_max" not in table and "centroid_y_cal" in table


@pytest.fixture(scope="module")
def neubias(tmp_path_factory) -> Path:
    """A writable copy of the NEUBIAS nuclei images."""
    assert NEUBIAS.is_dir(), f"NEUBIAS images missing: {NEUBIAS} (shared/data beside the repo)"
    folder = tmp_path_factory.mktemp("neubias")
    for path in NEUBIAS.glob("*.tif"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_neubias_reference_counts(neubias, tmp_path):
    """The counts the NEUBIAS README gives for its batch script and its noisy-nuclei workflow."""
    runner = CliRunner()
    batch = ["measure", *(str(neubias / f"xy_8bit__mitocheck_incenp_t{t}.tif") for t in (1, 70)),
             "--no-fill-holes", "--min-size", "0", "--columns", "area,centroid", "--workers",
             "1", "-q", "--out", str(tmp_path / "batch")]  # fmt: skip
    assert runner.invoke(main, batch).exit_code == 0
    summary = pd.read_csv(tmp_path / "batch" / "summary.csv")
    assert list(summary["objects"]) == [5, 8]
    noisy = ["measure", *(str(neubias / f"xy_8bit__nuclei_noisy_{s}.tif") for s in ("small",
             "large")), "--filter", "mean", "--filter-radius", "3", "--threshold", "25",
             "--max-hole-size", "100", "--min-size", "100", "--clear-border",
             "--connectivity", "4", "--workers", "1", "-q", "--out",
             str(tmp_path / "noisy")]  # fmt: skip
    assert runner.invoke(main, noisy).exit_code == 0
    summary = pd.read_csv(tmp_path / "noisy" / "summary.csv")
    assert list(summary["objects"]) == [5, 4]  # small, large
    assert (summary["threshold"] == 25).all()
    params = (tmp_path / "noisy" / "measure_params.toml").read_text()
    for line in ("connectivity = 4", 'filter = "mean"', "max_hole_size = 100", "inclusive = false"):
        assert line in params


def test_neubias_perimeters_imagej_and_cellprofiler(neubias, tmp_path):
    """The documented difference of the two perimeter estimators on the NEUBIAS objects."""
    result = CliRunner().invoke(main, ["measure", str(neubias), "--columns", "perimeter,"
                                       "perimeter_cellprofiler", "--no-overlay", "--workers",
                                       "1", "-q", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "measurements_all.csv")
    ratio = table["perimeter_cellprofiler"] / table["perimeter"]
    assert len(table) == 60
    assert ratio.median() == pytest.approx(0.977, abs=0.005)
