"""``kiln pipelines list|describe|start|executions|steps|stop`` as a real program against a real server."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline_support import (
    create_pipeline,
    definition,
    processing_step,
    unique,
    upload_code,
    wait_for_execution,
)

from conftest import RunningServer, wait_until


def _kiln(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args], env=server.env(), capture_output=True, text=True, timeout=90
    )


def test_list_describe_start_executions_steps_and_stop(server: RunningServer) -> None:
    session = server.session()
    name = unique("cli")
    code = upload_code(session, name, "import os, time\ntime.sleep(float(os.environ['PAUSE']))\n")
    environment = {"PAUSE": {"Get": "Parameters.Pause"}}
    create_pipeline(
        session,
        name,
        definition(
            [processing_step("Nap", code, environment=environment)],
            [{"Name": "Pause", "Type": "String", "DefaultValue": "0"}],
        ),
    )

    listed = _kiln(server, "pipelines", "list")
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout
    described = _kiln(server, "pipelines", "describe", name)
    assert described.returncode == 0, described.stderr
    assert "Nap" in described.stdout
    assert "Pause" in described.stdout

    started = _kiln(server, "pipelines", "start", name, "--parameter", "Pause=0", "--json")
    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["PipelineExecutionArn"].rsplit("/", 1)[-1]
    assert wait_for_execution(session, execution)["PipelineExecutionStatus"] == "Succeeded"
    shown = _kiln(server, "pipelines", "steps", execution)
    assert shown.returncode == 0, shown.stderr
    assert f"Execution {execution}: Succeeded" in shown.stdout
    assert "Nap" in shown.stdout
    as_json = json.loads(_kiln(server, "pipelines", "steps", execution, "--json").stdout)
    assert as_json["Steps"][0]["JobName"].startswith(f"pipelines-{execution}-Nap-")
    history = _kiln(server, "pipelines", "executions", name, "--json")
    assert [e["PipelineExecutionStatus"] for e in json.loads(history.stdout)] == ["Succeeded"]

    slow = _kiln(server, "pipelines", "start", name, "-p", "Pause=60", "--json")
    arn = json.loads(slow.stdout)["PipelineExecutionArn"]
    wait_until(
        lambda: json.loads(_kiln(server, "pipelines", "steps", arn, "--json").stdout)["Steps"],
        timeout=30,
        interval=0.5,
    )
    stopped = _kiln(server, "pipelines", "stop", arn)
    assert stopped.returncode == 0, stopped.stderr
    assert (
        wait_for_execution(session, arn.rsplit("/", 1)[-1], timeout=60)["PipelineExecutionStatus"]
        == "Stopped"
    )

    refused = _kiln(server, "pipelines", "start", name, "--parameter", "Pause")
    assert refused.returncode == 1
    assert "--parameter 'Pause' must look like NAME=VALUE" in refused.stderr
    session.close()
