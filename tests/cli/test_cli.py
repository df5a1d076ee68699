"""The ``kiln`` command, run as a real program against a real server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil
import pytest

if TYPE_CHECKING:
    from conftest import RunningServer


CLI_TIMEOUT = 90  # seconds for one command; a followed job is a second or two
JOB_END_TIMEOUT = 30.0

TRAIN_SCRIPT = """\
import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
channel = os.environ["SM_CHANNEL_TRAINING"]
print("channel files:", sorted(os.listdir(channel)), flush=True)
for epoch in range(args.epochs):
    print(f"epoch {epoch} loss={1.0 / (epoch + 1):.3f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write("trained")
"""
SCRIPT_LINES = ["channel files: ['a.csv', 'b.csv']", "epoch 0 loss=1.000", "epoch 1 loss=0.500"]

LOOP_SCRIPT = """\
import time

while True:
    print("tick", flush=True)
    time.sleep(0.2)
"""

FAILING_SCRIPT = """\
print("about to fail", flush=True)
raise RuntimeError("the data is bad")
"""


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> Any:
    """tests/conftest.py as pytest loaded it, for its helpers.

    ``from conftest import …`` would get whichever conftest.py pytest imported last: every conftest
    outside a package is the module ``conftest`` (tests/runtime/serving has its own).
    """
    wanted = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == wanted:
            return plugin
    raise LookupError(f"pytest has not loaded {wanted}")


def kiln(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one ``Error:`` line on stderr and nothing on stdout."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def job_names(server: RunningServer) -> set[str]:
    with server.client() as client:
        return {j["TrainingJobName"] for j in client.list_training_jobs(limit=1000)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with training data and the scripts, as a user's project would hold them."""
    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x,y\n1,2\n")
    (root / "data" / "b.csv").write_text("x,y\n3,4\n5,6\n")
    for folder, script in (("src", TRAIN_SCRIPT), ("loop", LOOP_SCRIPT), ("failing", FAILING_SCRIPT)):
        (root / folder).mkdir()
        (root / folder / "train.py").write_text(textwrap.dedent(script))
    return root


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, project: Path) -> str:
    result = kiln("upload", str(project / "data"), "--prefix", unique("cli-data"), env=server.env())
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def trained(
    server: RunningServer, project: Path, uploaded: str
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A job run with ``kiln train --follow``: its name and the finished command."""
    name = unique("cli-train")
    result = kiln(
        "train",
        "train.py",
        "--source-dir",
        str(project / "src"),
        "--hp",
        "epochs=2",
        "--input",
        f"training={uploaded}",
        "--metric",
        "loss=loss=([0-9.]+)",
        "--name",
        name,
        "--follow",
        env=server.env(),
    )
    return name, result


# -- artifacts ------------------------------------------------------------------------------------------


def test_upload_prints_just_the_uri_of_the_folder(server: RunningServer, uploaded: str) -> None:
    bucket = (server.home / "artifacts").as_uri() + "/kiln"

    assert re.fullmatch(rf"{re.escape(bucket)}/cli-data-[0-9a-f]{{8}}", uploaded)
    prefix = uploaded.removeprefix(bucket + "/")
    assert (server.home / "artifacts" / "kiln" / prefix / "b.csv").read_text() == "x,y\n3,4\n5,6\n"


def test_upload_of_a_file_prints_its_uri(server: RunningServer, project: Path) -> None:
    prefix = unique("cli-file")

    result = kiln("upload", str(project / "data" / "a.csv"), "--prefix", prefix, env=server.env())

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{(server.home / 'artifacts').as_uri()}/kiln/{prefix}/a.csv\n"


def test_upload_of_a_missing_path_is_an_error_line(server: RunningServer, tmp_path: Path) -> None:
    line = one_error_line(kiln("upload", str(tmp_path / "nope"), env=server.env()))

    assert "nope" in line
    assert "does not exist" in line


def test_artifacts_ls_json_lists_the_uploaded_files_with_sizes(server: RunningServer, uploaded: str) -> None:
    result = kiln("artifacts", "ls", uploaded, "--json", env=server.env())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"Uri": f"{uploaded}/a.csv", "Size": 8, "IsFolder": False},
        {"Uri": f"{uploaded}/b.csv", "Size": 12, "IsFolder": False},
    ]


def test_artifacts_ls_of_a_missing_uri_is_an_error_line(server: RunningServer, uploaded: str) -> None:
    line = one_error_line(kiln("artifacts", "ls", f"{uploaded}/missing.csv", env=server.env()))

    assert "No artifact at" in line
    assert "missing.csv" in line


# -- training -------------------------------------------------------------------------------------------


def test_train_follow_streams_the_scripts_lines_and_exits_0(
    trained: tuple[str, subprocess.CompletedProcess[str]],
) -> None:
    _, result = trained

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    script_lines = [line for line in lines if line in SCRIPT_LINES]
    assert script_lines == SCRIPT_LINES
    assert any(line.endswith("Completed - Training job completed") for line in lines)
    assert lines.index(SCRIPT_LINES[-1]) < len(lines) - 1  # the closing lines come after the script's
    assert lines[-2].startswith("Training seconds: ")
    assert lines[-1].startswith("Billable seconds: ")


def test_jobs_list_json_contains_the_job(
    server: RunningServer, trained: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    name, _ = trained

    result = kiln("jobs", "list", "--json", env=server.env())

    assert result.returncode == 0, result.stderr
    summaries = {j["TrainingJobName"]: j for j in json.loads(result.stdout)}
    assert summaries[name]["TrainingJobStatus"] == "Completed"
    filtered = kiln("jobs", "list", "--json", "--name", name, "--status", "Completed", env=server.env())
    assert [j["TrainingJobName"] for j in json.loads(filtered.stdout)] == [name]


def test_jobs_describe_json_shows_completed_with_the_metric_and_hyperparameters(
    server: RunningServer, uploaded: str, trained: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    name, _ = trained

    result = kiln("jobs", "describe", name, "--json", env=server.env())

    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["TrainingJobName"] == name
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Completed", "Completed")
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [("loss", 0.5)]
    assert job["HyperParameters"]["epochs"] == "2"
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == uploaded
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{name}/output/model.tar.gz")


def test_jobs_describe_as_a_table_names_status_and_metric(
    server: RunningServer, trained: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    name, _ = trained

    result = kiln("jobs", "describe", name, env=server.env())

    assert result.returncode == 0, result.stderr
    assert "Completed (Completed)" in result.stdout
    assert re.search(r"Metric loss\s*│\s*0\.5", result.stdout)


def test_jobs_logs_prints_the_scripts_lines(
    server: RunningServer, trained: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    name, _ = trained

    result = kiln("jobs", "logs", name, env=server.env())

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line in SCRIPT_LINES] == SCRIPT_LINES


@pytest.mark.parametrize(
    "command",
    [["jobs", "describe", "no-such-job"], ["jobs", "logs", "no-such-job"], ["jobs", "stop", "no-such-job"]],
    ids=["describe", "logs", "stop"],
)
def test_a_missing_job_is_one_error_line_naming_it(server: RunningServer, command: list[str]) -> None:
    line = one_error_line(kiln(*command, env=server.env()))

    assert "'no-such-job'" in line
    assert "kiln jobs list" in line


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--hp", "novalue", "--hp 'novalue' must look like NAME=VALUE"),
        ("--hp", "=2", "--hp '=2' must look like NAME=VALUE"),
        ("--hp", "[/oops]", "--hp '[/oops]' must look like NAME=VALUE"),  # shown as typed
        ("--input", "training", "--input 'training' must look like NAME=VALUE"),
        ("--metric", "[red]loss", "--metric '[red]loss' must look like NAME=VALUE"),
    ],
)
def test_a_malformed_pair_is_one_error_line_and_starts_no_job(
    server: RunningServer, project: Path, option: str, value: str, shown: str
) -> None:
    before = job_names(server)

    result = kiln("train", "train.py", "--source-dir", str(project / "src"), option, value, env=server.env())

    assert one_error_line(result) == f"Error: {shown}"
    assert job_names(server) == before


def test_a_missing_entry_point_is_one_error_line(server: RunningServer, project: Path) -> None:
    line = one_error_line(kiln("train", "nope.py", "--source-dir", str(project / "src"), env=server.env()))

    assert "entry_point 'nope.py' was not found" in line


def test_a_usage_mistake_shows_clicks_usage_and_error_not_a_traceback(server: RunningServer) -> None:
    result = kiln("jobs", "describe", env=server.env())

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Usage: kiln jobs describe" in result.stderr
    assert "Error: Missing argument" in result.stderr


def test_an_unknown_option_is_a_usage_error_exit_2(server: RunningServer) -> None:
    result = kiln("jobs", "list", "--bogus", env=server.env())

    assert result.returncode == 2, result.stderr
    assert "No such option: --bogus" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_an_internal_error_exit_3_not_a_usage_error(
    server: RunningServer, tmp_path: Path
) -> None:
    env = server.env()
    env["KILN_URL"] = "http://127.0.0.1:9"  # discard: nothing listens
    env["KILN_HOME"] = str(tmp_path / "home")
    env["KILN_CLIENT_RETRY_SECONDS"] = "0"  # no waiting for a restart that will not come

    result = kiln("jobs", "list", env=env)

    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ")
    assert "127.0.0.1:9" in result.stderr


def test_a_failing_script_makes_train_follow_exit_1_with_the_reason(
    server: RunningServer, project: Path
) -> None:
    name = unique("cli-fail")

    result = kiln(
        "train",
        "train.py",
        "--source-dir",
        str(project / "failing"),
        "--name",
        name,
        "--follow",
        env=server.env(),
    )

    assert result.returncode == 1
    assert "about to fail" in result.stdout.splitlines()
    # One Error: line; the reason after it quotes the tail of the script's traceback.
    assert result.stderr.startswith(f"Error: Error for Training job {name}: Failed. Reason: AlgorithmError")
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == [
        result.stderr.splitlines()[0]
    ]
    assert "RuntimeError: the data is bad" in result.stderr


def test_jobs_stop_ends_a_running_job_stopped(server: RunningServer, project: Path, shared: Any) -> None:
    started = kiln("train", "train.py", "--source-dir", str(project / "loop"), env=server.env())
    assert started.returncode == 0, started.stderr
    match = re.search(r"Started training job (\S+);", started.stdout)
    assert match, started.stdout
    name = match.group(1)
    assert name.startswith("kiln-training-")
    with server.client() as client:
        shared.wait_until(
            lambda: any(e["message"] == "tick" for e in client.training_job_logs(name)["Events"])
        )
        assert client.describe_training_job(name)["TrainingJobStatus"] == "InProgress"

        stopped = kiln("jobs", "stop", name, env=server.env())

        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.startswith(f"Stopping training job {name}")
        job = shared.wait_until(
            lambda: (d := client.describe_training_job(name))["TrainingJobStatus"] != "InProgress" and d,
            timeout=JOB_END_TIMEOUT,
        )
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    shared.wait_until(lambda: not shared.processes_mentioning(name), timeout=JOB_END_TIMEOUT)
    again = one_error_line(kiln("jobs", "stop", name, env=server.env()))
    assert "has already ended (Stopped)" in again


# -- the server -----------------------------------------------------------------------------------------


def test_server_status_json_reports_the_running_server(server: RunningServer) -> None:
    through_url = kiln("server", "status", "--json", env=server.env())
    env = server.env()
    env.pop("KILN_URL")
    through_home = kiln("server", "status", "--json", env=env)

    expected = {"running": True, "url": server.url, "pid": server.process.pid, "home": str(server.home)}
    assert through_url.returncode == 0, through_url.stderr
    assert json.loads(through_url.stdout) == expected
    assert through_home.returncode == 0, through_home.stderr
    assert json.loads(through_home.stdout) == expected


def test_server_status_says_not_running_when_kiln_url_does_not_answer(
    server: RunningServer, tmp_path: Path
) -> None:
    env = server.env()
    env["KILN_URL"] = "http://127.0.0.1:9"  # discard: nothing listens
    env["KILN_HOME"] = str(tmp_path / "home")
    env["KILN_CLIENT_RETRY_SECONDS"] = "0"  # no waiting for a restart that will not come

    as_json = kiln("server", "status", "--json", env=env)
    as_text = kiln("server", "status", env=env)

    assert json.loads(as_json.stdout)["running"] is False
    assert as_text.returncode == 3
    assert "No Kiln server is running at KILN_URL=http://127.0.0.1:9" in as_text.stdout


@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "fresh-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["KILN_HOME"] = str(home)
    yield home, env
    with suppress(FileNotFoundError, ValueError, KeyError, ProcessLookupError):
        os.kill(int(json.loads((home / "server.json").read_text())["pid"]), signal.SIGKILL)


def _server_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_server_start_daemon_and_stop_on_a_fresh_home(fresh_home: tuple[Path, dict[str, str]]) -> None:
    home, env = fresh_home

    started = kiln("server", "start", "--daemon", env=env)

    assert started.returncode == 0, started.stderr
    match = re.fullmatch(r"Kiln server started at (http://127\.0\.0\.1:\d+)\n", started.stdout)
    assert match, started.stdout
    url = match.group(1)
    record = json.loads((home / "server.json").read_text())
    assert record["url"] == url
    pid = int(record["pid"])
    assert httpx.get(f"{url}/api/v1/health", timeout=10).json()["home"] == str(home)
    status = kiln("server", "status", "--json", env=env)
    assert json.loads(status.stdout) == {"running": True, "url": url, "pid": pid, "home": str(home)}
    again = kiln("server", "start", "--daemon", env=env)
    assert again.stdout == f"Kiln server already running at {url}\n"
    assert json.loads((home / "server.json").read_text())["pid"] == pid

    stopped = kiln("server", "stop", env=env)

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"Stopped the Kiln server (pid {pid}).\n"
    assert _server_gone(pid)
    assert not (home / "server.json").exists()
    after = kiln("server", "status", env=env)
    assert after.returncode == 3
    assert after.stdout.startswith(f"No Kiln server is running for {home}")


def test_server_stop_leaves_alone_a_process_that_reused_a_stale_records_pid(
    fresh_home: tuple[Path, dict[str, str]],
) -> None:
    home, env = fresh_home
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        home.mkdir()
        (home / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": bystander.pid}))

        result = kiln("server", "stop", env=env)

        assert result.returncode == 0, result.stderr
        assert result.stdout == "No Kiln server is running for this KILN_HOME.\n"
        assert bystander.poll() is None
        assert not (home / "server.json").exists()
    finally:
        bystander.kill()
        bystander.wait()
