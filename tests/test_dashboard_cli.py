"""``ai4loop dashboard``: options, the safe Streamlit settings, clear errors; code conventions."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ai4loop_core.cli import cli
from ai4loop_core.errors import BadInputError
from dashboard.server import server_command, url


def test_help_lists_the_options():
    out = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert out.exit_code == 0
    for option in ("--atlas", "--port", "--max-upload-mb", "--address", "--models"):
        assert option in out.output


def test_server_command_keeps_streamlit_safe(tmp_path):
    argv, env = server_command(atlas=[tmp_path], port=8765, max_upload_mb=50)
    flags = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("dashboard/app.py")
    assert flags["--server.enableXsrfProtection"] == "true"
    assert flags["--server.maxUploadSize"] == "50"
    assert flags["--server.port"] == "8765"
    assert flags["--client.showErrorDetails"] == "none"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert env["AI4LOOP_ATLAS"] == str(tmp_path.resolve())
    assert url(port=8765, address="0.0.0.0") == "http://localhost:8765"


def test_default_upload_limit_is_200_mb(tmp_path):
    argv, _ = server_command(atlas=[tmp_path])
    assert argv[argv.index("--server.maxUploadSize") + 1] == "200"


def test_missing_atlas_is_reported_without_a_traceback(tmp_path):
    with pytest.raises(BadInputError, match="build-demo"):
        server_command(atlas=[tmp_path / "nope"])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ai4loop_core.cli import main; main()",
            "dashboard",
            "--atlas",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: No atlas at") and "Traceback" not in done.stderr


def test_no_sql_or_model_code_in_the_pages():
    from pathlib import Path

    views = Path(importlib.import_module("dashboard").__file__).parent / "views"
    for page in views.glob("*.py"):
        text = page.read_text()
        for banned in (
            "duckdb",
            "SELECT ",
            "read_parquet",
            "load_model",
            "predict_scores",
            "pickle",
            "keras",
        ):
            assert banned not in text, (page.name, banned)
