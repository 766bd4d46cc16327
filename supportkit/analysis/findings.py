"""Findings: the questions an analyst asks of a permission matrix, each answered as a DataFrame.

Every finding reads the long matrix of :func:`supportkit.analysis.matrix.build_matrix` (one row per identity and
action), so it answers under the request context that matrix was built with; ``conditional`` says when
another context could change the answer. Explanations are the matrix's own: the deciding statements, or
the layer (``blocked_by``) that had no Allow.

A matrix holds up to identities x actions rows (10,000 x 120 = 1.2M): findings work on arrays of one row per
identity and one column per action (:class:`_Grid`, built once per matrix by :func:`all_findings` and shared by
every finding), never on one cell at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from supportkit.snapshot import Account, IdentityType
from supportkit.support.catalog import AccessLevel, Capability, Catalog, load_catalog
from supportkit.support.console import console_requirement
from supportkit.iam.context import EMPTY_CONTEXT
from supportkit.iam.evaluate import Decision
from supportkit.analysis.access import SOME_CHECKS, AccessDecision
from supportkit.iam.policy import Effect

if TYPE_CHECKING:
    from supportkit.analysis.kinds import IdentityKind

IDENTITY_COLUMNS = ["identity_arn", "identity_type", "identity_name"]
ROOT = IdentityType.ROOT.value

CREATE_CASE = "support:CreateCase"
DESCRIBE_CASES = "support:DescribeCases"
ADD_COMMUNICATION = "support:AddCommunicationToCase"
RESOLVE_CASE = "support:ResolveCase"
GET_SUPPORT_PLAN = "supportplans:GetSupportPlan"
START_SUPPORT_PLAN_UPDATE = "supportplans:StartSupportPlanUpdate"
CREATE_SLACK_CHANNEL = "supportapp:CreateSlackChannelConfiguration"
CREATE_SUPPORT_PERMIT = "supportauthz:CreateSupportPermit"

TA_CAPABILITIES = frozenset({
    Capability.TA_READ, Capability.TA_CHANGE, Capability.TA_ORGANIZATION, Capability.TA_PRIORITY,
})
ANY_SUPPORT_ACTION = "any support action"
OPEN_CASES = "open cases"
SUPPORT_API_WITHOUT_TA_CONSOLE = "Support API's Trusted Advisor operations without the Trusted Advisor console"
TA_CONSOLE_WITHOUT_SUPPORT_API = "Trusted Advisor console without the Support API's Trusted Advisor operations"
GRANTS_NOTHING = "grants nothing"
DENIES_NOTHING = "denies nothing"


# Who is allowed what, as arrays


SOME_CHECKS_PREFIX = "allowed on some Trusted Advisor checks only; on checks no statement names: "


@dataclass(frozen=True)
class _Grid:
    """The matrix pivoted: one row per identity (in matrix order), one column per action (in matrix order).

    ``allowed`` is True where the identity can use the action: the request is allowed, or a Trusted Advisor
    check action is allowed on some checks only. ``decided`` is the decision alone; ``explanation`` is the
    cell's (saying first when the grant is on some checks only), "" where the matrix has no such cell.
    ``always`` and ``conditionally`` are the cell's three states as who-can answers them (``access`` of
    :meth:`of`): allowed whatever the request, allowed only under some conditions; without ``access``,
    ``always`` is ``allowed`` and nothing is conditional.
    """

    identities: pd.DataFrame  # IDENTITY_COLUMNS and incomplete, one row per identity, index 0..n-1
    columns: Mapping[str, int]  # lower-cased action name -> column of the arrays
    allowed: np.ndarray  # bool, identities x actions
    decided: np.ndarray  # bool: decision allowed
    conditional: np.ndarray  # bool
    context_keys: np.ndarray  # object (str)
    explanation: np.ndarray  # object (str)
    always: np.ndarray  # bool: allowed whatever the request
    conditionally: np.ndarray  # bool: allowed only under some conditions

    @classmethod
    def of(cls, matrix: pd.DataFrame, access: np.ndarray | None = None) -> "_Grid":
        """``access``: per matrix row, ``allowed``, ``conditional`` or ``denied``
        (:func:`supportkit.analysis.access.cell_access`)."""
        identity_codes, arns = pd.factorize(matrix["identity_arn"].to_numpy(), sort=False)
        action_codes, actions = pd.factorize(matrix["action"].to_numpy(), sort=False)
        shape = (len(arns), len(actions))

        def spread(values: np.ndarray, fill: Any) -> np.ndarray:
            grid = np.full(shape, fill, dtype=values.dtype)
            grid[identity_codes, action_codes] = values
            return grid

        decided = (matrix["decision"] == Decision.ALLOWED.value).to_numpy()
        some = (matrix["check_scope"] == SOME_CHECKS).to_numpy()
        explanation = _texts(matrix["explanation"])
        if some.any():
            explanation[some] = SOME_CHECKS_PREFIX + explanation[some].astype(object)
        first = ~pd.Series(identity_codes).duplicated().to_numpy()
        allowed = spread(decided | some, False)
        if access is None:
            always, conditionally = allowed, np.zeros(shape, dtype=bool)
        else:
            always = spread(access == AccessDecision.ALLOWED.value, False)
            conditionally = spread(access == AccessDecision.CONDITIONAL.value, False)
        return cls(
            _plain(matrix.loc[first, [*IDENTITY_COLUMNS, "incomplete"]]),
            {str(action).lower(): column for column, action in enumerate(actions)},
            allowed, spread(decided, False),
            spread(matrix["conditional"].to_numpy(dtype=bool), False),
            spread(_texts(matrix["context_keys"]), ""), spread(explanation, ""), always, conditionally,
        )

    def select(self, actions: Sequence[str], cells: np.ndarray | None = None) -> np.ndarray:
        """The columns of ``actions`` of ``cells`` (``allowed`` by default), in that order; a name the matrix
        lacks is an error, not a silent False."""
        missing = [name for name in actions if name.lower() not in self.columns]
        if missing:
            raise ValueError(
                f"the matrix has no rows for {', '.join(missing)}: build it with the catalog given to the finding"
            )
        return (self.allowed if cells is None else cells)[:, [self.columns[name.lower()] for name in actions]]

    def any(self, actions: Sequence[str], cells: np.ndarray | None = None) -> np.ndarray:
        """Per identity: allowed at least one of ``actions`` (in ``cells``, ``allowed`` by default)."""
        return np.asarray(self.select(actions, cells).any(axis=1))


def _texts(column: pd.Series) -> np.ndarray:
    """A text column of the matrix as an object array of str, converting each category once, not each cell."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.array([str(c) for c in column.cat.categories], dtype=object)
        return categories[column.cat.codes.to_numpy()]
    return column.astype(str).to_numpy(dtype=object)


