"""`casebook check --fix`: write the canonical name for a short name or an alias in a case
file's front matter, and change nothing else.

Each value is replaced where the YAML parser found it (its start and end in the file), in
the quoting style it was written in, so comments, key order, spacing and the body keep
their bytes. The result is parsed again: unless exactly the fixed values changed, the file
is left alone. Files are written atomically.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from casebook.check import Alias
from casebook.files import atomic_write
from casebook.model import FRONT_MATTER_RE, Problem, load_yaml


@dataclass
class FileFix:
    path: Path
    before: str
    after: str
    fixes: list[Alias]

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
                                            fromfile=f"{self.path} (as written)", tofile=f"{self.path} (fixed)"))

    def apply(self) -> None:
        # Written only when the file still holds what was read: an editor's save in between wins.
        if read_exactly(self.path) != self.before:
            raise OSError(f"{self.path} changed while it was being fixed; run the fix again")
        atomic_write(self.path, self.after)


def read_exactly(path: Path) -> str:
    """The file's text with its line endings as they are (\r\n stays \r\n)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return fh.read()


def plan(problems: list[Problem]) -> list[FileFix]:
    """The rewrite of every file with fixable names (the Alias warnings of `check`)."""
    by_file: dict[str, list[Alias]] = defaultdict(list)
    for problem in problems:
        if isinstance(problem, Alias):
            by_file[problem.path].append(problem)
    fixes = []
    for name, aliases in by_file.items():
        path = Path(name)
        before = read_exactly(path)
        after = fixed_text(before, aliases)
        if after is not None and after != before:
            fixes.append(FileFix(path, before, after, aliases))
    return fixes


def _scalar(root: yaml.MappingNode, fix: Alias) -> yaml.ScalarNode | None:
    for key, value in root.value:
        if not (isinstance(key, yaml.ScalarNode) and key.value == fix.field):
            continue
        if fix.index is not None:
            if not isinstance(value, yaml.SequenceNode) or fix.index >= len(value.value):
                return None
            value = value.value[fix.index]
        return value if isinstance(value, yaml.ScalarNode) and value.value == fix.old else None
    return None


def _written(value: str, style: str | None) -> str | None:
    """`value` as YAML in the given style; None for block scalars (| and >), never rewritten."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value, ensure_ascii=False)
    if style is None:
        try:
            plain = yaml.safe_load(value) == value and "\n" not in value
        except yaml.YAMLError:
            plain = False
        # In a flow list ([a, b]) a plain value may not hold , [ ] { }: quote it then.
        return value if plain and not any(c in value for c in ",[]{}#") else json.dumps(value, ensure_ascii=False)
    return None


def fixed_text(text: str, fixes: list[Alias]) -> str | None:
    """`text` with every fix applied, or None when the front matter cannot be rewritten
    safely (not parsed, a value moved, a block scalar, or a change beyond the fixes)."""
    match = FRONT_MATTER_RE.match(text)
    if match is None:
        return None
    meta_text, offset = match.group("meta"), match.start("meta")
    try:
        # The pure-Python parser: its marks count characters of this string.
        root = yaml.compose(meta_text, Loader=yaml.SafeLoader)
        expected = load_yaml(meta_text)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode) or not isinstance(expected, dict):
        return None
    spans: list[tuple[int, int, str]] = []
    for fix in fixes:
        node = _scalar(root, fix)
        replacement = _written(fix.new, node.style) if node is not None else None
        if node is None or replacement is None:
            continue
        spans.append((node.start_mark.index, node.end_mark.index, replacement))
        if fix.index is None:
            expected[fix.field] = fix.new
        else:
            expected[fix.field][fix.index] = fix.new
    new_meta = meta_text
    for start, end, replacement in sorted(set(spans), reverse=True):
        new_meta = new_meta[:start] + replacement + new_meta[end:]
    try:
        if load_yaml(new_meta) != expected:
            return None
    except yaml.YAMLError:
        return None
    return text[:offset] + new_meta + text[offset + len(meta_text):]
