"""Every command's `--help` at 80 columns: it renders, and its description's paragraphs
are wrapped to the terminal, not at the line breaks of the docstring in the code."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import interfaces.cli.read_side  # noqa: F401  (registers its commands on the app)
from interfaces.cli.main import app

WIDTH = 80
CONTENT = WIDTH - 2  # Rich pads the description by one column on each side


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "list_commands"):
        context = command.context_class(command)
        for name in command.list_commands(context):
            yield from _commands(command.get_command(context, name), (*path, name))


COMMANDS = list(_commands(get_command(app)))


def _description(output: str) -> list[list[str]]:
    """The paragraphs above the first box (options, arguments), each a list of its lines."""
    paragraphs: list[list[str]] = [[]]
    for line in output.splitlines():
        if line.startswith("╭"):
            break
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def test_every_command_is_reached() -> None:
    assert ("rebuild",) in COMMANDS and ("report", "scorecard") in COMMANDS
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "rmbook")
def test_help_paragraphs_fill_the_terminal_width(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=WIDTH,
                                env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    paragraphs = _description(result.output)
    assert paragraphs[0][0].startswith("Usage: rmbook")
    for paragraph in paragraphs[1:]:
        for line, following in pairwise(paragraph):
            # A line broken early would have had room for the next word.
            assert len(line) + 1 + len(following.split()[0]) > CONTENT, (line, following)
