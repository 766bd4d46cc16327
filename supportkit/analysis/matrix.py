"""Permission matrices: every identity of an account against every catalog action, with explanations.

How it stays fast on 10,000 identities: each distinct policy is evaluated once over the whole catalog
for each distinct value of the context keys it reads, giving Allow/Deny vectors over the actions.
The documented evaluation order is then applied to all identities at once with numpy (deny anywhere,
then each SCP level, the identity layer, the boundary, the session policy). Explanations are texts
shared by many cells: each cell gets a key (action, decision, blocking layer, the set of policies that
decided it, the set that consulted context keys), and one representative cell per key is explained by
:func:`supportkit.evaluate.decide`, the function behind ``supportkit simulate``; its decision must
equal the vectorised one, which is checked for every key.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping, Sequence, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from supportkit.snapshot import Account, Identity
from supportkit.support.catalog import Catalog, check_arn, load_catalog
from supportkit.support.plans import ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS
from supportkit.support.request_context import assumed_context
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.errors import SupportkitError
from supportkit.files import open_atomically
from supportkit.iam.evaluate import (
    Decision, NamedPolicy, PolicyKind, Result, StatementRef, Subject, applicable_policies, decide, explain,
    match_policy, not_restricted_by_scps, refs,
)
from supportkit.iam.keys import check_analyst_context
from supportkit.iam.patterns import Pattern
from supportkit.iam.policy import ActionSet, Effect, Policy, Statement

ALL_CHECKS = "all checks"
SOME_CHECKS = "some checks"

LONG_COLUMNS = [
    "identity_arn", "identity_type", "identity_name", "action", "prefix", "capability", "access_level", "decision",
    "explanation", "deciding_statements", "blocked_by", "conditional", "context_keys", "check_scope", "incomplete",
    "caveat",
]
DECISIONS = [d.value for d in Decision]
_ALLOWED, _EXPLICIT, _IMPLICIT = (DECISIONS.index(d.value) for d in Decision)


def identity_context(identity: Identity, extra: Mapping[str, Any] | None = None,
                     assumed: Mapping[str, str] | None = None) -> RequestContext:
    """The context a matrix row is evaluated under: the analyst's keys, completed by the identity's own and by
    the keys every request carries (``assumed``, see :mod:`supportkit.support.request_context`)."""
    return RequestContext.of(extra or {}).with_defaults({**(assumed or {}), **identity.context()})


def probe_check_arn(account_id: str) -> str:
    """A check ARN no real check has: a statement that matches it covers every check of the account."""
    return check_arn(account_id, region="zz-probe-1", category="zz_probe", check_id="ZzProbe0")


def _instance(pattern_text: str) -> str:
    """A concrete value matched by a wildcard pattern: ``*`` and ``?`` filled in."""
    return pattern_text.replace("*", "zz").replace("?", "z")


_CHECK = re.compile(r"checks/[^/]+/[^/]+")


def _check_instance(pattern: Pattern, account_id: str) -> str | None:
    """A check ARN (``checks/CATEGORY/ID``) of this account that a Resource pattern matches, or None."""
    parts = pattern.text.split(":", 5)
    if len(parts) != 6 or pattern.variables:
        return None
    resource = parts[5]
    if resource.count("/") < 2 and "*" in resource:  # checks/security* stands for checks/security.../...
        head, _, tail = resource.rpartition("*")
        resource = f"{head}*{'/*' * (2 - resource.count('/'))}{tail}"
    resource = _instance(resource)
    arn = ":".join(("arn", _instance(parts[1]), "trustedadvisor", _instance(parts[3]), account_id, resource))
    return arn if _CHECK.fullmatch(resource) and pattern.matches(arn, EMPTY_CONTEXT) else None


def _check_candidates(policy: Policy, names: list[str], check_actions: list[int], account_id: str
                      ) -> dict[int, frozenset[str]]:
    """Per check action: check ARNs the policy's statements name (Resource or NotResource, Allow or Deny)."""
    found: dict[int, set[str]] = {}
    for statement in policy.statements:
        arns = {arn for pattern in statement.resources if not pattern.matches_everything
                if (arn := _check_instance(pattern, account_id)) is not None}
        if arns:
            for a in check_actions:
                if statement.matches_action(names[a]):
                    found.setdefault(a, set()).update(arns)
    return {a: frozenset(arns) for a, arns in found.items()}


