"""The report's HTML pieces: interactive tables, capability heatmaps, findings, identity sections, the header.

Every function returns an HTML string in which each input text (names, tags, Sids, policy names,
explanations) is escaped; nothing here builds markup by pasting input. Interactive tables reach the page as
data: a ``<table>`` placeholder and a ``<script type="application/vnd.supportkit.table+json">`` holding the
arguments itables computes (cells already HTML-escaped by itables, the JSON escaped so that no ``<`` can end
its element). The one executable script, :func:`assets`' (DataTables as itables bundles it, and a few lines
that hand each table its data), is added by :func:`supportkit.report.notebook_page.notebook_html` with its
sha256 in the page's Content-Security-Policy (:func:`supportkit.report.html_page.standalone_page`).

Why not ``itables.init_notebook_mode(connected=False)``: it loads the bundle through a ``blob:`` URL and a
dynamic ``import()``, which a policy allowing only hashed scripts must refuse (``script-src blob:`` would let
any blob script run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from supportkit.analysis.finding import Finding, Severity
from supportkit.iam.arn import Arn
from supportkit.report.html_page import html_table
from supportkit.support.catalog import Capability

TABLE_DATA_TYPE = "application/vnd.supportkit.table+json"
"""The type of the script elements that carry a table's data: not JavaScript, so never run."""

KEY_ACTIONS = (
    "support:CreateCase", "support:DescribeCases", "support:AddCommunicationToCase", "support:ResolveCase",
    "support:DescribeTrustedAdvisorChecks", "trustedadvisor:DescribeChecks", "trustedadvisor:RefreshCheck",
    "supportplans:GetSupportPlan", "supportplans:StartSupportPlanUpdate", "supportapp:CreateSlackChannelConfiguration",
)
"""The actions whose decision and explanation the explanations table lists for every identity."""

CASCADE_ROWS = 5000
"""Up to this many rows, a table's filter panes show the counts left by the other panes' selections."""
DETAILED_IDENTITIES = 100
"""Up to this many identities the heatmap has one row per identity; above, one row per persona and type."""
DRILL_DOWN_ROWS = 20
"""Rows per group in a large account's drill-down heatmaps (the identities table has every identity)."""

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#7b1fa2", Severity.HIGH: "#c62828", Severity.MEDIUM: "#ef6c00", Severity.LOW: "#f9a825",
    Severity.INFO: "#607d8b",
}
CELL_STATES = (  # (colour, meaning) of a heatmap cell, by code (its class: c0, c1...; see heatmap_css)
    ("#2e7d32", "every action allowed"),
    ("#81c784", "some actions allowed"),
    ("#c5e1a5", "allowed only under some conditions (with MFA, from a network, before a date...)"),
    ("#c62828", "explicitly denied"),
    ("#eceff1", "not allowed"),
)
ALL, SOME, CONDITIONAL, DENIED, NONE = range(len(CELL_STATES))
_BUNDLE_EXPORT = re.compile(r"export\{([^}]*)\};?(?=\s*(?:/\*.*?\*/\s*)*$)", re.S)
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)(?:</script>|\Z)", re.S | re.I)


# Anchors and labels


def identity_label(kind: str, name: str) -> str:
    return "root user" if kind == "root" else f"{kind} {name}"


_ANCHOR_SAFE = "/:@=+-._,"  # with letters and digits, every character IAM allows in names (and in finding ids)


def identity_anchor(kind: str, name: str) -> str:
    """``identity-root``, ``identity-user/alice``, ``identity-role/Admin``: stable and unique in an account.

    A character IAM does not allow in names (only a hand-made snapshot has one) is percent-encoded, so an
    anchor is always a plain URL fragment.
    """
    return "identity-root" if kind == "root" else f"identity-{kind}/{quote(name, safe=_ANCHOR_SAFE)}"


def link(anchor: str, text: str) -> str:
    """A link to ``#anchor`` (an id made by this module: already fragment-safe) showing ``text`` (escaped)."""
    return f'<a href="#{escape(quote(anchor, safe=_ANCHOR_SAFE + "%"))}">{escape(text)}</a>'


