"""The console's processing pages: the list, and a job's page following its log live, then Stop."""

from __future__ import annotations

from playwright.sync_api import expect
from processing_support import processing_request, s3_input, unique, upload_code
from tests.console.console_browser import browser  # noqa: F401  (the fixture)

from conftest import RunningServer


def test_list_and_job_page_follow_a_running_job_and_stop_it(server: RunningServer, browser) -> None:  # noqa: F811
    session = server.session()
    name = unique("console-processing")
    bucket = session.bucket_uri()
    session.upload_bytes(b"x", f"{bucket}/{name}/data/x.csv")
    code = upload_code(
        session,
        name,
        """
        import time
        for i in range(600):
            print(f"chunk {i} done", flush=True)
            time.sleep(0.2)
        """,
    )
    request = processing_request(
        name,
        code,
        inputs=[s3_input("data", f"{bucket}/{name}/data", "/opt/ml/processing/input/data")],
        arguments=["--chunks", "600"],
    )
    session.client.create_processing_job(request)

    page = browser.new_page()
    page.goto(f"{server.url}/processing-jobs?name={name}")
    row = page.locator("#processing-jobs tbody tr", has_text=name)
    expect(row).to_contain_text("InProgress")
    row.get_by_role("link", name=name).click()

    expect(page.locator("#command")).to_have_text(
        "python3 /opt/ml/processing/input/code/script.py --chunks 600"
    )
    expect(page.locator("#inputs")).to_contain_text("/opt/ml/processing/input/data")
    expect(page.locator("#log")).to_contain_text("chunk 3 done", timeout=30_000)  # followed live
    page.locator("#stop-job").click()
    expect(page.locator("#job-status")).to_contain_text("Stopped", timeout=60_000)  # the final page
    expect(page.locator("#stop-job")).to_have_count(0)

    page.goto(f"{server.url}/processing-jobs/no-such-job")
    expect(page.locator("main")).to_contain_text("kiln processing-jobs list")
    page.close()
    session.close()