def _mix(*columns: np.ndarray) -> np.ndarray:
    """One 64-bit key from several integer columns (wrapping arithmetic; the caller checks each key's decision)."""
    key = np.zeros(columns[0].shape, dtype=np.uint64)
    for column in columns:
        key = (key ^ column.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)
    return key


class MatrixConsistencyError(SupportkitError):
    """The vectorised matrix and :func:`~supportkit.iam.evaluate.decide` disagree on a cell: a supportkit bug."""


CROSS_CHECKS = 64
"""How many distinct explanations of each matrix are also decided one request at a time by decide()."""


def _codes(hits: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """For a statements x columns boolean array: a code per column, and per code the statements (rows) it holds."""
    if not len(hits):
        return np.zeros(hits.shape[1], dtype=np.int64), [()]
    if len(hits) <= 62:
        packed = np.bitwise_or.reduce(hits.astype(np.int64) << np.arange(len(hits), dtype=np.int64)[:, None], axis=0)
        found, inverse = np.unique(packed, return_inverse=True)
        return inverse, [tuple(int(s) for s in range(len(hits)) if (int(code) >> s) & 1) for code in found]
    found, inverse = np.unique(hits.T, axis=0, return_inverse=True)
    return inverse.reshape(-1), [tuple(int(s) for s in np.flatnonzero(column)) for column in found]


class _Engine:
    """The catalog's columns, each distinct policy compiled over them once, and the tables rows point into.

    Tables hold, per column, the id of a set of statements (0: none): which Allow statements match and which
    Deny statements match (per policy and outcome of its conditions), and which keys the statements covering
    the action consult (per policy). A row of the matrix is then three table indices, not a Python loop.
    """

    def __init__(self, names: list[str], resources: list[str], action_of: list[int]) -> None:
        self.names = names
        self.action_of = action_of  # the catalog action of each column
        self.width = len(names)
        distinct, inverse = np.unique(np.array(resources, dtype=object).astype(str), return_inverse=True)
        self.resources = [str(r) for r in distinct]
        self.resource_of = inverse.reshape(-1)
        self._by_tail: dict[str, list[int]] = {}  # resource part (after the fifth colon) -> distinct resources
        for index, resource in enumerate(self.resources):
            if resource.count(":") >= 5:
                self._by_tail.setdefault(resource.split(":", 5)[5], []).append(index)
        self.statement_sets: list[tuple[Statement, ...]] = [()]
        self._set_ids: dict[tuple[int, tuple[int, ...]], int] = {}
        self.key_sets: list[frozenset[str]] = [frozenset()]
        self._key_set_ids: dict[frozenset[str], int] = {frozenset(): 0}
        self.allow: list[np.ndarray] = []
        self.deny: list[np.ndarray] = []
        self.keyed: list[np.ndarray] = []
        self.compiled: dict[int, _Compiled] = {}
        self._action_masks: dict[tuple[bool, ActionSet], np.ndarray] = {}
        self._holds: dict[tuple[int, tuple], bool] = {}
        self.rcp_scopes: dict[frozenset[str] | None, np.ndarray] = {}
        self.compiled_rcps: dict[tuple[int, frozenset[str] | None], _Compiled] = {}

    def policy(self, policy: Policy) -> _Compiled:
        found = self.compiled.get(id(policy))
        if found is None:
            found = self.compiled[id(policy)] = _Compiled(self, policy)
        return found

    def rcp(self, policy: Policy, services: frozenset[str] | None) -> _Compiled:
        """An RCP, compiled over the columns of the services RCPs apply to only (elsewhere it takes no part)."""
        key = (id(policy), services)
        found = self.compiled_rcps.get(key)
        if found is None:
            scope = self.rcp_scopes.get(services)
            if scope is None:
                scope = self.rcp_scopes[services] = np.fromiter(
                    (services is None or name.partition(":")[0].lower() in services for name in self.names),
                    dtype=bool, count=self.width)
            found = self.compiled_rcps[key] = _Compiled(self, policy, scope)
        return found

    def action_mask(self, statement: Statement) -> np.ndarray:
        key = (statement.not_action, statement.action_set)  # ActionSet.of shares equal lists
        mask = self._action_masks.get(key)
        if mask is None:
            mask = self._action_masks[key] = np.fromiter(
                (statement.matches_action(name) for name in self.names), dtype=bool, count=self.width)
        return mask

    def resource_mask(self, statement: Statement, context: RequestContext) -> np.ndarray:
        if not statement.not_resource and any(p.matches_everything for p in statement.resources):
            return np.ones(self.width, dtype=bool)
        tails = statement.resource_tails
        if tails is None:
            distinct = np.fromiter((statement.matches_resource(r, context) for r in self.resources), dtype=bool,
                                   count=len(self.resources))
        else:  # only resources with one of its literal resource parts can match: thousands of named ARNs stay linear
            distinct = np.zeros(len(self.resources), dtype=bool)
            for tail in tails:
                for index in self._by_tail.get(tail, ()):
                    distinct[index] = statement.matches_resource(self.resources[index], context)
        return distinct[self.resource_of]

    def holds(self, statement: Statement, context: RequestContext) -> bool:
        """Whether the statement's conditions hold: evaluated once per distinct value of the keys it reads."""
        key = (id(statement), context.signature(statement.keys_read))
        found = self._holds.get(key)
        if found is None:
            found = self._holds[key] = statement.conditions_hold(context)
        return found

    def statement_set(self, policy: Policy, statements: tuple[Statement, ...], members: tuple[int, ...]) -> int:
        if not members:
            return 0
        key = (id(policy), members)
        found = self._set_ids.get(key)
        if found is None:
            found = self._set_ids[key] = len(self.statement_sets)
            self.statement_sets.append(tuple(statements[m] for m in members))
        return found

    def key_set(self, keys: frozenset[str]) -> int:
        found = self._key_set_ids.get(keys)
        if found is None:
            found = self._key_set_ids[keys] = len(self.key_sets)
            self.key_sets.append(keys)
        return found


class _Compiled:
    """One policy over the columns: the statements that reach a catalog action, and its tables per variant.

    A variant is one outcome of the statements whose result depends on the context (conditions, policy
    variables in resources): identities whose keys give equal outcomes share its table rows.
    """

    def __init__(self, engine: _Engine, policy: Policy, scope: np.ndarray | None = None) -> None:
        self.engine = engine
        self.policy = policy
        masks = ((s, engine.action_mask(s) if scope is None else engine.action_mask(s) & scope)
                 for s in policy.statements)
        reached = [(s, mask) for s, mask in masks if mask.any()]
        self.statements = tuple(s for s, _ in reached)
        self.actions = np.array([mask for _, mask in reached], dtype=bool).reshape(len(reached), engine.width)
        self.allows = np.array([s.effect is Effect.ALLOW for s in self.statements], dtype=bool)
        self.dynamic = tuple(s for s in self.statements if s.context_dependent)
        self.variables = tuple(s for s in self.dynamic if s.resource_variables)
        self._static = [None if s.resource_variables else engine.resource_mask(s, EMPTY_CONTEXT)
                        for s in self.statements]
        dependent = np.array([s.context_dependent for s in self.statements], dtype=bool)
        codes, members = _codes(self.actions & dependent[:, None])
        ids = [engine.key_set(frozenset(k for m in found for k in self.statements[m].keys_read)) for found in members]
        self.keyed = len(engine.keyed)
        engine.keyed.append(np.array(ids, dtype=np.int32)[codes])
        self._variants: dict[tuple, int] = {}

    def variant(self, context: RequestContext) -> int:
        """The index of this policy's Allow and Deny tables under ``context``."""
        engine = self.engine
        key = tuple(engine.holds(s, context) for s in self.dynamic)
        if self.variables:
            key += tuple(context.signature(s.resource_variables) for s in self.variables)
        found = self._variants.get(key)
        if found is None:
            found = self._variants[key] = self._tables(context)
        return found

    def _tables(self, context: RequestContext) -> int:
        engine = self.engine
        holds = np.array([not s.context_dependent or engine.holds(s, context) for s in self.statements], dtype=bool)
        resources = np.array([engine.resource_mask(s, context) if mask is None else mask
                              for s, mask in zip(self.statements, self._static)], dtype=bool)
        hits = self.actions & resources.reshape(self.actions.shape) & holds[:, None]
        for effect_rows, table in ((self.allows, engine.allow), (~self.allows, engine.deny)):
            codes, members = _codes(hits & effect_rows[:, None])
            ids = [engine.statement_set(self.policy, self.statements, found) for found in members]
            table.append(np.array(ids, dtype=np.int32)[codes])
        return len(engine.allow) - 1


@dataclass
class _Rows:
    """One row per (identity, policy of one of its layers), in identity then layer order, as table indices."""

    identity: np.ndarray
    layer: np.ndarray
    first: np.ndarray  # the row's NamedPolicy appears here for the first time for this identity
    named: np.ndarray  # an id per NamedPolicy object
    variant: np.ndarray
    keyed: np.ndarray
    start: np.ndarray  # identity i's rows are start[i]:start[i + 1]
    deny_only: np.ndarray  # the row is an RCP's: it takes part in the deny step only
    layers: np.ndarray  # per identity, how many layers must allow
    layer_names: np.ndarray  # per identity and layer, the id of its name in ``names`` (0: none)
    names: list[str]
    policies: list[NamedPolicy]  # by the ids of ``named``


def _rows(engine: _Engine, subjects: Sequence[Subject], contexts: Sequence[RequestContext]) -> _Rows:
    identity: list[int] = []
    layer: list[int] = []
    first: list[bool] = []
    named_ids: list[int] = []
    variant: list[int] = []
    keyed: list[int] = []
    named_index: dict[int, int] = {}
    policies: list[NamedPolicy] = []
    names: dict[str, int] = {"": 0}
    layer_names: list[list[int]] = []
    deny_only: list[bool] = []
    must: list[int] = []
    for i, subject in enumerate(subjects):
        context = contexts[i]
        seen: set[int] = set()
        own_names = []
        steps = [(step.name, step.policies) for step in subject.layers]
        must.append(len(steps))
        if subject.rcps_in_force:  # after the layers that must allow, at a position that always passes
            steps.append(("RCPs", subject.rcps))
        for position, (step_name, step_policies) in enumerate(steps):
            own_names.append(names.setdefault(step_name, len(names)))
            for named in step_policies:
                number = named_index.get(id(named))
                if number is None:
                    number = named_index[id(named)] = len(policies)
                    policies.append(named)
                rcp = named.kind is PolicyKind.RCP
                compiled = engine.rcp(named.policy, subject.rcp_services) if rcp else engine.policy(named.policy)
                deny_only.append(rcp)
                identity.append(i)
                layer.append(position)
                first.append(number not in seen)
                seen.add(number)
                named_ids.append(number)
                variant.append(compiled.variant(context))
                keyed.append(compiled.keyed)
        layer_names.append(own_names)
    width = max(map(len, layer_names), default=0)
    names_table = np.zeros((len(subjects), max(width, 1)), dtype=np.int32)
    for i, own in enumerate(layer_names):
        names_table[i, :len(own)] = own
    row_identity = np.array(identity, dtype=np.int64)
    return _Rows(
        row_identity, np.array(layer, dtype=np.int64), np.array(first, dtype=bool), np.array(named_ids, dtype=np.int64),
        np.array(variant, dtype=np.int64), np.array(keyed, dtype=np.int64),
        np.searchsorted(row_identity, np.arange(len(subjects) + 1)), np.array(deny_only, dtype=bool),
        np.array(must, dtype=np.int64), names_table, list(names), policies,
    )


def _spread(ids: np.ndarray, salt: int, owner: np.ndarray | int = 0) -> np.ndarray:
    """A 64-bit hash of each (owner, id) pair; an id of 0 (nothing) hashes to 0, so that sums skip it."""
    x = (np.asarray(owner, dtype=np.uint64) << np.uint64(32)) + ids.astype(np.uint64)
    x = x * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
    x = (x ^ (x >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
    return np.where(ids != 0, x ^ (x >> np.uint64(29)), np.uint64(0))


@dataclass
class _Cells:
    """Per identity and catalog action: the decision, the blocking layer's name, and the key of its explanation."""

    decision: np.ndarray
    blocked: np.ndarray
    some_checks: np.ndarray
    key: np.ndarray


def _decide_all(engine: _Engine, rows: _Rows, n: int, chunk: int = 2048) -> _Cells:
    """The documented evaluation order applied to every identity at once (``n`` catalog actions).

    An explicit Deny in any row wins; otherwise each of an identity's layers (``Subject.layers``) must have
    an Allow, the first without one blocks. The key of a cell's explanation hashes what decided it: the
    (policy, statements) pairs that denied or allowed, the blocking layer, the keys consulted.
    """
    n_identities, width = len(rows.layers), engine.width
    allow_table = np.array(engine.allow, dtype=np.int32).reshape(len(engine.allow), width)
    deny_table = np.array(engine.deny, dtype=np.int32).reshape(len(engine.deny), width)
    keyed_table = np.array(engine.keyed, dtype=np.int32).reshape(len(engine.keyed), width)
    n_layers = rows.layer_names.shape[1]
    decision = np.empty((n_identities, width), dtype=np.int8)
    blocked = np.zeros((n_identities, n), dtype=np.int32)
    decided_hash = np.zeros((n_identities, n), dtype=np.uint64)
    keyed_hash = np.zeros((n_identities, n), dtype=np.uint64)
    for lo in range(0, n_identities, chunk):
        hi = min(lo + chunk, n_identities)
        r0, r1 = rows.start[lo], rows.start[hi]
        m = hi - lo
        ok = np.ones((m, n_layers, width), dtype=bool)
        ok[np.arange(n_layers)[None, :] < rows.layers[lo:hi, None]] = False
        denied = np.zeros((m, width), dtype=bool)
        if r1 > r0:
            owner = rows.identity[r0:r1] - lo
            allow_ids = allow_table[rows.variant[r0:r1]]
            deny_ids = deny_table[rows.variant[r0:r1]]
            segment = owner * n_layers + rows.layer[r0:r1]
            starts = np.flatnonzero(np.r_[True, np.diff(segment) != 0])
            ok.reshape(m * n_layers, width)[segment[starts]] = np.logical_or.reduceat(allow_ids > 0, starts, axis=0)
            runs = np.flatnonzero(np.r_[True, np.diff(owner) != 0])
            denied[owner[runs]] = np.logical_or.reduceat(deny_ids > 0, runs, axis=0)
        ok[np.arange(n_layers)[None, :] >= rows.layers[lo:hi, None]] = True  # RCP rows only deny
        passed = ok.all(axis=1)
        verdict = np.where(denied, _EXPLICIT, np.where(passed, _ALLOWED, _IMPLICIT)).astype(np.int8)
        decision[lo:hi] = verdict
        first_failing = (~ok[:, :, :n]).argmax(axis=1)
        blocked[lo:hi] = np.where(verdict[:, :n] == _IMPLICIT,
                                  np.take_along_axis(rows.layer_names[lo:hi], first_failing, axis=1), 0)
        if r1 > r0:
            row_verdict = verdict[owner, :n]
            named = rows.named[r0:r1, None]
            first = rows.first[r0:r1, None]
            decided = np.where((row_verdict == _EXPLICIT) & first, _spread(deny_ids[:, :n], 1, named), np.uint64(0))
            allowing = (row_verdict == _ALLOWED) & ~rows.deny_only[r0:r1, None]
            decided += np.where(allowing, _spread(allow_ids[:, :n], 2, named), np.uint64(0))
            decided_hash[lo + owner[runs]] = np.add.reduceat(decided, runs, axis=0)
            keys = np.where(first, _spread(keyed_table[rows.keyed[r0:r1], :n], 3), np.uint64(0))
            keyed_hash[lo + owner[runs]] = np.add.reduceat(keys, runs, axis=0)
    some_checks = np.zeros((n_identities, n), dtype=bool)
    for column in range(n, width):
        a = engine.action_of[column]
        some_checks[:, a] |= (decision[:, column] == _ALLOWED) != (decision[:, a] == _ALLOWED)
    decision = np.ascontiguousarray(decision[:, :n])
    return _Cells(decision, blocked, some_checks, _mix(decision, blocked, decided_hash, keyed_hash).ravel())


def build_matrix(
    account: Account, catalog: Catalog | None = None, *, context: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> pd.DataFrame:
    """The long-form matrix: one row per identity and catalog action, with the explanation columns.

    ``context`` holds keys added to every request (``aws:MultiFactorAuthPresent``, ``aws:SourceIp``, ...);
    each identity also carries the keys AWS derives from it (principal ARN, type, user name, tags), and every
    request the keys AWS always sets (the endpoint's Region, HTTPS, the time ``at``, now by default).
    ``attrs["request_context"]`` holds those assumed keys and the given ones. A key AWS derives from the
    principal, or a value of the wrong type for a known global key, raises ContextError.
    """
    check_analyst_context(context)
    assumed = assumed_context(account.partition, at)
    catalog = catalog or load_catalog()
    actions = catalog.actions
    names = [a.name for a in actions]
    identities = account.identities
    subjects = [identity.subject for identity in identities]
    # Check actions are also evaluated on each check ARN a statement names, as extra columns after the
    # catalog's: where a decision there differs from the probe's, the action is allowed on some checks only.
    check_actions = [i for i, a in enumerate(actions) if a.takes_check_arns]
    in_use = {id(named.policy): named.policy for subject in subjects for step in subject.layers
              for named in step.policies}
    named_checks = sorted({
        (a, arn) for policy in in_use.values()
        for a, arns in _check_candidates(policy, names, check_actions, account.info.account_id).items()
        for arn in arns
    })
    probe = probe_check_arn(account.info.account_id)
    engine = _Engine([*names, *(names[a] for a, _ in named_checks)],
                     [*(probe if a.takes_check_arns else "*" for a in actions), *(arn for _, arn in named_checks)],
                     [*range(len(actions)), *(a for a, _ in named_checks)])
    contexts = [identity_context(identity, context, assumed) for identity in identities]
    rows = _rows(engine, subjects, contexts)
    cells = _decide_all(engine, rows, len(actions))
    explainer = _Explainer(engine, rows, subjects, contexts, cells)
    frame = _frame(account, catalog, explainer, cells)
    frame["caveat"] = _caveats(explainer, names)
    frame.attrs["request_context"] = {**assumed, **dict(context or {})}
    return frame


def _caveats(explainer: _Explainer, names: list[str]) -> pd.Categorical:
    """Per cell, why its denial is not firm (the root user's plan change under an SCP), else ""."""
    n = len(names)
    codes = np.zeros(len(explainer.subjects) * n, dtype=np.int32)
    reasons = [""]
    exempt = [a for a, name in enumerate(names) if name.lower() in ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS]
    for i, subject in enumerate(explainer.subjects):
        if not subject.principal.is_root:
            continue
        for a in exempt:
            reason = not_restricted_by_scps(subject, names[a], explainer.result(i, a),
                                            ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS)
            if reason is not None:
                if reason not in reasons:
                    reasons.append(reason)
                codes[i * n + a] = reasons.index(reason)
    return pd.Categorical.from_codes(codes, categories=reasons)


class _Explainer:
    """The explanation of one cell, rebuilt from the tables that decided it (no second evaluation)."""

    def __init__(self, engine: _Engine, rows: _Rows, subjects: Sequence[Subject], contexts: Sequence[RequestContext],
                 cells: _Cells) -> None:
        self.engine, self.rows, self.subjects, self.contexts, self.cells = engine, rows, subjects, contexts, cells

    def result(self, i: int, a: int) -> Result:
        engine, rows = self.engine, self.rows
        decision = self.cells.decision[i, a]
        deciding: list[StatementRef] = []
        keys: set[str] = set()
        for r in range(rows.start[i], rows.start[i + 1]):
            first = rows.first[r]
            if first:
                keys |= engine.key_sets[engine.keyed[rows.keyed[r]][a]]
            if decision == _EXPLICIT and first:
                found = engine.deny[rows.variant[r]][a]
            elif decision == _ALLOWED and not rows.deny_only[r]:
                found = engine.allow[rows.variant[r]][a]
            else:
                continue
            if found:
                deciding.extend(refs(rows.policies[rows.named[r]], engine.statement_sets[found]))
        blocked = rows.names[self.cells.blocked[i, a]] or None
        return explain(Decision(DECISIONS[decision]), deciding, blocked, keys)

    def check(self, i: int, a: int, result: Result, identity: str, action: str) -> None:
        """Raise MatrixConsistencyError unless decide(), one request at a time, gives the same result."""
        context = self.contexts[i]
        subject = self.subjects[i]
        resource = self.engine.resources[self.engine.resource_of[a]]
        expected = decide(subject, {named: match_policy(named.policy, action, resource, context)
                                    for named in applicable_policies(subject, action)})
        if expected != result:
            raise MatrixConsistencyError(
                f"the matrix and decide() disagree on {identity} {action}: {result.to_json()} != {expected.to_json()}")


def _frame(account: Account, catalog: Catalog, explainer: _Explainer, cells: _Cells) -> pd.DataFrame:
    """The long form: each distinct explanation key explained once, a sample of them cross-checked."""
    actions = catalog.actions
    identities = account.identities
    n, n_identities = len(actions), len(identities)
    inverse, unique_keys = pd.factorize(cells.key)
    first = np.empty(len(unique_keys), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(cells.key) - 1, -1, -1)  # the first cell of each key
    texts: dict[str, int] = {}
    intern = lambda text: texts.setdefault(text, len(texts))  # noqa: E731
    explained = np.empty((len(unique_keys), 4), dtype=np.int32)
    conditional_of = np.empty(len(unique_keys), dtype=bool)
    described: dict[tuple, tuple[int, int]] = {}
    checked = set(np.linspace(0, len(unique_keys) - 1, min(CROSS_CHECKS, len(unique_keys)), dtype=np.int64).tolist())
    for k, flat in enumerate(first.tolist()):
        i, a = divmod(flat, n)
        result = explainer.result(i, a)
        if k in checked:
            explainer.check(i, a, result, identities[i].arn, actions[a].name)
        words = described.get((result.deciding, result.blocked_by))
        if words is None:
            words = described[(result.deciding, result.blocked_by)] = (
                intern(result.summary), intern("; ".join(r.description for r in result.deciding)))
        explained[k] = (*words, intern(result.blocked_by or ""), intern(", ".join(result.context_keys)))
        conditional_of[k] = result.conditional
    check_actions = [i for i, a in enumerate(actions) if a.takes_check_arns]
    scope = np.full((n_identities, n), intern(""), dtype=np.int32)
    if check_actions:
        scope[:, check_actions] = np.where(cells.decision[:, check_actions] == _ALLOWED, intern(ALL_CHECKS), intern(""))
        scope[cells.some_checks] = intern(SOME_CHECKS)
    vocabulary = list(texts)

    def text_column(codes: np.ndarray) -> pd.Categorical:
        used = np.flatnonzero(np.bincount(codes, minlength=len(vocabulary)))
        remap = np.zeros(len(vocabulary), dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return pd.Categorical.from_codes(remap[codes], categories=[vocabulary[u] for u in used])

    cols = np.tile(np.arange(n), n_identities)
    identity_index = np.arange(n_identities).repeat(n)
    return pd.DataFrame({
        "identity_arn": _repeated(identity_index, [i.arn for i in identities]),
        "identity_type": _repeated(identity_index, [i.type.value for i in identities]),
        "identity_name": _repeated(identity_index, [i.name for i in identities]),
        "action": _repeated(cols, [a.name for a in actions]),
        "prefix": _repeated(cols, [a.prefix for a in actions]),
        "capability": _repeated(cols, [a.capability.value for a in actions]),
        "access_level": _repeated(cols, [a.access_level.value for a in actions]),
        "decision": pd.Categorical.from_codes(cells.decision.ravel(), categories=DECISIONS),
        "explanation": text_column(explained[inverse, 0]),
        "deciding_statements": text_column(explained[inverse, 1]),
        "blocked_by": text_column(explained[inverse, 2]),
        "conditional": conditional_of[inverse],
        "context_keys": text_column(explained[inverse, 3]),
        "check_scope": text_column(scope.ravel()),
        "incomplete": np.array([i.incomplete for i in identities], dtype=bool)[identity_index],
    }, columns=LONG_COLUMNS)


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


BATCH_ROWS = 65_536
"""Rows converted and written at a time: memory for the output stays one batch, whatever the matrix size."""


def _batches(matrix: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, max(len(matrix), 1), BATCH_ROWS):
        yield matrix.iloc[start:start + BATCH_ROWS]


def _write_json_lines(matrix: pd.DataFrame, out: TextIO) -> None:
    for batch in _batches(matrix):
        if len(batch):
            # pandas writes "/" as "\/"; every other command writes it plain. Since pandas escapes every "/",
            # each "\/" in its output is one escaped slash (an escaped backslash before it is "\\\/").
            text = batch.to_json(orient="records", lines=True).replace("\\/", "/")
            out.write(text if text.endswith("\n") else text + "\n")


def _write_arrow(matrix: pd.DataFrame, fmt: str, out: BinaryIO) -> None:
    """CSV or Parquet through Arrow, one batch (one Parquet row group at most) at a time."""
    writer: Any = None
    try:
        for batch in _batches(matrix):
            table = pa.Table.from_pandas(batch, preserve_index=False)
            if writer is None:
                writer = (pq.ParquetWriter(out, table.schema) if fmt == "parquet" else
                          pa_csv.CSVWriter(out, table.schema, write_options=pa_csv.WriteOptions(quoting_style="needed")))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def write_matrix(matrix: pd.DataFrame, fmt: str, output: str | Path | None) -> None:
    """Write the long form as CSV, JSON Lines or Parquet to ``output`` (standard output for text formats).

    Rows are converted and written in batches, so the output costs one batch of memory, not a copy of
    the matrix in another form; a file is written atomically (whole, or the previous one is left).
    """
    if fmt == "parquet" and output is None:
        raise SupportkitError("--format parquet needs -o FILE: Parquet is binary")
    try:
        if output is None:
            if fmt == "json":
                _write_json_lines(matrix, sys.stdout)
            else:
                sys.stdout.flush()
                _write_arrow(matrix, fmt, sys.stdout.buffer)
            return
        with open_atomically(Path(output), "w" if fmt == "json" else "wb") as out:
            if fmt == "json":
                _write_json_lines(matrix, out)
            else:
                _write_arrow(matrix, fmt, out)
    except BrokenPipeError:
        raise  # the command ends quietly: the reader closed the pipe (supportkit matrix ... | head)
    except OSError as error:
        raise SupportkitError(f"{output or 'standard output'}: {error.strerror or error}") from None