def _arn_kind_name(arn: str) -> tuple[str, str]:
    """The type and name of an IAM ARN (a path's last segment): for ARNs a report has no name for."""
    parsed = Arn.parse(arn)
    resource = parsed.resource if parsed is not None else arn
    if resource == "root":
        return "root", "root"
    kind, _, rest = resource.partition("/")
    return kind, rest.rsplit("/", 1)[-1]


def identity_link(arn: str, names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """A link to an identity's details; ``names`` maps ARNs to (type, name) (a name may hold a "/")."""
    kind, name = (names or {}).get(arn) or _arn_kind_name(arn)
    return link(identity_anchor(kind, name), identity_label(kind, name))


def section(anchor: str, title: str, body: str, level: int = 2) -> str:
    return f'<section id="{escape(anchor)}"><h{level}>{escape(title)}</h{level}>{body}</section>'


def table_of_contents(entries: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<li>{link(anchor, title)}</li>" for anchor, title in entries)
    return f'<nav class="toc" aria-label="Contents"><ol>{items}</ol></nav>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of labelled facts (the report's audit block)."""
    items = "".join(f"<dt>{escape(term)}</dt><dd>{escape(value)}</dd>" for term, value in pairs)
    return f'<dl class="facts">{items}</dl>'


# Static and interactive tables


def static_table(frame: pd.DataFrame, *, index: bool = False) -> str:
    """A small table as HTML, every label and value escaped; True shows as "yes", False and NaN as nothing."""
    headings = ([str(frame.index.name or "")] if index else []) + [str(c).replace("_", " ") for c in frame.columns]
    rows = ([label, *values] if index else values
            for label, values in zip(frame.index, frame.itertuples(index=False, name=None)))
    return html_table(headings, rows)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans as "yes"/"", categories and objects as str, so itables shows words and sorts them as text."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == bool:
            out[str(column).replace("_", " ")] = np.where(values.to_numpy(), "yes", "")
        elif values.dtype.kind in "iu":
            out[str(column).replace("_", " ")] = values.to_numpy()
        else:
            out[str(column).replace("_", " ")] = values.astype(str).to_numpy(dtype=object)
    return pd.DataFrame(out)


def script_json(value: Any) -> str:
    """JSON that can sit inside a ``<script>`` element: no ``<``, ``>`` or ``&`` to end or confuse it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)  # stable for nbval
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def interactive_table(frame: pd.DataFrame, table_id: str, *, panes: Sequence[str] = (), page_length: int = 10,
                      caption: str | None = None) -> str:
    """A sortable, searchable, paged table (DataTables through itables), with filter panes on ``panes`` columns.

    itables computes the DataTables arguments and HTML-escapes every cell; they travel as escaped JSON. Text
    columns that repeat (identities, actions, explanations) travel as codes into a list of their distinct
    values (``skit_codes``, escaped the way itables escapes cells), which the shipped script expands before
    DataTables sees the rows: a 1,000-identity report is a tenth of its size that way.
    """
    from itables.datatables_format import escape_html_chars
    from itables.javascript import get_itable_arguments

    shown = _plain(frame)
    columns = list(shown.columns)
    numeric = [i for i, column in enumerate(columns) if pd.api.types.is_numeric_dtype(shown[column])]
    text = [i for i in range(len(columns)) if i not in numeric]
    codes: dict[str, list[str]] = {}
    for position, column in enumerate(columns):
        values = shown[column]
        if not pd.api.types.is_numeric_dtype(values) and len(values) > 20 and values.nunique() * 2 < len(values):
            numbers, distinct = pd.factorize(values)
            shown[column] = numbers
            codes[str(position)] = [escape_html_chars(str(value)) for value in distinct]
    options: dict[str, Any] = {"showIndex": False, "pageLength": page_length, "deferRender": True,
                               "lengthMenu": [10, 25, 100, 500], "autoWidth": False, "maxBytes": 0,
                               # Types given, so that DataTables does not detect them by testing every cell.
                               "columnDefs": [{"targets": targets, "type": kind}
                                              for kind, targets in (("num", numeric), ("string", text)) if targets]}
    if panes:
        options["layout"] = {"top1": "searchPanes"}
        small = len(shown) <= CASCADE_ROWS  # cascading panes recount every pane on each click: too slow beyond
        options["searchPanes"] = {"columns": [columns.index(name.replace("_", " ")) for name in panes],
                                  "layout": f"columns-{min(len(panes), 4)}", "cascadePanes": small,
                                  "initCollapsed": False, "viewTotal": small}
    arguments = dict(get_itable_arguments(shown, caption, app_mode=True, **options))
    classes = arguments.pop("classes", "display")
    for python_only in ("style", "warn_on_unexpected_option_type", "warn_on_undocumented_option"):
        arguments.pop(python_only, None)
    classes = " ".join(classes) if isinstance(classes, list) else str(classes)
    if codes:
        arguments["skit_codes"] = codes
    return (f'<table id="{escape(table_id)}" class="{escape(classes)} skit-table"></table>'
            f'<script type="{TABLE_DATA_TYPE}" data-table="{escape(table_id)}">{script_json(arguments)}</script>')


