"""``batchtrack gui``: the command, and the core working without Qt."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from click.testing import CliRunner

from batchtrack.cli import main


def run_without_pyside(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing PySide6 fails."""
    prelude = "import sys\nsys.modules['PySide6'] = None  # makes 'import PySide6' fail\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_gui_command_is_listed_with_its_help():
    result = CliRunner().invoke(main, ["gui", "--help"])
    assert result.exit_code == 0
    assert "Interactive" in result.output and "--stack" in result.output


def test_core_and_cli_import_without_qt():
    result = run_without_pyside(
        """
        import batchtrack.batch.manifest, batchtrack.batch.run, batchtrack.batch.stack
        import batchtrack.cli, batchtrack.plots, batchtrack.synth, batchtrack.movie
        assert not [m for m in sys.modules if m.startswith("PySide6") and sys.modules[m]]
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_gui_command_without_pyside_says_how_to_install_it():
    result = run_without_pyside(
        """
        from click.testing import CliRunner
        from batchtrack.cli import main
        result = CliRunner().invoke(main, ["gui"])
        print(result.exit_code)
        print(result.output)
        """
    )
    code, _, output = result.stdout.partition("\n")
    assert code == "1", result.stdout + result.stderr
    assert "pip install 'batchtrack[gui]'" in output
    assert "Traceback" not in output


def test_gui_command_without_a_display_says_so(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["gui"])
    assert result.exit_code == 1
    assert "no display" in result.output and "xvfb-run" in result.output
