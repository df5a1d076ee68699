"""The console end to end in a real browser: create a job from the form, watch it, deploy, predict."""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

from console_browser import browser  # noqa: F401  (the fixture)
from playwright.sync_api import expect

from conftest import RunningServer

TRAIN_SCRIPT = textwrap.dedent(
    """
    import os
    import time

    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    for step in range(1, 13):
        print(f"step {step} loss={1.0 / step:.4f}", flush=True)
        time.sleep(0.5)
    x = np.arange(10.0).reshape(-1, 1)
    model = LinearRegression().fit(x, 2 * x[:, 0] + 1)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print("saved", flush=True)
    """
)


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(TRAIN_SCRIPT)
    return path


def test_create_watch_deploy_predict_delete(server: RunningServer, browser, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/training-jobs/new")
    page.fill("#f-name", "console-e2e")
    page.set_input_files("#f-file", str(_script(tmp_path)))
    page.fill("#f-entry", "train.py")
    page.fill("#f-metrics", "loss=loss=([0-9.]+)")
    page.fill("#f-hps", "epochs=12")
    page.click("#create-job")
    page.wait_for_url(f"{server.url}/training-jobs/console-e2e", timeout=15_000)

    # The log tail and the metric chart grow while the job runs (console.js polls the REST API).
    seen_points: set[int] = set()
    seen_lines: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if page.locator("#deploy-job").count():  # the page reloads itself once the job has ended
            break
        chart = page.locator("#charts svg.chart")
        if chart.count():
            seen_points.add(int(chart.first.get_attribute("data-points") or 0))
        seen_lines.add(page.locator("#log").inner_text().count("loss="))
        time.sleep(0.3)
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=30_000)
    assert len({n for n in seen_points if n > 0}) >= 2, f"the chart never grew live: {seen_points}"
    assert len({n for n in seen_lines if n > 0}) >= 2, f"the log never grew live: {seen_lines}"
    assert page.locator("#charts svg.chart").first.get_attribute("data-points") == "12"
    expect(page.locator("#log")).to_contain_text("saved")
    expect(page.locator("#artifacts")).to_contain_text("model.tar.gz")

    # Deploy from the job page, then try a prediction on the endpoint's page.
    page.fill("#deploy-form input[name=endpoint]", "console-e2e-ep")
    page.click("#deploy-job")
    page.wait_for_url(f"{server.url}/endpoints/console-e2e-ep", timeout=15_000)
    expect(page.locator("#endpoint-status")).to_have_text("InService", timeout=60_000)
    page.fill("#p-body", "[[3.0], [4.0]]")
    page.click("#predict")
    expect(page.locator("#prediction")).to_contain_text(re.compile(r"7\.0.*9\.0"), timeout=15_000)
    expect(page.locator("#prediction-meta")).to_contain_text("200")
    # The endpoint's metrics chart redraws itself and counts that prediction once its 10 s period is stored.
    invocations = page.locator("#metric-charts figure[data-metric=Invocations]")
    expect(invocations).to_have_attribute("data-total", "0")
    expect(invocations).to_have_attribute("data-total", "1", timeout=40_000)
    expect(page.locator("#metric-charts figure[data-metric=ModelLatency] polyline").first).to_be_attached()

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#delete-endpoint")
    page.wait_for_url(f"{server.url}/endpoints", timeout=15_000)
    expect(page.locator("#endpoints")).not_to_contain_text("console-e2e-ep", timeout=15_000)
    page.close()


def test_validation_errors_show_next_to_their_field(server: RunningServer, browser, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{server.url}/training-jobs/new")
    page.fill("#f-name", "bad_name!")
    page.set_input_files("#f-file", str(_script(tmp_path)))
    page.click("#create-job")
    expect(page.locator("#error-name")).to_contain_text("is not valid")
    expect(page.locator("#f-name")).to_have_class(re.compile("invalid"))

    # A refusal from the API itself lands next to the field its message names.
    page.fill("#f-name", "console-bad-type")
    page.fill("#f-type", "ml.nope.large")
    page.click("#create-job")
    expect(page.locator("#error-instance_type")).to_contain_text("not a known instance type")
    expect(page.locator("#error-name")).to_be_hidden()
    page.close()
