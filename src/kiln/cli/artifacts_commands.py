"""``kiln upload`` and ``kiln artifacts ls``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from kiln.cli import common
from kiln.cli.output import console, error_console, print_json, print_table
from kiln.errors import ValidationError

app = typer.Typer(help="The artifact store.", no_args_is_help=True)


def upload(
    path: Path = typer.Argument(..., help="A file or a folder (uploaded recursively)."),
    prefix: str = typer.Option("data", "--prefix", help="Key prefix under the bucket."),
    bucket: str = typer.Option(None, "--bucket", help="Bucket (default: the default bucket)."),
) -> None:
    """Upload PATH and print its URI."""
    if not path.exists():
        raise ValidationError(f"{str(path)!r} does not exist")
    total = (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        # The bar goes to stderr, and only to a terminal: stdout carries just the URI, for scripts.
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,
    ) as progress:
        task = progress.add_task(f"Uploading {path.name}", total=total)
        uri = common.session().upload_data(
            path, bucket=bucket, key_prefix=prefix, progress=lambda n: progress.advance(task, n)
        )
    console.print(uri, highlight=False, soft_wrap=True, markup=False)


@app.command("ls")
def list_artifacts(
    uri: str = typer.Argument(None, help="A URI (default: the default bucket)."),
    recursive: bool = typer.Option(False, "--recursive", "-r"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the objects under URI."""
    session = common.session()
    entries = session.list_artifacts(uri or session.bucket_uri(), recursive)
    if as_json:
        print_json(entries)
        return
    print_table(
        None,
        ["URI", "Size"],
        [(e["Uri"] + ("/" if e["IsFolder"] else ""), "" if e["IsFolder"] else e["Size"]) for e in entries],
    )
