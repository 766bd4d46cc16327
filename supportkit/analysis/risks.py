"""The built-in finding producers: the tables of :mod:`supportkit.analysis.findings` as actionable findings.

Each producer reads :class:`~supportkit.analysis.finding.FindingSources` and yields
:class:`~supportkit.analysis.finding.Finding` objects; severities follow the scale of
:mod:`supportkit.analysis.finding`. Repetitive rows are grouped: one plan-gap finding per plan, one
console-breakage finding per identity naming its missing actions once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd

from supportkit.analysis.finding import (
    MANY, Finding, FindingSources, Fix, Remedy, Severity, StatementRef, finding_producer,
)
from supportkit.support.managed import aws_managed_policy
from supportkit.analysis.findings import (
    CREATE_CASE, CREATE_SUPPORT_PERMIT, DESCRIBE_CASES, GRANTS_NOTHING, OPEN_CASES, ROOT, START_SUPPORT_PLAN_UPDATE, SUPPORT_API_WITHOUT_TA_CONSOLE,
)

SUPPORT_ACCESS_POLICY = "AWSSupportAccess"
"""AWS's managed policy that grants ``support:*`` and ``support-console:*``: what an identity that lacks Support
Center actions can attach."""

SERVICE_LINKED = ":role/aws-service-role/"
_STATEMENT = re.compile(r"(Allow|Deny) in identity policy '(.+?)' Statement\[(\d+)\](?: \(Sid ([^)]*)\))?")


def statements_in(explanation: str, effect: str = "Allow") -> tuple[StatementRef, ...]:
    """The identity-policy statements of ``effect`` that an explanation names, in order, each once."""
    found = (StatementRef(m[2], int(m[3]), m[4]) for m in _STATEMENT.finditer(explanation) if m[1] == effect)
    return tuple(dict.fromkeys(found))


def _label(kind: str, name: str) -> str:
    return "root user" if kind == ROOT else f"{kind} {name}"


def _grants(frame: pd.DataFrame) -> tuple[StatementRef, ...]:
    return tuple(dict.fromkeys(s for text in frame["explanation"] for s in statements_in(str(text))))


def _who_can(sources: FindingSources, table: str, action: str, kind: str, title: str) -> Iterator[Finding]:
    """One finding for the identities other than root allowed ``action``; high when more than :data:`MANY`."""
    frame = sources.tables[table]
    frame = frame[frame["identity_type"] != ROOT]
    if frame.empty:
        return
    count = len(frame)
    yield Finding(
        kind=kind, subject=action, severity=Severity.HIGH if count > MANY else Severity.MEDIUM,
        title=title.format(count=count, s="y" if count == 1 else "ies"),
        remedy=Remedy(Fix.RESTRICT_TO_TEAM, actions=(action,), statements=_grants(frame)),
        identities=tuple(frame["identity_arn"]), statements=_grants(frame), count=count,
    )


@finding_producer(
    "read-all-cases", clear="Nobody other than root can read the account's support cases, directly or through a path.")
def read_all_cases(sources: FindingSources) -> Iterator[Finding]:
    """Who reads every case (there is no per-case access, and cases carry logs, keys and customer data): the
    principals who-can finds, people and where they come from, not only the account's identities.

    Critical when a principal outside the account (another account, anyone) is among them; when the account's
    organization is known, its other accounts, and anyone a trust policy admits only from it (``"AWS": "*"``
    limited by ``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths`` or ``aws:PrincipalAccount``), are of kind
    "inside the organization" (:mod:`supportkit.analysis.kinds`) and count by number, as the account's own
    identities do, and only principals outside the organization make it critical. Those allowed only under conditions (with
    MFA, from a network...) are counted apart.
    """
    frame = sources.tables["who_reads_cases"]
    frame = frame[frame["kind"] != ROOT]
    if frame.empty:
        return
    count = len(frame)
    conditional = int((frame["decision"] == "conditional").sum())
    kinds = ", ".join(f"{n} {kind}" for kind, n in frame["kind"].value_counts(sort=False).items())
    # Another account or anyone: a principal that is none of the account's identities (those the path crosses).
    outside = any(kind == "external" and principal not in str(through).split("; ")
                  for kind, principal, through in zip(frame["kind"], frame["principal"], frame["identities"]))
    severity = Severity.CRITICAL if outside else Severity.HIGH if count > MANY else Severity.MEDIUM
    under = f", {conditional} of them only under conditions" if conditional else ""
    identities = tuple(dict.fromkeys(arn for text in frame["identities"] for arn in str(text).split("; ") if arn))
    readers = sources.tables["can_read_all_cases"]
    grants = _grants(readers[readers["identity_arn"].isin(identities)])
    yield Finding(
        kind="read-all-cases", subject=DESCRIBE_CASES, severity=severity,
        title=f"{count} principal{'s' if count != 1 else ''} other than root can read every support case of the "
              f"account ({kinds}{under})",
        remedy=Remedy(Fix.RESTRICT_TO_TEAM, actions=(DESCRIBE_CASES,), statements=grants),
        identities=identities, statements=grants, count=count,
    )


@finding_producer(
    "support-permit", clear="No identity other than root can let AWS Support staff act on the account's resources.")
def support_permit(sources: FindingSources) -> Iterator[Finding]:
    """Who can create support permits: AWS Support staff then act on the account's resources."""
    yield from _who_can(sources, "can_permit_support_access", CREATE_SUPPORT_PERMIT, "support-permit",
                        "{count} identit{s} other than root can let AWS Support staff act on the account's resources")