# The shipped script and the page's policy


@dataclass(frozen=True)
class Assets:
    """What every report page ships: one script and one style sheet."""

    script: str
    style: str


_INIT = """
const skitStart = (data) => {
  if (data.dataset.started) return;
  data.dataset.started = "true";
  const args = JSON.parse(data.textContent);
  const codes = args.skit_codes;
  delete args.skit_codes;
  if (codes) {
    const rows = JSON.parse(args.data_json);
    for (const row of rows) for (const column in codes) row[column] = codes[column][row[column]];
    args.data_json = JSON.stringify(rows);
  }
  const table = document.getElementById(data.dataset.table);
  new skitTables.ITable(table, args);
  table.dataset.ready = "true";
};
const skitWaiting = [...document.querySelectorAll('script[type="%s"]')];
const skitNear = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    skitNear.unobserve(entry.target);
    skitStart(skitWaiting.find((data) => data.dataset.table === entry.target.id));
  }
  document.documentElement.dataset.tablesReady = "true";
}, {rootMargin: "%dpx 0px"});
for (const data of skitWaiting) skitNear.observe(document.getElementById(data.dataset.table));
"""
"""Each table is initialised when it comes within :data:`NEAR_PIXELS` of the viewport (tables far down a large
report cost nothing until the reader scrolls there); ``data-tables-ready`` on <html> once those in view are."""
NEAR_PIXELS = 1500


@cache
def assets() -> Assets:
    """DataTables as itables ships it, its exports bound to a name, then the initialisation; and the style."""
    folder = files("itables") / "html"
    bundle = (folder / "dt_bundle.js").read_text(encoding="utf-8")
    found = _BUNDLE_EXPORT.search(bundle)
    if found is None:
        raise RuntimeError("itables' dt_bundle.js no longer ends with an export list: supportkit needs updating")
    names = ",".join(f"{exported.strip()}:{local.strip()}" for local, _, exported in
                     (item.strip().partition(" as ") for item in found.group(1).split(",")))
    script = inline_safe(bundle[:found.start()] + f"const skitTables={{{names}}};" + _INIT % (TABLE_DATA_TYPE, NEAR_PIXELS)
                         + bundle[found.end():])
    style = (folder / "dt_bundle.css").read_text(encoding="utf-8") + heatmap_css()
    return Assets(script, style)


def heatmap_css() -> str:
    """The size of a heatmap cell and the colour of each :data:`CELL_STATES` code (cells carry only a class)."""
    return "\nsvg.heatmap rect { width: 15px; height: 15px; }\n" + "".join(
        f"svg.heatmap rect.c{code} {{ fill: {colour}; }}\n" for code, (colour, _) in enumerate(CELL_STATES))


