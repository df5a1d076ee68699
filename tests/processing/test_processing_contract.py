"""A processing job's container contract, checked from inside the script: it writes what it sees
into an output, and the test reads that output back (SageMaker's Processing contract)."""

from __future__ import annotations

import json

from processing_support import (
    CODE_DIR,
    SKLEARN_IMAGE,
    processing_request,
    s3_input,
    s3_output,
    unique,
    upload_code,
    wait_for_end,
)

import kiln

SEE_EVERYTHING = """
    import json, os, sys
    seen = {
        "argv": sys.argv,
        "cwd_files": sorted(os.listdir("/opt/ml/processing")),
        "input": {
            root[len("/opt/ml/processing/input/"):] + "/" + f: open(os.path.join(root, f)).read()
            for root, _, files in os.walk("/opt/ml/processing/input/data") for f in files
        },
        "code": sorted(os.listdir("/opt/ml/processing/input/code")),
        "config": json.load(open("/opt/ml/config/processingjobconfig.json")),
        "resources": json.load(open("/opt/ml/config/resourceconfig.json")),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "MY_"))},
    }
    os.makedirs("/opt/ml/processing/output/report/deep", exist_ok=True)
    with open("/opt/ml/processing/output/report/seen.json", "w") as out:
        json.dump(seen, out)
    open("/opt/ml/processing/output/report/deep/x.txt", "w").write("deep")
    open("/opt/ml/output/message", "w").write("processed 2 files")
"""


def test_inputs_outputs_arguments_and_config_files_as_sagemaker_gives_them(session: kiln.Session) -> None:
    job = unique("contract")
    bucket = session.bucket_uri()
    session.upload_bytes(b"a,1\n", f"{bucket}/{job}/raw/part-a.csv")
    session.upload_bytes(b"b,2\n", f"{bucket}/{job}/raw/nested/part-b.csv")
    code = upload_code(session, job, SEE_EVERYTHING)
    request = processing_request(
        job,
        code,
        inputs=[s3_input("raw", f"{bucket}/{job}/raw", "/opt/ml/processing/input/data")],
        outputs=[s3_output("report", f"{bucket}/{job}/output/report", "/opt/ml/processing/output/report")],
        arguments=["--train-test-split-ratio", "0.2", "--flag"],
        environment={"MY_SETTING": "on"},
    )
    created = session.client.create_processing_job(request)
    assert created["ProcessingJobStatus"] == "InProgress"

    described = wait_for_end(session, job)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ExitMessage"] == "processed 2 files"
    assert described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    assert described["AppSpecification"] == request["AppSpecification"]
    assert described["ProcessingInputs"] == request["ProcessingInputs"]

    seen = json.loads(session.read_artifact(f"{bucket}/{job}/output/report/seen.json"))
    assert seen["argv"] == [f"{CODE_DIR}/script.py", "--train-test-split-ratio", "0.2", "--flag"]
    assert seen["input"] == {"data/part-a.csv": "a,1\n", "data/nested/part-b.csv": "b,2\n"}
    assert seen["code"] == ["script.py"]  # one object under its prefix lands at LocalPath/<basename>
    assert seen["env"] == {"MY_SETTING": "on"}  # only the request's Environment: no SM_* variables
    config = seen["config"]
    assert config["ProcessingJobName"] == job
    assert config["ProcessingJobArn"].endswith(f":processing-job/{job}")
    assert config["AppSpecification"] == {
        "ImageUri": SKLEARN_IMAGE,
        "ContainerEntrypoint": ["python3", f"{CODE_DIR}/script.py"],
        "ContainerArguments": ["--train-test-split-ratio", "0.2", "--flag"],
    }
    assert config["Environment"] == {"MY_SETTING": "on"}
    raw = next(i for i in config["ProcessingInputs"] if i["InputName"] == "raw")["S3Input"]
    assert raw["LocalPath"] == "/opt/ml/processing/input/data"
    assert raw["S3DownloadMode"] == "StartOfJob"
    assert raw["S3DataDistributionType"] == "FullyReplicated"
    assert config["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert config["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert config["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert seen["resources"]["current_host"] == "algo-1"
    assert seen["resources"]["hosts"] == ["algo-1"]
    assert session.read_artifact(f"{bucket}/{job}/output/report/deep/x.txt") == b"deep"

    listed = session.client.list_processing_jobs(name_contains=job)
    assert [s["ProcessingJobName"] for s in listed] == [job]
    assert listed[0]["ProcessingJobStatus"] == "Completed"
    # A processing job is not a training job.
    assert job not in [j["TrainingJobName"] for j in session.client.list_training_jobs(name_contains=job)]