@finding_producer(
    "change-plan", clear="No identity other than root can change the support plan.")
def change_plan(sources: FindingSources) -> Iterator[Finding]:
    """Who can change the support plan: a paid commitment (Enterprise starts at thousands of dollars a month)."""
    matrix = sources.matrix
    frame = matrix.loc[(matrix["action"] == START_SUPPORT_PLAN_UPDATE) & (matrix["decision"] == "allowed")
                       & (matrix["identity_type"] != ROOT), ["identity_arn", "explanation"]]
    if frame.empty:
        return
    count = len(frame)
    yield Finding(
        kind="change-plan", subject=START_SUPPORT_PLAN_UPDATE, severity=Severity.HIGH,
        title=f"{count} identit{'y' if count == 1 else 'ies'} other than root can change the support plan",
        remedy=Remedy(Fix.RESTRICT_TO_TEAM, actions=(START_SUPPORT_PLAN_UPDATE,), statements=_grants(frame)),
        identities=tuple(map(str, frame["identity_arn"])), statements=_grants(frame), count=count,
    )


@finding_producer(
    "console-breakage", clear="Every identity allowed to open or read cases has the actions Support Center uses internally.")
def console_breakage(sources: FindingSources) -> Iterator[Finding]:
    """Per identity: the Support Center actions it lacks, once, and the statement or policy that would fix it."""
    for row in sources.tables["console_breakage"].itertuples(index=False):
        missing = tuple(str(row.missing_actions).split(", "))
        denying = statements_in(str(row.explanation), "Deny")
        if denying:
            remedy = Remedy(Fix.UNDENY_ACTIONS, actions=missing, statements=denying)
        else:
            # AWS managed policies cannot be edited: the policy to extend is the identity's own that grants access.
            editable = [s.policy for s in statements_in(_case_grant(sources, row.identity_arn))
                        if aws_managed_policy(s.policy) is None]
            remedy = Remedy(Fix.ADD_ACTIONS, actions=missing, policy=editable[0] if editable else None,
                            managed_policy=SUPPORT_ACCESS_POLICY)
        uses = "open and read" if row.can_open else "read"
        yield Finding(
            kind="console-breakage", subject=f"{row.identity_type}/{row.identity_name}", severity=Severity.MEDIUM,
            title=f"{_label(row.identity_type, row.identity_name)} may {uses} cases, but Support Center lacks "
                  f"{len(missing)} action{'s' if len(missing) != 1 else ''} it uses internally",
            remedy=remedy, identities=(row.identity_arn,), statements=denying,
        )


def _case_grant(sources: FindingSources, arn: str) -> str:
    """The explanation of what lets ``arn`` open cases (else read them): the policy that fixing extends."""
    for table in ("can_open_cases", "can_read_all_cases"):
        frame = sources.tables[table]
        rows = frame.loc[frame["identity_arn"] == arn, "explanation"]
        if len(rows):
            return str(rows.iloc[0])
    return ""


@finding_producer(
    "root-only", clear="Users or roles can use AWS Support: nobody needs the root user for it.")
