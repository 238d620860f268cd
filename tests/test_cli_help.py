"""Help texts show square brackets literally: rich would read ``[capacity]`` as a markup tag and drop it."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from coverage_planner.cli import app

runner = CliRunner()


def _bracketed_helps():
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            text = getattr(param, "help", None) or ""
            for word in re.findall(r"\\?\[[^\]\s]+\]", text):
                yield name, word.lstrip("\\")


def test_every_bracketed_word_in_a_help_text_is_printed():
    found = list(_bracketed_helps())
    assert found, "no help text names a [section]: the test has nothing to check"
    for name, word in found:
        shown = runner.invoke(app, [name, "--help"], env={"COLUMNS": "300"}, terminal_width=300)
        assert shown.exit_code == 0, shown.output
        assert word in shown.output, f"{name} --help lost {word!r}"