def inline_safe(script: str) -> str:
    """``script`` rewritten so that the HTML parser ends its element at the right ``</script>`` and nowhere else.

    ``<!--`` followed later by ``<script`` (both occur in jQuery's and DataTables' regular expressions and
    strings) would put the parser in the "double escaped" state, where the element's own end tag is not
    seen. Each is rewritten with escapes that mean the same in JavaScript strings and regular expressions
    (``\\-`` is ``-``, ``\\x73`` is ``s``, ``\\/`` is ``/``).
    """
    script = script.replace("<!--", "<!\\-\\-")
    script = re.sub(r"<(/?)(script)", lambda m: "<" + ("\\/" if m[1] else "") + f"\\x{ord(m[2][0]):02x}" + m[2][1:], script,
                    flags=re.I)
    return script


def executable_scripts(page: str) -> list[str]:
    """The contents of the page's script elements that a browser would run (data blocks excluded); one left
    open runs to the end of ``page``, as it would take in what follows."""
    found = []
    for attributes, body in _SCRIPT_TAG.findall(page):
        kind = re.search(r"""\btype\s*=\s*["']?([^"'\s>]+)""", attributes)
        if kind is None or kind.group(1).lower() in {"module", "text/javascript", "application/javascript"}:
            found.append(body)
    return found


# Findings


def severity_badge(severity: Severity) -> str:
    return (f'<span class="severity" style="background:{SEVERITY_COLOURS[severity]}">'
            f"{escape(severity.value)}</span>")


def top_risks(findings: Sequence[Finding], limit: int = 10) -> str:
    """The most severe findings, one line each: severity, title (linking to the finding), what to change."""
    shown = [f for f in findings if f.severity is not Severity.INFO][:limit]
    if not shown:
        return "<p>No risk found: every check listed under Findings passed; see there what was checked.</p>"
    items = "".join(f"<li>{severity_badge(f.severity)} {link('finding-' + f.id, f.title)}. "
                    f"{escape(f.remedy.sentence())}</li>" for f in shown)
    more = len([f for f in findings if f.severity is not Severity.INFO]) - len(shown)
    tail = f"<p>{more} more below, under Findings.</p>" if more > 0 else ""
    return f'<ol class="risks">{items}</ol>{tail}'


def findings_table(findings: Sequence[Finding]) -> pd.DataFrame:
    return pd.DataFrame({
        "severity": [f.severity.value for f in findings],
        "finding": [f.title for f in findings],
        "identities": [f.count or len(f.identities) for f in findings],
        "remedy": [f.remedy.sentence() for f in findings],
        "id": [f.id for f in findings],
    })


def finding_details(finding: Finding, names: Mapping[str, tuple[str, str]] | None = None,
                    identity_limit: int = 50) -> str:
    """One finding, anchored at ``#finding-<id>``: severity, what is concerned, what to change."""
    parts = [f"<p>{severity_badge(finding.severity)} <strong>What to change:</strong> "
             f"{escape(finding.remedy.sentence())}</p>"]
    if finding.identities:
        shown = ", ".join(identity_link(arn, names) for arn in finding.identities[:identity_limit])
        more = len(finding.identities) - identity_limit
        parts.append(f"<p>Identities: {shown}{f' and {more} more' if more > 0 else ''}.</p>")
    if finding.statements:
        parts.append("<p>Statements: " + escape("; ".join(s.label() for s in finding.statements)) + ".</p>")
    return section(f"finding-{finding.id}", finding.title, "".join(parts), level=3)


def checked_without_findings(clear: Mapping[str, str], findings: Sequence[Finding]) -> str:
    """What each producer that found nothing checked, in its own words ("No identity can change the plan")."""
    found = {f.kind for f in findings}
    items = "".join(f"<li>{escape(text)}</li>" for kind, text in clear.items() if kind not in found)
    return f"<p>Checked and found nothing:</p><ul>{items}</ul>" if items else ""


# Heatmaps


