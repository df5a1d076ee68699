"""``kiln server start|stop|status``."""

from __future__ import annotations

import os
import signal
import time

import psutil
import typer

from kiln.cli.output import console, print_json
from kiln.config import load_settings
from kiln.errors import ServerUnavailable

app = typer.Typer(help="Run the Kiln server.", no_args_is_help=True)

STOP_WAIT_SECONDS = 15.0


@app.command()
def start(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1; others need a token)."),
    port: int = typer.Option(None, help="Port (default: any free port, recorded in $KILN_HOME/server.json)."),
    token: str = typer.Option(None, help="API token every call must carry (default KILN_API_TOKEN)."),
    daemon: bool = typer.Option(False, "--daemon", help="Run in the background and return once it answers."),
) -> None:
    """Start the server in the foreground (or with --daemon, in the background)."""
    from kiln.sdk.discovery import find_local_server, start_local_server

    settings = load_settings().with_overrides(host=host, port=port, api_token=token)
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
        url = start_local_server(settings)
        console.print(f"Kiln server started at {url}")
        return
    from kiln.server.process import serve

    serve(settings)


@app.command()
def stop() -> None:
    """Stop the local server recorded in $KILN_HOME/server.json (running jobs keep running)."""
    from kiln.server.process import read_server_record

    settings = load_settings()
    record = read_server_record(settings)
    if record is None or not psutil.pid_exists(int(record["pid"])):
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
    console.print(f"Stopped the Kiln server (pid {pid}).")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Is a server running for this KILN_HOME, and where."""
    from kiln.sdk.discovery import find_local_server
    from kiln.server.process import read_server_record

    settings = load_settings()
    url = settings.url or find_local_server(settings)
    record = read_server_record(settings) or {}
    state = {
        "running": url is not None,
        "url": url,
        "pid": record.get("pid") if url else None,
        "home": str(settings.home),
    }
    if as_json:
        print_json(state)
    elif url:
        console.print(f"Kiln server running at {url} (pid {state['pid']}, home {settings.home})")
    else:
        console.print(f"No Kiln server is running for {settings.home}; `kiln server start` starts one.")
        raise typer.Exit(3)
