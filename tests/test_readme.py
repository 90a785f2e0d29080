"""The README stays true: every setting, every command, the two set-up commands."""

from __future__ import annotations

from pathlib import Path

from bot.cli import build_parser
from bot.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
CI = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()


def test_every_setting_is_documented() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == []


def test_every_subcommand_is_documented() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name in subparsers.choices:  # type: ignore[union-attr]
        assert f"slack-scribe {name}" in README


def test_ci_runs_the_readme_commands() -> None:
    assert "pip install -e '.[dev]'" in README and "pip install -e '.[dev]'" in CI
    assert "\npytest" in README and "\npytest" in CI
