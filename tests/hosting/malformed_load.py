"""A bounded load of malformed invocations against a live endpoint (a robustness check, not a benchmark).

Sends ``count`` requests built to break a model server — wrong content types, truncated and oversized
bodies, deep nesting, 5,000-digit integers, NaN, shapes of 2^28 or [0, 2^62], random bytes — from a
few threads, and sorts the answers: a platform 5xx (any status ≥ 500, or a 424 that did not come from
the user's handler) is a failure; a 424 whose message carries the handler's ``USER_MARK`` is the
user's own 5xx, labelled as such. Then it times valid requests before and after the load.

    python tests/hosting/malformed_load.py http://127.0.0.1:PORT ENDPOINT [--count 2000] [--token T]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np

from kiln.codecs import encode
from kiln.codecs._tensor_proto_schema import TensorProto

USER_MARK = "user-handler:"  # the test model's predict_fn puts this in front of every error it raises
VALID_BODY = b"[[1.0, 2.0, 3.0]]"
PAYLOAD_LIMIT = 6 * 1024 * 1024

Body = tuple[str, bytes, str]  # (kind, body, content type)


def _tensor_proto(shape: list[int], values: list[float]) -> bytes:
    message = TensorProto(dtype=1)
    for size in shape:
        message.tensor_shape.dim.add(size=size)
    message.float_val.extend(values)
    return bytes(message.SerializeToString())


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\x00" * 64


def _npz_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", encode(np.zeros((4096, 4096)), "application/x-npy"))  # 128 MB of zeros
    return buffer.getvalue()


def _makers() -> list[Callable[[random.Random], Body]]:
    valid = {
        "application/json": VALID_BODY,
        "text/csv": b"1.0,2.0,3.0\n",
        "application/x-npy": encode(np.ones((1, 3)), "application/x-npy"),
        "application/x-npz": encode(np.ones((1, 3)), "application/x-npz"),
        "application/x-protobuf": encode(np.ones((1, 3), dtype=np.float32), "application/x-protobuf"),
        "application/jsonlines": b"[1.0, 2.0, 3.0]\n",
    }
    bomb = _npz_bomb()

    def truncated(rng: random.Random) -> Body:
        content_type, body = rng.choice(list(valid.items()))
        return "truncated", body[: rng.randrange(len(body))], content_type

    def damaged(rng: random.Random) -> Body:
        content_type, body = rng.choice(list(valid.items()))
        data = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return "damaged", bytes(data), content_type

    def random_bytes(rng: random.Random) -> Body:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        return "random bytes", body, rng.choice(list(valid))

    def wrong_type(rng: random.Random) -> Body:
        kind = rng.choice(["application/xml", "text/plain", "image/png", "application/octet-stream", "x/y"])
        return "wrong content type", rng.choice(list(valid.values())), kind

    def mismatched_type(rng: random.Random) -> Body:
        (_, body), (content_type, _) = rng.sample(list(valid.items()), 2)
        return "mismatched content type", body, content_type

    def deep(rng: random.Random) -> Body:
        opener = rng.choice([b"[", b'{"a":'])
        return (
            "deep nesting",
            opener * rng.choice([2_000, 100_000]),
            rng.choice(["application/json", "application/jsonlines"]),
        )

    def long_integer(rng: random.Random) -> Body:
        return "5000-digit integer", b"[[" + b"9" * 5000 + b"]]", "application/json"

    def not_a_number(rng: random.Random) -> Body:
        body = rng.choice([b"[[NaN, 1.0, 2.0]]", b"[[Infinity, -Infinity, 1]]", b"[[1e999, 2, 3]]"])
        return "NaN", body, "application/json"

    def huge_shape(rng: random.Random) -> Body:
        body = rng.choice(
            [
                _tensor_proto([2**28], [1.0]),
                _tensor_proto([0, 2**62], []),
                _tensor_proto([2**20, 2**20], [1.0]),
                _npy_header((2**40,)),
                _npy_header((0, 2**62)),
            ]
        )
        content_type = "application/x-npy" if body.startswith(b"\x93NUMPY") else "application/x-protobuf"
        return "huge shape", body, content_type

    def zip_bomb(rng: random.Random) -> Body:
        return "zip bomb", bomb, "application/x-npz"

    def wrong_shape(rng: random.Random) -> Body:
        body = rng.choice([b"[[1, 2], [3]]", b'{"x": 1}', b'["a", "b", "c"]', b"[]", b"null", b"[[[1]]]"])
        return "wrong shape", body, "application/json"

    def empty(rng: random.Random) -> Body:
        return "empty", b"", rng.choice(list(valid))

    return [
        truncated,
        damaged,
        random_bytes,
        wrong_type,
        mismatched_type,
        deep,
        long_integer,
        not_a_number,
        huge_shape,
        zip_bomb,
        wrong_shape,
        empty,
    ]


def _oversized(rng: random.Random) -> Body:
    return "oversized", b"[" + b"1," * (PAYLOAD_LIMIT // 2) + b"1]", "application/json"


@dataclass
class Report:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    platform_5xx: list[str] = field(default_factory=list)
    user_5xx: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    latency_before_ms: float = 0.0
    latency_after_ms: float = 0.0
    seconds: float = 0.0

    def summary(self) -> str:
        statuses = ", ".join(f"{status}×{n}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.sent} malformed invocations in {self.seconds:.1f} s: {statuses}; "
            f"platform 5xx {len(self.platform_5xx)}, user 5xx {self.user_5xx}; valid request p50 "
            f"{self.latency_before_ms:.1f} ms before, {self.latency_after_ms:.1f} ms after"
        )


def _median_latency_ms(client: httpx.Client, path: str, samples: int = 30) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = client.post(path, content=VALID_BODY, headers={"Content-Type": "application/json"})
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise AssertionError(f"a valid request was answered {answer.status_code}: {answer.text[:300]}")
    return statistics.median(times)


def _classify(report: Report, kind: str, answer: httpx.Response) -> None:
    report.statuses[answer.status_code] += 1
    report.by_kind[kind] += 1
    if answer.status_code == 424:
        try:
            original = str(answer.json().get("OriginalMessage", ""))
        except ValueError:
            original = ""
        if USER_MARK in original:
            report.user_5xx += 1
            return
    if answer.status_code >= 500 or answer.status_code == 424:
        report.platform_5xx.append(f"{kind}: {answer.status_code} {answer.text[:300]}")


def run(
    url: str, endpoint: str, *, count: int = 2000, token: str | None = None, seed: int = 0, threads: int = 4
) -> Report:
    """Send ``count`` malformed invocations (about 1 in 200 over 6 MB) and sort the answers."""
    rng = random.Random(seed)
    makers = _makers()
    plan = [_oversized(rng) if i % 200 == 199 else rng.choice(makers)(rng) for i in range(count)]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = f"/endpoints/{endpoint}/invocations"
    report = Report()
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
        report.latency_before_ms = _median_latency_ms(client, path)
        started = time.perf_counter()

        def send(item: Body) -> tuple[str, httpx.Response]:
            kind, body, content_type = item
            return kind, client.post(path, content=body, headers={"Content-Type": content_type})

        with ThreadPoolExecutor(max_workers=threads) as pool:
            for kind, answer in pool.map(send, plan):
                report.sent += 1
                _classify(report, kind, answer)
        report.seconds = time.perf_counter() - started
        report.latency_after_ms = _median_latency_ms(client, path)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("endpoint")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--token")
    args = parser.parse_args()
    report = run(args.url, args.endpoint, count=args.count, token=args.token)
    print(report.summary())
    for failure in report.platform_5xx[:20]:
        print("platform 5xx:", failure)
    return 1 if report.platform_5xx else 0


if __name__ == "__main__":
    sys.exit(main())
