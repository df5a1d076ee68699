"""``kiln keys create|list|revoke``: access keys for boto3 and the SageMaker SDK (the AWS wire)."""

from __future__ import annotations

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table

app = typer.Typer(
    help="Access keys for boto3 and the SageMaker SDK (AWS_ACCESS_KEY_ID / _SECRET_).", no_args_is_help=True
)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key, e.g. alice or ci."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make a key and print its id and secret: the secret is shown this once, never again."""
    answer = common.client().call("POST", "/access-keys", json={"Name": name})
    if as_json:
        print_json(answer)
        return
    console.print(
        f"Access key for {answer['Name']} (the secret is shown only now; keep it safe):\n"
        f"  AWS_ACCESS_KEY_ID={answer['AccessKeyId']}\n"
        f"  AWS_SECRET_ACCESS_KEY={answer['SecretAccessKey']}",
        markup=False,
        soft_wrap=True,
    )


@app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every key, active or revoked (never the secrets)."""
    answer = common.client().call("GET", "/access-keys")
    if as_json:
        print_json(answer)
        return
    rows = [(k["AccessKeyId"], k["Name"], k["Status"], k["CreateDate"][:19]) for k in answer["AccessKeys"]]
    if not rows:
        console.print("No access keys; `kiln keys create --name NAME` makes one.", markup=False)
        return
    print_table("Access keys", ["Access key id", "Name", "Status", "Created"], rows)


@app.command("revoke")
def revoke(access_key_id: str = typer.Argument(..., help="The access key id (AKIA…).")) -> None:
    """Refuse every request signed with this key from now on."""
    answer = common.client().call("POST", f"/access-keys/{access_key_id}/revoke")
    console.print(f"Access key {answer['AccessKeyId']} ({answer['Name']}) is revoked.", markup=False)
