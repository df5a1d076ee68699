"""A job that names its own command: ``AlgorithmSpecification.ContainerEntrypoint`` and its arguments.

On SageMaker the command runs inside the training image; SageMaker Python SDK v3's ``ModelTrainer``
uses it to run its ``sm_train.sh`` from the ``sm_drivers`` channel, which sets up its own environment
from /opt/ml/input/config and runs the user's script with ``python3``. Kiln runs no containers: the
command runs verbatim in the host's private /opt/ml view (so the hard-coded /opt/ml paths are the
host's own), with the image's runtime first on PATH as ``python3`` / ``python`` / ``pip3`` / ``pip``.

That interpreter is a virtual environment of the job's own, layered on the framework's environment
(Kiln's, or the cached one with the framework version the image names): what the command installs
with pip lands there and goes away with the job, as it would with the container, and never changes
the environment Kiln and other jobs run in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from kiln.runtime.training.user_code import UserCodeError

__all__ = ["NO_PRIVATE_VIEW", "entrypoint_command", "job_interpreter"]

NO_PRIVATE_VIEW = (
    "ClientError: AlgorithmSpecification.ContainerEntrypoint runs in a private /opt/ml (a mount "
    "namespace made with unshare), which this machine does not allow; Kiln runs no containers. Run the "
    "script through the framework's toolkit instead (hyperparameter sagemaker_program)"
)
PROBE_TIMEOUT_SECONDS = 60
# pip3 / pip as the image has them: this interpreter's pip (the base environment's, which installs
# into this environment because it runs under this interpreter).
_PIP = '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n'


def entrypoint_command(job: dict[str, object]) -> list[str] | None:
    """The job's own command, or None when it runs the toolkit's script."""
    specification = job.get("AlgorithmSpecification")
    if not isinstance(specification, dict) or not specification.get("ContainerEntrypoint"):
        return None
    return [
        str(part)
        for part in [*specification["ContainerEntrypoint"], *(specification.get("ContainerArguments") or [])]
    ]


def _site_folders(python: str) -> list[str]:
    """The site-packages folders ``python`` imports from (its own and those its .pth files add)."""
    try:
        answer = subprocess.run(
            [python, "-c", "import sys; print('\\n'.join(p for p in sys.path if p.endswith('-packages')))"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise UserCodeError(f"ClientError: the job's Python {python} does not start: {e}") from e
    return [line for line in answer.stdout.splitlines() if line.strip()]


def job_interpreter(folder: Path, base_python: str) -> Path:
    """A fresh virtual environment in ``folder`` that sees everything ``base_python`` sees; returns
    its ``bin`` folder, for the front of PATH."""
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True, clear=True).create(folder)
    bin_dir = folder / "bin"
    python = bin_dir / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=True,
    ).stdout.strip()
    # addsitedir, appended: the base's packages (and the .pth files there, an editable Kiln among
    # them) are seen, and what the job installs into its own environment comes first.
    folders = dict.fromkeys(_site_folders(base_python if Path(base_python).exists() else sys.executable))
    lines = [f"import site; site.addsitedir({entry!r})" for entry in folders]
    Path(target).mkdir(parents=True, exist_ok=True)
    (Path(target) / "kiln-base.pth").write_text("\n".join(lines) + "\n")
    for name in ("pip", "pip3"):
        (bin_dir / name).write_text(_PIP)
        os.chmod(bin_dir / name, 0o755)
    return bin_dir
