"""Permission matrices: every identity of an account against every catalog action, with explanations.

How it stays fast on 10,000 identities: each distinct policy is evaluated once over the whole catalog
for each distinct value of the context keys it reads, giving Allow/Deny vectors over the actions.
The documented evaluation order is then applied to all identities at once with numpy (deny anywhere,
then each SCP level, the identity layer, the boundary, the session policy). A cell's explanation is held as
codes (the deciding statements of the tables that decided it, the blocking layer as a
:class:`~supportkit.iam.evaluate.Blocker`) and keyed by what decided it; each distinct key is put into words
once, when the frame is made, and a sample of them is cross-checked against
:func:`supportkit.iam.evaluate.decide`, the function behind ``supportkit simulate``.

Outputs: the same snapshot and the same given context give the same bytes, in every format. A Parquet file
records the request context in pandas' metadata; the assumed ``aws:CurrentTime`` and ``aws:EpochTime`` (the
moment of the analysis) appear there only when the analyst gave them or a decision consulted them (then the
matrix holds for that moment, which a reader needs to know), since otherwise every run would differ in them
alone.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from supportkit.analysis.access import SOME_CHECKS
from supportkit.snapshot import Account, Identity
from supportkit.support.catalog import Catalog, check_arn, load_catalog
from supportkit.support.plans import ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS
from supportkit.support.request_context import CLOCK, assumed_context
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.errors import SupportkitError
from supportkit.files import open_atomically
from supportkit.heap import no_collection
from supportkit.iam.evaluate import (
    Blocker, Decision, NamedPolicy, PolicyKind, Result, StatementRef, Subject, applicable_policies, consulted_keys, decide,
    explain, match_policy, not_restricted_by_scps, refs,
)
from supportkit.iam.keys import check_analyst_context
from supportkit.iam.patterns import Pattern
from supportkit.iam.policy import ActionSet, Effect, Policy, Statement

ALL_CHECKS = "all checks"

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
    return identity_contexts([identity], extra, assumed)[0]


def identity_contexts(identities: Iterable[Identity], extra: Mapping[str, Any] | None = None,
                      assumed: Mapping[str, str] | None = None) -> list[RequestContext]:
    """:func:`identity_context` of each identity, the analyst's and the assumed keys normalised once for all.

    The assumed keys are request keys and the identity's are principal keys (never the same key), and the
    analyst's win over both.
    """
    given = RequestContext.of(extra or {}).values
    every = RequestContext.of(assumed or {}).values
    return [RequestContext({**every, **RequestContext.of(identity.context()).values, **given})
            for identity in identities]


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
    if len(parts) != 6 or pattern.variables or not _may_be_trusted_advisor(parts[2]):
        return None
    resource = parts[5]
    if resource.count("/") < 2 and "*" in resource:  # checks/security* stands for checks/security.../...
        head, _, tail = resource.rpartition("*")
        resource = f"{head}*{'/*' * (2 - resource.count('/'))}{tail}"
    resource = _instance(resource)
    arn = ":".join(("arn", _instance(parts[1]), "trustedadvisor", _instance(parts[3]), account_id, resource))
    return arn if _CHECK.fullmatch(resource) and pattern.matches(arn, EMPTY_CONTEXT) else None


def _may_be_trusted_advisor(service: str) -> bool:
    """Whether an ARN pattern's service component can match ``trustedadvisor`` (compared case-sensitively, as a
    Resource pattern is): most patterns name another service, known without building a check ARN for them."""
    return service == "trustedadvisor" or "*" in service or "?" in service


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


class _Engine:
    """The catalog's columns, each distinct policy compiled over them once, and the tables rows point into.

    Tables hold per column a code of a set of a policy's statements (0: none; see ``_Shape.pack``): the
    Allow statements that match and the Deny statements that match (per policy shape and outcome of its
    conditions), and the statements covering the action that consult context keys (per shape). A row of
    the matrix is then two table indices, not a Python loop.

    Check ARNs named in policies are sparse columns (``named``): a variant lists the named columns where a
    statement that does not cover every resource allows (``allow_named``) or denies (``deny_named``). Its
    value on any other named column of a check action is that of the action's ``generic`` dense column (a
    named check no statement names: only statements on every resource cover it). Thousands of named checks
    so cost what the statements naming them hold, not statements x checks.
    """

    def __init__(self, names: list[str], resources: list[str], named: list[tuple[int, str]]) -> None:
        distinct = list(dict.fromkeys(resources))
        position = {resource: i for i, resource in enumerate(distinct)}
        named = [(a, arn) for a, arn in named if arn not in position]  # the probe named: its column decides alike
        generic = list(dict.fromkeys(a for a, _ in named))  # the check actions with named check ARNs
        self.names = [*names, *(names[a] for a in generic)]
        self.action_of = [*range(len(names)), *generic]  # the catalog action of each dense column
        self.width = len(self.names)
        by_service: dict[str, tuple[list[int], list[str]]] = {}  # lower-cased service -> its columns, their names
        for column, name in enumerate(self.names):
            lowered = name.lower()
            columns, texts = by_service.setdefault(lowered.partition(":")[0], ([], []))
            columns.append(column)
            texts.append(lowered)
        self._by_service = by_service
        self.dense = len(distinct)  # resources[:dense] are the catalog columns'; slot ``dense``: the generic check
        self.resource_of = np.array([*(position[r] for r in resources), *(self.dense for _ in generic)], dtype=np.int64)
        for _, arn in named:
            if arn not in position:
                position[arn] = len(distinct)
                distinct.append(arn)
        self.resources = distinct
        generic_of = {a: g for g, a in enumerate(generic)}
        self.named_action = np.array([a for a, _ in named], dtype=np.int64)
        self.named_generic = np.array([generic_of[a] for a, _ in named], dtype=np.int64)
        self._named_at: dict[int, list[int]] = {}  # resource index -> the named columns on it
        for column, (_, arn) in enumerate(named):
            self._named_at.setdefault(position[arn], []).append(column)
        nothing = np.zeros(self.width, dtype=np.int64)
        self.allow: list[np.ndarray] = [nothing]  # per variant; variant 0 matches nothing
        self.deny: list[np.ndarray] = [nothing]  # per variant
        none = np.zeros(0, dtype=np.int64)
        self.allow_named: list[np.ndarray] = [none]  # per variant: the named columns its own statements allow
        self.deny_named: list[np.ndarray] = [none]  # per variant: those they deny
        self.keyed: list[np.ndarray] = [nothing]  # ids of key_sets, per shape that reads keys
        self.key_sets: list[frozenset[str]] = [frozenset()]
        self._key_set_ids: dict[frozenset[str], int] = {frozenset(): 0}
        self.policies: list[_Compiled] = []
        self._compiled: dict[int, _Compiled] = {}
        self._shapes: dict[tuple, _Shape] = {}
        self._actions: dict[tuple[bool, frozenset[str]], tuple[int, np.ndarray, bool]] = {}
        self._by_action_set: dict[tuple[bool, ActionSet], tuple[int, np.ndarray, bool]] = {}
        self._everywhere = ("everywhere", ())  # every resource, named checks included
        self._covers_all = np.ones(self.dense + 1, dtype=bool)
        self._no_columns = np.zeros(0, dtype=np.int64)
        self._by_tail: dict[str, list[int]] = {}  # resource part (after the fifth colon) -> distinct resources
        self._whole: list[int] = []  # resources matched as whole strings (fewer than five colons)
        for index, resource in enumerate(distinct):
            if resource.count(":") < 5:
                self._whole.append(index)
            else:
                self._by_tail.setdefault(resource.split(":", 5)[5], []).append(index)
        self._rcp_scopes: dict[frozenset[str] | None, tuple[int, np.ndarray]] = {}
        self._rcps: dict[tuple[int, frozenset[str] | None], _Compiled] = {}

    def policy(self, policy: Policy) -> _Compiled:
        found = self._compiled.get(id(policy))
        if found is None:
            found = self._compiled[id(policy)] = self._compile(policy)
            self.policies.append(found)
        return found

    def rcp(self, policy: Policy, services: frozenset[str] | None) -> _Compiled:
        """An RCP, compiled over the columns of the services RCPs apply to only (elsewhere it takes no part)."""
        key = (id(policy), services)
        found = self._rcps.get(key)
        if found is None:
            scope = self._rcp_scopes.get(services)
            if scope is None:
                scope = self._rcp_scopes[services] = (len(self._rcp_scopes) + 1, np.fromiter(
                    (services is None or name.partition(":")[0].lower() in services for name in self.names),
                    dtype=bool, count=self.width))
            found = self._rcps[key] = self._compile(policy, scope)
            self.policies.append(found)
        return found

    def _compile(self, policy: Policy, scope: tuple[int, np.ndarray] | None = None) -> _Compiled:
        """The statements that can take part in a cell, and the shape they share with alike policies.

        ``scope``: an id and the columns the policy takes part in (an RCP's services), else every column.
        """
        statements, shape, dynamic = [], [], []
        for statement in policy.statements:
            action, mask, reaches = self.action(statement)
            reach: object = action
            if scope is not None:
                reach, mask = (action, scope[0]), mask & scope[1]
                reaches = bool(mask.any())
            if not reaches:
                continue  # reaches no catalog action
            dependent = statement.context_dependent
            if statement.resource_variables:
                where: tuple = ("variables", id(statement))
            else:
                where = self.resource_key(statement)
                if not dependent and where == ("at", ()):
                    continue  # names no resource of the catalog's requests, and reads no key
            statements.append(statement)
            shape.append((statement.effect is Effect.ALLOW, reach, where, statement.keys_read if dependent else None))
            if dependent:
                dynamic.append(statement)
        key = tuple(shape)
        found = self._shapes.get(key)
        if found is None:
            found = self._shapes[key] = _Shape(self, key, statements, scope[1] if scope is not None else None)
        keys = tuple(dict.fromkeys(key for statement in dynamic for key in statement.keys_read))
        return _Compiled(found, tuple(statements), len(self.policies), tuple(dynamic), keys)

    def action(self, statement: Statement) -> tuple[int, np.ndarray, bool]:
        """An id and the column mask of the statement's Action/NotAction element, and whether it covers a column.

        Known by the statement's ActionSet first (statements with the same list share one), then by the set
        of actions it names, so that lists naming the same actions share one id.
        """
        known = (statement.not_action, statement.action_set)
        found = self._by_action_set.get(known)
        if found is None:
            key = (statement.not_action, frozenset(action.lower() for action in statement.actions))
            found = self._actions.get(key)
            if found is None:
                mask = np.zeros(self.width, dtype=bool)
                for service, (columns, lowered) in self._by_service.items():
                    test = statement.action_set.matcher(service)
                    mask[columns] = [test(name) for name in lowered]
                if statement.not_action:
                    mask = ~mask
                found = self._actions[key] = (len(self._actions), mask, bool(mask.any()))
            self._by_action_set[known] = found
        return found

    def resource_key(self, statement: Statement, context: RequestContext = EMPTY_CONTEXT) -> tuple[str, tuple[int, ...]]:
        """The distinct resources of the columns that the statement's Resource/NotResource covers.

        A statement naming ARNs whose resource part has no wildcard can cover only resources with that part
        (IAM compares ARN components one by one): thousands of named checks cost linear, not quadratic, time.
        """
        if statement.any_resource:
            return self._everywhere
        tails = None if context is not EMPTY_CONTEXT else statement.resource_tails
        if tails is None:
            candidates: Iterable[int] = range(len(self.resources))
        else:
            candidates = sorted({*self._whole, *(i for tail in tails for i in self._by_tail.get(tail, ()))})
        return ("at", tuple(i for i in candidates if statement.matches_resource(self.resources[i], context)))

    def reach(self, where: tuple, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What a statement covering ``where`` (see ``resource_key``) on the columns ``actions`` reaches: per
        dense resource slot (the generic check last) whether it covers it, and the named columns it hits."""
        if where[0] == "everywhere":
            return self._covers_all, self._no_columns
        covered = np.zeros(self.dense + 1, dtype=bool)
        named: list[int] = []
        for r in where[1]:
            if r < self.dense:
                covered[r] = True
            else:
                named.extend(self._named_at.get(r, ()))
        if not named:
            return covered, self._no_columns
        hits = np.array(named, dtype=np.int64)
        return covered, hits[actions[self.named_action[hits]]]

    def key_set(self, keys: frozenset[str]) -> int:
        found = self._key_set_ids.get(keys)
        if found is None:
            found = self._key_set_ids[keys] = len(self.key_sets)
            self.key_sets.append(keys)
        return found



class _Shape:
    """What policies alike over the columns share: per statement its effect, Action and Resource masks and
    keys read. Its tables per outcome of the context-dependent statements serve every such policy."""

    def __init__(self, engine: _Engine, key: tuple, statements: list[Statement], scope: np.ndarray | None) -> None:
        self.engine = engine
        size = len(key)
        self.actions = np.array([engine.action(s)[1] for s in statements], dtype=bool).reshape(size, engine.width)
        if scope is not None:
            self.actions &= scope
        self.allows = np.array([allow for allow, _, _, _ in key], dtype=bool)
        covered = np.zeros((size, engine.dense + 1), dtype=bool)
        self.named: list[np.ndarray] = []  # per statement, the named check columns it hits
        for i, (_, _, where, _) in enumerate(key):
            if where[0] == "variables":
                self.named.append(engine._no_columns)
            else:
                covered[i], hits = engine.reach(where, self.actions[i])
                self.named.append(hits)
        self.resources = covered[:, engine.resource_of]
        self.names_checks = any(len(hits) for hits in self.named)
        self.variables = [i for i, (_, _, where, _) in enumerate(key) if where[0] == "variables"]
        self.dependent = np.array([keys is not None for _, _, _, keys in key], dtype=bool)
        self._bits = np.int64(1) << np.arange(size, dtype=np.int64)[:, None] if size <= 62 else None
        self._patterns: dict[bytes, int] = {}
        self._members: dict[int, tuple[int, ...]] = {}
        self.keyed = 0  # the row of engine.keyed: 0 when no statement covering an action reads keys
        if self.dependent.any():
            codes, inverse = np.unique(self.pack(self.actions & self.dependent[:, None]), return_inverse=True)
            ids = [engine.key_set(frozenset(k for m in self.members(int(c)) for k in key[m][3])) for c in codes]
            self.keyed = len(engine.keyed)
            engine.keyed.append(np.array(ids, dtype=np.int64)[inverse.reshape(-1)])
        self._variants: dict[tuple, int] = {}

    def pack(self, hits: np.ndarray) -> np.ndarray:
        """Per column, a code of the statements (rows of ``hits``) that hit it: 0 for none."""
        if self._bits is not None:
            return (hits * self._bits).sum(axis=0)
        packed = np.ascontiguousarray(np.packbits(hits, axis=0).T)  # one row of bytes per column
        codes = np.zeros(hits.shape[1], dtype=np.int64)
        for column in np.flatnonzero(packed.any(axis=1)).tolist():
            row = packed[column]
            codes[column] = code = self._patterns.setdefault(row.tobytes(), len(self._patterns) + 1)
            if code not in self._members:
                self._members[code] = tuple(np.flatnonzero(np.unpackbits(row)[:len(hits)]).tolist())
        return codes

    def members(self, code: int) -> tuple[int, ...]:
        """The positions of the statements of a code of :meth:`pack`, in document order."""
        found = self._members.get(code)
        if found is None:
            found = self._members[code] = tuple(b for b in range(len(self.allows)) if (code >> b) & 1)
        return found

    def variant(self, holds: tuple[bool, ...], compiled: _Compiled, context: RequestContext) -> int:
        """The index of the Allow and Deny tables when the dependent statements hold as ``holds`` says."""
        key: tuple[object, ...] = holds
        if self.variables:
            key += tuple(context.signature(compiled.statements[i].resource_variables) for i in self.variables)
        found = self._variants.get(key)
        if found is None:
            found = self._variants[key] = self._tables(holds, compiled, context)
        return found

    def _tables(self, holds: tuple[bool, ...], compiled: _Compiled, context: RequestContext) -> int:
        engine = self.engine
        condition = ~self.dependent
        condition[self.dependent] = holds
        resources = self.resources.copy()
        named = list(self.named)
        for i in self.variables:
            found, named[i] = engine.reach(engine.resource_key(compiled.statements[i], context), self.actions[i])
            resources[i] = found[engine.resource_of]
        hits = self.actions & resources & condition[:, None]
        allow_named = deny_named = np.zeros(0, dtype=np.int64)
        if self.variables or self.names_checks:
            allow_named, deny_named = (np.unique(np.concatenate(
                [allow_named, *(named[i] for i in np.flatnonzero(condition & effect).tolist())]))
                for effect in (self.allows, ~self.allows))
        if not hits.any() and not len(allow_named) and not len(deny_named):
            return 0
        engine.allow.append(self.pack(hits & self.allows[:, None]))
        engine.deny.append(self.pack(hits & ~self.allows[:, None]))
        engine.allow_named.append(allow_named)
        engine.deny_named.append(deny_named)
        return len(engine.allow) - 1


@dataclass(frozen=True)
class _Compiled:
    """One policy: its statements that can take part in a cell, and their shape."""

    shape: _Shape
    statements: tuple[Statement, ...]
    index: int
    dynamic: tuple[Statement, ...]  # the context-dependent statements
    dynamic_keys: tuple[str, ...]  # the context keys they read: equal values of these, equal tables
    _variants: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyed(self) -> int:
        return self.shape.keyed

    def variant(self, context: RequestContext) -> int:
        """The index of this policy's Allow and Deny tables under ``context``: worked out once per distinct
        value of the keys it reads, however many identities share the policy."""
        signature = context.signature(self.dynamic_keys)
        found = self._variants.get(signature)
        if found is None:
            holds = tuple(statement.conditions_hold(context) for statement in self.dynamic)
            found = self._variants[signature] = self.shape.variant(holds, self, context)
        return found

    def members(self, code: int) -> tuple[Statement, ...]:
        return tuple(self.statements[i] for i in self.shape.members(code))


_RCPS = Blocker(PolicyKind.RCP)
"""The step of an identity's RCP rows, after the layers that must allow: it never blocks (RCPs only deny)."""


@dataclass
class _Rows:
    """One row per (identity, policy of one of its layers), in identity then layer order, as table indices."""

    identity: np.ndarray
    layer: np.ndarray
    first: np.ndarray  # the row's NamedPolicy appears here for the first time for this identity
    named: np.ndarray  # an id per NamedPolicy object
    variant: np.ndarray  # the row of the engine's allow and deny tables
    policy: np.ndarray  # the compiled policy
    start: np.ndarray  # identity i's rows are start[i]:start[i + 1]
    deny_only: np.ndarray  # the row is an RCP's: it takes part in the deny step only
    layers: np.ndarray  # per identity, how many layers must allow
    layer_blockers: np.ndarray  # per identity and layer, the id of its code in ``blockers`` (0: none)
    blockers: list[Blocker | None]
    policies: list[NamedPolicy]  # by the ids of ``named``
    session_tags: np.ndarray  # per identity, Subject.session_tags: its tags are not facts


def _rows(engine: _Engine, subjects: Sequence[Subject], contexts: Sequence[RequestContext]) -> _Rows:
    identity: list[int] = []
    layer: list[int] = []
    first: list[bool] = []
    named_ids: list[int] = []
    variant: list[int] = []
    compiled_ids: list[int] = []
    named_index: dict[int, int] = {}
    policies: list[NamedPolicy] = []
    blockers: dict[Blocker | None, int] = {None: 0}
    layer_blockers: list[list[int]] = []
    deny_only: list[bool] = []
    must: list[int] = []
    for i, subject in enumerate(subjects):
        context = contexts[i]
        seen: set[int] = set()
        own_blockers = []
        steps = [(step.blocker, step.policies) for step in subject.layers]
        must.append(len(steps))
        if subject.rcps_in_force:  # after the layers that must allow, at a position that always passes
            steps.append((_RCPS, subject.rcps))
        for position, (blocker, step_policies) in enumerate(steps):
            own_blockers.append(blockers.setdefault(blocker, len(blockers)))
            for named in step_policies:
                number = named_index.get(id(named))
                if number is None:
                    number = named_index[id(named)] = len(policies)
                    policies.append(named)
                rcp = named.kind is PolicyKind.RCP
                compiled = engine.rcp(named.policy, subject.rcp_services) if rcp else engine.policy(named.policy)
                row_variant = compiled.variant(context)
                if not row_variant and not compiled.keyed:
                    continue  # matches nothing and reads no keys here: the row would change no cell
                deny_only.append(rcp)
                identity.append(i)
                layer.append(position)
                first.append(number not in seen)
                seen.add(number)
                named_ids.append(number)
                variant.append(row_variant)
                compiled_ids.append(compiled.index)
        layer_blockers.append(own_blockers)
    width = max(map(len, layer_blockers), default=0)
    blockers_table = np.zeros((len(subjects), max(width, 1)), dtype=np.int32)
    for i, own in enumerate(layer_blockers):
        blockers_table[i, :len(own)] = own
    row_identity = np.array(identity, dtype=np.int64)
    return _Rows(
        row_identity, np.array(layer, dtype=np.int64), np.array(first, dtype=bool), np.array(named_ids, dtype=np.int64),
        np.array(variant, dtype=np.int64), np.array(compiled_ids, dtype=np.int64),
        np.searchsorted(row_identity, np.arange(len(subjects) + 1)), np.array(deny_only, dtype=bool),
        np.array(must, dtype=np.int64), blockers_table, list(blockers), policies,
        np.fromiter((subject.session_tags for subject in subjects), dtype=bool, count=len(subjects)),
    )


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SESSION_TAGS = np.uint64(0x5DEECE66D2B7E151)


def _spread(codes: np.ndarray, salt: int, owner: np.ndarray | None = None) -> np.ndarray:
    """A 64-bit hash of each code (of each (owner, code) pair); a code of 0 (nothing) hashes to 0, so sums skip it."""
    x = codes.astype(np.uint64) * _GOLDEN + np.uint64(salt)
    if owner is not None:
        x ^= owner.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    x = (x ^ (x >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
    return np.where(codes != 0, x ^ (x >> np.uint64(29)), np.uint64(0))


def _pair(hashed: np.ndarray, salt: np.ndarray) -> np.ndarray:
    """Hashes of ``_spread`` codes combined with a per-row salt, non-linearly; zero stays zero."""
    x = (hashed ^ salt) * _GOLDEN
    return np.where(hashed != 0, x ^ (x >> np.uint64(32)), np.uint64(0))


@dataclass
class _Cells:
    """Per identity and catalog action: the decision, the blocking layer (an id of ``_Rows.blockers``), and two keys
    of its explanation.

    ``verdict`` numbers what decided (decision, blocking layer, deciding statements), ``consulted`` the
    context keys the statements covering the action read, each per cell (flat, identity then action) in order
    of first appearance, with the first cell of each number. Each number is explained once.
    """

    decision: np.ndarray
    blocked: np.ndarray
    some_checks: np.ndarray
    verdict: _Numbering
    consulted: _Numbering


class _Numbering:
    """Distinct 64-bit keys numbered in order of first appearance, fed in order a chunk of cells at a time.

    Only a chunk is hashed at once: a hash table over the whole matrix (pd.factorize of every cell) cost
    16 bytes a cell, most of the peak memory at 50,000 identities.
    """

    def __init__(self, cells: int) -> None:
        self.codes = np.empty(cells, dtype=np.int32)  # per cell, the number of its key
        self.first: list[int] = []  # per number, the flat position of its first cell
        self._ids: dict[int, int] = {}

    def add(self, start: int, keys: np.ndarray) -> None:
        """Number the keys of the cells from flat position ``start`` on."""
        codes, distinct = pd.factorize(keys.ravel())
        ids, known = self._ids, len(self._ids)
        numbers = np.fromiter((ids.setdefault(key, len(ids)) for key in distinct.tolist()), dtype=np.int32,
                              count=len(distinct))
        self.codes[start:start + len(codes)] = numbers[codes]
        fresh = np.flatnonzero(numbers >= known)
        if len(fresh):
            first = np.empty(len(distinct), dtype=np.int64)
            first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
            self.first.extend((first[fresh] + start).tolist())


def _table(tables: list[np.ndarray], width: int) -> np.ndarray:
    return np.array(tables, dtype=np.int64).reshape(len(tables), width)


def _by_owner(reduce: np.ufunc, out: np.ndarray, owner: np.ndarray, chosen: np.ndarray,
              values: Callable[[np.ndarray], np.ndarray]) -> None:
    """``out[i]``: ``reduce`` over the ``values`` of the chosen rows (a mask) owned by i, for every i owning one."""
    picked = np.flatnonzero(chosen)
    if len(picked):
        owners = owner[picked]
        runs = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        out[owners[runs]] = reduce.reduceat(values(picked), runs, axis=0)


def _decide_all(engine: _Engine, rows: _Rows, n: int, chunk: int = 2048) -> _Cells:
    """The documented evaluation order applied to every identity at once (``n`` catalog actions).

    An explicit Deny in any row wins; otherwise each of an identity's layers (``Subject.layers``) must have
    an Allow, the first without one blocks. The key of a cell's explanation hashes what decided it: the
    (policy, statements) pairs that denied or allowed, the blocking layer, the statements that read keys.
    Rows whose table matches nothing (most have no Deny) are left out of each step, and a cell's decision
    picks the sum of the Deny or the Allow hashes of its rows, each summed over the rows once.
    """
    n_identities, width = len(rows.layers), engine.width
    allow_table, deny_table = _table(engine.allow, width), _table(engine.deny, width)
    allows, denies = allow_table != 0, deny_table != 0
    allows_any, denies_any = allows.any(axis=1), denies.any(axis=1)
    allow_hash, deny_hash = _spread(allow_table[:, :n], 2), _spread(deny_table[:, :n], 1)
    keyed_table = _table(engine.keyed, width)[:, :n]
    keyed_hash_table = _spread(keyed_table, 3)
    keyed_row = np.array([compiled.keyed for compiled in engine.policies], dtype=np.int64)
    salts = np.random.default_rng(20261202).integers(1, 2**63, size=max(len(rows.policies), 1), dtype=np.uint64)
    n_layers = rows.layer_blockers.shape[1]
    decision = np.empty((n_identities, width), dtype=np.int8)
    blocked = np.zeros((n_identities, n), dtype=np.int32)
    verdicts, consulted = _Numbering(n_identities * n), _Numbering(n_identities * n)
    generic_ok = np.zeros((n_identities, n_layers, width - n), dtype=bool)  # for the named check columns
    generic_denied = np.zeros((n_identities, width - n), dtype=bool)
    for lo in range(0, n_identities, chunk):
        hi = min(lo + chunk, n_identities)
        r0, r1 = rows.start[lo], rows.start[hi]
        m = hi - lo
        ok = np.ones((m, n_layers, width), dtype=bool)
        ok[np.arange(n_layers)[None, :] < rows.layers[lo:hi, None]] = False
        denied = np.zeros((m, width), dtype=bool)
        if r1 > r0:
            owner = rows.identity[r0:r1] - lo
            variant = rows.variant[r0:r1]
            _by_owner(np.logical_or, ok.reshape(m * n_layers, width), owner * n_layers + rows.layer[r0:r1],
                      allows_any[variant], lambda picked: allows[variant[picked]])  # by (identity, layer)
            _by_owner(np.logical_or, denied, owner, denies_any[variant], lambda picked: denies[variant[picked]])
        ok[np.arange(n_layers)[None, :] >= rows.layers[lo:hi, None]] = True  # RCP rows only deny
        generic_ok[lo:hi], generic_denied[lo:hi] = ok[:, :, n:], denied[:, n:]
        verdict = np.where(denied, _EXPLICIT, np.where(ok.all(axis=1), _ALLOWED, _IMPLICIT)).astype(np.int8)
        decision[lo:hi] = verdict
        first_failing = (~ok[:, :, :n]).argmax(axis=1)
        blocked[lo:hi] = np.where(verdict[:, :n] == _IMPLICIT,
                                  np.take_along_axis(rows.layer_blockers[lo:hi], first_failing, axis=1), 0)
        deny_sum, allow_sum = np.zeros((m, n), dtype=np.uint64), np.zeros((m, n), dtype=np.uint64)
        keyed_hash = np.zeros((m, n), dtype=np.uint64)
        if r1 > r0:
            named, first = rows.named[r0:r1], rows.first[r0:r1]
            _by_owner(np.add, deny_sum, owner, first & denies_any[variant],  # decide() lists a policy's denies once
                      lambda picked: _pair(deny_hash[variant[picked]], salts[named[picked], None]))
            _by_owner(np.add, allow_sum, owner, ~rows.deny_only[r0:r1] & allows_any[variant],  # RCPs only deny
                      lambda picked: _pair(allow_hash[variant[picked]], salts[named[picked], None]))
            keyed = keyed_row[rows.policy[r0:r1]]
            _by_owner(np.add, keyed_hash, owner, first & (keyed != 0), lambda picked: keyed_hash_table[keyed[picked]])
            # The same keys explain otherwise when the identity's tags are the request's (consulted_keys).
            keyed_hash ^= np.where(rows.session_tags[lo:hi, None] & (keyed_hash != 0), _SESSION_TAGS, np.uint64(0))
        verdict = verdict[:, :n]
        decided_hash = np.where(verdict == _EXPLICIT, deny_sum, np.where(verdict == _ALLOWED, allow_sum, np.uint64(0)))
        verdicts.add(lo * n, _mix(verdict, blocked[lo:hi], decided_hash))
        consulted.add(lo * n, keyed_hash)
    some_checks = _some_checks(engine, rows, decision, generic_ok, generic_denied)
    decision = np.ascontiguousarray(decision[:, :n])
    return _Cells(decision, blocked, some_checks, verdicts, consulted)


def _some_checks(engine: _Engine, rows: _Rows, decision: np.ndarray, generic_ok: np.ndarray,
                 generic_denied: np.ndarray) -> np.ndarray:
    """Per identity and catalog action: whether a named check ARN is decided otherwise than the probe (allowed on
    one, not on the other). Only the (identity, named column) pairs its rows' own statements hit are evaluated;
    on every other named column the identity is decided as on the action's generic column."""
    n_identities, n = len(rows.layers), len(engine.action_of) - generic_ok.shape[2]
    some_checks = np.zeros((n_identities, n), dtype=bool)
    n_named = len(engine.named_action)
    if not n_named:
        return some_checks
    none = np.zeros(0, dtype=np.int64)

    def hits(tables: list[np.ndarray], chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chosen rows' hits on named columns: as keys identity * n_named + column, and the rows' layers."""
        sizes = np.array([len(table) for table in tables], dtype=np.int64)[rows.variant]
        chosen = np.flatnonzero(chosen & (sizes > 0))
        columns = np.concatenate([none, *(tables[v] for v in rows.variant[chosen].tolist())])
        row = np.repeat(chosen, sizes[chosen])
        return rows.identity[row] * n_named + columns, rows.layer[row]

    allow_keys, allow_layers = hits(engine.allow_named, ~rows.deny_only)  # an RCP only ever denies
    deny_keys, _ = hits(engine.deny_named, np.ones(len(rows.variant), dtype=bool))
    keys = np.unique(np.concatenate([allow_keys, deny_keys]))
    identity, column = np.divmod(keys, n_named)
    generic, action = engine.named_generic[column], engine.named_action[column]
    ok = generic_ok[identity, :, generic]
    ok[np.searchsorted(keys, allow_keys), allow_layers] = True
    denied = generic_denied[identity, generic]
    denied[np.searchsorted(keys, deny_keys)] = True
    allowed = ~denied & ok.all(axis=1)
    differs = allowed != (decision[identity, action] == _ALLOWED)
    some_checks[identity[differs], action[differs]] = True
    # The named columns an identity's statements leave alone are decided as the generic column.
    n_generic = generic_ok.shape[2]
    hit = np.bincount(identity * n_generic + generic, minlength=n_identities * n_generic).reshape(n_identities, -1)
    alone = hit < np.bincount(engine.named_generic, minlength=n_generic)[None, :]
    for g in range(n_generic):
        a = engine.action_of[n + g]
        some_checks[:, a] |= alone[:, g] & ((decision[:, n + g] == _ALLOWED) != (decision[:, a] == _ALLOWED))
    return some_checks


def build_matrix(
    account: Account, catalog: Catalog | None = None, *, context: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> pd.DataFrame:
    """The long-form matrix: one row per identity and catalog action, with the explanation columns.

    ``context`` holds keys added to every request (``aws:MultiFactorAuthPresent``, ``aws:SourceIp``, ...);
    each identity also carries the keys AWS derives from it (principal ARN, type, user name, tags), and every
    request the keys AWS always sets (the endpoint's Region, HTTPS, the time ``at``, now by default, or the
    moment a given ``aws:CurrentTime`` or ``aws:EpochTime`` names).
    ``attrs["request_context"]`` holds those assumed keys and the given ones, ``attrs["context"]`` the given ones. A key AWS derives from the
    principal, or a value of the wrong type for a known global key, raises ContextError.
    """
    check_analyst_context(context)
    assumed = assumed_context(account.partition, at, context)
    catalog = catalog or load_catalog()
    with no_collection():
        frame = _build(account, catalog, context, assumed)
    frame.attrs["request_context"] = {**assumed, **dict(context or {})}
    frame.attrs["context"] = dict(context or {})
    return frame


def _build(account: Account, catalog: Catalog, context: Mapping[str, Any] | None, assumed: Mapping[str, str]
           ) -> pd.DataFrame:
    actions = catalog.actions
    names = [a.name for a in actions]
    identities = account.identities
    subjects = [identity.subject for identity in identities]
    # Check actions are also evaluated on each check ARN a statement names (the engine's named columns):
    # where a decision there differs from the probe's, the action is allowed on some checks only.
    check_actions = [i for i, a in enumerate(actions) if a.takes_check_arns]
    in_use = {id(named.policy): named.policy for subject in subjects for step in subject.layers
              for named in step.policies}
    named_checks = sorted({
        (a, arn) for policy in in_use.values()
        for a, arns in _check_candidates(policy, names, check_actions, account.info.account_id).items()
        for arn in arns
    })
    probe = probe_check_arn(account.info.account_id)
    engine = _Engine(names, [probe if a.takes_check_arns else "*" for a in actions], named_checks)
    contexts = identity_contexts(identities, context, assumed)
    rows = _rows(engine, subjects, contexts)
    cells = _decide_all(engine, rows, len(actions))
    explainer = _Explainer(engine, rows, subjects, contexts, cells)
    return _frame(account, catalog, explainer, cells)


def _caveats(explainer: _Explainer, names: list[str]) -> pd.Categorical:
    """Per cell, why its denial is not firm (the root user's plan change under an SCP), else ""."""
    n = len(names)
    codes = np.zeros(len(explainer.subjects) * n, dtype=np.int8)  # "" and a reason or two: the width pandas keeps
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
        # Python lists: this reads a few rows per explanation, where numpy's scalar indexing is slow.
        self.start, self.first, self.named = rows.start.tolist(), rows.first.tolist(), rows.named.tolist()
        self.variant, self.policy, self.deny_only = rows.variant.tolist(), rows.policy.tolist(), rows.deny_only.tolist()

    def deciding(self, i: int, a: int) -> Result:
        """The cell's decision, deciding statements and blocking layer (no context keys: see ``keys``)."""
        engine, rows = self.engine, self.rows
        decision = int(self.cells.decision[i, a])
        deciding: list[StatementRef] = []
        if decision != _IMPLICIT:
            table = engine.deny if decision == _EXPLICIT else engine.allow
            for r in range(self.start[i], self.start[i + 1]):
                if decision == _EXPLICIT and not self.first[r]:  # decide() lists a policy's denies once
                    continue
                if decision == _ALLOWED and self.deny_only[r]:  # an RCP only ever denies
                    continue
                code = int(table[self.variant[r]][a])
                if code:
                    deciding.extend(refs(rows.policies[self.named[r]], engine.policies[self.policy[r]].members(code)))
        return explain(Decision(DECISIONS[decision]), deciding, rows.blockers[self.cells.blocked[i, a]], set())

    def keys(self, i: int, a: int) -> set[str]:
        """The context keys consulted by the statements of the cell's policies that cover its action."""
        engine = self.engine
        found: set[str] = set()
        for r in range(self.start[i], self.start[i + 1]):
            if self.first[r]:
                found |= engine.key_sets[engine.keyed[engine.policies[self.policy[r]].keyed][a]]
        return found

    def result(self, i: int, a: int) -> Result:
        """The cell's whole explanation, as decide() gives it."""
        verdict = self.deciding(i, a)
        return explain(verdict.decision, list(verdict.deciding), verdict.blocker, self.keys(i, a),
                       self.subjects[i].session_tags)

    def check(self, i: int, a: int, identity: str, action: str) -> None:
        """Raise MatrixConsistencyError unless decide(), one request at a time, gives the same result."""
        result = self.result(i, a)
        context = self.contexts[i]
        subject = self.subjects[i]
        resource = self.engine.resources[self.engine.resource_of[a]]
        expected = decide(subject, {named: match_policy(named.policy, action, resource, context)
                                    for named in applicable_policies(subject, action, resource)})
        if expected != result:
            raise MatrixConsistencyError(
                f"the matrix and decide() disagree on {identity} {action}: {result.to_json()} != {expected.to_json()}")


def _frame(account: Account, catalog: Catalog, explainer: _Explainer, cells: _Cells) -> pd.DataFrame:
    """The long form: each distinct explanation key explained once, a sample of them cross-checked.

    Each column is made in the form the frame keeps (categorical codes of the width pandas stores), and the
    frame takes the arrays without a copy: its peak memory is about the frame's own size.
    """
    actions = catalog.actions
    identities = account.identities
    n, n_identities = len(actions), len(identities)
    described: dict[tuple, tuple[str, str, str]] = {}
    verdict_texts = []
    for flat in cells.verdict.first:
        result = explainer.deciding(*divmod(flat, n))
        words = described.get((result.deciding, result.blocker))
        if words is None:  # the English of the codes: produced here, for the output only
            words = described[(result.deciding, result.blocker)] = (
                result.summary, "; ".join(r.description for r in result.deciding), result.blocked_by or "")
        verdict_texts.append(words)
    keys_texts = []
    conditional_of = np.empty(len(cells.consulted.first), dtype=bool)
    for k, flat in enumerate(cells.consulted.first):
        i, a = divmod(flat, n)
        context_keys, conditional_of[k] = consulted_keys(explainer.keys(i, a), explainer.subjects[i].session_tags)
        keys_texts.append(", ".join(context_keys))
    verdict_first = cells.verdict.first
    sample = np.linspace(0, len(verdict_first) - 1, min(CROSS_CHECKS, len(verdict_first)), dtype=np.int64)
    for number in sample.tolist():
        i, a = divmod(verdict_first[number], n)
        explainer.check(i, a, identities[i].arn, actions[a].name)
    rank = _first_appearance(verdict_texts, verdict_first, keys_texts, cells.consulted.first)
    scope_texts = ["", ALL_CHECKS, SOME_CHECKS]
    for text in scope_texts:
        rank.setdefault(text, len(rank))

    def text_column(texts: list[str], codes: np.ndarray, used: Iterable[int] | None = None) -> pd.Categorical:
        """``texts[codes]`` as a categorical of the texts used, in order of first appearance (``rank``).

        ``used``: the numbers ``codes`` holds; every one of ``texts`` when None (a key's number has a first cell).
        """
        categories = sorted({texts[u] for u in used} if used is not None else set(texts), key=rank.__getitem__)
        position = {text: c for c, text in enumerate(categories)}
        table = np.array([position.get(text, 0) for text in texts], dtype=_codes_type(len(categories)))
        return pd.Categorical.from_codes(table[codes], categories=categories)

    check_actions = [i for i, a in enumerate(actions) if a.takes_check_arns]
    scope = np.zeros((n_identities, n), dtype=np.int8)  # an index of scope_texts
    if check_actions:
        scope[:, check_actions] = cells.decision[:, check_actions] == _ALLOWED
        scope[cells.some_checks] = 2
    verdict, consulted = cells.verdict.codes, cells.consulted.codes
    return pd.DataFrame({
        "identity_arn": _labels([i.arn for i in identities], lambda codes: codes.repeat(n)),
        "identity_type": _labels([i.type.value for i in identities], lambda codes: codes.repeat(n)),
        "identity_name": _labels([i.name for i in identities], lambda codes: codes.repeat(n)),
        "action": _labels([a.name for a in actions], lambda codes: np.tile(codes, n_identities)),
        "prefix": _labels([a.prefix for a in actions], lambda codes: np.tile(codes, n_identities)),
        "capability": _labels([a.capability.value for a in actions], lambda codes: np.tile(codes, n_identities)),
        "access_level": _labels([a.access_level.value for a in actions], lambda codes: np.tile(codes, n_identities)),
        "decision": pd.Categorical.from_codes(cells.decision.ravel(), categories=DECISIONS),
        "explanation": text_column([words[0] for words in verdict_texts], verdict),
        "deciding_statements": text_column([words[1] for words in verdict_texts], verdict),
        "blocked_by": text_column([words[2] for words in verdict_texts], verdict),
        "conditional": conditional_of[consulted],
        "context_keys": text_column(keys_texts, consulted),
        "check_scope": text_column(scope_texts, scope.ravel(),
                                   np.flatnonzero(np.bincount(scope.ravel(), minlength=len(scope_texts))).tolist()),
        "incomplete": np.array([i.incomplete for i in identities], dtype=bool).repeat(n),
        "caveat": _caveats(explainer, [a.name for a in actions]),
    }, columns=LONG_COLUMNS, copy=False)  # (a column of LONG_COLUMNS missing here would copy every other)


def _first_appearance(verdict_texts: list[tuple[str, str, str]], verdict_first: list[int], keys_texts: list[str],
                      keys_first: list[int]) -> dict[str, int]:
    """Each text's rank in order of first appearance in the long form, cell by cell and, within a cell, column
    by column (explanation, deciding statements, blocked by, context keys).

    A number's first cell is where its texts first appear in its columns, and numbers come in order of their
    first cells, so merging the two lists of first cells visits the texts in that order.
    """
    rank: dict[str, int] = {}
    v = k = 0
    while v < len(verdict_first) or k < len(keys_first):
        if k == len(keys_first) or (v < len(verdict_first) and verdict_first[v] <= keys_first[k]):
            for text in verdict_texts[v]:
                rank.setdefault(text, len(rank))
            v += 1
        else:
            rank.setdefault(keys_texts[k], len(rank))
            k += 1
    return rank


def _codes_type(categories: int) -> type[np.signedinteger]:
    """The integer type pandas keeps a categorical's codes in (so that from_codes takes the array, not a copy)."""
    for kind in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(kind).max:
            return kind
    return np.int64


def _labels(values: list[str], spread: Callable[[np.ndarray], np.ndarray]) -> pd.Categorical:
    """A categorical of ``values`` laid over the cells by ``spread`` (repeat per identity, tile per action)."""
    categories = list(dict.fromkeys(values))
    lookup = {value: i for i, value in enumerate(categories)}
    codes = np.array([lookup[value] for value in values], dtype=_codes_type(len(categories)))
    return pd.Categorical.from_codes(spread(codes), categories=categories)


def wide(matrix: pd.DataFrame) -> pd.DataFrame:
    """The identity x action view of decisions (rows: identity ARNs, columns: actions)."""
    view = matrix.pivot(index="identity_arn", columns="action", values="decision")
    return view.reindex(index=matrix["identity_arn"].unique(), columns=matrix["action"].cat.categories)


BATCH_ROWS = 65_536
"""Rows converted and written at a time: memory for the output stays one batch, whatever the matrix size."""


def _batches(matrix: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, max(len(matrix), 1), BATCH_ROWS):
        yield matrix.iloc[start:start + BATCH_ROWS]


def _write_json_lines(matrix: pd.DataFrame, out: IO[str]) -> None:
    for batch in _batches(matrix):
        if len(batch):
            # pandas writes "/" as "\/"; every other command writes it plain. Since pandas escapes every "/",
            # each "\/" in its output is one escaped slash (an escaped backslash before it is "\\\/").
            text = batch.to_json(orient="records", lines=True).replace("\\/", "/")
            out.write(text if text.endswith("\n") else text + "\n")


_OWN_TEXTS = ("identity_arn", "identity_name", "explanation", "deciding_statements", "blocked_by", "context_keys")
"""Columns with a text per identity or per explanation (thousands): each batch carries only the texts its rows
use, so that a Parquet row group's dictionary is its own, not 10,000 identities' times the row groups. Their
categories come in order of first appearance (see ``_frame``), so reading the file back gives them in the same
order."""


def _written_attrs(matrix: pd.DataFrame) -> dict[str, Any]:
    """The frame's attributes as a Parquet file records them: the same matrix, the same bytes.

    The assumed ``aws:CurrentTime`` and ``aws:EpochTime`` are the analysis time, different at each run; they
    are recorded when a decision consulted them (the matrix then holds for that time only) or when the analyst
    gave them, and left out otherwise, like any other moment the matrix did not depend on.
    """
    attrs = {key: value for key, value in matrix.attrs.items() if key != "context"}
    context = attrs.get("request_context")
    if isinstance(context, Mapping):
        given = {str(key).lower() for key in matrix.attrs.get("context", {})}
        consulted: set[str] = set()
        column = matrix.get("context_keys")
        if isinstance(column, pd.Series):  # a categorical's categories: the texts used, or more (never fewer)
            texts = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column.unique()
            for text in texts:
                consulted.update(str(text).split(", "))
        clock = CLOCK - given - consulted
        attrs["request_context"] = {key: value for key, value in context.items() if key.lower() not in clock}
    return attrs


def _arrow_batches(matrix: pd.DataFrame) -> Iterator[pa.Table]:
    """The matrix as Arrow tables of one batch each, all of one schema (whose metadata is the frame's)."""
    head = matrix.iloc[:0]
    head.attrs = _written_attrs(matrix)
    schema = pa.Schema.from_pandas(head, preserve_index=False)
    own: dict[str, tuple[pa.Array, Any]] = {}  # column -> its texts, the type of its codes in the file
    for name in _OWN_TEXTS:
        column = matrix.get(name)
        if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
            kind = schema.field(name).type
            own[name] = (pa.array(column.cat.categories, type=kind.value_type), kind.index_type.to_pandas_dtype())
    for batch in _batches(matrix):
        arrays = []
        for field_ in schema:
            rows = batch[field_.name].cat.codes.to_numpy() if field_.name in own else None
            if rows is not None and not (rows < 0).any():  # (a missing value, code -1, is left to Arrow)
                texts, index_type = own[field_.name]
                used = np.flatnonzero(np.bincount(rows, minlength=len(texts)))
                remap = np.zeros(len(texts), dtype=index_type)
                remap[used] = np.arange(len(used))
                arrays.append(pa.DictionaryArray.from_arrays(remap[rows], texts.take(used)))
            else:
                arrays.append(pa.Array.from_pandas(batch[field_.name], type=field_.type))
        yield pa.Table.from_arrays(arrays, schema=schema)


def _write_arrow(matrix: pd.DataFrame, fmt: str, out: IO[bytes]) -> None:
    """CSV or Parquet through Arrow, one batch (one Parquet row group at most) at a time."""
    writer: Any = None
    try:
        for table in _arrow_batches(matrix):
            if writer is None:
                # Min/max statistics prune row groups only where rows are grouped (by identity); in every other
                # column each row group spans nearly every value, and computing them took half of the write.
                statistics = [name for name in ("identity_arn", "identity_name") if name in table.schema.names]
                writer = (pq.ParquetWriter(out, table.schema, write_statistics=statistics) if fmt == "parquet" else
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
