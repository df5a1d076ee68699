"""Settings, read from ``KILN_*`` environment variables in this module only.

``kiln server`` flags override them. The defaults serve one machine: everything lives under
``KILN_HOME`` (``~/.kiln``), the server listens on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Settings", "load_settings"]

DEFAULT_STOP_GRACE_SECONDS = 120.0  # SageMaker's StopTrainingJob waits 120 s before SIGKILL
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 30.0  # a host silent this long after its process vanished is failed


@dataclass(frozen=True)
class Settings:
    home: Path
    url: str | None = None  # KILN_URL: a server to talk to instead of the embedded one
    database_url: str = ""
    artifact_url: str = ""
    api_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port, recorded in server.json
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
    heartbeat_timeout_seconds: float = DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def server_record_path(self) -> Path:
        return self.home / "server.json"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    def with_overrides(self, **changes: object) -> Settings:
        present = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **present)  # type: ignore[arg-type]


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds; set it to e.g. 120") from None


def load_settings() -> Settings:
    home = Path(os.environ.get("KILN_HOME") or Path.home() / ".kiln").expanduser().resolve()
    return Settings(
        home=home,
        url=os.environ.get("KILN_URL") or None,
        database_url=os.environ.get("KILN_DATABASE_URL") or f"sqlite:///{home / 'kiln.db'}",
        artifact_url=os.environ.get("KILN_ARTIFACT_URL") or (home / "artifacts").as_uri(),
        api_token=os.environ.get("KILN_API_TOKEN") or None,
        host=os.environ.get("KILN_HOST") or "127.0.0.1",
        port=int(os.environ.get("KILN_PORT") or 0),
        stop_grace_seconds=_float_env("KILN_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE_SECONDS),
        heartbeat_timeout_seconds=_float_env(
            "KILN_HEARTBEAT_TIMEOUT_SECONDS", DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
        ),
    )
