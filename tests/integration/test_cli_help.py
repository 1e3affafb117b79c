"""Every ``ledger`` command, subcommand, argument and option says what it is for."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from ledger import cli
from ledger.cli.commands import build_parser


def parsers(
    parser: argparse.ArgumentParser, path: str = "ledger"
) -> Iterator[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                yield f"{path} {name}", child, argparse.Action([], name, help=helps.get(name))
                yield from parsers(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, parser, action


def test_every_command_and_option_has_help_text() -> None:
    missing = [
        f"{path}: {'/'.join(action.option_strings) or action.dest}"
        for path, _, action in parsers(build_parser())
        if not (action.help or "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["serve"], ["--host HOST", "address to listen on", "--port PORT", "port to listen on"]),
        (["import"], ["FILE", "one event per line", "--quiet"]),
        (["keys", "revoke"], ["NAME", "the key's name"]),
        (["keys", "create"], ["--party PARTY", "registered party", "--role"]),
        (["demo"], ["--port PORT", "addresses printed"]),
    ],
)
def test_help_pages_show_the_options(
    words: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*words, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for part in expected:
        assert part in text
