"""``kiln``: the command line. Errors become one ``Error:`` line and an exit code, here and only here."""

from __future__ import annotations

import sys

import click
import typer

from kiln.cli import artifacts_commands, jobs_commands, server_commands
from kiln.cli.output import print_error
from kiln.errors import KilnError, UserError

EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 2

app = typer.Typer(
    name="kiln",
    help="Kiln: SageMaker's machine-learning workflow on your own machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(server_commands.app, name="server")
app.add_typer(jobs_commands.app, name="jobs")
app.add_typer(artifacts_commands.app, name="artifacts")
app.command("train")(jobs_commands.train)
app.command("upload")(artifacts_commands.upload)


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="kiln", standalone_mode=False)
    except KilnError as e:
        print_error(e.message)
        sys.exit(EXIT_USER_ERROR if isinstance(e, UserError) else EXIT_INTERNAL_ERROR)
    except click.exceptions.Abort:
        print_error("aborted")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