@dataclass(frozen=True)
class CapabilityGrid:
    """Per identity (rows, in ``identities`` order) and capability: a cell state and a one-line reason."""

    identities: pd.DataFrame  # identity_arn, identity_type, identity_name, persona
    capabilities: list[str]
    states: np.ndarray  # int codes of CELL_STATES, identities x capabilities
    allowed: np.ndarray  # actions allowed per cell, whatever the request
    conditional: np.ndarray  # actions allowed per cell only under some conditions
    totals: np.ndarray  # actions per capability
    reasons: np.ndarray  # str per cell: the first explanation that decided it


def capability_grid(matrix: pd.DataFrame, people: pd.DataFrame, access: np.ndarray,
                    conditions: np.ndarray | None = None) -> CapabilityGrid:
    """Summarise the long matrix per identity and capability, in the order of ``people`` (the personas table).

    ``access`` is each matrix row's ``allowed`` / ``conditional`` / ``denied``
    (:func:`supportkit.analysis.access.cell_states`): a cell is the capability's three states, can (all or
    some actions whatever the request), can under conditions (none always, some under conditions), cannot
    (explicitly denied, or not allowed). ``conditions`` (its second array)
    says under which conditions a conditional row allows: a cell's reason then names them, not the matrix's
    explanation under the one context it was built with.
    """
    arns = list(people["identity_arn"])
    row_of = {arn: i for i, arn in enumerate(arns)}
    present = set(matrix["capability"].astype(str).unique())
    capabilities = [c.value for c in Capability if c.value in present] + sorted(present - {c.value for c in Capability})
    column_of = {c: j for j, c in enumerate(capabilities)}
    rows = matrix["identity_arn"].astype(str).map(row_of).to_numpy()
    columns = matrix["capability"].astype(str).map(column_of).to_numpy()
    decision = matrix["decision"].astype(str).to_numpy()
    granted = access == "allowed"
    conditional = access == "conditional"
    denied = decision == "explicitDeny"
    shape = (len(arns), len(capabilities))
    allowed, conditional_count, denied_count, actions = (np.zeros(shape, dtype=int) for _ in range(4))
    np.add.at(allowed, (rows, columns), granted)
    np.add.at(conditional_count, (rows, columns), conditional)
    np.add.at(denied_count, (rows, columns), denied)
    np.add.at(actions, (rows, columns), 1)
    states = np.select(
        [allowed == actions, allowed > 0, conditional_count > 0, denied_count > 0],
        [ALL, SOME, CONDITIONAL, DENIED], default=NONE)
    reasons = np.full(shape, "", dtype=object)
    explanations = matrix["explanation"].astype(str).to_numpy(dtype=object)
    if conditions is not None and conditional.any():
        named = conditional & (conditions != "")
        explanations[named] = [f"{action} allowed {when}" for action, when in
                               zip(matrix["action"].astype(str).to_numpy()[named], conditions[named])]
    for deciding in (denied, conditional, granted):  # a later state wins: a cell's reason is of its own state
        for r, c, text in zip(rows[deciding][::-1], columns[deciding][::-1], explanations[deciding][::-1]):
            reasons[r, c] = text  # reversed: the first such action of each cell wins
    return CapabilityGrid(people[["identity_arn", "identity_type", "identity_name", "persona"]].reset_index(drop=True),
                          capabilities, states, allowed, conditional_count, actions.max(axis=0), reasons)