def _text_column(values: Sequence[str] | np.ndarray) -> Any:
    """Values as the str column a finding table holds."""
    return pd.array(np.asarray(values, dtype=object), dtype=str)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A small slice of the matrix with its categorical columns as plain values and a fresh 0..n-1 index."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}).reset_index(
        drop=True
    )


def _names_per_row(selected: np.ndarray, names: Sequence[str]) -> list[str]:
    """For each row of a boolean array, the ``names`` of its True columns joined by ", " (one join per distinct row)."""
    if not len(selected):
        return []
    patterns, inverse = np.unique(selected, axis=0, return_inverse=True)
    labels = np.array(names, dtype=object)
    joined = [", ".join(labels[pattern]) for pattern in patterns]
    return [joined[i] for i in inverse.reshape(-1)]


def _frame(identities: pd.DataFrame, rows: np.ndarray, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The identity columns of ``rows`` followed by ``columns`` (arrays already restricted to ``rows``)."""
    return pd.DataFrame({**{name: identities[name].array[rows] for name in IDENTITY_COLUMNS}, **columns})


# Explanations: the matrix's own (Result.summary's words)


def _who_is_allowed(matrix: pd.DataFrame, action: str, grid: _Grid | None) -> pd.DataFrame:
    grid = grid or _Grid.of(matrix)
    column = grid.columns.get(action.lower())
    if column is None and len(matrix):
        raise ValueError(f"the matrix has no rows for {action}")
    rows = grid.decided[:, column] if column is not None else np.zeros(len(grid.identities), dtype=bool)

    def cells(values: np.ndarray) -> np.ndarray:
        return values[rows, column] if column is not None else values[:0, :0].ravel()

    return _frame(grid.identities, rows, {
        "conditional": cells(grid.conditional),
        "context_keys": _text_column(cells(grid.context_keys)),
        "incomplete": grid.identities.loc[rows, "incomplete"].to_numpy(),
        "explanation": _text_column(cells(grid.explanation)),
    })


def _granted_by(grid: _Grid, rows: np.ndarray, actions: Sequence[str]) -> list[str]:
    """Per identity of ``rows``: the distinct explanations of its allowed cells among ``actions``, in matrix order."""
    columns = sorted(grid.columns[name.lower()] for name in actions)
    allowed, explanation = grid.allowed[rows][:, columns], grid.explanation[rows][:, columns]
    return ["; ".join(dict.fromkeys(texts[granted])) for texts, granted in zip(explanation, allowed)]


# The findings


def can_open_cases(matrix: pd.DataFrame, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities allowed support:CreateCase, with the statements that allow it."""
    return _who_is_allowed(matrix, CREATE_CASE, grid)


def can_read_all_cases(matrix: pd.DataFrame, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities allowed support:DescribeCases.

    AWS Support has no per-case permission: the action takes no resource, so whoever is allowed it reads
    every case of the account, whoever opened it.
    """
    return _who_is_allowed(matrix, DESCRIBE_CASES, grid)


def can_resolve_cases(matrix: pd.DataFrame, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities allowed support:ResolveCase (any case of the account: there is no per-case access)."""
    return _who_is_allowed(matrix, RESOLVE_CASE, grid)


def _console_needs(catalog: Catalog) -> tuple[list[str], np.ndarray]:
    """The actions Support Center calls on the user's behalf, and which of them merely reading cases needs.

    Two sets: the eight ``support:`` actions AWS says Support Center uses internally, and the
    ``support-console:`` actions of AWS's minimum policy, required since 16 November 2026
    (:mod:`supportkit.support.console`). Reading needs the Read and List ones (of the ``support:`` ones,
    exactly those AWS's ReadOnlyAccess grants); opening or answering cases needs all of them.
    """
    required = {name.lower() for name in console_requirement().actions}
    needed = [action for action in catalog if action.support_center_internal or action.name.lower() in required]
    for_reading = np.array([action.access_level in (AccessLevel.READ, AccessLevel.LIST) for action in needed])
    return [action.name for action in needed], for_reading


def _console_missing(grid: _Grid, catalog: Catalog) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The needed actions, whether each identity can open and read cases, and which needed actions it lacks."""
    needed_actions, for_reading = _console_needs(catalog)
    can_open = grid.any([CREATE_CASE])
    can_read = grid.any([DESCRIBE_CASES])
    writes = can_open | grid.any([ADD_COMMUNICATION])
    needed = writes[:, None] | (can_read[:, None] & for_reading[None, :])
    return needed_actions, can_open, can_read, needed & ~grid.select(needed_actions)


def console_breakage(matrix: pd.DataFrame, catalog: Catalog,
                     kinds: Mapping[str, IdentityKind] | None = None, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities that may open, read or answer cases whose Support Center console breaks: a needed action is denied.

    Support Center calls eight ``support:`` actions and, since 16 November 2026, the ``support-console:``
    actions of AWS's minimum policy on the user's behalf. Someone who can open or answer cases needs all of
    them; someone who can only read cases needs the Read ones, so read-only viewers are not flagged for
    lacking chat, call, rating or draft actions. ``missing_actions`` is what to add; ``requirement`` says
    where AWS requires the ``support-console:`` ones.
    With ``kinds`` (identity kinds by ARN), only identities people sign in as are listed: a workload or a
    service-linked role never opens the console.
    """
    grid = grid or _Grid.of(matrix)
    internal, can_open, can_read, missing = _console_missing(grid, catalog)
    rows = np.asarray(missing.any(axis=1))
    if kinds is not None:
        people = [kinds[arn].people if arn in kinds else True for arn in grid.identities["identity_arn"]]
        rows &= np.array(people, dtype=bool)
    requirement = console_requirement()
    console = np.array([name.lower() in {a.lower() for a in requirement.actions} for name in internal])
    needs_console = (missing[rows] & console[None, :]).any(axis=1)
    frame = _frame(grid.identities, rows, {
        "can_open": can_open[rows],
        "can_read": can_read[rows],
        "missing_actions": _names_per_row(missing[rows], internal),
        "missing_count": missing[rows].sum(axis=1),
        "requirement": np.where(needs_console, (
            f"Support Center needs the Support Center Console API (support-console:) since "
            f"{requirement.enforced_text}: {requirement.enforcement_source.citation}; minimum actions from "
            f"\"{requirement.actions_source.title}\" ({requirement.actions_source.url}); AWSSupportAccess includes "
            "support-console:*"), ""),
    })
    columns = [grid.columns[name.lower()] for name in internal]
    explanations = grid.explanation[rows][:, columns]
    frame["explanation"] = _text_column([
        "; ".join(f"{action}: {text}" for action, text, lacking in zip(internal, texts, lacks) if lacking)
        for texts, lacks in zip(explanations, missing[rows])
    ])
    return frame


def can_permit_support_access(matrix: pd.DataFrame, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities allowed supportauthz:CreateSupportPermit: who can let AWS Support staff act on resources.

    "A support permit is a customer-managed resource that defines the scope and conditions of authorized
    access" of AWS Support operators to the account's resources (AWS Support User Guide, "AWS Support
    authorization", https://docs.aws.amazon.com/awssupport/latest/user/support-authorization.html).
    """
    return _who_is_allowed(matrix, CREATE_SUPPORT_PERMIT, grid)


def resource_scoped_support_statements(account: Account, catalog: Catalog) -> pd.DataFrame:
    """Statements that name support actions but can never apply to them: their Resource is not ``*``.

    AWS Support, Support Center, Support Plans, the Support App and the non-check Trusted Advisor actions
    take no resource type, so every request is made on ``*``; a statement whose Resource (or NotResource)
    does not cover ``*`` never applies: an Allow grants nothing and a Deny denies nothing. Actions with a
    resource type (Trusted Advisor checks, support permits) are left out, since ARNs do scope them. One row per statement, for identity
    policies, permissions boundaries and SCPs alike.
    """
    starred = [action.name for action in catalog if not action.resource_types]
    checks = [action.name for action in catalog if action.resource_types]
    rows = []
    named_by: dict[tuple[tuple[str, ...], bool], tuple[list[str], bool]] = {}  # Action element -> what it names
    for named in account.policies:  # every policy that governs someone, and the SCPs
        for statement in named.policy.statements:
            if statement.matches_resource("*", EMPTY_CONTEXT):  # most statements: no action need be matched
                continue
            action_element = (statement.actions, statement.not_action)
            if action_element not in named_by:
                named_by[action_element] = ([name for name in starred if statement.matches_action(name)],
                                     any(statement.matches_action(name) for name in checks))
            affected, names_checks = named_by[action_element]
            if not affected:
                continue
            element = "NotResource" if statement.not_resource else "Resource"
            resources = ", ".join(pattern.text for pattern in statement.resources)
            verdict = GRANTS_NOTHING if statement.effect is Effect.ALLOW else DENIES_NOTHING
            rows.append({
                "policy": named.name,
                "kind": named.kind.value,
                "scp_target": named.target or "",
                "statement": statement.index,
                "sid": statement.sid or "",
                "effect": statement.effect.value,
                "resource_element": element,
                "resources": resources,
                "actions": ", ".join(affected),
                "action_count": len(affected),
                "verdict": verdict,
                "explanation": (
                    f"these actions are always requested on resource '*', which {element} {resources} "
                    f"{'excludes' if statement.not_resource else 'does not match'}: for them the "
                    f"{statement.effect.value} {verdict}"
                    + ("; the actions it names that take resource ARNs (Trusted Advisor checks, support permits) "
                       "are not judged here"
                       if names_checks else "")
                ),
            })
    columns = [
        "policy", "kind", "scp_target", "statement", "sid", "effect", "resource_element", "resources", "actions",
        "action_count", "verdict", "explanation",
    ]
    return pd.DataFrame(rows, columns=columns)


def _support_ta_operations(catalog: Catalog) -> list[str]:
    """support:DescribeTrustedAdvisor* and support:RefreshTrustedAdvisorCheck: Trusted Advisor via the Support API."""
    return [a.name for a in catalog if a.prefix == "support" and a.capability in TA_CAPABILITIES]


def namespace_mixups(matrix: pd.DataFrame, catalog: Catalog, grid: _Grid | None = None) -> pd.DataFrame:
    """Identities allowed Trusted Advisor in one IAM namespace but not the other.

    The Trusted Advisor console is governed by ``trustedadvisor:`` actions; the AWS Support API's Trusted
    Advisor operations (``support:DescribeTrustedAdvisor*``, ``support:RefreshTrustedAdvisorCheck``, used by
    the CLI, SDKs and tools) by ``support:`` actions. A grant in one namespace does nothing for the other.
    """
    grid = grid or _Grid.of(matrix)
    api_actions = _support_ta_operations(catalog)
    console_actions = [a.name for a in catalog if a.prefix == "trustedadvisor"]
    api = grid.any(api_actions)
    console = grid.any(console_actions)
    frames = []
    for rows, mixup, actions, explanation in (
        (api & ~console, SUPPORT_API_WITHOUT_TA_CONSOLE, api_actions,
         "can call the AWS Support API's Trusted Advisor operations, but no trustedadvisor: action is allowed, "
         "and the Trusted Advisor console needs trustedadvisor: permissions"),
        (console & ~api, TA_CONSOLE_WITHOUT_SUPPORT_API, console_actions,
         "can use the Trusted Advisor console (trustedadvisor:), but the AWS Support API's Trusted Advisor "
         "operations (aws support describe-trusted-advisor-checks...) need support: permissions, and none is allowed"),
    ):
        frame = _frame(grid.identities, rows, {
            "mixup": mixup,
            "allowed_actions": _names_per_row(grid.select(actions)[rows], actions),
        })
        frame["explanation"] = _text_column([f"{explanation}; {granted}" for granted in _granted_by(grid, rows, actions)])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def root_only_access(matrix: pd.DataFrame, grid: _Grid | None = None) -> pd.DataFrame:
    """One row when the root user is the only identity allowed any support action, or to open cases; else none.

    Then every case means signing in with the root credentials, which AWS advises to keep for the few
    tasks only root can do.
    """
    grid = grid or _Grid.of(matrix)
    root = (grid.identities["identity_type"] == ROOT).to_numpy()
    others = ~root
    open_cases = grid.any([CREATE_CASE])
    if grid.allowed[root].any() and not grid.allowed[others].any():
        scope = ANY_SUPPORT_ACTION
        text = "no user or role is allowed any support, Trusted Advisor or support plan action"
    elif open_cases[root].any() and not open_cases[others].any():
        scope = OPEN_CASES
        text = f"no user or role is allowed {CREATE_CASE}: every case must be opened as root"
    else:
        scope = text = ""
    rows = root & bool(scope)
    incomplete = int(grid.identities.loc[others, "incomplete"].sum())
    if incomplete:
        text += f" ({incomplete} identities are incomplete: their access may be understated)"
    return _frame(grid.identities, rows, {"scope": scope, "explanation": text})


def plan_gaps(matrix: pd.DataFrame, account: Account, catalog: Catalog, grid: _Grid | None = None) -> pd.DataFrame:
    """On a plan without the Support API (Basic, legacy Developer): identities allowed actions that need a paid plan.

    IAM allows them, but AWS refuses the API calls (SubscriptionRequiredException): through the API, CLI and
    SDKs these permissions do nothing until the plan changes; Support Center still serves what the plan
    covers. Empty when the plan is unknown or provides the Support API.
    """
    grid = grid or _Grid.of(matrix)
    plan = account.info.support_plan
    paid = [action.name for action in catalog if action.requires_paid_plan]
    selected = grid.select(paid)
    rows = np.asarray(selected.any(axis=1) & (plan is not None and not plan.provides_support_api))
    plan_name = plan.value if plan is not None else ""
    frame = _frame(grid.identities, rows, {
        "support_plan": plan_name,
        "actions": _names_per_row(selected[rows], paid),
        "action_count": selected[rows].sum(axis=1),
    })
    frame["explanation"] = (
        f"AWS serves these actions through its APIs only on Business Support+, Enterprise Support or Unified "
        f"Operations (or the legacy Business and Enterprise On-Ramp plans): on the {plan_name} plan the calls fail (SubscriptionRequiredException) whatever IAM allows; Support Center "
        "still serves what the plan includes"
    )
    return frame


def incomplete_identities(account: Account) -> pd.DataFrame:
    """Identities whose decisions may be wrong: a policy governing them could not be read. One row per problem."""
    rows = [
        (identity.arn, identity.type.value, identity.name, problem)
        for identity in account.identities
        for problem in identity.problems
    ]
    return pd.DataFrame(rows, columns=[*IDENTITY_COLUMNS, "problem"])


class Persona(Enum):
    """What an identity can do with AWS Support, in precedence order: the first that fits wins.

    The order follows what matters most (the findings' severities): changing the support plan, a paid
    commitment (high), comes before case access, whatever case access the identity also has. Whether Support
    Center can serve the access is not a persona: a persona says what the identity may do, and the
    console-breakage finding says what it lacks, so a label never hides a more important one. There is no
    "billing cases only" persona: support: actions take no resource and no service condition key, so IAM
    cannot tell a billing case from a technical one.
    """

    PLAN_ADMINISTRATOR = "Support plan administrator"  # can change the support plan, whatever else it can do
    FULL_SUPPORT = "Full support access"  # open, read, reply and resolve
    CASE_MANAGER_WITHOUT_RESOLVE = "Case manager without resolve"  # open, read and reply, not resolve
    CASE_OPENER = "Case opener"  # open, but not both read and reply
    CASE_RESPONDER = "Case responder"  # read, and reply or resolve, not open
    CASE_VIEWER = "Read-only case viewer"  # read only
    TRUSTED_ADVISOR_ONLY = "Trusted Advisor only"  # no case access nor plan change; reads or changes Trusted Advisor
    OTHER = "Other support permissions"  # something else allowed (case options, Slack app, plan read...)
    NO_ACCESS = "No support access"  # no catalog action allowed


def persona_actions(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The key actions behind each capability column of :func:`personas`: allowed one of them, the column is True."""
    return {
        "can_open": (CREATE_CASE,),
        "can_read": (DESCRIBE_CASES,),
        "can_reply": (ADD_COMMUNICATION,),
        "can_resolve": (RESOLVE_CASE,),
        "ta_read": tuple(a.name for a in catalog if a.capability is Capability.TA_READ),
        "ta_change": tuple(a.name for a in catalog if a.capability is Capability.TA_CHANGE),
        "plan_read": (GET_SUPPORT_PLAN,),
        "plan_change": (START_SUPPORT_PLAN_UPDATE,),
        "slack_app": (CREATE_SLACK_CHANNEL,),
        "support_permit": (CREATE_SUPPORT_PERMIT,),
    }


def personas(matrix: pd.DataFrame, catalog: Catalog, grid: _Grid | None = None) -> pd.DataFrame:
    """Each identity's :class:`Persona` and capability columns (see :func:`persona_actions` for their actions),
    in three states when the grid knows them (``access`` of :meth:`_Grid.of`; else under the matrix's one
    context, nothing conditional).

    ``persona`` and a capability column count what is allowed whatever the request; ``<column>_conditionally``
    is True where the capability is not, but some of its actions are allowed under some conditions (with MFA,
    from a network, ...); ``persona_conditionally`` is the persona when those conditions are met (``persona``
    itself when they change nothing), as if every condition could hold at once: two that exclude each other
    (MFA asked by one action, refused by another) still count both. Trusted Advisor check actions allowed on some checks only count as allowed.
    """
    grid = grid or _Grid.of(matrix)
    key_actions = persona_actions(catalog)
    met = grid.always | grid.conditionally  # every condition met
    can = {column: grid.any(actions, grid.always) for column, actions in key_actions.items()}
    could = {column: grid.any(actions, met) for column, actions in key_actions.items()}
    return _frame(grid.identities, np.ones(len(grid.identities), dtype=bool), {
        "persona": _persona_labels(can, np.asarray(grid.always.any(axis=1))),
        **can,
        "persona_conditionally": _persona_labels(could, np.asarray(met.any(axis=1))),
        **{f"{column}_conditionally": could[column] & ~can[column] for column in key_actions},
        "incomplete": grid.identities["incomplete"].to_numpy(),
    })


def _persona_labels(can: Mapping[str, np.ndarray], anything: np.ndarray) -> pd.Categorical:
    """The first :class:`Persona` that fits each identity's capability columns (``anything``: some action allowed)."""
    opens, reads, replies, resolves = can["can_open"], can["can_read"], can["can_reply"], can["can_resolve"]
    conditions = {
        Persona.PLAN_ADMINISTRATOR: can["plan_change"],
        Persona.FULL_SUPPORT: opens & reads & replies & resolves,
        Persona.CASE_MANAGER_WITHOUT_RESOLVE: opens & reads & replies,
        Persona.CASE_OPENER: opens,
        Persona.CASE_RESPONDER: reads & (replies | resolves),
        Persona.CASE_VIEWER: reads,
        Persona.TRUSTED_ADVISOR_ONLY: can["ta_read"] | can["ta_change"],
        Persona.OTHER: anything,
    }
    labels = np.select(list(conditions.values()), [p.value for p in conditions], default=Persona.NO_ACCESS.value)
    return pd.Categorical(labels, categories=[p.value for p in Persona])


def summary(matrix: pd.DataFrame, account: Account, catalog: Catalog | None = None,
            findings: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The headline numbers of the report index; ``personas`` counts every persona, zeros included.

    ``findings``: the matrix's :func:`all_findings`, when made already (its personas and console breakage);
    made with the three states (its ``access``), a count is of identities allowed whatever the request and
    ``trusted_advisor_users_conditionally`` of those allowed only under some conditions. Without them, the
    counts are of the matrix's decisions under the one context it was built with.
    """
    from supportkit.analysis.kinds import account_kinds  # here: the trust analysis, which a report never loads

    catalog = catalog or load_catalog()
    people = findings["personas"] if findings is not None else personas(matrix, catalog)
    console = findings["console_breakage"] if findings is not None else \
        console_breakage(matrix, catalog, account_kinds(account))
    counts = people["persona"].value_counts(sort=False)
    advisor = people["ta_read"] | people["ta_change"]
    plan = account.info.support_plan
    return {
        "account_id": account.info.account_id,
        "account_name": account.info.name,
        "support_plan": plan.value if plan is not None else None,
        "identities": len(people),
        "incomplete_identities": int(people["incomplete"].sum()),
        "can_open_cases": int(people["can_open"].sum()),
        "can_read_all_cases": int(people["can_read"].sum()),
        "can_resolve_cases": int(people["can_resolve"].sum()),
        "can_change_plan": int(people["plan_change"].sum()),
        "trusted_advisor_users": int(advisor.sum()),
        "trusted_advisor_users_conditionally": int(
            ((people["ta_read_conditionally"] | people["ta_change_conditionally"]) & ~advisor).sum()),
        "console_broken": len(console),  # as the finding counts
        "can_permit_support": int(people["support_permit"].sum()),
        "personas": {persona.value: int(counts[persona.value]) for persona in Persona},
    }


TITLES: dict[str, str] = {
    "personas": "What each identity can do with AWS Support",
    "can_open_cases": "Who can open support cases",
    "can_read_all_cases": "Who can read every support case of the account",
    "can_resolve_cases": "Who can resolve support cases",
    "console_breakage": "Case access that Support Center cannot serve (support: or support-console: actions it needs "
                        "are denied)",
    "can_permit_support_access": "Who can let AWS Support staff act on the account's resources (support permits)",
    "namespace_mixups": "Trusted Advisor allowed in one namespace only (support: vs trustedadvisor:)",
    "plan_gaps": "Permissions the support plan does not honour",
    "root_only_access": "Only the root user has support access",
    "resource_scoped_support_statements": "Statements scoped to resources that support actions never use",
    "incomplete_identities": "Identities whose policies could not all be read",
}
"""The stable key and human title of each finding of :func:`all_findings`, in report order."""


def all_findings(matrix: pd.DataFrame, account: Account, catalog: Catalog,
                 access: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """Every finding by the keys of :data:`TITLES`, in its order; each frame's ``attrs["title"]`` holds its title.

    ``access``: each matrix row's three states (:func:`supportkit.analysis.access.cell_access`), for the
    personas' columns under conditions."""
    from supportkit.analysis.kinds import account_kinds  # here: the trust analysis, which a report never loads

    grid = _Grid.of(matrix, access)  # the one pivot every finding reads
    findings = {
        "personas": personas(matrix, catalog, grid),
        "can_open_cases": can_open_cases(matrix, grid),
        "can_read_all_cases": can_read_all_cases(matrix, grid),
        "can_resolve_cases": can_resolve_cases(matrix, grid),
        "console_breakage": console_breakage(matrix, catalog, account_kinds(account), grid),
        "can_permit_support_access": can_permit_support_access(matrix, grid),
        "namespace_mixups": namespace_mixups(matrix, catalog, grid),
        "plan_gaps": plan_gaps(matrix, account, catalog, grid),
        "root_only_access": root_only_access(matrix, grid),
        "resource_scoped_support_statements": resource_scoped_support_statements(account, catalog),
        "incomplete_identities": incomplete_identities(account),
    }
    for key, frame in findings.items():
        frame.attrs["title"] = TITLES[key]
        if key != "personas":
            _mark_service_linked(frame)
    return findings


SERVICE_LINKED_NOTE = ("service-linked role: its service defines its permissions and trust policy, which cannot be "
                       "edited; reported for information, nothing to change. ")
"""Using service-linked roles (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html):
"An IAM administrator can view, but not edit the permissions for service-linked roles"."""


def _mark_service_linked(frame: pd.DataFrame) -> None:
    """Prefix the explanation of service-linked roles' rows: a finding never asks to change them."""
    if "identity_arn" not in frame or "explanation" not in frame or frame.empty:
        return
    rows = np.array([":role/aws-service-role/" in str(arn) for arn in frame["identity_arn"]], dtype=bool)
    if rows.any():
        frame.loc[rows, "explanation"] = SERVICE_LINKED_NOTE + frame.loc[rows, "explanation"].astype(str)