def root_only(sources: FindingSources) -> Iterator[Finding]:
    """Only root can use support: every case then means signing in with the root credentials."""
    for row in sources.tables["root_only_access"].itertuples(index=False):
        only_cases = row.scope == OPEN_CASES
        actions = (CREATE_CASE,) if only_cases else (CREATE_CASE, DESCRIBE_CASES)
        yield Finding(
            kind="root-only", subject=str(row.scope), severity=Severity.MEDIUM,
            title=f"Only the root user can {'open cases' if only_cases else 'use AWS Support'}",
            remedy=Remedy(Fix.GRANT_NON_ROOT, actions=actions, managed_policy=SUPPORT_ACCESS_POLICY),
            identities=(row.identity_arn,),
        )


@finding_producer(
    "plan-gap", clear="The support plan serves every API permission identities hold (or the plan is unknown).")
def plan_gap(sources: FindingSources) -> Iterator[Finding]:
    """One line per plan: the API actions the plan does not serve, and how many identities hold them."""
    frame = sources.tables["plan_gaps"]
    for plan, rows in frame.groupby("support_plan", sort=True):
        actions = tuple(sorted({a for text in rows["actions"] for a in str(text).split(", ")}))
        yield Finding(
            kind="plan-gap", subject=str(plan), severity=Severity.INFO,
            title=f"{len(rows)} identit{'y holds' if len(rows) == 1 else 'ies hold'} {len(actions)} API "
                  f"permissions that the {plan} plan does not serve",
            remedy=Remedy(Fix.NOTHING_IN_IAM, actions=actions, plan=str(plan)),
            identities=tuple(rows["identity_arn"]), count=len(rows),
        )


@finding_producer(
    "dead-statement", clear="No statement names support actions with a Resource other than \"*\".")
def dead_statement(sources: FindingSources) -> Iterator[Finding]:
    """Statements scoped to resources support actions never use: a Deny that protects nothing is high."""
    for row in sources.tables["resource_scoped_support_statements"].itertuples(index=False):
        statement = StatementRef(str(row.policy), int(row.statement), str(row.sid) or None)
        yield Finding(
            kind="dead-statement", subject=f"{row.policy}/{row.statement}",
            severity=Severity.LOW if row.verdict == GRANTS_NOTHING else Severity.HIGH,
            title=f"{row.effect} statement {statement.label()} {row.verdict} for {row.action_count} support "
                  "actions (its Resource is not \"*\")",
            remedy=Remedy(Fix.FIX_RESOURCE, statements=(statement,)), statements=(statement,),
        )


@finding_producer(
    "namespace-mixup", clear="Nobody has Trusted Advisor in one IAM namespace only (support: vs trustedadvisor:).")
def namespace_mixup(sources: FindingSources) -> Iterator[Finding]:
    """Trusted Advisor granted in one IAM namespace only: the other surface (console or API) stays closed."""
    for row in sources.tables["namespace_mixups"].itertuples(index=False):
        if SERVICE_LINKED in row.identity_arn:  # managed by AWS: nothing anyone can change
            continue
        other = "trustedadvisor:Describe*" if row.mixup == SUPPORT_API_WITHOUT_TA_CONSOLE else \
            "support:DescribeTrustedAdvisor*"
        yield Finding(
            kind="namespace-mixup", subject=f"{row.identity_type}/{row.identity_name}", severity=Severity.LOW,
            title=f"{_label(row.identity_type, row.identity_name)}: {row.mixup}",
            remedy=Remedy(Fix.ALIGN_NAMESPACES, actions=(other,)), identities=(row.identity_arn,),
        )


@finding_producer(
    "incomplete", clear="Every policy governing an identity was read.")
def incomplete(sources: FindingSources) -> Iterator[Finding]:
    """Identities with a policy that could not be read: their decisions may be wrong."""
    frame = sources.tables["incomplete_identities"]
    for arn, rows in frame.groupby("identity_arn", sort=False):
        first = rows.iloc[0]
        yield Finding(
            kind="incomplete", subject=f"{first['identity_type']}/{first['identity_name']}", severity=Severity.MEDIUM,
            title=f"{_label(first['identity_type'], first['identity_name'])} is incomplete: "
                  + "; ".join(map(str, rows["problem"])),
            remedy=Remedy(Fix.READ_POLICIES), identities=(str(arn),),
        )
