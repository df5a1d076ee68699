"""``python -m kiln.runtime.serving``: one endpoint instance, from model directory to listening socket.

Contract with the supervisor that starts it:

* stdout gets ``KILN_SERVING_READY port=<port>`` once ``GET /ping`` answers 200 (with ``--port 0``
  that is how the supervisor learns the port); with ``--ipc-listen`` the line ends
  `` ipc_port=<port>``, the TCP port of the server's private channel, picked on this node;
* ``--ipc-secret-file`` names a file holding the secret the channel's TCP hello must carry: read
  once and deleted at start, so no other process of the node finds it later;
* if the model cannot be served (bad archive, misdefined handlers, ``model_fn`` raising, a bad
  setting) stdout gets ``KILN_SERVING_FAILED <one-line reason>``, stderr the whole error with its
  traceback, and the process exits with status 3; the reason becomes the endpoint's FailureReason;
* SIGTERM or SIGINT stops it gracefully: requests in flight are answered first.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kiln.artifacts import resolve_store
from kiln.artifacts.archives import ArchiveLimits
from kiln.config import load_allowed_roots, load_settings
from kiln.errors import KilnError
from kiln.hardening import make_undumpable
from kiln.runtime.serving.app import InferenceApp
from kiln.runtime.serving.batching import Batcher
from kiln.runtime.serving.handlers import HandlerChain, load_handler_chain
from kiln.runtime.serving.invocation import user_traceback
from kiln.runtime.serving.ipc_server import serve_ipc, serve_ipc_tcp
from kiln.runtime.serving.model_archive import unpack_model_archive
from kiln.runtime.serving.model_folder import ModelNotServable, prepare_model_folder
from kiln.runtime.serving.settings import ServingSettings

__all__ = ["EXIT_MODEL_FAILED", "main"]

EXIT_MODEL_FAILED = 3  # the supervisor turns this status into a Failed endpoint with the printed reason
READY_LINE = "KILN_SERVING_READY"
FAILED_LINE = "KILN_SERVING_FAILED"
_BACKLOG = 2048  # connections the kernel queues while the loop is busy; the proxy opens many at once
_KEEP_ALIVE_SECONDS = 75  # longer than a proxy's idle pool timeout, so the proxy closes first
# How long a thread waiting for the GIL waits before the holder must hand it over (Python's default
# is 5 ms). The model worker needs the GIL back after each forward pass to split and encode the
# answers while the event loop, busy decoding the next requests under load, holds it; with the
# default the model sat idle for up to 5 ms per batch. Measured at concurrency 32: +13-23 % req/s.
_GIL_SWITCH_INTERVAL_SECONDS = 0.0005


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kiln.runtime.serving",
        description="Serve one model over SageMaker's /ping and /invocations.",
    )
    parser.add_argument("--model-dir", type=Path, help="the unpacked model (SageMaker's /opt/ml/model)")
    parser.add_argument(
        "--prepare-model",
        type=Path,
        metavar="MODEL_JSON",
        help="prepare the model on this node first (a JSON file: name, container, artifact_url), as "
        "the Kiln server does on its own: for an instance on another node of a cluster",
    )
    parser.add_argument("--model-data", type=Path, help="a model.tar.gz to unpack into --model-dir first")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default 8080)"
    )
    parser.add_argument(
        "--ipc-socket",
        type=Path,
        help="also answer the Kiln server's framed invocations on this Unix socket (its runtime router)",
    )
    parser.add_argument(
        "--ipc-listen",
        metavar="HOST:PORT",
        help="answer the Kiln server's framed invocations on this TCP address instead (port 0 picks one); "
        "needs --ipc-secret-file",
    )
    parser.add_argument(
        "--ipc-secret-file",
        type=Path,
        help="the secret a TCP connection must present first (the file is deleted once read)",
    )
    args = parser.parse_args(argv)
    if (args.model_dir is None) == (args.prepare_model is None):
        parser.error("give --model-dir (a model prepared already) or --prepare-model (prepare it here)")
    if args.ipc_listen is not None and args.ipc_secret_file is None:
        parser.error("--ipc-listen needs --ipc-secret-file: a TCP channel without a secret serves anyone")
    return args


def _ipc_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ipc-listen {value!r} is not HOST:PORT (e.g. 0.0.0.0:0)")
    return host.strip("[]"), int(port)


def _read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    finally:
        path.unlink(missing_ok=True)
    if not secret:
        raise ValueError(f"the IPC secret file {path} is empty")
    return secret


def _prepare_here(model_file: Path, argv: list[str]) -> Path:
    """The model's folder on this node, prepared by the code the server uses on its own. When the model
    needs its own environment (requirements.txt, a framework version), the instance goes on in that
    environment's Python: this process is replaced, with the prepared folder as ``--model-dir``."""
    wanted = json.loads(model_file.read_text())
    kiln_settings = load_settings()
    store = resolve_store(str(wanted["artifact_url"]), load_allowed_roots(kiln_settings))
    log: list[str] = []
    model_dir, python = prepare_model_folder(
        kiln_settings, store, str(wanted["name"]), wanted.get("container") or {}, log
    )
    for line in log:
        sys.stderr.write(f"{line}\n")
    os.environ["SAGEMAKER_SUBMIT_DIRECTORY"] = str(model_dir / "code")  # where the code lives here
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        rest = _without_option(argv, "--prepare-model")
        sys.stderr.flush()
        os.execv(python, [python, "-m", "kiln.runtime.serving", "--model-dir", str(model_dir), *rest])
    return model_dir


