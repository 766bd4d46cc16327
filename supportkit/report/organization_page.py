"""The organization page of ``supportkit report ORG_DIR``: overview, findings per account, cross-account paths.

A static page like the index: no script, a Content-Security-Policy that forbids fetching anything,
and every input string (account and OU names, ARNs, errors) escaped by :func:`html_page.html_table`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import pandas as pd

from supportkit import __version__
from supportkit.analysis.finding import Severity
from supportkit.analysis.organization import OrganizationAnalysis
from supportkit.report.html_page import CONDITIONALLY, Link, headline_count, html_table, standalone_page

ORGANIZATION_PAGE = "organization.html"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.number { text-align: right; }
td.zero { color: #999; }
.error { color: #a00; }
.outside { background: #fff3f3; }
"""


def _table(frame: pd.DataFrame, headings: Mapping[str, str], *, row_class: str | None = None,
           links: Mapping[str, str] | None = None, empty: str = "None.") -> str:
    """``frame``'s columns named in ``headings``; the ``account_id`` cell links to its report when ``links`` has it."""
    if frame.empty:
        return f"<p>{html.escape(empty)}</p>"
    records = frame.to_dict(orient="records")

    def cell(column: str, value: object) -> object:
        target = (links or {}).get(str(value)) if column == "account_id" else None
        return Link(str(value), target) if target is not None else value

    rows = ([cell(column, record[column]) for column in headings] for record in records)
    classes = ("outside" if row_class is not None and bool(record.get(row_class)) else "" for record in records)
    return html_table(list(headings.values()), rows, row_classes=classes, false="no")


def organization_html(analysis: OrganizationAnalysis, links: Mapping[str, str], *, title: str | None = None,
                      index: str = "index.html") -> str:
    """The page; ``links``: each account id's report file name (accounts without one get no link)."""
    heading = html.escape(title or "AWS Support access across the organization")
    info = analysis.info
    facts = []
    if info is not None:
        facts.append(f"Organization <code>{html.escape(info.organization_id)}</code>, management account "
                     f"<code>{html.escape(info.management_account_id or 'unknown')}</code>.")
    facts.append(f"{len(analysis.accounts)} accounts analysed" +
                 (f", {len(analysis.failures)} without analysis" if analysis.failures else "") + ".")
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in (info.notes if info is not None else ()))
    overview = analysis.overview()
    headline_titles = {"identities": "identities", "can_open_cases": "can open cases",
                       "can_read_all_cases": "can read all cases", "can_resolve_cases": "can resolve cases",
                       "can_change_plan": "can change the plan", "trusted_advisor_users": "Trusted Advisor users",
                       "incomplete_identities": "incomplete identities", "findings": "findings"}
    for key in headline_titles:
        if key + CONDITIONALLY in overview.columns:  # "3 + 1 under conditions", as the index shows it
            overview[key] = [headline_count(row, key) for row in overview[[key, key + CONDITIONALLY]].to_dict("records")]
    findings = analysis.findings_by_account()
    finding_titles = {"account_id": "account", "name": "name", **{s.value: s.value for s in Severity},
                      "total": "total"}
    paths = analysis.cross_account_paths()
    failures = pd.DataFrame([(f.account_id or "", str(f.folder or ""), f.error) for f in analysis.failures],
                            columns=["account_id", "folder", "error"])
    sections: Sequence[tuple[str, str]] = [
        ("Accounts", _table(overview, {"account_id": "account", "name": "name", "unit": "organizational unit",
                                       "support_plan": "plan", **{k: v for k, v in headline_titles.items()
                                                                 if k in overview.columns}}, links=links)),
        ("Findings per account, by severity (as each account's report ranks them)",
         _table(findings, finding_titles, links=links)),
        ("Someone outside the organization can read every case", _table(
            analysis.outside_case_readers(), {"account_id": "account", "principal": "principal", "kind": "kind",
                                              "path": "path"}, links=links)),
        ("Only the root user can open cases", _table(
            analysis.root_only_accounts(), {"account_id": "account", "name": "name", "scope": "root only for"},
            links=links)),
        ("The support plan does not serve the Support API these identities use", _table(
            analysis.plan_gap_accounts(), {"account_id": "account", "name": "name", "support_plan": "plan",
                                           "identities": "identities"}, links=links)),
        ("Cross-account paths to support access", _table(
            paths, {"account_id": "account", "capabilities": "the role reached can", "kind": "from",
                    "path": "path (sts:AssumeRole at each arrow)"}, row_class="outside_organization", links=links,
            empty="No principal reaches a role of another account that has support access.")),
        ("Principals with support access in the most accounts", _table(
            analysis.widest_reach(), {"principal": "principal", "kind": "kind", "accounts": "accounts",
                                      "account_ids": "account ids"})),
        ("Accounts without analysis", _table(failures, {"account_id": "account", "folder": "folder",
                                                        "error": "error"})),
    ]
    body = "\n".join(f"<h2>{html.escape(name)}</h2>\n{content}" for name, content in sections)
    return standalone_page(heading, _STYLE, f"""<p>{' '.join(facts)} <a href="{html.escape(quote(index))}">All account reports</a>.
Generated by supportkit {html.escape(__version__)}.</p>
{f'<ul>{notes}</ul>' if notes else ''}
{body}""")
