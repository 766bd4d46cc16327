"""Permission matrices: every identity of an account against every catalog action, with explanations.

Each distinct policy is evaluated once over the whole catalog for each distinct value of the context
keys it reads, and identities that share the same policies and context share one computed row set.
The decision of every cell is what :func:`supportkit.evaluate.evaluate` returns for the same request:
both go through :func:`supportkit.evaluate.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from supportkit.account import Account, Identity
from supportkit.catalog import Action, Catalog, check_arn, load_catalog
from supportkit.context import RequestContext
from supportkit.errors import SupportkitError
from supportkit.evaluate import (
    Decision, NamedPolicy, PolicyMatch, Result, Subject, applicable_policies, decide, match_policy,
)

ALL_CHECKS = "all checks"
SOME_CHECKS = "some checks"

LONG_COLUMNS = [
    "identity_arn", "identity_type", "identity_name", "action", "prefix", "capability", "access_level", "decision",
    "explanation", "deciding_statements", "blocked_by", "conditional", "context_keys", "check_scope", "incomplete",
]
DECISIONS = [d.value for d in Decision]


@dataclass(frozen=True)
class CellResult:
    """One cell before it goes into the frame: the decision, why, and the scope on Trusted Advisor checks."""

    result: Result
    check_scope: str


@dataclass
class _PolicyCache:
    """Per policy and per value of the context keys it reads: its match for every (action, resource)."""

    matches: dict[tuple, PolicyMatch] = field(default_factory=dict)
    keys: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def policy_keys(self, named: NamedPolicy) -> tuple[str, ...]:
        found = self.keys.get(id(named.policy))
        if found is None:
            found = tuple(dict.fromkeys(key for statement in named.policy.statements for key in statement.keys_read))
            self.keys[id(named.policy)] = found
        return found

    def match(self, named: NamedPolicy, action: str, resource: str, context: RequestContext) -> PolicyMatch:
        key = (id(named.policy), action, resource, context.signature(self.policy_keys(named)))
        found = self.matches.get(key)
        if found is None:
            found = match_policy(named.policy, action, resource, context)
            self.matches[key] = found
        return found


def identity_context(identity: Identity, extra: Mapping[str, Any] | None = None) -> RequestContext:
    """The context a matrix row is evaluated under: the analyst's keys, completed by the identity's own."""
    return RequestContext.of(extra or {}).with_defaults(identity.context())


def _probe_check_arn(account_id: str) -> str:
    """A check ARN no real check has: a statement matching it covers every check of the account."""
    return check_arn(account_id, region="zz-probe-1", category="zz_probe", check_id="ZzProbe0")


def _instances(pattern_text: str) -> str:
    """A concrete ARN matched by a Resource pattern, to test a grant on some checks."""
    return pattern_text.replace("*", "zz").replace("?", "z")


@dataclass
class _Evaluator:
    account: Account
    catalog: Catalog
    extra: Mapping[str, Any] | None
    cache: _PolicyCache = field(default_factory=_PolicyCache)

    def cells(self, identity: Identity) -> list[CellResult]:
        subject = identity.subject
        context = identity_context(identity, self.extra)
        fixed = frozenset(key.lower() for key in identity.context())
        policies = applicable_policies(subject)
        probe = _probe_check_arn(self.account.info.account_id)
        out = []
        for action in self.catalog.actions:
            resource = probe if action.takes_check_arns else "*"
            result = self._decide(subject, policies, action.name, resource, context, fixed)
            scope = ""
            if action.takes_check_arns:
                scope = ALL_CHECKS if result.decision is Decision.ALLOWED else self._some_checks(
                    subject, policies, action, context, fixed)
            out.append(CellResult(result, scope))
        return out

    def _decide(self, subject: Subject, policies: Sequence[NamedPolicy], action: str, resource: str,
                context: RequestContext, fixed: frozenset[str]) -> Result:
        matches = {named: self.cache.match(named, action, resource, context) for named in policies}
        return decide(subject, matches, fixed)

    def _some_checks(self, subject: Subject, policies: Sequence[NamedPolicy], action: Action,
                     context: RequestContext, fixed: frozenset[str]) -> str:
        """``some checks`` when an Allow names specific checks and the request on one of them is allowed."""
        candidates = {
            _instances(pattern.text)
            for named in subject.identity_policies
            for statement in named.policy.statements_for(action.name)
            if statement.effect.value == "Allow" and not statement.not_resource
            for pattern in statement.resources
            if not pattern.matches_everything
        }
        for arn in sorted(candidates):
            if self._decide(subject, policies, action.name, arn, context, fixed).decision is Decision.ALLOWED:
                return SOME_CHECKS
        return ""


def _group_key(identity: Identity, evaluator: _Evaluator) -> tuple:
    """Identities with equal keys get equal cells: same policies, same layers, same relevant context."""
    subject = identity.subject
    context = identity_context(identity, evaluator.extra)
    policies = applicable_policies(subject)
    return (
        subject.principal.is_root, subject.scps_apply, subject.permissions_boundary is not None,
        subject.session_policy is not None, tuple(len(level) for level in subject.scp_levels),
        tuple((id(p), context.signature(evaluator.cache.policy_keys(p))) for p in policies),
    )


def _describe(result: Result) -> str:
    return "; ".join(ref.describe() for ref in result.deciding)


def build_matrix(
    account: Account, catalog: Catalog | None = None, *, context: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The long-form matrix: one row per identity and catalog action, with the explanation columns.

    ``context`` holds keys added to every request (``aws:MultiFactorAuthPresent``, ``aws:SourceIp``, ...);
    each identity also carries the keys AWS derives from it (principal ARN, type, user name, tags).
    """
    catalog = catalog or load_catalog()
    evaluator = _Evaluator(account, catalog, context)
    actions = catalog.actions
    n_actions = len(actions)
    groups: dict[tuple, int] = {}
    group_cells: list[list[CellResult]] = []
    identity_group = np.empty(len(account.identities), dtype=np.int64)
    for index, identity in enumerate(account.identities):
        key = _group_key(identity, evaluator)
        group = groups.get(key)
        if group is None:
            group = groups[key] = len(group_cells)
            group_cells.append(evaluator.cells(identity))
        identity_group[index] = group

    # Per group and action: codes into small tables of distinct values, then one take() per column.
    texts: dict[str, int] = {}
    decision_codes = np.empty((len(group_cells), n_actions), dtype=np.int8)
    deciding_codes = np.empty((len(group_cells), n_actions), dtype=np.int32)
    summary_codes = np.empty_like(deciding_codes)
    blocked_codes = np.empty_like(deciding_codes)
    keys_codes = np.empty_like(deciding_codes)
    scope_codes = np.empty_like(deciding_codes)
    conditional = np.empty((len(group_cells), n_actions), dtype=bool)
    intern = lambda text: texts.setdefault(text, len(texts))  # noqa: E731
    for g, cells in enumerate(group_cells):
        for a, cell in enumerate(cells):
            result = cell.result
            decision_codes[g, a] = DECISIONS.index(result.decision.value)
            deciding_codes[g, a] = intern(_describe(result))
            summary_codes[g, a] = intern(result.summary)
            blocked_codes[g, a] = intern(result.blocked_by or "")
            keys_codes[g, a] = intern(", ".join(result.context_keys))
            scope_codes[g, a] = intern(cell.check_scope)
            conditional[g, a] = result.conditional
    vocabulary = list(texts)

    n_identities = len(account.identities)
    rows = identity_group.repeat(n_actions)
    cols = np.tile(np.arange(n_actions), n_identities)
    identity_index = np.arange(n_identities).repeat(n_actions)

    def text_column(codes: np.ndarray) -> pd.Categorical:
        flat = codes[rows, cols]
        used = np.unique(flat)
        remap = np.full(len(vocabulary), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return pd.Categorical.from_codes(remap[flat], categories=[vocabulary[i] for i in used])

    identities = account.identities
    frame = pd.DataFrame({
        "identity_arn": _repeated(identity_index, [i.arn for i in identities]),
        "identity_type": _repeated(identity_index, [i.type.value for i in identities]),
        "identity_name": _repeated(identity_index, [i.name for i in identities]),
        "action": _repeated(cols, [a.name for a in actions]),
        "prefix": _repeated(cols, [a.prefix for a in actions]),
        "capability": _repeated(cols, [a.capability.value for a in actions]),
        "access_level": _repeated(cols, [a.access_level.value for a in actions]),
        "decision": pd.Categorical.from_codes(decision_codes[rows, cols], categories=DECISIONS),
        "explanation": text_column(summary_codes),
        "deciding_statements": text_column(deciding_codes),
        "blocked_by": text_column(blocked_codes),
        "conditional": conditional[rows, cols],
        "context_keys": text_column(keys_codes),
        "check_scope": text_column(scope_codes),
        "incomplete": np.array([i.incomplete for i in identities], dtype=bool)[identity_index],
    }, columns=LONG_COLUMNS)
    return frame


def _repeated(index: np.ndarray, values: list[str]) -> pd.Categorical:
    """``values[index]`` as a categorical, without materialising a string per row."""
    categories = list(dict.fromkeys(values))
    lookup = {value: i for i, value in enumerate(categories)}
    codes = np.array([lookup[value] for value in values], dtype=np.int32)
    return pd.Categorical.from_codes(codes[index], categories=categories)


def wide(matrix: pd.DataFrame) -> pd.DataFrame:
    """The identity x action view of decisions (rows: identity ARNs, columns: actions)."""
    view = matrix.pivot(index="identity_arn", columns="action", values="decision")
    return view.reindex(index=matrix["identity_arn"].unique(), columns=matrix["action"].cat.categories)


def write_matrix(matrix: pd.DataFrame, fmt: str, output: str | Path | None) -> None:
    """Write the long form as CSV, JSON Lines or Parquet to ``output`` (standard output for text formats)."""
    if fmt == "parquet":
        if output is None:
            raise SupportkitError("--format parquet needs -o FILE: Parquet is binary")
        try:
            matrix.to_parquet(output, index=False)
        except ImportError:
            raise SupportkitError("--format parquet needs pyarrow: pip install 'supportkit[parquet]'") from None
        return
    target = sys.stdout if output is None else open(output, "w", encoding="utf-8", newline="")
    try:
        if fmt == "csv":
            matrix.to_csv(target, index=False)
        else:
            matrix.to_json(target, orient="records", lines=True)
            if output is None:
                target.write("\n")
    finally:
        if output is not None:
            target.close()
