"""The AWS wire's cost: the same calls through boto3 and through Kiln's own SDK, side by side.

Starts a Kiln server with an API token (so every AWS request is signature-checked, as in production),
makes an access key, trains a tiny job and deploys it (a JSON model, no framework), then times, in
alternating slices so other load on the machine falls on both alike:

* DescribeTrainingJob: ``boto3.client("sagemaker").describe_training_job`` against
  ``kiln.Session().describe_training_job`` (``GET /api/v1/training-jobs/{name}``);
* InvokeEndpoint: ``boto3.client("sagemaker-runtime").invoke_endpoint`` against Kiln's client
  (``POST /endpoints/{name}/invocations`` with a bearer token), a 2-number JSON body.

Prints, for each: the median wall-clock milliseconds per call (end to end, boto3's own request
building, signing and parsing included, as its users pay them), and the CPU milliseconds per call
spent by the client and by the server process (robust where wall-clock figures are not, on a machine
other programs load). The target (GitHub issue 11): the wire path costs at most 1.5 ms more per call;
the verdict is on wall-clock time, and the server-CPU difference is the wire's own share of it.

    python benchmarks/wire.py [--calls 300] [--slices 6]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

TARGET_EXTRA_MS = 1.5
TOKEN = "benchmark-token"
TRAIN = """
import json, os
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"factor": 2.0}, f)
"""
INFERENCE = """
import json, os
def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)
def predict_fn(data, model):
    return [float(x) * model["factor"] for x in data]
"""


def _start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "KILN_HOME": str(home), "KILN_API_TOKEN": TOKEN}
    env.pop("KILN_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiln.server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    record = home / "server.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if record.exists():
            url = str(json.loads(record.read_text())["url"])
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the Kiln server did not start")


def _sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("train.py", TRAIN), ("inference.py", INFERENCE)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _prepare(url: str, sm: Any) -> tuple[str, str]:
    """A completed training job and an InService endpoint serving its model (through the wire)."""
    import kiln

    session = kiln.Session(url, token=TOKEN)
    source = session.upload_bytes(_sourcedir(), f"{session.bucket_uri()}/bench-wire/sourcedir.tar.gz")
    name = "bench-wire"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::000000000000:role/Bench",
        OutputDataConfig={"S3OutputPath": f"{session.bucket_uri()}/bench-wire/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(source)},
    )
    fast = {"Delay": 1, "MaxAttempts": 300}
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=fast)
    artifacts = sm.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
            "ModelDataUrl": artifacts,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source},
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=fast)
    session.close()
    return name, name


@dataclass
class Tally:
    wall_ms: list[float] = field(default_factory=list)
    client_cpu_ms: float = 0.0
    server_cpu_ms: float = 0.0
    calls: int = 0

    def add(self, call: Callable[[], Any], calls: int, server: psutil.Process) -> None:
        call()  # warm: connection, caches
        cpu, served = time.process_time(), sum(server.cpu_times()[:2])
        for _ in range(calls):
            began = time.perf_counter()
            call()
            self.wall_ms.append((time.perf_counter() - began) * 1000)
        self.client_cpu_ms += (time.process_time() - cpu) * 1000
        self.server_cpu_ms += (sum(server.cpu_times()[:2]) - served) * 1000
        self.calls += calls

    def line(self) -> str:
        return (
            f"{statistics.median(self.wall_ms):7.3f} ms (CPU: client {self.client_cpu_ms / self.calls:6.3f}, "
            f"server {self.server_cpu_ms / self.calls:6.3f})"
        )


def _presigned(
    url: str, key: dict[str, str], method: str, path: str, body: bytes, headers: dict[str, str]
) -> Callable[[], Any]:
    """The wire request without boto3: signed beforehand by botocore, sent by httpx (as Kiln's SDK
    sends its own), so the server's share of the difference shows apart from boto3's."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    http = httpx.Client(base_url=url)
    signer = SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "sagemaker", "us-east-1")
    prepared: list[tuple[dict[str, str], bytes]] = []

    def call() -> Any:
        if not prepared:  # signatures stay valid for 15 minutes; signing is boto3's cost, not the wire's
            for _ in range(64):
                request = AWSRequest(method, f"{url}{path}", data=body, headers=headers)
                signer.add_auth(request)
                ready = request.prepare()
                prepared.append((dict(ready.headers), ready.body or b""))
        signed_headers, content = prepared.pop()
        answer = http.request(method, path, headers=signed_headers, content=content)
        answer.raise_for_status()
        return answer.content

    return call


