"""Agent files: one YAML file per agent, holding exactly the members of
:class:`~agents_core.schemas.AgentExport` (handoff targets by agent name).

A file is read in two steps so that every problem names its line: PyYAML composes the document
into nodes (which carry their position), then the plain values are decoded into ``AgentExport``
(unknown members refused, every constraint of the API checked); a decoding error's path
(``$.panels[1]``) is walked back through the nodes to the line it came from.

Files are written with the instructions as a literal block scalar (``|``), so that a change to a
prompt reads line by line in a diff. PyYAML writes a block only when the text allows it: text
with tabs or with spaces at the end of a line is written double-quoted instead (it still reads
back exactly).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from agents_core.schemas import (
    AgentExport,
    AgentModality,
    PanelType,
    split_field_message,
)

__all__ = [
    "AGENT_FILE_SUFFIXES",
    "MEMBERS",
    "FileProblem",
    "LocalAgent",
    "file_names",
    "is_agent_file",
    "normalized",
    "read_agent_file",
    "read_directory",
    "render_agent",
    "replace_file",
    "slug",
]

AGENT_FILE_SUFFIXES: Final = (".yaml", ".yml")
MEMBERS: Final[tuple[str, ...]] = AgentExport.__struct_fields__
WRITE_ORDER: Final = (
    "name",
    *(member for member in MEMBERS if member not in {"name", "instructions"}),
    "instructions",
)
"""The order members are written in: the name first, the prompt (often long) last."""

MAX_SLUG_BYTES: Final = 100
"""File names stay well below the usual 255-byte limit, whatever the agent's name."""


