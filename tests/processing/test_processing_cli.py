"""``kiln processing-jobs run|list|describe|logs|stop`` as a real program against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from processing_support import unique

from conftest import RunningServer, wait_until


def _kiln(server: RunningServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args],
        env=server.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_run_follow_list_describe_logs_and_stop(server: RunningServer, tmp_path: Path) -> None:
    (tmp_path / "count.py").write_text(
        "import os, sys\n"
        "rows = open('/opt/ml/processing/input/rows/rows.txt').read().split()\n"
        "os.makedirs('/opt/ml/processing/out', exist_ok=True)\n"
        "open('/opt/ml/processing/out/count.txt', 'w').write(str(len(rows)))\n"
        "print('counted', len(rows), 'rows with', sys.argv[1:], flush=True)\n"
    )
    (tmp_path / "rows.txt").write_text("a b c")
    name = unique("cli-processing")
    ran = _kiln(
        server,
        "processing-jobs",
        "run",
        "count.py",
        "--input",
        "rows.txt=/opt/ml/processing/input/rows",
        "--output",
        "/opt/ml/processing/out",
        "--env",
        "MODE=x",
        "--name",
        name,
        "-f",
        "--",
        "--mode",
        "fast",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert "counted 3 rows with ['--mode', 'fast']" in ran.stdout

    listed = _kiln(server, "processing-jobs", "list", "--name", name, "--json")
    assert [j["ProcessingJobStatus"] for j in json.loads(listed.stdout)] == ["Completed"]
    described = json.loads(_kiln(server, "processing-jobs", "describe", name, "--json").stdout)
    assert described["Environment"] == {"MODE": "x"}
    assert described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].endswith(
        f"/{name}/output/output-1"
    )
    shown = _kiln(server, "processing-jobs", "describe", name)
    assert "Completed" in shown.stdout
    logs = _kiln(server, "processing-jobs", "logs", name)
    assert "counted 3 rows" in logs.stdout

    (tmp_path / "wait.py").write_text("import time\nprint('waiting', flush=True)\ntime.sleep(120)\n")
    waiting = unique("cli-stop")
    started = _kiln(server, "processing-jobs", "run", "wait.py", "--name", waiting, cwd=tmp_path)
    assert f"kiln processing-jobs logs -f {waiting}" in " ".join(started.stdout.split())  # rich wraps lines
    wait_until(
        lambda: "waiting" in _kiln(server, "processing-jobs", "logs", waiting).stdout,
        timeout=30,
        interval=0.5,
    )
    stopped = _kiln(server, "processing-jobs", "stop", waiting)
    assert "Stopping processing job" in stopped.stdout
    ended = _kiln(server, "processing-jobs", "logs", waiting, "-f")
    assert f"Processing job {waiting}: Stopped" in ended.stdout

    missing = _kiln(server, "processing-jobs", "describe", "no-such-processing-job")
    assert missing.returncode == 1
    assert "Error: Could not find processing job 'no-such-processing-job'" in missing.stderr
