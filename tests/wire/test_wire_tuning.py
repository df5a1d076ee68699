"""CreateHyperParameterTuningJob through boto3: trials are Kiln training jobs, answers in SageMaker's shape."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from wire_support import client, training_job_request, upload_code_and_data, use_kiln

from conftest import RunningServer


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return upload_code_and_data(server, tmp_path_factory.mktemp("wire-tuning"))


def test_a_tuning_job_runs_its_trials_and_names_the_best(
    server: RunningServer, uploaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_kiln(monkeypatch, server.url)
    sm = client("sagemaker")
    name = "wire-tuning"
    job = training_job_request("unused", uploaded["source"], uploaded["data"], uploaded["output"], epochs=2)
    del job["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"]  # not in a tuning definition
    job["OutputDataConfig"]["CompressionType"] = "GZIP"  # SDK v3 sends it: accepted, not acted on
    definition = {
        "StaticHyperParameters": job["HyperParameters"],
        **{k: job[k] for k in ("AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig")},
        **{k: job[k] for k in ("ResourceConfig", "StoppingCondition", "EnableNetworkIsolation", "VpcConfig")},
    }
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "train:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "factor", "MinValue": "1", "MaxValue": "5", "ScalingType": "Auto"}
                ],
                "IntegerParameterRanges": [],
                "CategoricalParameterRanges": [],
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        TrainingJobDefinition=definition,
        Tags=[{"Key": "project", "Value": "wire"}],
    )
    deadline = time.monotonic() + 120
    while True:
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] != "InProgress" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    assert described["TrainingJobDefinition"]["VpcConfig"] == job["VpcConfig"]  # accepted, echoed
    best = described["BestTrainingJob"]
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue"
    )["TrainingJobSummaries"]
    assert len(trials) == 2
    assert trials[0]["TrainingJobName"] == best["TrainingJobName"]
    for trial in trials:
        assert 1.0 <= float(trial["TunedHyperParameters"]["factor"]) <= 5.0
        assert trial["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "train:loss"
        assert (
            sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])["TuningJobArn"]
            == described["HyperParameterTuningJobArn"]
        )
    listed = sm.list_hyper_parameter_tuning_jobs(NameContains="wire-tuning")[
        "HyperParameterTuningJobSummaries"
    ]
    assert [s["HyperParameterTuningJobName"] for s in listed] == [name]
    assert sm.list_tags(ResourceArn=described["HyperParameterTuningJobArn"])["Tags"] == [
        {"Key": "project", "Value": "wire"}
    ]
    with pytest.raises(ClientError) as refused:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
