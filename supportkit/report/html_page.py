"""The shell of every page supportkit writes (reports, the index, the organization page): nothing fetched, no
script but the one a page ships, allowed by its hash; and
the one HTML table builder of every page (the report's static tables, the index, the organization page).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from html import escape
from urllib.parse import quote

def script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(scripts: Sequence[str]) -> str:
    """Nothing from anywhere; the given inline scripts by hash; inline styles; data: images."""
    allowed = " ".join(script_hash(script) for script in scripts) or "'none'"
    return (f"default-src 'none'; script-src {allowed}; img-src data:; style-src 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'")


CSP = content_security_policy([])
"""The policy of a page without script (the index, the organization page)."""


def standalone_page(heading: str, style: str, body: str, *, script: str | None = None, title_only: bool = False) -> str:
    """A whole HTML page, the one shell of every page supportkit writes; ``heading`` and ``body`` must already
    be escaped HTML. The CSP allows ``script`` (the page's only one) by its hash, or none. The heading is
    also an ``<h1>`` unless ``title_only`` (the report's outputs bring their own).
    """
    csp = content_security_policy([script]) if script is not None else CSP
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>{style}</style>
</head>
<body>
{"" if title_only else f"<h1>{heading}</h1>"}
{body}
{"" if script is None else f'<script type="module">{script}</script>'}
</body>
</html>
"""


@dataclass(frozen=True)
class Link:
    """A cell's text linking to a file beside the page (the name is URL-quoted, then escaped)."""

    text: str
    target: str


@dataclass(frozen=True)
class Span:
    """One cell across ``columns`` columns, its parts (texts and links) in order: a failed account's error."""

    parts: tuple[str | Link, ...]
    columns: int
    css_class: str = ""


CONDITIONALLY = "_conditionally"
"""A headline key with this suffix counts the identities allowed the key's action only under some conditions;
the key itself then counts those allowed whatever the request (supportkit.analysis.paths.access_summary)."""


def headline_count(headline: Mapping[str, Any], key: str, form: str = "{} + {} under conditions") -> Any:
    """A headline number as the index and the organization page show it: "3 + 1 under conditions" when some
    are allowed only under conditions (``form`` takes both numbers), else the number itself."""
    try:
        conditionally = int(headline.get(key + CONDITIONALLY))  # type: ignore[arg-type]
    except (TypeError, ValueError):  # none recorded (None), or not a number (NaN in a frame of accounts)
        conditionally = 0
    return form.format(headline[key], conditionally) if conditionally else headline[key]


def html_table(headings: Sequence[str], rows: Iterable[Sequence[object]], *,
               row_classes: Iterable[str] | None = None, false: str = "") -> str:
    """A table in which every heading and cell text is escaped: the only place the pages build one.

    A cell is a str, int, float, bool, None, :class:`Link` or :class:`Span` (numpy scalars as their Python
    values). Integers are right-aligned (``number``, and ``zero`` for 0, which a page may grey out); booleans
    show as "yes" or ``false``; None and NaN as nothing.
    """
    head = "".join(f"<th>{escape(str(heading))}</th>" for heading in headings)
    classes = iter(row_classes) if row_classes is not None else None
    body = []
    for row in rows:
        marked = next(classes, "") if classes is not None else ""
        attribute = f' class="{escape(marked)}"' if marked else ""
        body.append(f"<tr{attribute}>{''.join(_cell(value, false) for value in row)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _part(part: str | Link) -> str:
    if isinstance(part, Link):
        return f'<a href="{escape(quote(part.target))}">{escape(part.text)}</a>'
    return escape(part)


def _cell(value: object, false: str) -> str:
    item = getattr(value, "item", None)  # a numpy scalar: its Python value
    value = item() if callable(item) else value
    if isinstance(value, Span):
        css = f' class="{escape(value.css_class)}"' if value.css_class else ""
        return f'<td{css} colspan="{value.columns}">{"".join(_part(p) for p in value.parts)}</td>'
    if isinstance(value, Link):
        return f"<td>{_part(value)}</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else escape(false)}</td>"
    if isinstance(value, int):
        return f'<td class="number{" zero" if value == 0 else ""}">{value}</td>'
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td></td>"
    return f"<td>{escape(str(value))}</td>"
