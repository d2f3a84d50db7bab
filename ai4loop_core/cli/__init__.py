"""``ai4loop``: one click group; each subcommand lives in ``cli/<name>.py`` and calls one function.

Subcommands load lazily so ``ai4loop data list`` does not import Keras.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from ai4loop_core.errors import BadInputError

# name -> "module:attribute"; a module not yet written is simply not offered.
COMMANDS = {
    "data": "ai4loop_core.cli.data:data",
    "predict": "ai4loop_core.cli.predict:predict",
    "train": "ai4loop_core.cli.train:train",
    "evaluate": "ai4loop_core.cli.evaluate:evaluate",
    "benchmark": "ai4loop_core.cli.benchmark:benchmark",
    "preprocess": "ai4loop_core.cli.preprocess:preprocess",
    "atlas": "ai4loop_core.cli.atlas:atlas",
    "dashboard": "ai4loop_core.cli.dashboard:dashboard",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, t in COMMANDS.items() if importlib.util.find_spec(t.split(":")[0]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or cmd_name not in self.list_commands(ctx):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="ai4loop-atlas")
def cli() -> None:
    """AI4Loop Atlas: gene-gene chromatin interactions predicted from RNA-seq."""


def main() -> None:
    """Entry point: run the CLI, turning input errors into a clear message and exit status 2."""
    try:
        cli(standalone_mode=False)
    except BadInputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
