"""The hosting CLI: deploy a model, invoke it, read its logs, update weights, delete it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hosting_fixtures import torchscript_model_bytes, upload_model

from conftest import ON_EVERY_BACKEND, RunningServer

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

pytest.importorskip("torch")


def kiln(server: RunningServer, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args],
        env=server.env(),
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_invoke_logs_update_and_delete_from_the_command_line(
    server: RunningServer, tmp_path: Path
) -> None:
    uri = upload_model(
        server.session(), tmp_path / "cli-model", {"model.pt": torchscript_model_bytes(tmp_path)}
    )
    name = f"cli-{tmp_path.name[-10:]}".replace("_", "-").lower()
    deployed = kiln(server, "deploy", uri, "--name", name)
    assert deployed.returncode == 0, deployed.stderr
    assert f"Endpoint {name} is InService" in deployed.stdout

    body = tmp_path / "image.json"
    body.write_text(json.dumps(np.zeros((1, 28, 28)).tolist()))
    invoked = kiln(server, "endpoints", "invoke", name, "--body", f"@{body}")
    assert invoked.returncode == 0, invoked.stderr
    assert len(json.loads(invoked.stdout)[0]) == 10
    assert "served by variant AllTraffic" in invoked.stderr

    bad = kiln(server, "endpoints", "invoke", name, "--content-type", "text/csv", "--body", "not,numbers")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("Error:")

    described = json.loads(kiln(server, "endpoints", "describe", name, "--json").stdout)
    assert described["EndpointStatus"] == "InService"
    listed = json.loads(kiln(server, "endpoints", "list", "--json").stdout)
    assert name in [e["EndpointName"] for e in listed]

    logs = kiln(server, "endpoints", "logs", name)
    assert "Model loaded" in logs.stdout

    updated = kiln(server, "endpoints", "update", name, "--weight", "AllTraffic=2")
    assert updated.returncode == 0, updated.stderr
    weights = json.loads(kiln(server, "endpoints", "describe", name, "--json").stdout)["ProductionVariants"]
    assert weights[0]["CurrentWeight"] == 2.0

    deleted = kiln(server, "endpoints", "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    gone = kiln(server, "endpoints", "describe", name)
    assert gone.returncode == 1
    assert name in gone.stderr
    models = json.loads(kiln(server, "models", "list", "--json").stdout)
    assert any(m["PrimaryContainer"].get("ModelDataUrl") == uri for m in models)
