"""The README documents every command and option of the CLI (a new option fails here until it is)."""

from __future__ import annotations

from pathlib import Path

import typer.main

from insightflow.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text("utf-8")


def test_every_command_and_option_is_in_the_readme() -> None:
    group = typer.main.get_command(app)
    missing = []
    assert len(group.commands) >= 10
    for name, command in group.commands.items():
        if f"insightflow {name}" not in README:
            missing.append(f"insightflow {name}")
        for param in command.params:
            if param.param_type_name == "option":
                missing += [f"{name} {opt}" for opt in param.opts if opt not in README]
    assert not missing, f"undocumented in README.md: {missing}"


def test_the_two_commands_are_in_the_readme() -> None:
    assert "make demo" in README and "make test" in README
