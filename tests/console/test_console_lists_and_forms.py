"""The console's lists refresh themselves while work is in progress; a tuning job is created from a form;
the deploy form offers every instance type; an endpoint's page charts its metrics as they come."""

from __future__ import annotations

import textwrap
from pathlib import Path

from console_browser import browser  # noqa: F401  (the fixture)
from playwright.sync_api import expect

import kiln
from conftest import RunningServer, wait_until

SCRIPT = textwrap.dedent(
    """
    import argparse
    import time

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, default=0.5)
    parser.add_argument("--pause", type=float, default=0.0)
    args, _ = parser.parse_known_args()
    time.sleep(args.pause)
    print(f"score={1 - (args.x - 0.3) ** 2:.4f}", flush=True)
    """
)


def _estimator(session: kiln.Session, tmp_path: Path) -> kiln.Estimator:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(SCRIPT)
    return kiln.Estimator(
        "train.py",
        source_dir=str(source),
        hyperparameters={"pause": 4},
        metric_definitions=[{"Name": "score", "Regex": r"score=([0-9.]+)"}],
        sagemaker_session=session,
    )


def test_the_jobs_list_follows_a_running_job_without_a_reload(
    server: RunningServer,
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    session = server.session()
    name = f"list-refresh-{tmp_path.name[-6:]}".replace("_", "-")
    _estimator(session, tmp_path).fit(wait=False, logs=False, job_name=name)
    page = browser.new_page()
    page.goto(f"{server.url}/training-jobs?name={name}")
    page.evaluate("window.__notReloaded = true")
    row = page.locator("#jobs tbody tr", has_text=name)
    expect(row).to_contain_text("InProgress")
    expect(row).to_contain_text("Completed", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, not a page reload
    assert page.locator("#jobs-list").get_attribute("data-refresh") == "0"  # nothing left to follow
    page.close()


def test_a_tuning_job_is_created_from_the_console(
    server: RunningServer,
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    session = server.session()
    template = f"tune-template-{tmp_path.name[-6:]}".replace("_", "-")
    estimator = _estimator(session, tmp_path)
    estimator.set_hyperparameters(pause=0)
    estimator.fit(wait=True, logs=False, job_name=template)
    page = browser.new_page()
    page.goto(f"{server.url}/training-jobs/{template}")
    page.click("#tune-job")
    page.wait_for_url(f"{server.url}/tuning-jobs/new?from={template}")

    page.fill("#t-ranges", "x=continuous:zero:1")
    page.fill("#t-name", "console-tune")
    page.click("#create-tuning-job")
    expect(page.locator("#terror-ranges")).to_contain_text("Line 1 (x=continuous:zero:1) needs numbers")

    page.fill("#t-ranges", "x=continuous:0:1\nmode=categorical:a,b")
    page.fill("#t-max-jobs", "2")
    page.select_option("#t-strategy", "Random")
    page.click("#create-tuning-job")
    page.wait_for_url(f"{server.url}/tuning-jobs/console-tune", timeout=15_000)
    described = session.client.call("GET", "/tuning-jobs/console-tune")
    config = described["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "score"}
    assert [r["Name"] for r in config["ParameterRanges"]["ContinuousParameterRanges"]] == ["x"]
    assert config["ParameterRanges"]["CategoricalParameterRanges"][0]["Values"] == ["a", "b"]
    statics = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "x" not in statics
    assert statics["pause"] == "0"

    # A second job of the same name: the API's refusal lands next to the name.
    page.goto(f"{server.url}/tuning-jobs/new?from={template}")
    page.fill("#t-name", "console-tune")
    page.fill("#t-ranges", "x=continuous:0:1")
    page.click("#create-tuning-job")
    expect(page.locator("#terror-name")).to_contain_text("console-tune")
    wait_until(
        lambda: (
            session.client.call("GET", "/tuning-jobs/console-tune")["HyperParameterTuningJobStatus"]
            == "Completed"
        ),
        timeout=90,
    )
    page.close()


def test_the_deploy_form_offers_every_instance_type(
    server: RunningServer,
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    session = server.session()
    name = f"deploy-types-{tmp_path.name[-6:]}".replace("_", "-")
    estimator = _estimator(session, tmp_path)
    estimator.set_hyperparameters(pause=0)
    estimator.fit(wait=True, logs=False, job_name=name)
    known = [t["InstanceType"] for t in session.client.call("GET", "/instance-types")["InstanceTypes"]]
    page = browser.new_page()
    page.goto(f"{server.url}/training-jobs/{name}")
    offered = page.locator("#deploy-form select[name=instance_type] option").all_inner_texts()
    assert offered == known
    assert "ml.m5.large" in offered
    assert page.locator("#deploy-form select[name=instance_type]").input_value() == "local"
    page.close()
