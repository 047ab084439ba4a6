"""A griffe extension that lets mkdocstrings render zarrsync's numpydoc/Sphinx docstrings.

The docstrings are written for numpydoc: Sphinx roles (``:class:`~zarrsync.Array```) and
doctest examples anywhere in the text, not only under an ``Examples`` heading. Markdown knows
neither: a role shows up verbatim and a bare ``>>>`` line becomes a nested block quote (whose
``[...]["key"]`` then reads as a broken link). This extension rewrites each docstring before
griffe parses it:

- a role becomes inline code of its target (``~`` keeps the last component, as in Sphinx);
- a run of doctest lines outside an ``Examples`` section renders as code too (griffe already
  renders the ones inside that section);
- prose after the items of a ``Parameters`` section opens a ``Notes`` section, where numpydoc
  puts it, instead of being read as parameters named after its words.

It changes what the site shows, never the docstrings themselves, so ``--doctest-modules`` runs
exactly what the source says. mkdocs.yml loads it with the mkdocstrings ``extensions`` option.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc|const):`(~?)([^`<]+?)`")
_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")
#: the line that names an item of a Parameters section: ``x``, ``x : int``, ``a, b : str``, ``**kw``
_PARAMETER = re.compile(r"^\*{0,2}[A-Za-z_]\w*(\s*,\s*\*{0,2}[A-Za-z_]\w*)*(\s*:.*)?$")
_PARAMETER_SECTIONS = frozenset({"Parameters", "Other Parameters", "Attributes"})


def _role_as_code(match: re.Match) -> str:
    """``:class:`~a.b.C``` -> ```C```; ``:func:`a.b``` -> ```a.b```."""
    tilde, target = match.group(1), match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _rewrite_sections(lines: list[str]) -> list[str]:
    """Make every run of doctest lines (``>>>``, ``...`` and their output up to a blank line)
    render as code, and keep prose out of the parameter lists.

    - A doctest run inside an ``Examples`` section griffe renders itself. Before any section it
      is fenced as a ``pycon`` block. After another section (``Parameters``...) a fence would be
      read as that section's items, so the run opens an ``Examples`` section instead.
    - A paragraph after a blank line at a ``Parameters`` section's own indentation whose first
      line does not name a parameter is prose the numpydoc convention puts under ``Notes``: it
      opens a ``Notes`` section rather than showing up as parameters named after its words.
    """
    out: list[str] = []
    section = None
    section_indent = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and _SECTION_RULE.match(lines[i + 1]):
            section, section_indent = line.strip(), _indent(line)
        elif (section in _PARAMETER_SECTIONS and i > 0 and not lines[i - 1].strip() and line.strip()
              and _indent(line) == section_indent and not line.lstrip().startswith(">>>")
              and not _PARAMETER.match(line.strip())):
            out += [f"{section_indent}Notes", f"{section_indent}-----"]
            section = "Notes"
        if section != "Examples" and line.lstrip().startswith(">>>"):
            indent = _indent(line)
            if section is None:
                out.append(f"{indent}```pycon")
            else:
                out += ["", f"{indent}Examples", f"{indent}--------"]
                section = "Examples"
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            if section is None:
                out.append(f"{indent}```")
            continue
        out.append(line)
        i += 1
    return out


class NumpydocForMarkdown(griffe.Extension):
    """Rewrites every docstring as described in the module docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        text = _ROLE.sub(_role_as_code, obj.docstring.value)
        obj.docstring.value = "\n".join(_rewrite_sections(text.split("\n")))
