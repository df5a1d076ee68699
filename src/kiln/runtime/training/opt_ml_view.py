"""A private /opt/ml for each host, where the OS allows it.

Many SageMaker scripts hard-code ``/opt/ml/...``. Each host's command runs in its own mount namespace
(``unshare``; unprivileged users get a user namespace too) in which ``/opt/ml`` is a bind mount of the
host's own tree, so those scripts run unchanged and several hosts never see each other's files. Where
/opt has no ``ml`` folder, a tmpfs is laid over /opt and its entries are bound back, so nothing that
lives in /opt disappears. Where namespaces are not allowed, the job's log says that only the SM_*
paths are valid.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["OPT_ML", "private_view_missing", "private_view_prefix", "write_hosts_file"]

OPT_ML = Path("/opt/ml")
PROBE_TIMEOUT_SECONDS = 5

_MOUNT_SCRIPT = r"""
set -e
tree="$1"; hosts_file="$2"; shift 2
# The job's host names (algo-1, …) resolve to this machine, as they do on SageMaker's network.
if [ -n "$hosts_file" ]; then mount --bind "$hosts_file" /etc/hosts; fi
if [ -d /opt/ml ]; then
  mount --bind "$tree" /opt/ml
else
  stage=$(mktemp -d)
  mount --rbind /opt "$stage"
  mount -t tmpfs -o mode=755 kiln-opt /opt
  for entry in "$stage"/* "$stage"/.[!.]*; do
    [ -e "$entry" ] || continue
    name=${entry##*/}
    if [ -d "$entry" ]; then mkdir "/opt/$name"; else : > "/opt/$name"; fi
    mount --rbind "$entry" "/opt/$name"
  done
  mkdir /opt/ml
  mount --bind "$tree" /opt/ml
  umount -l "$stage"; rmdir "$stage"
fi
exec "$@"
"""


def _unshare_prefix() -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None or not Path("/opt").is_dir():
        return None
    prefix = [unshare, "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    return prefix


def write_hosts_file(path: Path, hosts: list[str], addresses: dict[str, str] | None = None) -> Path:
    """/etc/hosts as it is, plus every host name of the job at its node's address (``addresses``,
    where hosts run on several machines), else the loopback address."""
    try:
        current = Path("/etc/hosts").read_text()
    except OSError:
        current = "127.0.0.1 localhost\n"
    if addresses:
        lines = "".join(f"{addresses.get(host, '127.0.0.1')} {host}\n" for host in hosts)
    else:
        lines = "127.0.0.1 " + " ".join(hosts) + "\n"
    path.write_text(current.rstrip("\n") + "\n# Kiln: this job's hosts\n" + lines)
    return path


def private_view_prefix(tree: Path, hosts_file: Path | None = None, probe: str = "input") -> list[str] | None:
    """The command prefix under which a process sees ``tree`` at /opt/ml (and ``hosts_file`` as
    /etc/hosts), or None where this OS does not allow it. Probed once per host start: the folder
    ``probe`` of ``tree`` must be seen at /opt/ml/<probe>."""
    if os.environ.get("KILN_PRIVATE_OPT_ML", "1") == "0":
        return None
    prefix = _unshare_prefix()
    if prefix is None:
        return None
    hosts = str(hosts_file) if hosts_file is not None else ""
    wrapper = [*prefix, "/bin/sh", "-c", _MOUNT_SCRIPT, "kiln-opt-ml", str(tree), hosts]
    try:
        answer = subprocess.run(
            [*wrapper, "/bin/sh", "-c", f"test -d /opt/ml/{probe}"],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return wrapper if answer.returncode == 0 else None


@functools.cache
def private_view_missing() -> str | None:
    """Why this machine gives no private /opt/ml (None: it does). Probed once per process, with a
    throwaway tree, for what must refuse up front work that cannot run without one."""
    if os.environ.get("KILN_PRIVATE_OPT_ML", "1") == "0":
        return "the server runs with KILN_PRIVATE_OPT_ML=0"
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    if not Path("/opt").is_dir():
        return "this machine has no /opt folder to lay /opt/ml into"
    with tempfile.TemporaryDirectory(prefix="kiln-opt-ml-probe-") as folder:
        (Path(folder) / "input").mkdir()
        if private_view_prefix(Path(folder)) is None:
            return "unshare cannot make a mount namespace here (unprivileged user namespaces are off?)"
    return None
