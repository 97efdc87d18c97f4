"""``kestrel``: the command line of a Kestrel store.

Commands: ``info``, ``list``, ``import``, ``export``, ``query``, ``search``,
``delete``, ``drop``, ``compact`` (``kestrel COMMAND --help`` describes each).
Built on click. Every error of the engine or of the file system is one line
``error: ...`` on stderr with exit code 1; usage errors exit with 2 (click's
usage message); ``--debug`` shows tracebacks.

Example:
    $ kestrel import ./db docs docs.jsonl --embedding hash:64
    $ kestrel search ./db docs "how do birds fly" --limit 3
    $ python -m vectorstore info ./db --json
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__
from ..errors import VectorStoreError
from ._common import CliError, describe_error
from .exporter import export_command
from .importer import import_command
from .info import compact_command, info_command
from .manage import delete_command, drop_command, list_command, query_command
from .search import search_command

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it


class KestrelGroup(click.Group):
    """The ``kestrel`` group: turns engine and file errors into one-line errors."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map errors to ``error: ...`` and an exit code.

        ``VectorStoreError`` and ``OSError``: exit 1 with one line. A closed
        pipe on stdout (``kestrel export ... | head``): exit 141 quietly.
        Anything else is a bug: one line pointing to ``--debug``.
        """
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except KeyboardInterrupt:
            raise click.Abort() from None
        except (VectorStoreError, OSError) as exc:
            if _debug(ctx):
                raise
            raise CliError(describe_error(exc)) from None
        except Exception as exc:
            if _debug(ctx):
                raise
            raise CliError(
                f"unexpected {type(exc).__name__}: {describe_error(exc)} (a bug: rerun with "
                "--debug for the traceback and report it)"
            ) from None


def _debug(ctx: click.Context) -> bool:
    return bool((ctx.obj or {}).get("debug"))


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (tests)
        pass


@click.group(cls=KestrelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kestrel")
@click.option(
    "--debug",
    is_flag=True,
    envvar="KESTREL_DEBUG",
    help="Show tracebacks instead of one-line errors (also KESTREL_DEBUG=1).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Kestrel: inspect, load, query and maintain an embedded vector store.

    PATH is a store directory. info, list, export, query and search open it
    read-only, so they work while another process writes; import, delete,
    drop and compact take the store's writer lock (delete and drop ask first
    unless --yes).

    \b
    Exit codes: 0 success; 1 an error (one line "error: ..." on stderr);
    2 a usage error; 141 stdout closed early (e.g. piped into head).
    """
    ctx.ensure_object(dict)["debug"] = debug


for command in (
    info_command,
    list_command,
    import_command,
    export_command,
    query_command,
    search_command,
    delete_command,
    drop_command,
    compact_command,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``kestrel`` (the console script and ``python -m vectorstore``).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    cli.main(args=list(argv) if argv is not None else None)


__all__ = ["cli", "main"]
