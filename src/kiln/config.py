"""Settings, read from ``KILN_*`` environment variables (and the operator's config file) in this module only.

``kiln server`` flags override them. The defaults serve one machine: everything lives under
``KILN_HOME`` (``~/.kiln``), the server listens on 127.0.0.1 on a free port. The server also reads
``$KILN_HOME/config.toml`` (or ``KILN_CONFIG`` / ``kiln server start --config``) for capacity settings:
operator-defined instance types, account limits, strict mode and the oversubscription factor.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiln.errors import ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["CapacitySettings", "Settings", "load_allowed_roots", "load_capacity_settings", "load_settings"]

DEFAULT_STOP_GRACE_SECONDS = 120.0  # SageMaker's StopTrainingJob waits 120 s before SIGKILL
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 30.0  # a host silent this long after its process vanished is failed
# How long the SDK and CLI keep retrying a call while the server does not answer: long enough for
# `kiln server start --daemon` after a crash (migrations, restoring endpoints), short enough that a
# client of a server that is gone for good gives up within a minute.
DEFAULT_CLIENT_RETRY_SECONDS = 60.0
# The AWS account the wire answers as (ARNs, STS GetCallerIdentity, the SDK's default bucket name):
# twelve digits like any AWS account id; all zeros so it can never be a real one.
DEFAULT_AWS_ACCOUNT_ID = "000000000000"

DEFAULT_ENDPOINT_METRICS_RETENTION_SECONDS = 15 * 86400.0  # CloudWatch keeps one-minute data 15 days

DEFAULT_MAX_ARCHIVE_BYTES = 64 << 30  # 64 GiB: larger than any model SageMaker serves from one archive
DEFAULT_MAX_ARCHIVE_RATIO = 200.0  # weights compress ~1.1x, code ~10x, a gzip bomb of zeros ~1000x


@dataclass(frozen=True)
class Settings:
    home: Path
    url: str | None = None  # KILN_URL: a server to talk to instead of the embedded one
    database_url: str = ""
    artifact_url: str = ""
    api_token: str | None = None
    api_token_sha256: str | None = None  # what the server keeps instead of api_token once it has read it
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port, recorded in server.json
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
    heartbeat_timeout_seconds: float = DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
    extra: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None  # KILN_CONFIG or --config; None: $KILN_HOME/config.toml if present
    client_retry_seconds: float = DEFAULT_CLIENT_RETRY_SECONDS  # KILN_CLIENT_RETRY_SECONDS
    aws_account_id: str = DEFAULT_AWS_ACCOUNT_ID  # KILN_AWS_ACCOUNT_ID: the AWS wire's account id
    endpoint_metrics: bool = True  # KILN_ENDPOINT_METRICS=0 turns the invocation counters off
    endpoint_metrics_retention_seconds: float = DEFAULT_ENDPOINT_METRICS_RETENTION_SECONDS
    # Archives users hand in (model.tar.gz, sourcedir.tar.gz) may expand to at most this many bytes,
    # and to at most this many times their own size (past 256 MiB): gzip bombs are refused unwritten.
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    max_archive_ratio: float = DEFAULT_MAX_ARCHIVE_RATIO
    # What runs the work (KILN_EXECUTOR, --executor): "local" (this machine) or "ray" (a Ray cluster
    # at KILN_RAY_ADDRESS / --ray-address; "auto": the cluster this machine has joined).
    executor: str = "local"
    ray_address: str = ""
    ray_placement_strategy: str = "auto"  # KILN_RAY_PLACEMENT_STRATEGY: auto, STRICT_SPREAD, PACK, …
    ray_placement_timeout_seconds: float = 10.0  # KILN_RAY_PLACEMENT_TIMEOUT_SECONDS
    ray_linger_seconds: float = 300.0  # KILN_RAY_LINGER_SECONDS: an ended unit's actor keeps its log

    @property
    def auth_enabled(self) -> bool:
        """Whether callers must prove who they are: a token is configured (a non-loopback listener
        refuses to start without one). The server keeps only the token's hash once it has read it."""
        return bool(self.api_token or self.api_token_sha256)

    @property
    def server_record_path(self) -> Path:
        return self.home / "server.json"

    @property
    def server_address_path(self) -> Path:
        """The address the server last listened on; kept after it stops so a restart reuses it."""
        return self.home / "server-address.json"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    @property
    def access_key_file(self) -> Path:
        """The server key that encrypts the AWS wire's access-key secrets (mode 0600)."""
        return self.home / "access-keys.key"

    @property
    def config_file(self) -> Path:
        return self.config_path or self.home / "config.toml"

    def with_overrides(self, **changes: object) -> Settings:
        present = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **present)  # type: ignore[arg-type]