def _compare(
    label: str,
    wire: Callable[[], Any],
    kiln: Callable[[], Any],
    calls: int,
    slices: int,
    server: psutil.Process,
    raw_wire: Callable[[], Any],
) -> bool:
    through_wire, through_kiln, through_raw = Tally(), Tally(), Tally()
    for _ in range(slices):  # alternate, so load from other programs falls on all alike
        through_wire.add(wire, calls // slices, server)
        through_kiln.add(kiln, calls // slices, server)
        through_raw.add(raw_wire, calls // slices, server)
    extra = statistics.median(through_wire.wall_ms) - statistics.median(through_kiln.wall_ms)
    server_extra = (through_wire.server_cpu_ms / through_wire.calls) - (
        through_kiln.server_cpu_ms / through_kiln.calls
    )
    verdict = "OK" if extra <= TARGET_EXTRA_MS else "OVER"
    print(
        f"{label}\n  boto3 (wire)  {through_wire.line()}\n  Kiln SDK      {through_kiln.line()}\n"
        f"  httpx (wire, signed beforehand) {through_raw.line()}\n"
        f"  difference    {extra:+7.3f} ms wall (target ≤ +{TARGET_EXTRA_MS} ms: {verdict}), "
        f"{server_extra:+7.3f} ms server CPU",
        flush=True,
    )
    return extra <= TARGET_EXTRA_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per path and operation")
    parser.add_argument("--slices", type=int, default=6, help="alternating slices per comparison")
    args = parser.parse_args()

    import boto3

    from kiln.sdk.client import KilnClient

    with tempfile.TemporaryDirectory(prefix="kiln-bench-wire-") as tmp:
        process, url = _start_server(Path(tmp))
        try:
            key = httpx.post(
                f"{url}/api/v1/access-keys",
                json={"Name": "bench"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).json()
            aws = boto3.Session(
                aws_access_key_id=key["AccessKeyId"],
                aws_secret_access_key=key["SecretAccessKey"],
                region_name="us-east-1",
            )
            sm = aws.client("sagemaker", endpoint_url=url)
            runtime = aws.client("sagemaker-runtime", endpoint_url=url)
            job, endpoint = _prepare(url, sm)
            kiln = KilnClient(url, token=TOKEN)
            body = json.dumps([1.0, 2.5]).encode()
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            server = psutil.Process(process.pid)
            print(
                f"Kiln server {url}, auth on (every boto3 request signature-checked); {args.calls} calls each"
            )
            ok = _compare(
                "DescribeTrainingJob",
                lambda: sm.describe_training_job(TrainingJobName=job),
                lambda: kiln.describe_training_job(job),
                args.calls,
                args.slices,
                server,
                _presigned(
                    url,
                    key,
                    "POST",
                    "/",
                    json.dumps({"TrainingJobName": job}).encode(),
                    {
                        "X-Amz-Target": "SageMaker.DescribeTrainingJob",
                        "Content-Type": "application/x-amz-json-1.1",
                    },
                ),
            )
            ok &= _compare(
                "InvokeEndpoint",
                lambda: runtime.invoke_endpoint(EndpointName=endpoint, Body=body, **_aws_headers())[
                    "Body"
                ].read(),
                lambda: kiln.invoke_endpoint(endpoint, body, headers).content,
                args.calls,
                args.slices,
                server,
                _presigned(url, key, "POST", f"/endpoints/{endpoint}/invocations", body, headers),
            )
            sm.delete_endpoint(EndpointName=endpoint)
            kiln.close()
            print("within target" if ok else "over target")
        finally:
            process.terminate()
            process.wait(timeout=30)


def _aws_headers() -> dict[str, str]:
    return {"ContentType": "application/json", "Accept": "application/json"}


if __name__ == "__main__":
    main()
