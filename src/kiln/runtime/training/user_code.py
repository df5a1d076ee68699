"""The user's code: fetched from sourcedir.tar.gz, its requirements installed, its launch command built.

Follows the toolkit (docs/contracts.md §1.4–1.5): a ``.py`` entry point runs under Python; a folder with
``setup.py``/``pyproject.toml`` is installed and run as a module; anything else runs as a command.
``requirements.txt`` goes into a virtual environment cached by the file's hash and layered on Kiln's
own environment, so the second job with the same requirements starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.artifacts.archives import DEFAULT_ARCHIVE_LIMITS, SOURCE_HINT, ArchiveLimits, unpack_archive
from kiln.errors import ValidationError

__all__ = [
    "UserCodeError",
    "fetch_source",
    "launch_command",
    "python_for_requirements",
    "torchrun_command",
]

PIP_TIMEOUT_SECONDS = 1800


class UserCodeError(Exception):
    """The user's code cannot be run; the message is the job's FailureReason."""


def fetch_source(
    store: ArtifactStore, uri: str, code_dir: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> None:
    """Unpack the job's sourcedir.tar.gz into ``code_dir``; a bad archive is the user's mistake."""
    archive = code_dir.parent / "sourcedir.tar.gz"
    store.get_file(uri, archive)
    try:
        unpack_archive(
            archive,
            code_dir,
            what=f"the source archive {uri}",
            folder="the code folder",
            hint=SOURCE_HINT,
            limits=limits,
        )
    except ValidationError as e:
        raise UserCodeError(f"ClientError: {e.message}") from e
    finally:
        archive.unlink(missing_ok=True)


def python_for_requirements(
    code_dir: Path, venvs_dir: Path, log: list[str], framework_pin: str | None = None
) -> str:
    """The interpreter to run the script with: Kiln's own, or a cached venv with requirements.txt
    (and ``framework_pin``, a framework at the version the job asks for, installed first)."""
    requirements = code_dir / "requirements.txt"
    lines = [framework_pin] if framework_pin else []
    if requirements.exists():
        lines.append(requirements.read_text())
    if not lines:
        return sys.executable
    text = "\n".join(lines) + "\n"
    parts = [framework_pin.replace("\n", ", ")] if framework_pin else []
    what = " and ".join([*parts, "requirements.txt"] if requirements.exists() else parts)
    # A requirements.txt alone keeps the key it always had, so existing caches stay valid.
    key = requirements.read_bytes() if framework_pin is None else text.encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    venv = venvs_dir / digest
    python = venv / "bin" / "python"
    if (venv / ".kiln-ready").exists():
        log.append(f"Using cached environment {venv} for {what}")
        return str(python)
    log.append(f"Installing {what} into {venv}")
    venv.parent.mkdir(parents=True, exist_ok=True)
    # --system-site-packages layers the venv on Kiln's environment (torch and friends are not re-installed).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    _link_parent_site_packages(venv)
    wanted = venv / "kiln-requirements.txt"
    wanted.write_text(text)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(wanted)],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    log.extend((result.stdout + result.stderr).splitlines())
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        raise UserCodeError(
            f"ClientError: installing {what} failed: " + "\n".join(errors[-8:] or ["pip exited"])
        )
    (venv / ".kiln-ready").touch()
    return str(python)


def _link_parent_site_packages(venv: Path) -> None:
    """When Kiln itself runs in a venv, make its packages visible to the layered venv too."""
    import site
    import sysconfig

    purelib = Path(sysconfig.get_paths()["purelib"])
    target = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    target.mkdir(parents=True, exist_ok=True)
    paths = [purelib, *(Path(p) for p in site.getsitepackages())]
    # addsitedir, not a bare path line: it also reads the .pth files there, among them an editable
    # install's (``pip install -e`` puts Kiln's own src folder on the path that way). Appended, so
    # the layered venv's own packages (a pinned numpy, say) still come first.
    lines = [f"import site; site.addsitedir({str(p)!r})" for p in dict.fromkeys(paths)]
    (target / "kiln-parent.pth").write_text("\n".join(lines) + "\n")


def launch_command(python: str, code_dir: Path, entry_point: str, args: list[str]) -> list[str]:
    path = code_dir / entry_point
    if not path.exists():
        raise UserCodeError(
            f"ClientError: entry point {entry_point!r} is not in the uploaded source; "
            f"the source holds: {', '.join(sorted(p.name for p in code_dir.iterdir())) or 'nothing'}"
        )
    is_package = path.is_dir() and ((path / "setup.py").exists() or (path / "pyproject.toml").exists())
    if is_package:
        subprocess.run([python, "-m", "pip", "install", "-q", str(path)], check=True)
        return [python, "-m", path.name, *args]
    if entry_point.endswith(".py"):
        return [python, str(path), *args]
    os.chmod(path, 0o755)
    if path.suffix == ".sh":
        return ["/bin/sh", str(path), *args]
    return [str(path), *args]


def torchrun_command(
    python: str,
    command: list[str],
    *,
    nnodes: int,
    node_rank: int,
    procs_per_host: int,
    master: str,
    port: int,
) -> list[str]:
    """The entry point launched torchrun-style: one worker per GPU (or one per CPU host) on each host."""
    if command[0] != python:
        raise UserCodeError(
            "ClientError: torch_distributed launches Python scripts only; the entry point is not a .py file"
        )
    return [
        python,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nnodes}",
        f"--nproc_per_node={procs_per_host}",
        f"--node_rank={node_rank}",
        f"--master_addr={master}",
        f"--master_port={port}",
        *command[1:],
    ]
