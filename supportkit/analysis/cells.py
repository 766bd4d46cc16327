"""The request-dependent cells of a matrix, each answered once per what decides it, not per identity.

A cell's answer (:mod:`supportkit.analysis.conditions`) depends only on the statements covering its action
in each policy of the identity, the resource, and the identity's values for the keys those statements read
(tags, ``aws:username``, ...). Here each policy's statements are first summed up, per catalog column, in a
:class:`_Part`: whether they settle the decision, which of their Allow and Deny statements still depend on
the request, which condition clauses they name. Each policy gets one vector of part ids over the catalog
(per distinct value of the identity's keys it reads), and an identity's cells are grouped by the column of
its policies' part ids: identities that share policies, or whose own policies say the same, share one
answer. A new group is decided as :class:`supportkit.iam.evaluate.decide` would: an explicit Deny wins,
then every layer of :attr:`supportkit.iam.evaluate.Subject.layers` must allow; its request values are
enumerated on that reduced decision (:class:`ReducedDecision`), shared by every group that reduces to it.

Statements whose Resource holds a policy variable depend on the identity in ways a part does not record:
their cells are answered one identity at a time by the caller's ``fallback``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

import numpy as np
import pandas as pd

from supportkit.analysis.conditions import NEVER, UNCONDITIONAL, Conditions, Requests, _with, condition_policies
from supportkit.analysis.matrix import probe_check_arn
from supportkit.iam.conditions import ConditionClause
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import Subject, is_principal_key, reads_request
from supportkit.iam.policy import ActionSet, Effect, Policy, Statement
from supportkit.snapshot.model import Account, Identity
from supportkit.support.catalog import Catalog

_FEW = 4
"""Action lists up to this long are matched pattern by pattern (each pattern's columns remembered)."""

Fallback = Callable[[Identity, str, str], Conditions]
"""Answers one cell (identity, action, resource) from scratch."""


@dataclass(frozen=True)
class _Part:
    """What one policy's statements covering a column say of a cell (see the module docstring).

    The first four flags are the statement-level test of a settled decision (``paths._settled``); the
    next two and the entry sets are the reduced decision; ``conditional`` is whether the decision
    consults a key that is not the principal's own (:func:`supportkit.iam.evaluate.consulted_keys`).
    """

    denies_always: bool = False  # an unconditional Deny that matches the resource
    denies_maybe: bool = False  # a Deny that reads the request
    allow_possible: bool = False  # an Allow that matches the resource or reads the request
    allows_always: bool = False  # an unconditional Allow that matches the resource
    denied: bool = False  # a Deny that matches whatever the request: unconditional, or true of the principal
    allowed: bool = False  # an Allow likewise
    denies: frozenset[int] = frozenset()  # request-dependent Deny statements (entry ids)
    allows: frozenset[int] = frozenset()  # request-dependent Allow statements (entry ids)
    variable: bool = False  # a statement with a policy variable in its Resource: answered by the fallback
    conditional: bool = False


Entry = TypeVar("Entry")


@dataclass(frozen=True)
class ReducedDecision(Generic[Entry]):
    """A decision reduced to the statements a request can change, decided as
    :func:`supportkit.iam.evaluate.decide` does: allowed when no Deny holds and each layer that must allow has
    an Allow that holds.

    ``denied``: a Deny holds whatever the request; per layer, whether an Allow holds whatever the request, and
    the others. The entries are what :meth:`allows`' ``holds`` decides: statements (who-can's
    ``paths._Request``), or ids of statements with equal conditions and equal values of the principal's keys
    they read (:class:`_Cells`, in frozensets: a decision is then shared by identities that reduce to it).
    """

    denied: bool
    denies: Collection[Entry]
    layers: tuple[tuple[bool, Collection[Entry]], ...]

    def allows(self, holds: Callable[[Entry], bool]) -> bool:
        """The decision for one request, ``holds`` saying whether an entry's conditions hold in it."""
        if self.denied or any(map(holds, self.denies)):
            return False
        return all(always or any(map(holds, entries)) for always, entries in self.layers)


def principal_keys(statement: Statement) -> tuple[str, ...]:
    """The keys ``statement`` reads that are the principal's own (:func:`supportkit.iam.evaluate.is_principal_key`):
    their values, one per principal, are what its answer depends on beside the request."""
    return tuple(key for key in statement.keys_read if is_principal_key(key))


def request_dependent(statement: Statement, session_tags: bool = False) -> bool:
    """Whether a request can change whether ``statement`` holds: it reads a key that is not the principal's own
    (:func:`supportkit.iam.evaluate.is_principal_key`, ``session_tags`` as there); those are facts of the
    snapshot, one value in each of the principal's requests, so a statement reading only them holds or not once
    per principal."""
    return reads_request(statement.keys_read, session_tags)


@dataclass(eq=False)
class _Covered:
    """A policy over the catalog: per column an index into ``pairs`` (its statements covering the action,
    the resource asked), the principal's keys those statements read, and its clause rows once computed (by
    ``Subject.session_tags``)."""

    policy: Policy | None  # kept alive: covering is known by the policy's id
    inverse: np.ndarray
    pairs: list[tuple[tuple[Statement, ...], str]]
    principal_keys: tuple[str, ...]
    clause_rows: dict[bool, np.ndarray] = field(default_factory=dict)


class _Cells:
    """The parts, problems and answers of one account's request-dependent cells, shared across identities."""

    def __init__(self, account: Account, catalog: Catalog, contexts: Mapping[str, RequestContext],
                 carried: RequestContext, fallback: Fallback) -> None:
        self.contexts = contexts
        self.fallback = fallback
        actions = catalog.actions
        self.names = [a.name for a in actions]
        self.column = {name: i for i, name in enumerate(self.names)}
        probe = probe_check_arn(account.info.account_id)
        self.resources = [probe if a.takes_check_arns else "*" for a in actions]
        self._checks = np.array([a.takes_check_arns for a in actions], dtype=np.int64)
        # Keys every request carries (the analyst's, those AWS always sets) are not enumerated: a clause on
        # them, like one on the principal's own keys, names no candidate value.
        self._carried = carried
        self._masks: dict[tuple[bool, ActionSet], np.ndarray] = {}
        self._splits: dict[tuple, tuple[np.ndarray, list[tuple[tuple[int, ...], str]]]] = {}
        self._patterns: dict[str, np.ndarray] = {}
        self._covering: dict[int, _Covered] = {}
        self._part_rows: dict[tuple, np.ndarray] = {}
        self.parts: list[_Part] = []
        self._part_ids: dict[_Part, int] = {}
        self.clauses: list[tuple[ConditionClause, ...]] = []
        self._clause_ids: dict[tuple[ConditionClause, ...], int] = {}
        self.entries: list[Statement] = []
        self._entry_bases: list[RequestContext] = []  # a context with the entry's values of the principal's keys
        self._entry_ids: dict[tuple, int] = {}
        self._layouts: dict[tuple, int] = {}
        self._rcp_masks: dict[tuple, np.ndarray] = {}
        self._solved: dict[tuple, Conditions] = {}
        self._decided: dict[tuple, Conditions | tuple[ReducedDecision[int], bool] | None] = {}  # by _alike
        self._requests: dict[tuple[tuple[int, ...], bool], Requests] = {}  # by clause ids and session tags
        self._requests_by_options: dict[tuple, Requests] = {}  # kept alive: their ids stay unique
        self._masks_over: dict[tuple[int, int], int] = {}
        self.none = self._part_id(_Part())
        self.clauses.append(())  # id 0: no clause
        self._clause_ids[()] = 0
        self._none_row = np.full(len(self.names), self.none, dtype=np.int64)
        nothing = np.zeros(len(self.names), dtype=np.int64)
        self._nothing = _Covered(None, nothing, [((), "*")], (), {False: nothing, True: nothing})

    # Per policy, per catalog column: the statements covering the action and the resource asked.

    def _mask(self, statement: Statement) -> np.ndarray:
        """The catalog columns the statement's Action/NotAction covers (shared by statements with one list)."""
        key = (statement.not_action, statement.action_set)
        found = self._masks.get(key)
        if found is None:
            if len(statement.actions) <= _FEW:  # what one of its patterns matches: short lists repeat patterns
                found = np.zeros(len(self.names), dtype=bool)
                for text in statement.actions:
                    found |= self._pattern(text)
                found = ~found if statement.not_action else found
            else:
                found = np.fromiter(map(statement.matches_action, self.names), dtype=bool, count=len(self.names))
            self._masks[key] = found
        return found

    def _pattern(self, text: str) -> np.ndarray:
        lowered = text.lower()
        found = self._patterns.get(lowered)
        if found is None:
            matches = ActionSet.of((lowered,)).matches
            found = self._patterns[lowered] = np.fromiter(map(matches, self.names), dtype=bool, count=len(self.names))
        return found

    def covering(self, policy: Policy) -> _Covered:
        """Per column, which of the policy's statements cover the action, and the resource asked."""
        found = self._covering.get(id(policy))
        if found is None:
            reaching = [(st, mask) for st, mask in ((st, self._mask(st)) for st in policy.statements) if mask.any()]
            if not reaching:
                found = self._nothing
            else:
                # Policies whose statements have the same Action lists (inline policies, often) share the split.
                shape = tuple((st.not_action, st.action_set) for st, _ in reaching)
                split = self._splits.get(shape)
                if split is None:
                    split = self._splits[shape] = self._split([mask for _, mask in reaching])
                inverse, pairs = split
                statements = [st for st, _ in reaching]
                found = _Covered(policy, inverse, [(tuple(statements[i] for i in members), resource)
                                                   for members, resource in pairs],
                                 tuple(dict.fromkeys(k for st in statements for k in principal_keys(st))))
            self._covering[id(policy)] = found
        return found

    def _split(self, masks: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[tuple[int, ...], str]]]:
        """Columns with the same covering statements (by position) and resource, numbered."""
        stacked = np.array(masks)
        if len(masks) < 62:
            codes = (np.int64(1) << np.arange(len(masks), dtype=np.int64)) @ stacked.astype(np.int64)
        else:
            codes = np.unique(stacked.T, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
        _, first, inverse = np.unique(codes * 2 + self._checks, return_index=True, return_inverse=True)
        return inverse.reshape(-1), [(tuple(np.flatnonzero(stacked[:, column]).tolist()), self.resources[column])
                                     for column in first.tolist()]

    # Parts, clauses and entries, interned.

    def _part_id(self, part: _Part) -> int:
        found = self._part_ids.get(part)
        if found is None:
            found = self._part_ids[part] = len(self.parts)
            self.parts.append(part)
        return found

    def _entry(self, statement: Statement, base: RequestContext) -> int:
        facts = tuple((k, base.get(k)) for k in principal_keys(statement))
        key = (statement.conditions, facts)
        found = self._entry_ids.get(key)
        if found is None:
            found = self._entry_ids[key] = len(self.entries)
            self.entries.append(statement)
            self._entry_bases.append(base)
        return found

    def _part(self, statements: Sequence[Statement], resource: str, base: RequestContext, rcp: bool,
              session_tags: bool) -> _Part:
        """What ``statements`` (of one policy, covering one action) say of a cell on ``resource``, for a subject
        whose :attr:`~supportkit.iam.evaluate.Subject.session_tags` is ``session_tags``."""
        denies_always = denies_maybe = allow_possible = allows_always = denied = allowed = False
        variable = conditional = False
        denies: set[int] = set()
        allows: set[int] = set()
        for st in statements:
            deny = st.effect is Effect.DENY
            if rcp and not deny:
                continue  # RCPs only deny (RCPFullAWSAccess allows everything)
            dependent = st.context_dependent
            dynamic = request_dependent(st, session_tags)
            if st.resource_variables:
                variable = True
                matches = settled = False
            else:
                matches = st.matches_resource(resource, base)
                settled = not dynamic
            conditional |= dynamic
            if deny:
                denies_maybe |= dependent
                denies_always |= matches and not dependent
            else:
                allow_possible |= dependent or matches
                allows_always |= matches and not dependent
            if not matches:
                continue
            if settled:
                if not dependent or st.conditions_hold(base):
                    if deny:
                        denied = True
                    else:
                        allowed = True
            else:
                (denies if deny else allows).add(self._entry(st, base))
        return _Part(denies_always, denies_maybe, allow_possible, allows_always, denied, allowed, frozenset(denies),
                     frozenset(allows), variable, conditional)

    def part_row(self, policy: Policy, base: RequestContext, rcp: bool, session_tags: bool) -> np.ndarray:
        """Per column the id of the policy's part; one row per value of the principal's keys it reads."""
        covered = self.covering(policy)
        if covered is self._nothing:
            return self._none_row
        key = (id(policy), rcp, session_tags,
               base.signature(covered.principal_keys) if covered.principal_keys else ())
        found = self._part_rows.get(key)
        if found is None:
            ids = np.array([self._part_id(self._part(statements, resource, base, rcp, session_tags))
                            if statements else self.none
                            for statements, resource in covered.pairs], dtype=np.int64)
            found = self._part_rows[key] = ids[covered.inverse]
        return found

    def clause_row(self, policy: Policy, session_tags: bool) -> np.ndarray:
        """Per column the id of the condition clauses the enumeration reads from the policy (in order)."""
        covered = self.covering(policy)
        found = covered.clause_rows.get(session_tags)
        if found is None:
            ids = []
            for statements, _ in covered.pairs:
                clauses = tuple(c for st in statements for c in st.conditions
                                if not self._carried_key(c.key, session_tags))
                known = self._clause_ids.get(clauses)
                if known is None:
                    known = self._clause_ids[clauses] = len(self.clauses)
                    self.clauses.append(clauses)
                ids.append(known)
            found = covered.clause_rows[session_tags] = np.array(ids, dtype=np.int64)[covered.inverse]
        return found

    def _carried_key(self, key: str, session_tags: bool) -> bool:
        lowered = key.lower()
        return is_principal_key(lowered, session_tags) or lowered in self._carried

    def rcp_mask(self, subject: Subject) -> np.ndarray:
        """The columns the subject's RCPs apply to (their services, the account's resources)."""
        key = (subject.rcps_in_force, subject.rcp_services, subject.rcp_account, subject.principal.account)
        found = self._rcp_masks.get(key)
        if found is None:
            found = self._rcp_masks[key] = np.fromiter(
                (subject.rcps_apply_to(name, resource) for name, resource in zip(self.names, self.resources)),
                dtype=bool, count=len(self.names))
        return found

    # An identity's rows, and the answer of one group of its cells.

    def rows(self, identity: Identity) -> tuple[int, tuple[int, tuple[int, ...]], np.ndarray]:
        """The identity's layout (its id; the number of layers and the layer of each decision row, -1 for an
        RCP) and its rows over the catalog: decision parts, then the clauses the enumeration reads."""
        subject = identity.subject
        base = self.contexts[identity.arn]
        tags = subject.session_tags
        shape: list[int] = []
        rows: list[np.ndarray] = []
        for index, layer in enumerate(subject.layers):
            for named in layer.policies:
                shape.append(index)
                rows.append(self.part_row(named.policy, base, False, tags))
        if subject.rcps_in_force:
            applies = self.rcp_mask(subject)
            for named in subject.rcps:
                shape.append(-1)
                rows.append(np.where(applies, self.part_row(named.policy, base, True, tags), self.none))
        layout = (len(subject.layers), tuple(shape))
        found = self._layouts.get(layout)
        if found is None:
            found = self._layouts[layout] = len(self._layouts)
        rows.extend(self.clause_row(policy, tags) for policy in condition_policies(subject))
        return found, layout, np.array(rows, dtype=np.int64).reshape(len(rows), len(self.names))

    def answer(self, identity: Identity, action: int, layout: tuple[int, tuple[int, ...]],
               column: Sequence[int]) -> tuple[Conditions, bool]:
        """The conditions of one cell (of catalog column ``action``) whose rows' ids are ``column``, and whether
        other identities may share them."""
        width = len(layout[1])
        alike = self._alike(layout, column[:width])
        try:  # None is a decision (the fallback's): not a default of get()
            decided = self._decided[alike]
        except KeyError:
            decided = self._decided[alike] = self._decide(alike)
        if decided is None:
            return self.fallback(identity, self.names[action], self.resources[action]), False
        if isinstance(decided, Conditions):
            return decided, True
        problem, conditional = decided
        base = self.contexts[identity.arn]
        if not conditional:
            return (UNCONDITIONAL if problem.allows(self._holds(base)) else NEVER), True
        requests = self._requests_of(tuple(i for i in column[width:] if i), identity.subject.session_tags)  # 0: none
        solved = (problem, id(requests))
        found = self._solved.get(solved)
        if found is None:
            found = self._solved[solved] = self._solve(problem, requests, base)
        return found, True

    def _alike(self, layout: tuple[int, tuple[int, ...]], ids: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """The part ids of a cell's decision rows as the decision reads them: per layer that must allow, then for
        the RCPs, the distinct ids other than the empty part's, sorted. A decision is a union over each layer and
        over them all (see :meth:`_decide`), so identities whose policies come in another order, or with other
        policies that say nothing of the action, are decided once."""
        layers, shape = layout
        groups: list[set[int]] = [set() for _ in range(layers + 1)]  # the RCPs' (-1) last
        none = self.none
        for index, part in zip(shape, ids):
            if part != none:
                groups[index].add(part)
        return tuple(tuple(sorted(group)) for group in groups)

    def _decide(self, alike: tuple[tuple[int, ...], ...]) -> Conditions | tuple[ReducedDecision[int], bool] | None:
        """A decision settled by the parts alone, else its reduced problem and whether it is conditional;
        None when a part needs the fallback. ``alike``: :meth:`_alike`'s part ids."""
        in_layer = [[self.parts[i] for i in ids] for ids in alike[:-1]]
        parts = [*(p for layer in in_layer for p in layer), *(self.parts[i] for i in alike[-1])]
        if any(p.variable for p in parts):
            return None
        if any(p.denies_always for p in parts):
            return NEVER
        if not all(any(p.allow_possible for p in layer) for layer in in_layer):
            return NEVER
        if all(any(p.allows_always for p in layer) for layer in in_layer) and not any(p.denies_maybe for p in parts):
            return UNCONDITIONAL
        problem = ReducedDecision(any(p.denied for p in parts), frozenset().union(*(p.denies for p in parts)), tuple(
            (any(p.allowed for p in layer), frozenset().union(*(p.allows for p in layer))) for layer in in_layer))
        return problem, any(p.conditional for p in parts)

    def _requests_of(self, clauses: tuple[int, ...], session_tags: bool) -> Requests:
        """The requests to enumerate for these clause ids: one object per distinct set of candidates."""
        requests = self._requests.get((clauses, session_tags))
        if requests is None:
            found = Requests((c for i in clauses for c in self.clauses[i]), self._carried,
                             partial(is_principal_key, session_tags=session_tags))
            requests = self._requests[(clauses, session_tags)] = self._requests_by_options.setdefault(
                (found.written, found.options), found)
        return requests

    def _solve(self, problem: ReducedDecision[int], requests: Requests, base: RequestContext) -> Conditions:
        """:func:`enumerate_conditions` of the problem, from the masks of its entries over the requests."""
        if not requests.keys:
            return UNCONDITIONAL if problem.allows(self._holds(base)) else NEVER
        every = (1 << requests.count) - 1
        allowed = 0
        if not problem.denied:
            allowed = every & ~self._any(problem.denies, requests)
            for always, entries in problem.layers:
                if not always:
                    allowed &= self._any(entries, requests)
        return requests.conclude(allowed, lambda kept: problem.allows(self._holds(_with(base, kept))))

    def _any(self, entries: Iterable[int], requests: Requests) -> int:
        """The positions of ``requests`` where one of the entries holds."""
        found = 0
        for entry in entries:
            key = (entry, id(requests))
            mask = self._masks_over.get(key)
            if mask is None:
                mask = self._masks_over[key] = self._mask_over(entry, requests)
            found |= mask
        return found

    def _mask_over(self, entry: int, requests: Requests) -> int:
        """Where one statement holds (:meth:`Requests.holding`, with the values of its entry)."""
        return requests.holding(self.entries[entry], self._entry_bases[entry])

    def _holds(self, context: RequestContext) -> Callable[[int], bool]:
        """Whether an entry's conditions hold in one request (:meth:`ReducedDecision.allows`)."""
        return lambda entry: self.entries[entry].conditions_hold(context)


@dataclass(frozen=True)
class CellAnswers:
    """The matrix's request-dependent cells, in its order, and the answer of each (an index into ``answers``)."""

    identity_arn: pd.Categorical
    action: pd.Categorical
    answers: tuple[Conditions, ...]
    answer_of: np.ndarray


def _factorized(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(column)
    return codes, [str(u) for u in uniques]


_SALT = np.random.default_rng(0).integers(1, 1 << 62, size=4096, dtype=np.int64) | 1
"""Odd multipliers that hash a column of part ids (wrapping in 64 bits); a collision is caught, see below."""


def _distinct_columns(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first index of each distinct column of ``block`` and, per column, which distinct one it is: an
    identity's cells over actions that its policies treat alike are answered once. Columns are told apart by a
    hash, checked against the columns themselves (exact ``np.unique`` over columns when two would collide)."""
    if len(block) > len(_SALT):
        _, first, inverse = np.unique(block, axis=1, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)
    _, first, inverse = np.unique(_SALT[:len(block)] @ block, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(block, block[:, first[inverse]]):
        _, first, inverse = np.unique(block, axis=1, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
    return first, inverse


def cell_conditions(account: Account, matrix: pd.DataFrame, catalog: Catalog, contexts: Mapping[str, RequestContext],
                    carried: RequestContext, fallback: Fallback) -> CellAnswers:
    """The conditions of each cell of ``matrix`` whose decision depends on the request (``conditional``).

    ``contexts``: each identity's request context by ARN, as the matrix evaluated it (the time aside);
    ``carried``: the keys they all carry (the analyst's, and those AWS sets in every request), which are not
    enumerated. Each identity's context is ``carried`` with the principal's own keys added, and those are not
    enumerated either (:func:`supportkit.iam.evaluate.is_principal_key`), so one context for the account
    names the keys to enumerate for every identity.
    """
    cells = matrix.loc[matrix["conditional"].to_numpy(), ["identity_arn", "action"]]
    arn_codes, arns = _factorized(cells["identity_arn"])
    action_codes, actions = _factorized(cells["action"])
    found = _Cells(account, catalog, contexts, carried, fallback)
    columns = np.array([found.column[name] for name in actions], dtype=np.int64)[action_codes]
    by_arn = {i.arn: i for i in account.identities}
    answers: list[Conditions] = []
    answer_ids: dict[tuple, int] = {}
    answer_of = np.empty(len(cells), dtype=np.int64)
    order = np.argsort(arn_codes, kind="stable")
    for positions in np.split(order, np.flatnonzero(np.diff(arn_codes[order])) + 1) if len(order) else ():
        identity = by_arn[arns[arn_codes[positions[0]]]]
        layout_id, layout, rows = found.rows(identity)
        wanted = columns[positions]
        block = rows[:, wanted]
        first, inverse = _distinct_columns(block)
        distinct = np.empty(len(first), dtype=np.int64)  # the answer of each distinct column
        alone = []  # the distinct columns whose answer is their first cell's only (the fallback's)
        for index, (at, column) in enumerate(zip(first.tolist(), zip(*block[:, first].tolist()))):
            key = (layout_id, column)
            answer = answer_ids.get(key)
            if answer is None:
                conditions, shared = found.answer(identity, int(wanted[at]), layout, column)
                answer = len(answers)
                answers.append(conditions)
                if shared:
                    answer_ids[key] = answer
                else:
                    alone.append((index, at, column))
            distinct[index] = answer
        answer_of[positions] = distinct[inverse]
        for index, at, column in alone:
            for other in np.flatnonzero(inverse == index).tolist():
                if other != at:
                    answer_of[positions[other]] = len(answers)
                    answers.append(found.answer(identity, int(wanted[other]), layout, column)[0])
    return CellAnswers(pd.Categorical.from_codes(arn_codes, arns), pd.Categorical.from_codes(action_codes, actions),
                       tuple(answers), answer_of)