def _without_option(argv: list[str], option: str) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(f"{option}="):
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    make_undumpable()  # the handler code must not read this process's memory through /proc
    sys.setswitchinterval(_GIL_SWITCH_INTERVAL_SECONDS)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    stage = "preparing the model on this node"
    try:
        model_dir: Path = (
            _prepare_here(args.prepare_model, argv) if args.prepare_model is not None else args.model_dir
        ).resolve()
        ipc_secret: bytes | None = None
        if args.ipc_listen is not None:
            # Read (and deleted) before any user code loads: the model's code never finds the file.
            stage = "reading the IPC secret"
            ipc_secret = _read_secret(args.ipc_secret_file)
        stage = "reading the settings"
        settings = ServingSettings.from_env()
        if args.model_data is not None:
            stage = f"unpacking {args.model_data.name}"
            unpack_model_archive(args.model_data, model_dir, ArchiveLimits.from_settings(load_settings()))
        stage = "loading the model"
        batcher = Batcher(lambda: load_handler_chain(model_dir, settings), settings)
        chain = batcher.start()
        stage = f"listening on {args.host}:{args.port}"
        sock = _listen(args.host, args.port)
        ipc: _TcpChannel | None = None
        if args.ipc_listen is not None and ipc_secret is not None:
            stage = f"listening for the Kiln server on {args.ipc_listen}"
            ipc = _TcpChannel(_listen(*_ipc_address(args.ipc_listen)), ipc_secret)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return _report_startup_failure(stage, e)
    logging.getLogger("kiln.runtime.serving").info(
        "Model loaded from %s (%s, %s handlers, batching %s).",
        model_dir,
        chain.source,
        chain.framework,
        "on" if chain.batchable else "off",
    )
    try:
        _serve(chain, batcher, settings, sock, args.ipc_socket, ipc)
    finally:
        batcher.stop()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


@dataclass(frozen=True)
class _TcpChannel:
    """The server's private channel over TCP: its listening socket, and the secret a hello carries."""

    sock: socket.socket
    secret: bytes


def _serve(
    chain: HandlerChain,
    batcher: Batcher,
    settings: ServingSettings,
    sock: socket.socket,
    ipc_socket: Path | None = None,
    ipc_tcp: _TcpChannel | None = None,
) -> None:
    app = InferenceApp(chain, batcher, settings)
    port = sock.getsockname()[1]
    ready = f"{READY_LINE} port={port}"
    if ipc_tcp is not None:
        ready += f" ipc_port={ipc_tcp.sock.getsockname()[1]}"

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and ipc_socket is not None:
                # The same loop serves both faces, so one batcher sees every request.
                self.ipc = await serve_ipc(ipc_socket, chain, batcher, settings, str(chain.model_dir))
            if self.started and ipc_tcp is not None:
                self.ipc_tcp = await serve_ipc_tcp(
                    ipc_tcp.sock, ipc_tcp.secret, chain, batcher, settings, str(chain.model_dir)
                )
            if self.started:
                print(ready, flush=True)

    config = uvicorn.Config(
        app,
        loop="auto",  # uvloop and httptools when installed (uvicorn[standard]), asyncio and h11 otherwise
        http="auto",
        lifespan="off",
        access_log=False,  # a log line per request costs more than the rest of the request path
        proxy_headers=False,  # X-Forwarded-* rewriting is per-request work nothing here reads
        log_level="warning",
        server_header=False,
        backlog=_BACKLOG,
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
    )
    _Server(config).run(sockets=[sock])


def _report_startup_failure(stage: str, error: BaseException) -> int:
    """Print the failure for people (stderr) and the supervisor (stdout); the exit status to use."""
    if isinstance(error, KilnError):
        reason = error.message
    elif isinstance(error, ModelNotServable):
        reason = str(error)  # the reason itself, as the server would have put it
    else:
        reason = f"{type(error).__name__}: {error}{_user_frame(error)}"
    one_line = " ".join(f"Error while {stage}: {reason}".split())
    sys.stderr.write(f"{one_line}\n")
    if not isinstance(error, KilnError) or error.__cause__ is not None:
        sys.stderr.write(user_traceback(error))
    sys.stderr.flush()
    print(f"{FAILED_LINE} {one_line}", flush=True)
    return EXIT_MODEL_FAILED


def _user_frame(error: BaseException) -> str:
    """`` (code/inference.py, line 12)`` for the innermost frame in the user's code, if any."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        parts = Path(frame.filename).parts
        if "code" in parts:
            return f" ({'/'.join(parts[parts.index('code') :])}, line {frame.lineno})"
    return ""


if __name__ == "__main__":
    sys.exit(main())
