"""The batch report's screenshot for the documentation (``docs/screenshots/report.png``).

Generates a synthetic batch with known defects (a clean movie, animals touching often, a lamp
dimming, frames lost), runs it through ``batchtrack batch run`` (which writes the report) and
takes a screenshot of ``stack-report.html`` in headless Chromium::

    python scripts/report_screenshot.py

Needs the ``analysis`` extra and Debian's ``chromium``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 120
#: name -> (make_movie options, animals)
MOVIES = {
    "clean": (dict(n_objects=4, shape=(240, 240), seed=1), 4),
    "touching": (dict(n_objects=14, shape=(150, 150), seed=2, length=(18, 24), width=(4, 5)), 14),
    "dimming": (dict(n_objects=4, shape=(240, 240), seed=3, dimming=0.3), 4),
    "dropped": (dict(n_objects=4, shape=(240, 240), seed=4), 4),
}


def main() -> int:
    from batchtrack.cli.demo import DEMO_PARAMETERS
    from batchtrack.synth import make_movie, write_sequence

    flags = [f"--{name}={value}" for name, value in DEMO_PARAMETERS.items()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = root / "stack.toml"
        for name, (options, _) in MOVIES.items():
            folder = write_sequence(make_movie(FRAMES, **options), root / name)
            if name == "dropped":
                for k in range(10, FRAMES, 12):
                    (folder / f"frame_{k:06d}.pgm").write_bytes(b"")
            command = ["batchtrack", "batch", "add", str(manifest), str(folder), *flags]
            subprocess.run(command, check=True)  # animals unknown, as in the tests
        subprocess.run(["batchtrack", "batch", "run", str(manifest), "-q"], check=True)
        out = ROOT / "docs" / "screenshots" / "report.png"
        subprocess.run(
            [
                shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={root / 'chromium'}",
                "--hide-scrollbars", f"--screenshot={out}", "--window-size=1540,1000",
                (root / "stack-report.html").as_uri(),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
