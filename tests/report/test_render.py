"""The report's HTML pieces (supportkit.report.render) on small hand-made inputs."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

import numpy as np
import pandas as pd

from supportkit.analysis.finding import Finding, Fix, Remedy, Severity
from supportkit.report import render
from supportkit.report.html_page import content_security_policy

HOSTILE = '</script><img src=x onerror=alert(1)>\u2028&amp;'


def test_script_json_cannot_end_its_element_and_decodes_to_the_same_value():
    value = {"name": HOSTILE, "rows": [[HOSTILE, 1, True]]}
    text = render.script_json(value)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == value


def test_interactive_tables_carry_escaped_cells_as_data_and_no_markup():
    frame = pd.DataFrame({"identity": [HOSTILE, "alice"], "open": [True, False], "count": [3, 0]})
    out = render.interactive_table(frame, "t1", panes=["open"])
    table, data = re.fullmatch(r'(<table [^>]*></table>)<script type="([^"]+)" data-table="t1">(.*)</script>', out,
                               re.S).group(1, 3)
    assert 'id="t1"' in table
    arguments = json.loads(data)
    assert json.loads(arguments["data_json"]) == [[html.escape(HOSTILE, quote=False), "yes", 3], ["alice", "", 0]]
    assert arguments["searchPanes"]["columns"] == [1]
    assert "<img" not in out and "</script><img" not in out


def test_repeated_text_columns_travel_as_codes_into_their_escaped_values():
    frame = pd.DataFrame({"who": [f"u{n % 3}<" for n in range(30)], "n": range(30), "unique": [f"x{n}" for n in range(30)]})
    arguments = json.loads(re.search(r'data-table="t">(.*)</script>', render.interactive_table(frame, "t")).group(1))
    assert arguments["skit_codes"] == {"0": ["u0&lt;", "u1&lt;", "u2&lt;"]}  # "unique" repeats nothing: kept as is
    rows = json.loads(arguments["data_json"])
    assert [row[0] for row in rows[:4]] == [0, 1, 2, 0] and rows[5][2] == "x5"


def test_the_policy_allows_exactly_the_given_scripts_by_hash():
    digest = base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode()
    assert content_security_policy(["alert(1)"]) == (
        f"default-src 'none'; script-src 'sha256-{digest}'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'")
    assert "script-src 'none'" in content_security_policy([])


def test_the_shipped_script_cannot_be_cut_short_by_the_parser():
    # The page allows it by its hash: test_report's test of the exported page's policy.
    assets = render.assets()
    assert re.search(r"<!--|</?script", assets.script, re.I) is None  # see inline_safe
    assert "skitTables" in assets.script and "application/vnd.supportkit.table+json" in assets.script


def test_inline_safe_rewrites_only_what_the_html_parser_reads():
    assert render.inline_safe('a = "<!-- <script>"; b = /<\\/script>/; c = "</SCRIPT>"') == \
        'a = "<!\\-\\- <\\x73cript>"; b = /<\\/script>/; c = "<\\/\\x53CRIPT>"'


def test_executable_scripts_skip_data_blocks():
    page = ('<script type="module">one</script><script>two</script>'
            f'<script type="{render.TABLE_DATA_TYPE}">{{}}</script><script type="application/json">[]</script>')
    assert render.executable_scripts(page) == ["one", "two"]


def test_a_script_left_open_runs_to_the_end_of_the_text():
    # The HTML parser reads everything after an unclosed <script> as its text: a page's next script among it.
    assert render.executable_scripts('<p>a</p><script>one<p>b</p>') == ["one<p>b</p>"]
    assert render.executable_scripts(f'<script type="{render.TABLE_DATA_TYPE}">{{}}') == []


def test_anchors_are_plain_fragments_whatever_the_name():
    assert render.identity_anchor("user", "alice.smith@example.com") == "identity-user/alice.smith@example.com"
    assert render.identity_anchor("root", "root") == "identity-root"
    hostile = render.identity_anchor("user", '<b a="1">')
    assert not set(hostile) & set('<>" ')
    assert render.link(hostile, "x") == f'<a href="#{hostile}">x</a>'  # no second encoding


def finding(severity: Severity, n: int) -> Finding:
    return Finding("kind", f"s{n}", severity, f"<b>title {n}</b>", Remedy(Fix.READ_POLICIES),
                   identities=("arn:aws:iam::111122223333:user/<i>u</i>",))


def test_top_risks_rank_and_link_findings_and_leave_information_out():
    out = render.top_risks([finding(Severity.HIGH, 1), finding(Severity.LOW, 2), finding(Severity.INFO, 3)])
    assert re.findall(r'href="#(finding-[^"]+)"', out) == ["finding-kind-s1", "finding-kind-s2"]
    assert "<b>" not in out and "&lt;b&gt;title 1&lt;/b&gt;" in out
    assert "No risk found" in render.top_risks([finding(Severity.INFO, 3)])


def test_finding_details_link_their_identities_by_name():
    arn = "arn:aws:iam::111122223333:user/<i>u</i>"
    out = render.finding_details(finding(Severity.MEDIUM, 1), {arn: ("user", "<i>u</i>")})
    assert out.startswith('<section id="finding-kind-s1">')
    assert '<a href="#identity-user/%3Ci%3Eu%3C/i%3E">user &lt;i&gt;u&lt;/i&gt;</a>' in out


def matrix(rows: list[tuple[str, str, str, bool]]) -> pd.DataFrame:
    """(identity, capability, decision, conditional) rows, one per action."""
    return pd.DataFrame({
        "identity_arn": [f"arn:aws:iam::111122223333:user/{name}" for name, *_ in rows],
        "action": [f"support:Action{i}" for i in range(len(rows))],
        "capability": [capability for _, capability, _, _ in rows],
        "decision": [decision for _, _, decision, _ in rows],
        "conditional": [conditional for *_, conditional in rows],
        "check_scope": [""] * len(rows),
        "explanation": [f"because {decision}" for _, _, decision, _ in rows],
    })


def people(names: list[str], persona: str = "Case opener") -> pd.DataFrame:
    return pd.DataFrame({"identity_arn": [f"arn:aws:iam::111122223333:user/{n}" for n in names],
                         "identity_type": "user", "identity_name": names, "persona": persona})


def access_of(rows: list[tuple[str, str, str, bool]], conditional: dict[int, str] | None = None) -> np.ndarray:
    """Each row's access as who-can answers: the matrix's decision, or (by row) what conditions allow."""
    access = np.array(["allowed" if decision == "allowed" else "denied" for _, _, decision, _ in rows], dtype=object)
    for row, value in (conditional or {}).items():
        access[row] = value
    return access


def test_capability_cells_say_all_some_conditional_denied_or_none():
    opens, reads = "Open support cases", "Read support cases"
    rows = [
        ("a", opens, "allowed", False), ("a", reads, "allowed", False), ("a", reads, "implicitDeny", False),
        ("b", opens, "implicitDeny", True), ("b", reads, "explicitDeny", False), ("b", reads, "implicitDeny", False),
        ("c", opens, "allowed", True), ("c", reads, "implicitDeny", True), ("c", reads, "implicitDeny", False),
    ]
    # b may open cases with MFA (denied without); c's Allow holds now, but not whatever the request says, and
    # c's read is denied under every request.
    access = access_of(rows, {3: "conditional", 6: "conditional", 7: "denied"})
    grid = render.capability_grid(matrix(rows), people(["a", "b", "c"]), access)
    assert grid.capabilities == [opens, reads]  # in the catalog's Capability order
    assert grid.states.tolist() == [[render.ALL, render.SOME], [render.CONDITIONAL, render.DENIED],
                                    [render.CONDITIONAL, render.NONE]]
    assert grid.totals.tolist() == [1, 2]
    assert grid.reasons[1, 1] == "because explicitDeny"


def test_a_cell_says_why_in_its_own_state_and_a_conditional_one_names_its_conditions():
    # Row 0 (a's open) is allowed only with MFA, row 1 whatever the request: the cell can open (some
    # actions), so its reason is row 1's. b's only open action is allowed only from a network: the reason is
    # that condition, not the matrix's explanation under the one context it was built with.
    opens = "Open support cases"
    rows = [("a", opens, "implicitDeny", True), ("a", opens, "allowed", False), ("b", opens, "implicitDeny", True)]
    conditions = np.array(["with MFA", "", "from 10.0.0.0/8 <b>"], dtype=object)
    grid = render.capability_grid(matrix(rows), people(["a", "b"]),
                                  access_of(rows, {0: "conditional", 2: "conditional"}), conditions)
    assert grid.states.tolist() == [[render.SOME], [render.CONDITIONAL]]
    assert grid.reasons[0, 0] == "because allowed"
    assert grid.reasons[1, 0] == "support:Action2 allowed from 10.0.0.0/8 <b>"
    out = render.heatmap(grid)
    assert "support:Action2 allowed from 10.0.0.0/8 &lt;b&gt;</title>" in out and "<b>" not in out


def test_a_large_account_gets_persona_groups_with_drill_down():
    names = [f"u{n}" for n in range(render.DETAILED_IDENTITIES + 1)]
    rows = [(name, "Open support cases", "allowed" if i % 2 else "implicitDeny", False) for i, name in enumerate(names)]
    out = render.heatmap(render.capability_grid(matrix(rows), people(names), access_of(rows)))
    assert f"{len(names)} identities, grouped by persona and type" in out
    svgs = re.findall(r"<svg .*?</svg>", out, re.S)
    assert len(svgs) == 2  # the groups (one here), then the group's identities inside <details>
    assert "Case opener, user (101): 50 of 101 identities can open support cases" in svgs[0]
    assert out.count("<details>") == 1 and len(re.findall("<rect ", svgs[1])) == render.DRILL_DOWN_ROWS
    assert f"The first {render.DRILL_DOWN_ROWS} of 101" in out


def test_static_tables_escape_everything():
    out = render.static_table(pd.DataFrame({"a_b": [HOSTILE], "n": [np.int64(2)], "f": [True]}))
    assert "<img" not in out and "<th>a b</th>" in out and '<td class="number">2</td>' in out and "<td>yes</td>" in out


def test_one_table_builder_escapes_links_spans_and_every_text():
    from supportkit.report.html_page import Link, Span, html_table

    out = html_table([HOSTILE], [[Link(HOSTILE, "a b.html"), np.int64(0), np.float64("nan"), False,
                                  Span((HOSTILE, Link("nb", "x&y.ipynb")), 2, "error")]],
                     row_classes=["failed"], false="no")
    assert "<script" not in out and "<img" not in out
    assert '<a href="a%20b.html">' in out and '<a href="x%26y.ipynb">nb</a>' in out
    assert '<td class="number zero">0</td><td></td><td>no</td>' in out
    assert '<td class="error" colspan="2">' in out and '<tr class="failed">' in out