def _float_env(name: str, default: float, unit: str = "seconds") -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of {unit}; set it to e.g. {default:g}") from None


def _api_token() -> str | None:
    """KILN_API_TOKEN, else the first line of the file KILN_API_TOKEN_FILE names (keep it 0600)."""
    token = (os.environ.get("KILN_API_TOKEN") or "").strip()
    path = os.environ.get("KILN_API_TOKEN_FILE")
    if not token and path:
        try:
            token = Path(path).expanduser().read_text().strip()
        except OSError as e:
            raise ValidationError(f"KILN_API_TOKEN_FILE={path!r} cannot be read: {e}") from e
    return token or None


def _account_id_env() -> str:
    raw = os.environ.get("KILN_AWS_ACCOUNT_ID") or DEFAULT_AWS_ACCOUNT_ID
    if len(raw) != 12 or not raw.isdigit():
        raise ValueError(f"KILN_AWS_ACCOUNT_ID={raw!r} must be 12 digits, like an AWS account id")
    return raw


def _retention_seconds() -> float:
    raw = os.environ.get("KILN_ENDPOINT_METRICS_RETENTION_DAYS") or ""
    if not raw:
        return DEFAULT_ENDPOINT_METRICS_RETENTION_SECONDS
    try:
        days = float(raw)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days <= 0:
        raise ValueError(
            f"KILN_ENDPOINT_METRICS_RETENTION_DAYS={raw!r} is not a number of days > 0; set it to e.g. 15"
        )
    return days * 86400.0