@dataclass(frozen=True, slots=True)
class FileProblem:
    """Something wrong with one agent file, at one line (1-based) when known."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class AgentFileError(Exception):
    def __init__(self, problem: FileProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True, slots=True)
class LocalAgent:
    """One agent file as read: its name in the directory, the path problems name it by, its
    configuration (normalized: see :func:`normalized`) and the line of each member and list
    item (``"handoff_targets[1]"``)."""

    file: str
    path: str
    config: AgentExport
    lines: Mapping[str, int]

    def line_of(self, member: str) -> int | None:
        return self.lines.get(member) or self.lines.get(member.split("[", 1)[0])


def normalized(config: AgentExport) -> AgentExport:
    """The configuration with every member given, as the API makes it from an import: a missing
    model is the default model, a missing modality ``audio_only``, missing lists empty."""
    return config.filled()


# -- names ----------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A file-name stem from an agent's name: lower case, letters and digits (of any script)
    joined by ``-``; ``agent`` when nothing is left."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = re.sub(r"[\W_]+", "-", text).strip("-")
    encoded = text.encode()
    if len(encoded) > MAX_SLUG_BYTES:
        text = encoded[:MAX_SLUG_BYTES].decode(errors="ignore").rstrip("-")
    return text or "agent"


def file_names(names: Sequence[str]) -> list[str]:
    """A file name for each agent name, in order, none twice.

    Names are unique case-insensitively, but their slugs need not be (``Support Bot`` and
    ``support-bot``). The first agent with a slug gets ``<slug>.yaml``; each later one gets the
    smallest ``<slug>-N.yaml`` (N ≥ 2) that no agent's own slug and no earlier choice takes. Given
    the agents in the same order (``pull`` uses the server's, oldest first), the result is the
    same every time.
    """
    stems = [slug(name) for name in names]
    taken = set(stems)
    chosen: list[str] = []
    used: set[str] = set()
    for stem in stems:
        candidate = stem
        number = 2
        while candidate in used or (candidate != stem and candidate in taken):
            candidate = f"{stem}-{number}"
            number += 1
        used.add(candidate)
        chosen.append(candidate + ".yaml")
    return chosen


def is_agent_file(path: Path) -> bool:
    return path.suffix in AGENT_FILE_SUFFIXES and not path.name.startswith(".") and path.is_file()


# -- reading --------------------------------------------------------------------------------------

_AT_PATH: Final = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_PATH_STEP: Final = re.compile(r"\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]")
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<field>.*)`$")
_MISSING: Final = re.compile(r"^Object missing required field `(?P<field>.*)`$")

_ALLOWED: Final[Mapping[str, str]] = {
    "modality": ", ".join(m.value for m in AgentModality),
    "panels": ", ".join(p.value for p in PanelType),
}


def _node_at(root: yaml.Node, steps: Iterable[str | int]) -> yaml.Node:
    """The node at a decoding path, or the deepest one reached."""
    node = root
    for step in steps:
        if isinstance(step, str) and isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(step, int) and isinstance(node, yaml.SequenceNode):
            found = node.value[step] if step < len(node.value) else None
        else:
            found = None
        if found is None:
            break
        node = found
    return node


def _steps(path: str) -> list[str | int]:
    """``.panels[1]`` or ``panels[1]`` → ``["panels", 1]``."""
    if path and path[0] not in ".[":
        path = "." + path
    return [
        m.group("key") if m.group("key") is not None else int(m.group("index"))
        for m in _PATH_STEP.finditer(path)
    ]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _key_line(root: yaml.Node, key: str) -> int:
    if isinstance(root, yaml.MappingNode):
        for k, _ in root.value:
            if k.value == key:
                return _line(k)
    return _line(root)


def _member_lines(root: yaml.MappingNode) -> dict[str, int]:
    lines: dict[str, int] = {}
    for key, value in root.value:
        name = str(key.value)
        lines[name] = _line(key)
        if isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                lines[f"{name}[{index}]"] = _line(item)
    return lines


def _validation_problem(path: str, root: yaml.Node, error: msgspec.ValidationError) -> FileProblem:
    text = str(error)
    match = _AT_PATH.match(text)
    if match is not None:
        message, location = match.group("message"), match.group("path")
    else:
        field, message = split_field_message(text)
        location = field or ""
    steps = _steps(location)
    if not steps:
        unknown = _UNKNOWN.match(message)
        if unknown is not None:
            field = unknown.group("field")
            members = ", ".join(MEMBERS)
            return FileProblem(
                path,
                _key_line(root, field),
                f"unknown member {field!r}: an agent file has only {members}",
            )
        missing = _MISSING.match(message)
        if missing is not None:
            return FileProblem(path, _line(root), f"missing member {missing.group('field')!r}")
        return FileProblem(path, _line(root), message)
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps).lstrip(".")
    if message.startswith("Invalid enum value") and steps[0] in _ALLOWED:
        message += f" (expected one of {_ALLOWED[str(steps[0])]})"
    elif message.startswith("Expected `str"):
        message += " (put the value in quotes to keep it as text)"
    return FileProblem(path, _line(_node_at(root, steps)), f"{where}: {message}")


def _duplicate_member(path: str, root: yaml.MappingNode) -> FileProblem | None:
    seen: dict[str, int] = {}
    for key, _ in root.value:
        name = str(key.value)
        if name in seen:
            return FileProblem(
                path, _line(key), f"member {name!r} appears twice (first at line {seen[name]})"
            )
        seen[name] = _line(key)
    return None


def _compose(path: str, text: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        reason = ": ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise AgentFileError(FileProblem(path, line, f"YAML syntax error: {reason}")) from None
    except yaml.YAMLError as exc:
        raise AgentFileError(FileProblem(path, None, f"YAML syntax error: {exc}")) from None
    finally:
        loader.dispose()
    return node, data


def read_agent_file(path: str, text: str, *, file: str | None = None) -> LocalAgent:
    """Parse one agent file's text; ``path`` is how problems name it, ``file`` its name in the
    directory (defaults to ``path``'s last part). Raises :class:`AgentFileError`."""
    node, data = _compose(path, text)
    if node is None:
        raise AgentFileError(
            FileProblem(path, 1, "empty file: an agent needs a name and instructions")
        )
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise AgentFileError(
            FileProblem(
                path, _line(node), f"an agent file is a mapping of members ({', '.join(MEMBERS)})"
            )
        )
    duplicate = _duplicate_member(path, node)
    if duplicate is not None:
        raise AgentFileError(duplicate)
    try:
        config = msgspec.convert(data, AgentExport)
    except msgspec.ValidationError as exc:
        raise AgentFileError(_validation_problem(path, node, exc)) from None
    return LocalAgent(
        file=file if file is not None else Path(path).name,
        path=path,
        config=normalized(config),
        lines=_member_lines(node),
    )


def read_directory(directory: Path) -> tuple[list[LocalAgent], list[FileProblem]]:
    """Every agent file directly in ``directory`` (sorted by name), and the problems of those
    that could not be read. A missing directory holds no agents."""
    agents: list[LocalAgent] = []
    problems: list[FileProblem] = []
    if not directory.is_dir():
        return agents, problems
    for path in sorted(p for p in directory.iterdir() if is_agent_file(p)):
        shown = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(FileProblem(shown, None, "not UTF-8 text"))
            continue
        try:
            agents.append(read_agent_file(shown, text, file=path.name))
        except AgentFileError as exc:
            problems.append(exc.problem)
    return agents, problems


# -- writing --------------------------------------------------------------------------------------


class _Literal(str):
    """Text to write as a literal block scalar."""

    __slots__ = ()


class _AgentDumper(yaml.SafeDumper):
    pass


def _represent_literal(dumper: yaml.SafeDumper, text: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style="|")


_AgentDumper.add_representer(_Literal, _represent_literal)


def _dump(values: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(values),
        Dumper=_AgentDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 20,  # never fold a long line: a name or a prompt line stays one line
    )


def render_agent(config: AgentExport) -> str:
    """The file text for one agent (``config`` normalized first)."""
    config = normalized(config)
    values: dict[str, Any] = msgspec.to_builtins(config)
    ordered = {member: values.get(member) for member in WRITE_ORDER}
    ordered["instructions"] = _Literal(config.instructions)
    text = _dump(ordered)
    if read_agent_file("<rendered>", text).config != config:
        # A block scalar cannot carry every text (PyYAML normally falls back on its own); the
        # quoted form always can.
        ordered["instructions"] = config.instructions
        text = _dump(ordered)
    return text


def replace_file(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that a reader sees the old file or the new one, never
    half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
