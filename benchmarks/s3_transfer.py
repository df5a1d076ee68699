"""boto3's transfer manager through Kiln's S3 against Kiln's own artifact API, on one large file.

Starts a Kiln server on loopback with a temporary home, writes a sparse file (a marker every MiB),
then times ``upload_file`` / ``download_file`` (8 MiB parts, 4 threads, as the SageMaker SDK uses
them) and the same bytes through ``PUT /api/v1/artifacts`` and ``GET /api/v1/artifacts/content``,
and prints MiB/s side by side. Both paths end in the same store; the downloads are hash-checked.

    python benchmarks/s3_transfer.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx
from boto3.s3.transfer import TransferConfig

MIB = 1 << 20


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "KILN_HOME": str(home)}
    env.pop("KILN_URL", None)
    env.pop("KILN_API_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiln.server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    record = home / "server.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if record.exists():
            url = json.loads(record.read_text())["url"]
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the Kiln server did not start within 60 s")


def sparse_file(path: Path, size: int) -> str:
    with path.open("wb") as out:
        out.truncate(size)
        for offset in range(0, size, MIB):
            out.seek(offset)
            out.write(f"<MiB {offset // MIB:06d}>".encode())
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        process, url = start_server(work / "home")
        try:
            source = work / "large.bin"
            expected = sparse_file(source, size)
            s3 = boto3.client(
                "s3",
                endpoint_url=url,
                aws_access_key_id="x",
                aws_secret_access_key="y",
                region_name="us-east-1",
            )
            config = TransferConfig(
                multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
            )
            s3_up = timed(lambda: s3.upload_file(str(source), "kiln", "bench/s3.bin", Config=config))
            s3_down = timed(
                lambda: s3.download_file("kiln", "bench/s3.bin", str(work / "s3.out"), Config=config)
            )
            assert sha256_of(work / "s3.out") == expected, "S3 download differs from the upload"
            (work / "s3.out").unlink()

            uri = (
                json.loads(httpx.get(f"{url}/api/v1/artifacts/default-bucket").text)["Uri"] + "/bench/api.bin"
            )
            with httpx.Client(base_url=url, timeout=600) as client:

                def api_upload() -> None:
                    with source.open("rb") as stream:
                        client.put(
                            "/api/v1/artifacts", params={"uri": uri}, content=stream
                        ).raise_for_status()

                def api_download() -> None:
                    request = client.stream("GET", "/api/v1/artifacts/content", params={"uri": uri})
                    with request as answer, (work / "api.out").open("wb") as out:
                        for block in answer.iter_bytes(MIB):
                            out.write(block)

                api_up = timed(api_upload)
                api_down = timed(api_download)
            assert sha256_of(work / "api.out") == expected, "API download differs from the upload"
        finally:
            process.terminate()
            process.wait(30)
    load = os.getloadavg()[0]
    print(f"{args.size_mib} MiB, {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"{'':>28} {'upload MiB/s':>14} {'download MiB/s':>16}")
    print(
        f"{'S3 (boto3 transfer manager)':>28} {args.size_mib / s3_up:>14.0f} {args.size_mib / s3_down:>16.0f}"
    )
    print(
        f"{'Kiln artifact API (httpx)':>28} {args.size_mib / api_up:>14.0f} {args.size_mib / api_down:>16.0f}"
    )


if __name__ == "__main__":
    main()
