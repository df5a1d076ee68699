"""TF Serving's REST predict API on loopback, for the container's ``handler(data, context)``.

A ``handler`` posts the request itself to ``context.rest_uri`` (TF Serving's
``/v1/models/<name>[/versions/<n>]:predict``) and shapes the answer. Kiln runs no TF Serving binary,
so each instance that loads such a handler also serves that one API on a free loopback port, answered
in process by the same SavedModels: ``POST …:predict`` with a TF Serving JSON body, and ``GET
/v1/models/<name>`` (the model status the container's ping reads). The handler runs on the model's
worker thread and waits for its own call, so this server answers on threads of its own.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kiln.errors import KilnError
from kiln.runtime.serving.adapters.tensorflow import SavedModels, tfs_json
from kiln.runtime.serving.adapters.tensorflow_requests import parse_tfs_body

__all__ = ["TfsRestServer"]

_PREDICT = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:(?P<method>\w+)$")
_STATUS = re.compile(r"^/v1/models/(?P<name>[^/:]+)$")


class TfsRestServer:
    """TF Serving's REST API for ``models``, on ``127.0.0.1:<port>`` in daemon threads."""

    def __init__(self, models: SavedModels, run: Any) -> None:
        self._models = models
        self._run = run  # TfsRequest -> TfsResult, the adapter's predictor
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = server.predict(self.path, self.rfile.read(length))
                self._answer(status, body)

            def do_GET(self) -> None:
                status, body = server.status(self.path)
                self._answer(status, body)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the instance's own log records requests; these are the handler's sub-calls

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        threading.Thread(target=self._http.serve_forever, name="kiln-tfs-rest", daemon=True).start()

    def uri(self, name: str, version: str | None, method: str) -> str:
        path = f"/v1/models/{name}" + (f"/versions/{version}" if version else "") + f":{method}"
        return f"http://127.0.0.1:{self.port}{path}"

    def predict(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = _PREDICT.match(path)
        if match is None:
            return 404, {"error": f"Malformed request: POST {path}"}
        attributes = {"tfs-model-name": match["name"], "tfs-method": match["method"]}
        if match["version"]:
            attributes["tfs-model-version"] = match["version"]
        try:
            result = self._run(parse_tfs_body(body, attributes))
        except KilnError as e:  # TF Serving's answer to a bad request: its status and {"error": …}
            return e.http_status, {"error": str(e)}
        except Exception as e:  # the boundary: a failing model answers this call, not the process
            return 500, {"error": f"{type(e).__name__}: {e}"}
        return 200, tfs_json(result)

    def status(self, path: str) -> tuple[int, dict[str, Any]]:
        match = _STATUS.match(path)
        if match is None or match["name"] not in self._models.names():
            return 404, {"error": f"Servable not found for request: {path}"}
        return 200, {"model_version_status": [{"state": "AVAILABLE", "status": {"error_code": "OK"}}]}
