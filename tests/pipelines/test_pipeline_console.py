"""The console's pipeline pages: the list, a pipeline's executions, and an execution's page with its
step graph (each step's status), parameters and links to the steps' jobs."""

from __future__ import annotations

import httpx
from pipeline_support import (
    create_pipeline,
    definition,
    processing_step,
    start,
    steps,
    unique,
    upload_code,
    wait_for_execution,
)

import kiln
from conftest import RunningServer


def test_list_pipeline_and_execution_pages(server: RunningServer, session: kiln.Session) -> None:
    name = unique("console")
    good = upload_code(session, name, "print('fine')\n")
    pipeline = [
        processing_step("Prepare", good),
        {
            "Name": "Enough",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 2}
                ],
                "IfSteps": [processing_step("Big", good, DependsOn=["Prepare"])],
                "ElseSteps": [processing_step("Small", good, DependsOn=["Prepare"])],
            },
        },
    ]
    create_pipeline(
        session, name, definition(pipeline, [{"Name": "Count", "Type": "Integer", "DefaultValue": 1}])
    )
    execution = start(session, name)
    assert wait_for_execution(session, execution)["PipelineExecutionStatus"] == "Succeeded"
    listed = steps(session, execution)

    listing = httpx.get(f"{server.url}/pipelines", timeout=10)
    assert listing.status_code == 200
    assert f'href="/pipelines/{name}"' in listing.text
    assert f'href="/pipeline-executions/{execution}"' in listing.text

    page = httpx.get(f"{server.url}/pipelines/{name}", timeout=10)
    assert page.status_code == 200
    assert 'id="pipeline-graph"' in page.text
    assert f'href="/pipeline-executions/{execution}"' in page.text

    shown = httpx.get(f"{server.url}/pipeline-executions/{execution}", timeout=10).text
    assert 'data-step="Prepare" data-status="Succeeded"' in shown
    assert 'data-step="Enough" data-status="Succeeded"' in shown
    assert 'data-step="Small" data-status="Succeeded"' in shown
    assert 'data-step="Big" data-status="Not run"' in shown
    assert f'href="/processing-jobs/{listed["Prepare"]["JobName"]}"' in shown
    assert "Outcome False" in shown
    assert "<th>Count</th><td>1</td>" in shown

    missing = httpx.get(f"{server.url}/pipeline-executions/nope", timeout=10)
    assert missing.status_code == 404
    assert "No such pipeline execution" in missing.text
