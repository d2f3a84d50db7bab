"""Start the dashboard: the ``streamlit run`` command with the project's safe settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ai4loop_core.errors import BadInputError

APP = Path(__file__).resolve().parent / "app.py"
DEFAULT_ATLAS = Path("atlases")
DEFAULT_PORT = 8501
DEFAULT_UPLOAD_MB = 200


def server_command(
    *,
    atlas: Sequence[Path | str] = (DEFAULT_ATLAS,),
    port: int = DEFAULT_PORT,
    address: str = "localhost",
    max_upload_mb: int = DEFAULT_UPLOAD_MB,
    models_dir: Path | str | Sequence[Path | str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` argv and environment for the dashboard.

    XSRF protection stays on, uploads are capped at ``max_upload_mb``, errors show no details in
    the browser, nothing is sent to Streamlit's usage statistics and no browser is opened.
    """
    paths = [Path(p).resolve() for p in atlas]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise BadInputError(
            f"No atlas at {', '.join(missing)}. Build the demo atlases first "
            "(`ai4loop atlas build-demo --out atlases`, or `make demo`), or pass --atlas DIR."
        )
    if max_upload_mb < 1:
        raise BadInputError(f"--max-upload-mb {max_upload_mb}: give at least 1 (MB).")
    argv = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(int(port)),
        "--server.address", address,
        "--server.headless", "true",
        "--server.enableXsrfProtection", "true",
        "--server.enableCORS", "true",
        "--server.maxUploadSize", str(int(max_upload_mb)),
        "--server.fileWatcherType", "none",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "viewer",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = dict(os.environ)
    env["AI4LOOP_ATLAS"] = os.pathsep.join(str(p) for p in paths)
    if models_dir is not None:
        dirs = [models_dir] if isinstance(models_dir, str | Path) else list(models_dir)
        env["AI4LOOP_MODELS_DIR"] = os.pathsep.join(str(Path(d).resolve()) for d in dirs)
    return argv, env


def url(*, port: int = DEFAULT_PORT, address: str = "localhost") -> str:
    """The address to open in a browser."""
    host = "localhost" if address in {"", "0.0.0.0", "::"} else address
    return f"http://{host}:{port}"


def serve(
    *,
    atlas: Sequence[Path | str] = (DEFAULT_ATLAS,),
    port: int = DEFAULT_PORT,
    address: str = "localhost",
    max_upload_mb: int = DEFAULT_UPLOAD_MB,
    models_dir: Path | str | Sequence[Path | str] | None = None,
) -> int:
    """``ai4loop dashboard``: print the URL, then run Streamlit until it is stopped."""
    argv, env = server_command(
        atlas=atlas, port=port, address=address, max_upload_mb=max_upload_mb, models_dir=models_dir
    )
    print(
        f"AI4Loop Atlas dashboard: {url(port=port, address=address)}  (Ctrl-C stops it)", flush=True
    )
    proc = subprocess.Popen(argv, env=env)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches Streamlit too (same process group)
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
