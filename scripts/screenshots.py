"""Save a PNG of every console page into docs/screenshots/ (``make screenshots``).

Starts a Kiln server under a temporary KILN_HOME, gives it sample data through the SDK (two finished
training jobs with metrics, one failed job, a deployed scikit-learn endpoint that has served a
stream of predictions for its metrics chart), then
drives Debian's Chromium (/usr/bin/chromium) with Playwright: one desktop shot (1280 px) per page,
and two phone shots (390 px).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import kiln

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import joblib, numpy as np
    from sklearn.linear_model import LinearRegression
    epochs = int(os.environ.get("SM_HP_EPOCHS", "8"))
    for step in range(1, epochs + 1):
        loss, accuracy = 1.0 / step + 0.05 * (step % 3), 1 - 0.5 / step
        print(f"epoch {step} loss={loss:.4f} accuracy={accuracy:.4f}", flush=True)
        time.sleep(0.15)
    if os.environ.get("SM_HP_FAIL") == "1":
        raise ValueError("learning rate too high: the loss diverged")
    x = np.arange(10.0).reshape(-1, 1)
    model = LinearRegression().fit(x, 2 * x[:, 0] + 1)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    """
)
DESKTOP = [
    ("overview", "/"),
    ("training-jobs", "/training-jobs"),
    ("training-job", "/training-jobs/{job}"),
    ("create-training-job", "/training-jobs/new"),
    ("tuning-jobs", "/tuning-jobs"),
    ("create-tuning-job", "/tuning-jobs/new?from={job}"),
    ("models", "/models"),
    ("endpoints", "/endpoints"),
    ("endpoint", "/endpoints/{endpoint}"),
    ("usage", "/usage"),
]
FULL_PAGE = {"endpoint"}  # its metrics charts are below the fold
PREDICTION_SECONDS = 35  # of predictions: three 10-second periods stored, so the charts have lines
PHONE = [("phone-training-job", "/training-jobs/{job}"), ("phone-endpoint", "/endpoints/{endpoint}")]


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["KILN_HOME"] = str(home)
    process = subprocess.Popen([sys.executable, "-m", "kiln.server"], env=env, start_new_session=True)
    record = home / "server.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if record.exists():
            return process, json.loads(record.read_text())["url"]
        time.sleep(0.1)
    process.kill()
    raise SystemExit("Error: the Kiln server did not start within 60 s; see its output above")


def sample_data(url: str, workdir: Path) -> tuple[str, str]:
    source = workdir / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    session = kiln.Session(url)
    metrics = [
        {"Name": "loss", "Regex": r"loss=([0-9.]+)"},
        {"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"},
    ]
    for name, hyperparameters in (
        ("mnist-baseline", {"epochs": 12}),
        ("mnist-diverged", {"epochs": 4, "fail": 1}),
    ):
        estimator = kiln.Estimator(
            entry_point="train.py",
            source_dir=str(source),
            instance_type="ml.m5.large",
            instance_count=1,
            hyperparameters=hyperparameters,
            metric_definitions=metrics,
            sagemaker_session=session,
        )
        try:
            estimator.fit(job_name=name, logs=False)
        except kiln.errors.KilnError:
            pass  # the diverged job fails on purpose
    good = kiln.Estimator(
        entry_point="train.py", source_dir=str(source), instance_type="ml.c5.xlarge", instance_count=2,
        hyperparameters={"epochs": 20}, metric_definitions=metrics, sagemaker_session=session,
    )  # fmt: skip
    good.fit(job_name="mnist-wide", logs=False)
    predictor = good.deploy(
        initial_instance_count=1,
        instance_type="local",
        endpoint_name="mnist-live",
        serializer=kiln.serializers.JSONSerializer(),
    )
    started = time.monotonic()
    while time.monotonic() - started < PREDICTION_SECONDS:
        # A rate that rises and falls, so the invocations chart shows a shape; one bad request per
        # second as a 4XX error.
        elapsed = time.monotonic() - started
        for _ in range(2 + int(6 * abs(((elapsed / 12) % 2) - 1))):
            predictor.predict([[1.0], [2.0]])
        try:
            session.client.invoke_endpoint("mnist-live", b"not json", {"Content-Type": "application/json"})
        except kiln.errors.KilnError:
            pass  # the 4XX it is meant to be
        time.sleep(0.25)
    time.sleep(12)  # the last period is stored a second after it ends
    running = kiln.Estimator(
        entry_point="train.py", source_dir=str(source), instance_type="ml.m5.large", instance_count=1,
        hyperparameters={"epochs": 2000}, metric_definitions=metrics, sagemaker_session=session,
    )  # fmt: skip
    running.fit(job_name="mnist-long", logs=False, wait=False)  # in progress while the pages are shot
    return "mnist-wide", "mnist-live"


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(
            f"Error: {CHROMIUM} is missing; install Debian's chromium (apt-get install chromium)"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp) / "home")
        try:
            job, endpoint = sample_data(url, Path(tmp))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for shots, size in ((DESKTOP, (1280, 860)), (PHONE, (390, 844))):
                    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                    for label, path in shots:
                        page.goto(url + path.format(job=job, endpoint=endpoint))
                        page.wait_for_load_state("networkidle")
                        target = OUT / f"{label}.png"
                        page.screenshot(path=str(target), full_page=label in FULL_PAGE)
                        print(f"{target} ({target.stat().st_size // 1024} KB)")
                    page.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
