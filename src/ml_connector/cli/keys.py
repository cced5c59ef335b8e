"""`ml-connector keys generate|rotate`: the encryption key ring for stored secrets."""

from __future__ import annotations

import typer

from ml_connector.cli.context import JsonOption, open_runtime, run
from ml_connector.cli.output import Output
from ml_connector.store import generate_key, rotate_keys

keys_app = typer.Typer(help="Manage the keys that encrypt stored secrets.", no_args_is_help=True)


@keys_app.command("generate")
def generate() -> None:
    """Print a new key. Put it FIRST in MLC_ENCRYPTION_KEYS, keep the old ones after it."""
    out = Output()
    out.out.print(generate_key(), highlight=False)
    out.note(
        "next: MLC_ENCRYPTION_KEYS=<new>,<old…> then `ml-connector keys rotate`; "
        "remove old keys once rotate reports nothing left"
    )


@keys_app.command("rotate")
def rotate(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Re-encrypt every stored secret under the first key in MLC_ENCRYPTION_KEYS."""
    out = Output(json_mode=json_output)

    async def work() -> dict[str, int]:
        async with open_runtime(ctx) as runtime:
            report = await rotate_keys(runtime.engine, runtime.cipher)
        return {"credentials": report.credentials, "tokens": report.tokens}

    result = run(out, work)
    if json_output:
        out.emit_json({"rotated": result})
        return
    total = result["credentials"] + result["tokens"]
    if total:
        out.say(
            f"re-encrypted {result['credentials']} credential(s) and {result['tokens']} token "
            "set(s) under the primary key"
        )
    else:
        out.say("nothing to rotate: every secret is under the primary key")
    out.note("old keys can be removed from MLC_ENCRYPTION_KEYS once nothing is left to rotate")


__all__ = ["keys_app"]
