"""An executed report notebook as one self-contained HTML page, in a single pass over its outputs.

The report's code is hidden and its outputs are HTML that supportkit built (every input string escaped
there), so the page is those outputs in order, under a Content-Security-Policy that allows exactly the
one script supportkit ships, by its sha256 (:func:`supportkit.report.render.assets`): the page loads
nothing, and markup slipping through from the input could neither run nor call out. Other outputs (what
a cell printed, a value without HTML) show as escaped text.

nbconvert's HTML exporter did this before: importing it and compiling its lab template cost about
0.8 s of CPU in every process that exported (a single account's report waited for it), and the page
carried 250 KB of JupyterLab's style sheets, which the browser matched against every element.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from html import escape
from typing import Any

from supportkit.report.html_page import standalone_page
from supportkit.report.render import Assets


STYLE = """
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121; margin: 0; }
main { padding: 1rem 2rem 3rem; max-width: 110rem; }
h1, h2, h3 { font-weight: 500; } h1 { font-size: 1.9em; } h2 { font-size: 1.45em; margin-top: 1.6em; }
h3 { font-size: 1.15em; }
a { color: #0b57d0; text-decoration: none; } a:hover { text-decoration: underline; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f5; padding: 0.5em; }
main table { border-collapse: collapse; }
main th, main td { text-align: left; vertical-align: top; padding: 0.2em 0.6em; border-bottom: 1px solid #eee; }
main td { min-width: 3em; max-width: 48em; overflow-wrap: break-word; }  /* "anywhere" would squeeze words */
main .number { text-align: right; }
main table.skit-table { font-size: 0.9em; }
main .dt-layout-table { overflow-x: auto; }
main table.skit-table.dataTable td { white-space: normal; }  /* over DataTables' nowrap */
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 1em; }
dl.facts dt { font-weight: 600; white-space: nowrap; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav.toc ol { columns: 2; }
span.severity { color: #fff; border-radius: 0.3em; padding: 0 0.4em; font-size: 0.85em; text-transform: uppercase; }
ol.risks li { margin-bottom: 0.3em; }
svg.heatmap { font: 11px sans-serif; display: block; }
svg.heatmap a text { fill: #0b57d0; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0 1.5em; }
span.swatch { display: inline-block; width: 1.5em; height: 0.9em; margin-right: 0.3em; }
ol.capabilities { columns: 2; font-size: 0.9em; }
/* Laid out only when scrolled near: a 1,000-identity report has 1,000 of these, and laying them all out
   before the page answers was most of the browser's work. Found by the browser's search all the same. */
#identity-details > section { content-visibility: auto; contain-intrinsic-size: auto 12em; }
section[id^="identity-"]:target, section[id^="finding-"]:target { background: #fff8e1; outline: 2px solid #f9a825; }
"""
"""The report's own styles, after DataTables' (so that these win)."""


def notebook_body(notebook: Mapping[str, Any]) -> str:
    """Every cell's outputs, in order; markdown cells as escaped text."""
    return "\n".join(_cell_html(cell) for cell in notebook.get("cells", ()))


def notebook_html(body: str, title: str, assets: Assets) -> str:
    """The page: ``title`` (escaped here), then the :func:`notebook_body` of a notebook."""
    return standalone_page(escape(title), assets.style + STYLE, f"<main>\n{body}\n</main>", script=assets.script,
                           title_only=True)


def _cell_html(cell: Mapping[str, Any]) -> str:
    if cell.get("cell_type") == "markdown":
        return _text(_source(cell))
    return "".join(_outputs(cell.get("outputs", ())))


def _outputs(outputs: Any) -> Iterator[str]:
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            yield _text(_source(output, "text"))
        elif kind in ("display_data", "execute_result"):
            yield _data(output.get("data", {}))


def _data(data: Mapping[str, Any]) -> str:
    """The richest form of one output: supportkit's HTML as it is, else the plain text escaped."""
    if "text/html" in data:
        return f'<div class="output">{_joined(data["text/html"])}</div>'
    if "text/plain" in data:
        return _text(_joined(data["text/plain"]))
    return ""  # data for programs only, such as the headline the pipeline reads


def _text(text: str) -> str:
    return f'<div class="output"><pre>{escape(text)}</pre></div>' if text else ""


def _source(entry: Mapping[str, Any], key: str = "source") -> str:
    return _joined(entry.get(key, ""))


def _joined(value: Any) -> str:
    """nbformat keeps multi-line strings as lists of lines."""
    return "".join(value) if isinstance(value, list) else str(value)
