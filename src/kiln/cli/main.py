"""``kiln``: the command line. Errors become one ``Error:`` line and an exit code, here and only here."""

from __future__ import annotations

import sys

import click
import typer

from kiln.cli import (
    artifacts_commands,
    capacity_commands,
    cluster_commands,
    hosting_commands,
    jobs_commands,
    keys_commands,
    pipelines_commands,
    processing_commands,
    server_commands,
    transform_commands,
    tuning_commands,
)
from kiln.cli.output import print_error
from kiln.errors import KilnError, UserError

# One meaning per code, so scripts can tell "fix your request" from "retry or report": a user error
# (the request was wrong) 1, a usage error (the command line itself, click's) 2, an internal error
# (Kiln failed, or no server could be reached) 3.
EXIT_USER_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERNAL_ERROR = 3

# Recent typer releases vendor click as typer._click, so its usage errors and aborts are not click's
# classes; catch both kinds, or a mistyped option ends in a traceback instead of click's Error: line.
_USAGE_ERRORS: tuple[type[Exception], ...] = (
    click.ClickException,
    getattr(typer, "TyperException", click.ClickException),
)
_ABORTS: tuple[type[BaseException], ...] = (click.exceptions.Abort, typer.Abort)


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
app.command("tensorboard")(jobs_commands.tensorboard)
app.command("limits")(capacity_commands.limits)
app.command("usage")(capacity_commands.usage)
app.command("instance-types")(capacity_commands.instance_types)
app.command("cluster")(cluster_commands.cluster)
app.add_typer(tuning_commands.app, name="tuning")
app.command("deploy")(hosting_commands.deploy)
app.add_typer(hosting_commands.models_app, name="models")
app.add_typer(hosting_commands.endpoints_app, name="endpoints")
app.command("tune")(tuning_commands.tune)
app.add_typer(keys_commands.app, name="keys")
app.command("transform")(transform_commands.transform)
app.add_typer(transform_commands.app, name="transform-jobs")
app.add_typer(processing_commands.app, name="processing-jobs")
app.add_typer(pipelines_commands.app, name="pipelines")


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="kiln", standalone_mode=False)
    except KilnError as e:
        print_error(e.message)
        sys.exit(EXIT_USER_ERROR if isinstance(e, UserError) else EXIT_INTERNAL_ERROR)
    except _ABORTS:
        print_error("aborted")
        sys.exit(130)
    except _USAGE_ERRORS as e:
        show = getattr(e, "show", None)  # click's own "Usage: … Error: …" text
        if show is not None:
            show()
        else:
            print_error(str(e))
        # click's UsageError (and typer's copy) carries EXIT_USAGE_ERROR; its other errors, 1.
        sys.exit(int(getattr(e, "exit_code", EXIT_USER_ERROR)))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
