"""README.md against the code, so it cannot drift: the command list against the click CLI,
the settings table against `casebook.settings.Settings`, the layout table against the tree."""

from __future__ import annotations

import re
from dataclasses import fields

import click
import pytest

from casebook.app.cli import main
from casebook.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Packages whose every module the layout table names, on the row of the package itself.
PACKAGES = ("casebook", "casebook/app", "scraper", "search", "plugins")
TICKED = re.compile(r"`([^`]+)`")
BUILT = {"output", "var", "artifacts", "build", "dist"}   # made by commands, never kept in the repository


def _section(title: str) -> str:
    """The text under `## title` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def _table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with `| header |`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {header} |")), None)
    assert start is not None, f"no table with the header {header!r}"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


# ---------------------------------------------------------------- the command


def _options(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(name for name in param.opts if name.startswith("--") and name != "--help")
    return names


def _documented_commands() -> dict[str, set[str]]:
    """{subcommand (or "" for the group itself): the options its README line shows}."""
    block = re.search(r"```sh\n(.*?)```", _section("The command"), re.S)
    assert block, "the command section has no sh block"
    documented: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        assert words[0] == "casebook", line
        name = "" if len(words) == 1 or words[1].startswith("-") else words[1]
        assert name not in documented, f"README lists `casebook {name}` twice"
        documented[name] = set(re.findall(r"--[a-z][a-z-]*", " ".join(words[1:])))
    return documented


def test_readme_lists_every_command_and_option_and_no_other():
    assert isinstance(main, click.Group)
    actual = {name: _options(command) for name, command in main.commands.items()}
    actual[""] = _options(main)   # --version
    documented = _documented_commands()
    assert set(documented) == set(actual), "README's commands differ from the CLI's"
    for name, options in actual.items():
        assert documented[name] == options, f"`casebook {name}`: README {sorted(documented[name])}, CLI {sorted(options)}"


# ---------------------------------------------------------------- settings


def test_readme_settings_table_names_every_setting_with_its_variable():
    rows = _table_rows(README, "setting")
    documented = {}
    for row in rows:
        name, variable = TICKED.fullmatch(row[0]), TICKED.fullmatch(row[1])
        assert name and variable, row
        documented[name.group(1)] = variable.group(1)
    expected = {f.name: f"CASEBOOK_{f.name.upper()}" for f in fields(Settings)}
    assert documented == expected


# ---------------------------------------------------------------- layout


def _layout() -> dict[str, str]:
    """{each path the layout table names in its first column: the row's description}."""
    layout = {}
    for path_cell, description in _table_rows(_section("Layout"), "path"):
        for path in TICKED.findall(path_cell):
            layout[path.rstrip("/")] = description
    return layout


def _modules(package: str) -> set[str]:
    """Module and sub-package names under `package` that its own row must name (a
    sub-package with a row of its own is named there)."""
    folder = ROOT / package
    names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    for sub in folder.iterdir():
        if (sub / "__init__.py").exists() and f"{package}/{sub.name}" not in PACKAGES:
            names.add(sub.name)
            names |= {p.stem for p in sub.glob("*.py") if p.stem != "__init__"}
    return names


def test_layout_paths_exist_and_cover_the_top_level():
    layout = _layout()
    for path in layout:
        assert (ROOT / path).exists(), f"README's layout names {path}, which does not exist"
    tracked = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))
               and not p.name.endswith(".egg-info")} - BUILT
    covered = {path.split("/")[0] for path in layout}
    assert tracked <= covered, f"top-level folders missing from README's layout: {sorted(tracked - covered)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_layout_names_every_module_of_a_package_and_only_real_ones(package):
    description = _layout().get(package)
    assert description is not None, f"README's layout has no row for {package}/"
    named = set()
    for token in TICKED.findall(description):
        if "/" in token or token.endswith((".yaml", ".csv", ".json", ".py")):   # a path, not a module
            assert (ROOT / token.rstrip("/")).exists() or (ROOT / package / token).exists(), token
            continue
        if re.fullmatch(r"[a-z_][a-z0-9_]*(\.[A-Za-z_]+)?", token):
            named.add(token.split(".")[0])
    modules = _modules(package)
    assert modules <= named, f"{package}/: modules README does not name: {sorted(modules - named)}"
    assert named <= modules, f"{package}/: README names modules that do not exist: {sorted(named - modules)}"
