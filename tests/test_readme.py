"""The README documents every command and option of the CLI (a new option fails here until it is),
and every relative link in README.md and docs/*.md points at a file and heading that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import typer.main

from insightflow.cli import app

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text("utf-8")


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


FENCED = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(markdown: str) -> Iterator[str]:
    """The anchors GitHub gives a document's headings (lowercased, punctuation dropped, spaces to
    hyphens, a repeated heading suffixed -1, -2, ...)."""
    seen: dict[str, int] = {}
    for line in FENCED.sub("", markdown).splitlines():
        if heading := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
            yield slug if seen[slug] == 0 else f"{slug}-{seen[slug]}"


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text("utf-8")
        for target in LINK.findall(CODE_SPAN.sub("", FENCED.sub("", text))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in set(anchors(dest.read_text("utf-8"))):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken
