"""Load a flow configuration from TOML text, with line-numbered error messages.

Pure: takes the text (the caller reads the file). Returns the config or a
`ConfigErrors` value listing every problem as ``<source>:<line>: <path>: <message>``;
`load_flow_config_or_raise` wraps that in `ConfigurationError` for the CLI.
Array positions in paths count from 1 (``cost_centers.rules[3]`` is the third rule).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from pydantic import ValidationError

from ml_connector.core.errors import ConfigurationError
from ml_connector.core.flow_config.models import FORMAT_VERSION, FlowConfig

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "key_lines",
    "load_flow_config",
    "load_flow_config_or_raise",
]

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigError:
    line: int | None
    path: str
    message: str
    source: str = "flow.toml"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ConfigErrors:
    errors: tuple[ConfigError, ...]

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_TOML_POS = re.compile(r"at line (\d+), column (\d+)")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[Path, int]:
    """Map each table / array element / key path to the 1-based line that defines it.

    Approximate by design (a line scanner, not a TOML parser): good enough to point at
    the line of a key, a ``[table]`` or a ``[[array]]`` element; multi-line values point
    at the line where they start.
    """
    lines: dict[Path, int] = {}
    counters: dict[tuple[str, ...], int] = {}
    current: Path = ()
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        elif in_multiline:
            continue
        table = _TABLE.match(raw)
        if table and not _KEY.match(raw):
            names = tuple(_split_key(table[2]))
            if table[1] == "[[":
                index = counters.get(names, 0)
                counters[names] = index + 1
                current = (*names, index)
                lines.setdefault(names, number)
            else:
                current = names
            lines.setdefault(current, number)
            continue
        key = _KEY.match(raw)
        if key:
            lines.setdefault((*current, *_split_key(key[1])), number)
    return lines


def _line_for(loc: Path, lines: dict[Path, int]) -> int | None:
    for size in range(len(loc), 0, -1):
        hit = lines.get(loc[:size])
        if hit is not None:
            return hit
    return None


def _path_text(loc: Path) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else part
    return out


def _clean_loc(loc: tuple[str | int, ...]) -> Path:
    # pydantic inserts validator/union branch names (e.g. "function-after[...]") into loc
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and "(" not in p))


def load_flow_config(text: str, *, source: str = "flow.toml") -> FlowConfig | ConfigErrors:
    """Parse and validate a flow configuration. Never raises for bad input."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        pos = _TOML_POS.search(str(exc))
        message = _TOML_POS.sub("", str(exc)).replace("()", "").strip(" ()")
        return ConfigErrors(
            (ConfigError(int(pos[1]) if pos else None, "", f"not valid TOML: {message}", source),)
        )
    lines = key_lines(text)
    version = data.get("version")
    if version != FORMAT_VERSION:
        found = "missing" if version is None else repr(version)
        return ConfigErrors(
            (
                ConfigError(
                    lines.get(("version",)),
                    "version",
                    f"format version {found}; this build reads version {FORMAT_VERSION} "
                    f"(add 'version = {FORMAT_VERSION}' at the top)",
                    source,
                ),
            )
        )
    try:
        return FlowConfig.model_validate(data)
    except ValidationError as exc:
        errors: list[ConfigError] = []
        for err in exc.errors(include_url=False):
            loc = _clean_loc(tuple(err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; see docs/flow-config.md)"
            errors.append(ConfigError(_line_for(loc, lines), _path_text(loc), message, source))
        errors.sort(key=lambda e: (e.line or 0, e.path))
        return ConfigErrors(tuple(errors))


def load_flow_config_or_raise(text: str, *, source: str = "flow.toml") -> FlowConfig:
    """`load_flow_config`, raising `ConfigurationError` listing every problem."""
    loaded = load_flow_config(text, source=source)
    if isinstance(loaded, ConfigErrors):
        raise ConfigurationError(str(loaded))
    return loaded