def _svg_grid(row_labels: Sequence[tuple[str, str | None]], states: np.ndarray, titles: np.ndarray,
              columns: int) -> str:
    """Cells of CELL_STATES colours with a <title> each; rows labelled on the left (linked when an anchor is given)."""
    cell, label_width = 16, 260
    width, height = label_width + cell * columns, cell * len(row_labels) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    for j in range(columns):
        parts.append(f'<text x="{label_width + j * cell + cell / 2}" y="14" text-anchor="middle">{j + 1}</text>')
    for i, (label, anchor) in enumerate(row_labels):
        y = 20 + i * cell
        text = escape(label if len(label) <= 40 else label[:39] + "…")
        text_element = f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end"><title>{escape(label)}</title>' \
                       f"{text}</text>"
        if anchor:
            text_element = f'<a href="#{escape(quote(anchor, safe=_ANCHOR_SAFE + "%"))}">{text_element}</a>'
        parts.append(text_element)
        for j in range(columns):
            parts.append(f'<rect x="{label_width + j * cell}" y="{y}" class="c{states[i, j]}">'
                         f"<title>{escape(titles[i, j])}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)


def _detailed(grid: CapabilityGrid, rows: np.ndarray, reasons: bool = True) -> str:
    """One row per identity of ``rows``; each cell's title says why when ``reasons`` (else see Explanations)."""
    people = grid.identities.iloc[rows]
    labels = [identity_label(k, n) for k, n in zip(people["identity_type"], people["identity_name"])]
    titles = np.empty((len(rows), len(grid.capabilities)), dtype=object)
    for i, (row, label) in enumerate(zip(rows, labels)):
        for j, capability in enumerate(grid.capabilities):
            state = CELL_STATES[grid.states[row, j]][1]
            why = grid.reasons[row, j] if reasons else ""
            more = grid.conditional[row, j]
            counted = f"{grid.allowed[row, j]} of {grid.totals[j]} actions" + (
                f", {more} more only under conditions" if more else "")
            titles[i, j] = f"{label}, {capability}: {state} ({counted})" + (f"; {why}" if why else "")
    anchors = [identity_anchor(k, n) for k, n in zip(people["identity_type"], people["identity_name"])]
    return _svg_grid(list(zip(labels, anchors)), grid.states[rows], titles, len(grid.capabilities))


def heatmap(grid: CapabilityGrid) -> str:
    """Identity x capability with a title per cell; above :data:`DETAILED_IDENTITIES`, persona groups first."""
    legend = "".join(f'<li><span class="swatch" style="background:{colour}"></span>{escape(meaning)}</li>'
                     for colour, meaning in CELL_STATES)
    columns = "".join(f"<li>{escape(c)} ({grid.totals[j]} actions)</li>" for j, c in enumerate(grid.capabilities))
    key = f'<ul class="legend">{legend}</ul><p>Columns:</p><ol class="capabilities">{columns}</ol>'
    count = len(grid.identities)
    if count <= DETAILED_IDENTITIES:
        return key + _detailed(grid, np.arange(count))
    groups = grid.identities.groupby(["persona", "identity_type"], sort=False, observed=True).indices
    labels, states, titles, drill = [], [], [], []
    for (persona, kind), rows in groups.items():
        label = f"{persona}, {kind} ({len(rows)})"
        some = (grid.allowed[rows] > 0).sum(axis=0)
        conditional = ((grid.allowed[rows] == 0) & (grid.conditional[rows] > 0)).sum(axis=0)
        labels.append((label, None))
        states.append(np.select([some == len(rows), some > 0, conditional > 0], [ALL, SOME, CONDITIONAL], default=NONE))
        titles.append([f"{label}: {n} of {len(rows)} identities can {c.lower()}"
                       + (f", {m} more only under conditions" if m else "")
                       for n, m, c in zip(some, conditional, grid.capabilities)])
        cut = rows[:DRILL_DOWN_ROWS]
        note = f"<p>The first {len(cut)} of {len(rows)}; the identities table lists them all.</p>" \
            if len(cut) < len(rows) else ""
        drill.append(f"<details><summary>{escape(label)}</summary>{note}{_detailed(grid, cut, reasons=False)}"
                     "</details>")
    summary = _svg_grid(labels, np.array(states), np.array(titles, dtype=object), len(grid.capabilities))
    return (key + f"<p>{count} identities, grouped by persona and type: a cell is dark when every identity of "
            "the group can use the capability, light when some can, pale when none can but some can under "
            "conditions. Open a group for its identities.</p>"
            + summary + "<p>The reasons behind each cell are in the explanations table.</p>" + "".join(drill))
