"""An mkdocs hook: the command-line reference must cover the command line as it is.

docs/reference/cli.md is written by hand, so that it can explain and give examples. This
hook compares it with the code when mkdocs reads it, and stops the build if

- a command of ``hotline`` has no section (a heading such as ``### `hotline admin token list` ``),
- a section names a command that does not exist,
- an option or argument of a command is not mentioned in its section, or
- a setting of ``server.config.Settings`` is not mentioned as its ``HOTLINE_*`` variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer.main
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from server.cli import app
from server.config import Settings

PAGE = "reference/cli.md"
HEADING = re.compile(r"^(#{2,4}) `(hotline(?: [a-z-]+)*)`\s*$", re.MULTILINE)
IGNORED = {"--help", "--install-completion", "--show-completion"}


def _commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every command under ``command``, with its full path, groups included."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def _names(command: Any) -> list[str]:
    """How the page must mention each option (``--label``) and argument (``OPERATOR_ID``)."""
    names = []
    for param in command.params:
        if param.param_type_name == "argument":
            names.append(param.name.upper())
        else:
            names += [opt for opt in param.opts if opt.startswith("--") and opt not in IGNORED]
    return names


def _sections(markdown: str) -> dict[str, str]:
    """The text under each ``hotline …`` heading, up to the next heading of any command."""
    found = list(HEADING.finditer(markdown))
    ends = [match.start() for match in found[1:]] + [len(markdown)]
    return {
        match.group(2): markdown[match.end() : end] for match, end in zip(found, ends, strict=True)
    }


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Check the command-line page against the code; change nothing."""
    if page.file.src_uri != PAGE:
        return markdown
    commands = dict(_commands(typer.main.get_command(app), "hotline"))
    sections = _sections(markdown)
    problems = [f"no section for `{path}`" for path in commands if path not in sections]
    problems += [f"`{path}` is not a command" for path in sections if path not in commands]
    for path, command in commands.items():
        text = sections.get(path, "")
        problems += [
            f"`{path}`: {name} is not mentioned" for name in _names(command) if name not in text
        ]
    for field in Settings.model_fields:
        variable = f"HOTLINE_{field.upper()}"
        if variable not in markdown:
            problems.append(f"setting {variable} is not mentioned")
    if problems:
        raise PluginError(f"{PAGE} does not match the code:\n  " + "\n  ".join(problems))
    return markdown
