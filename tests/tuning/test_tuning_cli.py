"""``kiln tune`` (YAML and flags) and ``kiln tuning list|describe|stop``, run as real programs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tuning_helpers import unique, write_source

from conftest import RunningServer

CLI_TIMEOUT = 90


def kiln(*args: str, server: RunningServer, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args],
        env=server.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture(scope="module")
def tuned(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A tuning job run by ``kiln tune --config tune.yaml … --wait``."""
    project = tmp_path_factory.mktemp("tune-project")
    write_source(project / "src")
    (project / "tune.yaml").write_text(
        textwrap.dedent(
            """
            entry_point: train.py
            source_dir: src
            hyperparameters: {steps: 2}
            metric_definitions: {score: "score=([0-9.]+)"}
            objective_metric_name: score
            hyperparameter_ranges:
              kind: {type: categorical, values: [a, c]}
              rate: [0.2, 0.4]
            strategy: Grid
            max_parallel_jobs: 1
            """
        )
    )
    name = unique("cli-tune")
    result = kiln(
        "tune",
        "--config",
        str(project / "tune.yaml"),
        "--max-parallel",
        "2",
        "--name",
        name,
        "--wait",
        server=server,
    )
    return name, result


def test_tune_from_yaml_and_flags_runs_to_the_end_and_names_the_best(
    tuned: tuple[str, subprocess.CompletedProcess[str]],
) -> None:
    name, result = tuned
    assert result.returncode == 0, result.stderr
    assert f"{name}: Completed - 4 completed" in result.stdout
    assert "Best training job:" in result.stdout
    assert "'kind': '\"c\"', 'rate': '0.4'" in result.stdout  # the best corner of the 2 × 2 grid


def test_tuning_list_describe_and_stop(
    server: RunningServer, tuned: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    name, _ = tuned
    listed = kiln("tuning", "list", "--json", "--name", name, server=server)
    assert listed.returncode == 0, listed.stderr
    [summary] = json.loads(listed.stdout)
    assert summary["HyperParameterTuningJobStatus"] == "Completed"
    assert summary["Strategy"] == "Grid"
    assert summary["ResourceLimits"]["MaxParallelTrainingJobs"] == 2  # the flag won over the file

    described = kiln("tuning", "describe", name, server=server)
    assert described.returncode == 0, described.stderr
    assert "Trials (best first)" in described.stdout
    assert described.stdout.count(f"{name}-00") >= 4

    as_json = json.loads(kiln("tuning", "describe", name, "--json", server=server).stdout)
    values = [
        t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in as_json["TrainingJobSummaries"]
    ]
    assert values == sorted(values, reverse=True)

    line = one_error_line(kiln("tuning", "stop", name, server=server))
    assert "has already ended (Completed)" in line


def test_tune_with_an_undefined_objective_is_one_error_line(server: RunningServer, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src")
    line = one_error_line(
        kiln(
            "tune",
            "train.py",
            "--source-dir",
            str(source),
            "--metric",
            "loss=loss=([0-9.]+)",
            "--objective",
            "accuracy",
            "--continuous",
            "rate=0.1:1",
            "--max-jobs",
            "2",
            server=server,
        )
    )
    assert "A metric is required for this hyperparameter tuning job objective" in line
    assert "'accuracy'" in line


def test_tune_with_a_malformed_range_flag_says_how_to_write_it(server: RunningServer, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src")
    line = one_error_line(
        kiln(
            "tune",
            "train.py",
            "--source-dir",
            str(source),
            "--metric",
            "score=score=([0-9.]+)",
            "--objective",
            "score",
            "--continuous",
            "rate=0.1",
            server=server,
        )
    )
    assert "NAME=MIN:MAX" in line
