"""README.md lists every command with options the parser has, every board, and cites only files that exist."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from tinyedge.cli import build_parser
from tinyedge.resources import boards_dir

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The text under `## title`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def readme_commands() -> dict[str, str]:
    """'compile' -> its usage line, 'ci init' -> its line: the indented `tinyedge ...` lines of ## Commands."""
    lines = [line.strip() for line in section("Commands").splitlines() if line.startswith("    tinyedge ")]
    commands = {}
    for line in lines:
        words = line.split()
        name = " ".join(words[1:3]) if words[1] == "ci" else words[1]
        commands[name] = line
    return commands


def parser_for(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in name.split():
        parser = subcommands(parser)[word]
    return parser


def test_readme_lists_every_command_of_the_parser_and_no_other():
    listed = {name.split()[0] for name in readme_commands()}
    assert listed == set(subcommands(build_parser()))
    assert set(readme_commands()) >= {f"ci {sub}" for sub in subcommands(parser_for("ci"))}


@pytest.mark.parametrize("name", sorted(readme_commands()))
def test_readme_command_line_uses_only_options_the_command_has(name):
    line = readme_commands()[name]
    options = {option for action in parser_for(name)._actions for option in action.option_strings}
    shown = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line))
    assert shown - options == set(), f"README shows options `tinyedge {name}` does not have"
    # Every required option is shown.
    required = {a.option_strings[-1] for a in parser_for(name)._actions if a.required and a.option_strings}
    assert {o for o in required if not any(s in shown for s in _aliases(name, o))} == set()
    if "--force" in options:
        assert "[--force]" in line, f"README's `tinyedge {name}` line does not show [--force]"


def _aliases(name: str, option: str) -> list[str]:
    action = next(a for a in parser_for(name)._actions if option in a.option_strings)
    return action.option_strings


def test_readme_lists_every_board_file_and_no_other():
    rows = [line for line in section("Boards").splitlines() if line.startswith("| ") and not line.startswith("| board")]
    listed = {row.split("|")[1].strip() for row in rows if not set(row) <= set("|- ")}
    assert listed == {path.stem for path in boards_dir().glob("*.toml")}


def test_readme_and_docs_link_only_to_files_in_the_repository():
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = document.read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            assert (document.parent / target).resolve().is_relative_to(ROOT), f"{document.name} links outside: {target}"
            assert (document.parent / target).exists(), f"{document.name} links to a missing file: {target}"
        assert "../shared/" not in text, f"{document.name} cites a file outside the repository"


def test_readme_install_lines_never_install_a_registry_package_by_our_name():
    for line in README.splitlines():
        if "pip install" in line:
            words = shlex.split(line.strip().strip("`").split("pip install", 1)[1].split("`")[0])
            assert not any(re.match(r"tinyedge(\[|==|$)", word) for word in words), line
