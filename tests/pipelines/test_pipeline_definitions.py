"""Upsert validation: a definition with a cycle, a reference to an unknown step, property, property
file or parameter is refused at CreatePipeline/UpdatePipeline with a message naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipeline_support import ROLE, create_pipeline, definition, unique

import kiln
from kiln.errors import NotFound, ValidationError

CODE = "s3://nowhere/code/script.py"


def _processing(name: str, depends_on: list[str] | None = None, **arguments: Any) -> dict[str, Any]:
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {"AppSpecification": {"ImageUri": "x"}, **arguments},
    }
    return step | ({"DependsOn": depends_on} if depends_on else {})


def _refused(
    session: kiln.Session, steps: list[dict[str, Any]], parameters: list[dict[str, Any]] = ()
) -> str:  # type: ignore[assignment]
    with pytest.raises(ValidationError) as refused:
        create_pipeline(session, unique("refused"), definition(steps, parameters))
    return refused.value.message


def test_a_cycle_is_refused_naming_its_steps(session: kiln.Session) -> None:
    message = _refused(
        session,
        [
            _processing("A", Environment={"X": {"Get": "Steps.B.ProcessingJobName"}}),
            _processing("B", depends_on=["A"]),
        ],
    )
    assert message in (
        "The pipeline's steps depend on each other in a cycle: A → B → A",
        "The pipeline's steps depend on each other in a cycle: B → A → B",
    )


def test_unknown_references_are_refused_by_name(session: kiln.Session) -> None:
    message = _refused(
        session, [_processing("A", Environment={"X": {"Get": "Steps.Nope.ProcessingJobName"}})]
    )
    assert message == "Step 'A' refers to step 'Nope', which the pipeline does not have"

    message = _refused(
        session,
        [
            _processing("A"),
            _processing("B", Environment={"X": {"Get": "Steps.A.ModelArtifacts.S3ModelArtifacts"}}),
        ],
    )
    assert message == (
        "Step 'B' refers to Steps.A.ModelArtifacts.S3ModelArtifacts, but a Processing step has no property 'ModelArtifacts'"
    )

    report = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.A.PropertyFiles.Report"}, "Path": "a"}}
    message = _refused(
        session,
        [
            _processing("A"),
            {
                "Name": "C",
                "Type": "Condition",
                "Arguments": {"Conditions": [{"Type": "Equals", "LeftValue": report, "RightValue": 1}]},
            },
        ],
    )
    assert "property file 'PropertyFiles.Report' of step 'A'" in message

    message = _refused(session, [_processing("A", depends_on=["Ghost"])])
    assert message == "Step 'A' depends on step 'Ghost', which the pipeline does not have"


def test_a_missing_parameter_is_refused(session: kiln.Session) -> None:
    message = _refused(session, [_processing("A", Environment={"X": {"Get": "Parameters.Rate"}})])
    assert (
        message
        == "Step 'A' refers to parameter 'Rate', which the pipeline does not declare; add it to Parameters"
    )


def test_update_validates_and_start_checks_parameters(session: kiln.Session) -> None:
    name = unique("updated")
    good = definition(
        [_processing("A", Environment={"X": {"Get": "Parameters.Rate"}})],
        [{"Name": "Rate", "Type": "Integer"}],
    )
    create_pipeline(session, name, good)
    bad = json.loads(good) | {"Steps": [_processing("A", Environment={"X": {"Get": "Parameters.Other"}})]}
    with pytest.raises(ValidationError, match="parameter 'Other'"):
        session.client.call("PUT", f"/pipelines/{name}", json={"PipelineDefinition": json.dumps(bad)})
    described = session.client.call("GET", f"/pipelines/{name}")
    assert json.loads(described["PipelineDefinition"]) == json.loads(good)
    assert described["RoleArn"] == ROLE

    with pytest.raises(ValidationError, match="Parameter 'Rate' has no default value"):
        session.client.call("POST", f"/pipelines/{name}/executions", json={})
    with pytest.raises(ValidationError, match="Parameter 'Rate' is Integer; the value 'fast' is not one"):
        session.client.call(
            "POST",
            f"/pipelines/{name}/executions",
            json={"PipelineParameters": [{"Name": "Rate", "Value": "fast"}]},
        )
    with pytest.raises(ValidationError, match="no parameter 'Speed'"):
        session.client.call(
            "POST",
            f"/pipelines/{name}/executions",
            json={"PipelineParameters": [{"Name": "Speed", "Value": "1"}]},
        )

    session.client.call("DELETE", f"/pipelines/{name}")
    with pytest.raises(NotFound, match="`kiln pipelines list`"):
        session.client.call("GET", f"/pipelines/{name}")
