"""User code cannot find the operator's token: not in its environment, not in any ancestor's
``/proc/<pid>/environ``, not in any memory map of an ancestor it can open."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import kiln

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")

# Runs as the training script. As root it first drops every capability, to search as an ordinary user
# of the same uid would (root with CAP_SYS_PTRACE reads any process; no token defence stands there).
HUNTER = r"""
import ctypes, json, os, sys

def drop_capabilities():
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) == 0

def ancestors():
    pid = os.getppid()
    while pid > 1:
        yield pid
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        pid = int(stat[stat.rindex(b")") + 2:].split()[1])

def read_memory(pid, token):
    hits, regions = 0, 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if "r" not in perms:
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            regions += 1
            hits += chunk.count(token)
    return hits, regions

mask, masked = bytes.fromhex(sys.argv[sys.argv.index("--mask") + 1]), bytes.fromhex(sys.argv[sys.argv.index("--masked") + 1])
token = bytes(a ^ b for a, b in zip(mask, masked))
report = {"dropped": drop_capabilities() if os.geteuid() == 0 else None, "found": [], "tried": {}}
if any(token in (k + "=" + v).encode() for k, v in os.environ.items()):
    report["found"].append("own environment")
for pid in ancestors():
    tried = report["tried"].setdefault(str(pid), {})
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        tried["cmdline"] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
        if token in cmdline:
            report["found"].append(f"{pid} cmdline")
    except OSError as e:
        tried["cmdline"] = type(e).__name__
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            tried["environ"] = "read"
            if token in f.read():
                report["found"].append(f"{pid} environ")
    except OSError as e:
        tried["environ"] = type(e).__name__
    try:
        hits, regions = read_memory(pid, token)
        tried["mem"] = f"{regions} regions"
        if hits:
            report["found"].append(f"{pid} memory")
    except OSError as e:
        tried["mem"] = type(e).__name__
report["own_memory_hits"] = read_memory(os.getpid(), token)[0]  # the search itself works
print("HUNT " + json.dumps(report), flush=True)
"""


def _start_detached_server(home: Path, token: str) -> tuple[str, int]:
    """A server whose parent has exited (as `kiln server start --daemon` leaves it): its only
    ancestors are the system's, none of which ever held the token."""
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_URL",)}
    env.update(KILN_HOME=str(home), KILN_API_TOKEN=token, KILN_STOP_GRACE_SECONDS="5")
    launcher = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-m', 'kiln.server'], start_new_session=True,"
        " stdin=subprocess.DEVNULL, stdout=open(sys.argv[1], 'ab'), stderr=subprocess.STDOUT)\n"
    )
    subprocess.run(
        [sys.executable, "-c", launcher, str(home / "server.log")], env=env, check=True, timeout=30
    )
    record = home / "server.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if record.exists():
            data = json.loads(record.read_text())
            try:
                headers = {"Authorization": f"Bearer {token}"}
                if httpx.get(f"{data['url']}/api/v1/health", headers=headers, timeout=2).json().get("pid"):
                    return str(data["url"]), int(data["pid"])
            except (httpx.HTTPError, ValueError):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start: {(home / 'server.log').read_text()[-2000:]}")


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    token = secrets.token_urlsafe(32)
    url, pid = _start_detached_server(tmp_path / "home", token)
    yield url, pid, token
    os.kill(pid, signal.SIGTERM)


def test_a_training_script_finds_the_token_nowhere(
    detached: tuple[str, int, str], write_script, tmp_path: Path
) -> None:
    url, server_pid, token = detached
    session = kiln.Session(url, token=token)
    mask = secrets.token_bytes(len(token))
    masked = bytes(a ^ b for a, b in zip(mask, token.encode(), strict=True))
    source = write_script(HUNTER, name="hunt.py")
    estimator = kiln.Estimator(
        "hunt.py",
        source_dir=str(source),
        hyperparameters={"mask": mask.hex(), "masked": masked.hex()},  # the token itself never travels
        sagemaker_session=session,
    )

    estimator.fit(wait=True, logs=False)

    assert estimator.latest_training_job is not None
    logs = session.client.training_job_logs(estimator.latest_training_job.name, limit=10000)
    text = "\n".join(line["message"] for line in logs["Events"])
    report = json.loads(text.split("HUNT ", 1)[1].splitlines()[0])
    assert report["found"] == [], report
    assert report["own_memory_hits"] >= 1, "the hunter must find the token where it is (its own memory)"
    tried = report["tried"]
    assert str(server_pid) in tried, f"the walk up the process tree did not reach the server: {tried}"
    for pid in tried:
        assert tried[pid]["environ"] in ("read", "PermissionError"), tried
    assert tried[str(server_pid)]["environ"] == "PermissionError"  # non-dumpable
    assert tried[str(server_pid)]["mem"] == "PermissionError"
