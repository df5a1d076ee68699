"""``kiln server start|stop|status``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import typer

from kiln.cli.output import console, print_json
from kiln.config import load_settings
from kiln.errors import KilnError, ServerUnavailable, ValidationError

app = typer.Typer(help="Run the Kiln server.", no_args_is_help=True)

STOP_WAIT_SECONDS = 15.0


@app.command()
def start(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1; others need a token)."),
    port: int = typer.Option(None, help="Port (default: any free port, recorded in $KILN_HOME/server.json)."),
    token: str = typer.Option(
        None,
        help="API token every call must carry (default KILN_API_TOKEN or KILN_API_TOKEN_FILE; prefer those: "
        "a command line is visible to other users).",
    ),
    daemon: bool = typer.Option(False, "--daemon", help="Run in the background and return once it answers."),
    config: Path = typer.Option(
        None, "--config", help="Capacity settings file (default KILN_CONFIG, else $KILN_HOME/config.toml)."
    ),
    executor: str = typer.Option(
        None, "--executor", help="What runs the work: local (this machine, default) or ray (KILN_EXECUTOR)."
    ),
    ray_address: str = typer.Option(
        None,
        "--ray-address",
        help="The Ray cluster's address, as `ray start --head` prints it (KILN_RAY_ADDRESS).",
    ),
) -> None:
    """Start the server in the foreground (or with --daemon, in the background)."""
    from kiln.sdk.discovery import find_local_server, read_server_record, start_local_server

    config_path = config.expanduser().resolve() if config else None
    settings = load_settings().with_overrides(
        host=host,
        port=port,
        api_token=token,
        config_path=config_path,
        executor=executor,
        ray_address=ray_address,
    )
    if config_path is not None and not config_path.is_file():
        raise ValidationError(
            f"--config {config}: no such file; give the path of a TOML file with Kiln's capacity "
            "settings (instance_types, limits, strict_instance_types, oversubscription)"
        )
    if daemon:
        running = find_local_server(settings)
        if running:
            console.print(f"Kiln server already running at {running}")
            return
        if host:
            os.environ["KILN_HOST"] = host
        if port:
            os.environ["KILN_PORT"] = str(port)
        if token:
            os.environ["KILN_API_TOKEN"] = token
        if config_path:
            os.environ["KILN_CONFIG"] = str(config_path)
        if executor:
            os.environ["KILN_EXECUTOR"] = executor
        if ray_address:
            os.environ["KILN_RAY_ADDRESS"] = ray_address
        url = start_local_server(settings)
        console.print(f"Kiln server started at {url}")
        moved_from = (read_server_record(settings) or {}).get("previous_url")
        if moved_from:  # clients of the old address find the new one through server.json
            typer.echo(f"Note: its previous address {moved_from} was taken by another program.", err=True)
        return
    from kiln.server.process import serve

    serve(settings)


def _is_kiln_server(pid: int) -> bool:
    """Whether ``pid`` runs a Kiln server: a stale record's pid may now belong to another program."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    # `python -m kiln.server` (the background server) or `kiln server start` (the foreground one).
    return any(Path(part).name in ("kiln", "kiln.server") for part in command)


@app.command()
def stop() -> None:
    """Stop the local server recorded in $KILN_HOME/server.json (running jobs keep running)."""
    from kiln.sdk.discovery import read_server_record

    settings = load_settings()
    record = read_server_record(settings)
    if record is None or not _is_kiln_server(int(record.get("pid", 0))):
        settings.server_record_path.unlink(missing_ok=True)
        console.print("No Kiln server is running for this KILN_HOME.")
        return
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        raise ServerUnavailable(f"the Kiln server (pid {pid}) did not stop within {STOP_WAIT_SECONDS:.0f} s")
    if (read_server_record(settings) or {}).get("pid") == pid:
        # A server killed by the signal may leave its record behind; it names no server now.
        settings.server_record_path.unlink(missing_ok=True)
    console.print(f"Stopped the Kiln server (pid {pid}).")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Is a server running for this KILN_HOME, and where."""
    from kiln.sdk.discovery import find_local_server, read_server_record

    settings = load_settings()
    if settings.url:
        # KILN_URL names the server; it runs only if it answers (a set variable proves nothing).
        url, pid, home = _answering(settings.url, settings.api_token)
    else:
        url = find_local_server(settings)
        pid = (read_server_record(settings) or {}).get("pid") if url else None
        home = str(settings.home)
    home = home or str(settings.home)
    state = {"running": url is not None, "url": url, "pid": pid, "home": home}
    if as_json:
        print_json(state)
    elif url:
        console.print(f"Kiln server running at {url} (pid {pid}, home {home})", markup=False, soft_wrap=True)
    else:
        where = f"at KILN_URL={settings.url}" if settings.url else f"for {settings.home}"
        console.print(
            f"No Kiln server is running {where}; `kiln server start` starts one.",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(3)


def _answering(url: str, token: str | None) -> tuple[str | None, int | None, str]:
    """(url, pid, home) of the server at ``url`` if it answers its health check, else (None, None, "")."""
    from kiln.sdk.client import KilnClient

    try:
        with KilnClient(url, token=token) as client:
            health = client.health()
    except KilnError:
        return None, None, ""
    return url, health.get("pid"), str(health.get("home", ""))