def load_settings() -> Settings:
    home = Path(os.environ.get("KILN_HOME") or Path.home() / ".kiln").expanduser().resolve()
    return Settings(
        home=home,
        url=os.environ.get("KILN_URL") or None,
        database_url=os.environ.get("KILN_DATABASE_URL") or f"sqlite:///{home / 'kiln.db'}",
        artifact_url=os.environ.get("KILN_ARTIFACT_URL") or (home / "artifacts").as_uri(),
        api_token=_api_token(),
        host=os.environ.get("KILN_HOST") or "127.0.0.1",
        port=int(os.environ.get("KILN_PORT") or 0),
        stop_grace_seconds=_float_env("KILN_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE_SECONDS),
        heartbeat_timeout_seconds=_float_env(
            "KILN_HEARTBEAT_TIMEOUT_SECONDS", DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
        ),
        config_path=Path(os.environ["KILN_CONFIG"]).expanduser().resolve()
        if os.environ.get("KILN_CONFIG")
        else None,
        client_retry_seconds=_float_env("KILN_CLIENT_RETRY_SECONDS", DEFAULT_CLIENT_RETRY_SECONDS),
        aws_account_id=_account_id_env(),
        endpoint_metrics=_flag("KILN_ENDPOINT_METRICS", os.environ.get("KILN_ENDPOINT_METRICS", "1")),
        endpoint_metrics_retention_seconds=_retention_seconds(),
        max_archive_bytes=int(_float_env("KILN_MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES, "bytes")),
        max_archive_ratio=_float_env("KILN_MAX_ARCHIVE_RATIO", DEFAULT_MAX_ARCHIVE_RATIO, "times"),
        executor=os.environ.get("KILN_EXECUTOR") or "local",
        ray_address=os.environ.get("KILN_RAY_ADDRESS") or "",
        ray_placement_strategy=os.environ.get("KILN_RAY_PLACEMENT_STRATEGY") or "auto",
        ray_placement_timeout_seconds=_float_env("KILN_RAY_PLACEMENT_TIMEOUT_SECONDS", 10.0),
        ray_linger_seconds=_float_env("KILN_RAY_LINGER_SECONDS", 300.0),
    )


# -- capacity settings (the server's scheduler) -----------------------------------------------------

DEFAULT_OVERSUBSCRIPTION = 1.0  # never promise more cores than exist
INSTANCE_TYPE_FIELDS = {"vcpus": int, "memory_gib": float, "gpus": int, "price_per_hour": float}
NODE_RESOURCES_FIELD = "node_resources"  # an operator type's Ray custom resources: name → amount per unit
RAY_BUILTIN_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")  # not custom: Ray sizes them itself
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class CapacitySettings:
    """What the operator says about capacity. Meaning (catalog, limits) is the scheduler's business."""

    source: str = "Kiln's defaults"  # where these came from, for messages: the config file's path
    strict_instance_types: bool = False
    oversubscription: float = DEFAULT_OVERSUBSCRIPTION
    # Operator-defined types: name → {"vcpus": int, "memory_gib": float, "gpus": int, "price_per_hour": float}
    instance_types: dict[str, dict[str, float]] = field(default_factory=dict)
    # Account limits: use ("training", "endpoint", "tuning") → instance type (or "*") → instances
    limits: dict[str, dict[str, int]] = field(default_factory=dict)
    # Operator-defined types' Ray custom resources: type name → {resource: amount each unit asks for}
    node_resources: dict[str, dict[str, float]] = field(default_factory=dict)


def _config_error(source: str, where: str, problem: str) -> ValidationError:
    return ValidationError(f"config file {source}: {where} {problem}")


def _number(source: str, where: str, value: Any, kind: type, minimum: float) -> float:
    whole = kind is int
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (whole and not isinstance(value, int))
    ):
        what = "a whole number" if whole else "a number"
        raise _config_error(source, where, f"must be {what} ≥ {minimum:g}, not {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise _config_error(source, where, f"must be ≥ {minimum:g}, not {value!r}")
    return value


def _table(source: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _config_error(source, where, f"must be a table ([{where}]), not {value!r}")
    return value


def _instance_types(source: str, raw: Any) -> dict[str, dict[str, float]]:
    types: dict[str, dict[str, float]] = {}
    for name, fields in _table(source, "instance_types", raw).items():
        where = f"instance_types.{name!r}"
        fields = _table(source, where, fields)
        unknown = sorted(set(fields) - {*INSTANCE_TYPE_FIELDS, NODE_RESOURCES_FIELD})
        if unknown:
            known = ", ".join([*INSTANCE_TYPE_FIELDS, NODE_RESOURCES_FIELD])
            raise _config_error(source, where, f"has unknown keys {unknown}; use {known}")
        if "vcpus" not in fields:
            raise _config_error(source, where, "needs vcpus = <number of vCPUs>")
        types[name] = {
            key: _number(source, f"{where}.{key}", fields.get(key, 0), kind, 1 if key == "vcpus" else 0)
            for key, kind in INSTANCE_TYPE_FIELDS.items()
        }
    return types


def _node_resources(source: str, raw: Any) -> dict[str, dict[str, float]]:
    """Each operator type's ``node_resources``: Ray custom resource names → amounts > 0 per unit."""
    found: dict[str, dict[str, float]] = {}
    for name, fields in _table(source, "instance_types", raw).items():
        where = f"instance_types.{name!r}.{NODE_RESOURCES_FIELD}"
        table = _table(source, where, fields.get(NODE_RESOURCES_FIELD, {}))  # fields: checked a table already
        resources: dict[str, float] = {}
        for key, amount in table.items():
            if not key.strip():  # TOML keys are strings already; an empty one names no resource
                raise _config_error(
                    source, where, 'has an empty resource name; use e.g. { "kiln-gpu-box" = 1 }'
                )
            if key in RAY_BUILTIN_RESOURCES:
                raise _config_error(
                    source,
                    f"{where}.{key!r}",
                    "is one of Ray's own resources; vcpus, memory_gib and gpus set those",
                )
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 < amount < math.inf:
                raise _config_error(
                    source,
                    f"{where}.{key!r}",
                    f"must be a number > 0 (what each instance takes), not {amount!r}",
                )
            resources[key] = float(amount)
        if resources:
            found[name] = resources
    return found


def _limits(source: str, raw: Any) -> dict[str, dict[str, int]]:
    limits: dict[str, dict[str, int]] = {}
    for use, table in _table(source, "limits", raw).items():
        entries = _table(source, f"limits.{use}", table)
        limits[use] = {
            name: int(_number(source, f"limits.{use}.{name!r}", count, int, 0))
            for name, count in entries.items()
        }
    return limits


def _flag(name: str, raw: str) -> bool:
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValidationError(f"{name}={raw!r} must be 1 or 0 (true or false)")


def load_capacity_settings(settings: Settings) -> CapacitySettings:
    """The operator's capacity settings: the config file (if any), then KILN_* variables over it."""
    path = settings.config_file
    data: dict[str, Any] = {}
    source = CapacitySettings.source
    if path.exists() or settings.config_path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ValidationError(
                f"config file {path} does not exist; fix KILN_CONFIG / --config or create it"
            ) from None
        except (OSError, UnicodeDecodeError) as e:
            raise ValidationError(f"config file {path} cannot be read: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise ValidationError(f"config file {path} is not valid TOML: {e}") from e
    strict = data.get("strict_instance_types", False)
    if not isinstance(strict, bool):
        raise _config_error(source, "strict_instance_types", f"must be true or false, not {strict!r}")
    factor = data.get("oversubscription", DEFAULT_OVERSUBSCRIPTION)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
        raise _config_error(
            source, "oversubscription", f"must be a number > 0 (1.0: each CPU promised once), not {factor!r}"
        )
    factor = float(factor)
    if os.environ.get("KILN_STRICT_INSTANCE_TYPES") is not None:
        strict = _flag("KILN_STRICT_INSTANCE_TYPES", os.environ["KILN_STRICT_INSTANCE_TYPES"])
    factor_env = os.environ.get("KILN_OVERSUBSCRIPTION")
    if factor_env:
        try:
            factor = float(factor_env)
        except ValueError:
            factor = -1.0
        if not math.isfinite(factor) or factor <= 0:
            raise ValidationError(
                f"KILN_OVERSUBSCRIPTION={factor_env!r} must be a number > 0 (1.0: one job per core)"
            )
    return CapacitySettings(
        source=source,
        strict_instance_types=strict,
        oversubscription=factor,
        instance_types=_instance_types(source, data.get("instance_types", {})),
        limits=_limits(source, data.get("limits", {})),
        node_resources=_node_resources(source, data.get("instance_types", {})),
    )


# -- allowed roots (what file:// URIs a request may name) ---------------------------------------------


def load_allowed_roots(settings: Settings) -> tuple[Path, ...]:
    """Server folders, besides the artifact store, that requests may name with ``file://`` URIs:
    ``allowed_roots = ["/data/shared", …]`` in the config file, then ``KILN_ALLOWED_ROOTS``
    (separated by ``:``). None by default: a request reaches only the store."""
    path = settings.config_file
    raw: Any = []
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text()).get("allowed_roots", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ValidationError(f"config file {path} cannot be read: {e}") from e
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise _config_error(
            str(path), "allowed_roots", f'must be a list of folders, e.g. ["/data"], not {raw!r}'
        )
    roots = [*raw, *filter(None, os.environ.get("KILN_ALLOWED_ROOTS", "").split(os.pathsep))]
    for root in roots:
        if not os.path.isabs(os.path.expanduser(root)) or os.path.realpath(os.path.expanduser(root)) == "/":
            raise ValidationError(
                f"allowed root {root!r} must be an absolute folder other than '/' "
                "(config.toml allowed_roots or KILN_ALLOWED_ROOTS)"
            )
    return tuple(Path(os.path.expanduser(root)).resolve() for root in roots)


# -- what an executor tells the work process it started ---------------------------------------------

__all__ += ["RESULT_FILE_VARIABLE", "result_file"]

RESULT_FILE_VARIABLE = "KILN_RESULT_FILE"  # where the executor reads the unit's result back from


def result_file() -> Path | None:
    """Where this work process leaves its result for its executor; None when it was not told."""
    value = os.environ.get(RESULT_FILE_VARIABLE)
    return Path(value) if value else None
