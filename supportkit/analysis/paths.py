"""Who can perform an action, directly or through a path: role chains and privilege escalation.

Each answer is an :class:`AccessPath`: the principal it starts from (an IAM user or role, the root user,
another account, an identity provider, an Identity Center permission set, a service), the steps it
takes (each with the action it calls and the request conditions it needs), and the conditions of the
final request. Every step is decided by the engine (:func:`supportkit.iam.evaluate.evaluate`,
:func:`supportkit.iam.trust.can_assume`) and every condition stated was verified by evaluating it
(:mod:`supportkit.analysis.conditions`).

Role chaining ("Role chaining is when you use a role to assume a second role", Roles terms and concepts,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining)
is followed breadth first to ``depth`` assumptions; a principal gets its shortest path, so no path
visits a principal twice. A role assuming itself adds no permission and is not followed.

Privilege escalation into the action: a principal that can change its own permissions counts if, once
changed, the action would be allowed (its permissions boundary, SCPs and explicit denies still apply):
``iam:PutUserPolicy``/``iam:AttachUserPolicy`` on itself (roles: ``iam:PutRolePolicy``/
``iam:AttachRolePolicy``), ``iam:PutGroupPolicy``/``iam:AttachGroupPolicy`` on a group it belongs to,
``iam:AddUserToGroup`` on a group whose policies allow the action, ``iam:CreatePolicyVersion`` on a
customer managed policy attached to it, the same changes granting ``sts:AssumeRole`` instead and then
assuming a role that can perform the action (where its boundary or SCPs allow assuming roles but not the
action), and ``iam:UpdateAssumeRolePolicy`` on a role that can perform the action (then assuming it,
named in the new trust policy). Each of these actions is authorized on
the user, group, role or policy it changes (Service Authorization Reference, IAM actions,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
Service-linked roles and Identity Center roles cannot be changed ("You cannot modify the trust policy
for a service-linked role", Update a role trust policy,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html; Identity
Center roles are "only modifiable by AWS").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache, partial
from itertools import chain, repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from supportkit.analysis.conditions import (
    NEVER,
    UNCONDITIONAL,
    Conditions,
    Requests,
    _with,
    clauses_for,
    condition_policies,
    enumerate_conditions,
)
from supportkit.analysis.access import (
    DENIED, HEADLINE_ACTIONS, WHO_READS_CASES, AccessDecision, cell_access,
)
from supportkit.analysis.cells import ReducedDecision, cell_conditions, principal_keys, request_dependent
from supportkit.analysis.kinds import IdentityKind, identity_kinds, source_kind
from supportkit.analysis.matrix import identity_contexts, probe_check_arn
from supportkit.analysis.trust import (
    Organization,
    SourceKind,
    TrustSource,
    permission_set,
    role_sources,
)
from supportkit.errors import SupportkitError
from supportkit.heap import no_collection
from supportkit.iam.arn import account_of
from supportkit.iam.conditions import ConditionClause
from supportkit.iam.context import EMPTY_CONTEXT, ContextValue, RequestContext
from supportkit.iam.keys import PRINCIPAL_TAG
from supportkit.iam.evaluate import (
    Decision,
    Layer,
    NamedPolicy,
    PolicyKind,
    Result,
    Subject,
    applicable_policies,
    evaluate,
    is_principal_key,
)
from supportkit.iam.policy import Effect, Policy, Statement, parse_policy
from supportkit.iam.trust import (
    ASSUME_ROLE,
    SET_SOURCE_IDENTITY,
    TAG_SESSION,
    Caller,
    Grant,
    account_entry,
    can_assume,
    principal_grant,
    session_action,
    trust_policy,
)
from supportkit.snapshot.model import Account, Group, Identity, IdentityType
from supportkit.support.catalog import Action, Capability, Catalog
from supportkit.support.request_context import CLOCK, assumed_context
from supportkit.lazy import cached_property

MAX_DEPTH = 3
"""Role assumptions followed at most (a user, then up to three roles)."""

EXTERNAL_CAVEAT = ("the other account's own policies must also allow this request; they are not in this "
                   "snapshot (Cross-account policy evaluation logic)")
INCOMPLETE_CAVEAT = "some policies of this identity could not be read: the answer may be wrong"


class Via(str, Enum):
    DIRECT = "direct"
    ROLE = "role chain"
    ESCALATION = "privilege escalation"


_VIA_ORDER = {via: order for order, via in enumerate(Via)}


@dataclass(frozen=True)
class Step:
    """One move of a path: ``source`` calls ``action`` on ``target``, allowed under ``conditions``."""

    source: str
    target: str
    action: str
    conditions: Conditions
    caveats: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "action": self.action,
                "conditions": self.conditions.to_json(), "caveats": list(self.caveats)}


@dataclass(frozen=True)
class AccessPath:
    """How ``principal`` comes to perform ``action``: the steps, then the final request's conditions."""

    principal: str
    kind: IdentityKind
    action: str
    via: Via
    steps: tuple[Step, ...]
    conditions: Conditions  # of the final request (the action itself)
    caveats: tuple[str, ...] = ()

    @cached_property
    def decision(self) -> AccessDecision:
        unconditional = self.conditions.always and all(step.conditions.always for step in self.steps)
        return AccessDecision.ALLOWED if unconditional else AccessDecision.CONDITIONAL

    @property
    def all_caveats(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*(c for step in self.steps for c in step.caveats), *self.caveats)))

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal, "kind": self.kind.value, "action": self.action, "via": self.via.value,
            "decision": self.decision.value, "path": [step.to_json() for step in self.steps],
            "conditions": self.conditions.to_json(), "caveats": list(self.all_caveats), "summary": self.text(),
        }

    def route(self) -> str:
        """The steps in words ("via sts:AssumeRole -> ROLE (with MFA), ..."), or "directly"."""
        parts = [f"{step.action} -> {step.target}" + _when(step.conditions) for step in self.steps]
        return ("via " + ", ".join(parts)) if parts else "directly"

    def text(self) -> str:
        """The path in one line for people: principal, then each step, then the final request's conditions."""
        return f"{self.principal} {self.route()}: {self.action}{_when(self.conditions)}"

    @cached_property
    def _rank(self) -> tuple[bool, int, int]:
        return (self.decision is not AccessDecision.ALLOWED, len(self.steps), _VIA_ORDER[self.via])

    def rank(self) -> tuple[bool, int, int]:
        """Better paths sort first: allowed before conditional, shorter, then direct before escalation."""
        return self._rank


def _when(conditions: Conditions) -> str:
    return "" if conditions.always else f" ({conditions.text()})"


@lru_cache(maxsize=1024)
def _grant(action: str) -> NamedPolicy:
    """The policy a principal would give itself: the action, on every resource."""
    return NamedPolicy(f"self-granted {action}", PolicyKind.IDENTITY, parse_policy(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))


@dataclass(frozen=True, eq=False)
class _Request:
    """One principal's request reduced to what the request can change (:meth:`_Evaluator._requests`).

    Statements whose outcome no request value changes (no condition, or conditions on the principal's own
    keys only) are folded into ``decision``'s fixed Deny and each layer's fixed Allow; the others are kept,
    matching the resource. ``key`` is what the answer depends on: the folded flags, each kept statement's effect,
    conditions and the principal's values they read, and the condition clauses that are enumerated; within
    one account and analyst context, principals with equal keys are decided and enumerated alike.
    """

    key: tuple
    decision: ReducedDecision[Statement]
    conditional: bool  # some statement covering the action reads a key of the request (``Result.conditional``)
    enumerated: tuple[ConditionClause, ...]  # the clauses whose keys the enumeration varies (part of ``key``)
    settled: Conditions | None  # the answer its statements give whatever the request and the facts (_settled)

    def allows(self, context: RequestContext) -> bool:
        """The engine's decision is Allow (:func:`supportkit.iam.evaluate.decide` on these statements)."""
        return self.decision.allows(lambda statement: statement.conditions_hold(context))


@dataclass(frozen=True, eq=False)
class _RequestPart:
    """One policy's share of a :class:`_Request`: its statements covering an action on a resource, sorted by
    what decides them."""

    fixed_allow: bool  # an unconditional Allow
    fixed_deny: bool
    facts: tuple[Statement, ...]  # conditions on the principal's own keys only: fixed per principal
    dynamic: tuple[tuple[Statement, tuple[str, ...]], ...]  # request-dependent, with the principal keys it reads
    conditional: bool  # some statement (matching the resource or not) reads a key of the request
    # the statement-level test of a settled decision (_settled): a Deny with a condition, whatever the
    # resource; an Allow with a condition, or one that matches the resource
    denies_maybe: bool = False
    allow_possible: bool = False


@dataclass(frozen=True, eq=False)
class _Coverage:
    """A policy's statements covering each of a request's actions (by index, in the policy's order)."""

    by_index: tuple[tuple[int, tuple[Statement, ...]], ...]  # only the actions some statement covers
    allowing: int  # the indices an Allow statement covers, as bits


_NO_COVERAGE = _Coverage((), 0)
"""The coverage of a policy none of whose statements covers the actions."""
_NO_PART = _RequestPart(False, False, (), (), False)
"""The part of a policy none of whose statements can apply."""


@dataclass(frozen=True, eq=False)
class _PolicyParts:
    """A policy's parts (:class:`_RequestPart`) for each action of a request: their flags as bits over the
    actions (bit i: the i-th action), and the parts whose statements each principal's request takes one by one
    (conditions on its own keys, tested on its values; statements that depend on the request)."""

    conditional: int
    fixed_deny: int
    fixed_allow: int
    denies_maybe: int
    allow_possible: int
    itemized: tuple[tuple[int, _RequestPart], ...]


_NO_PARTS = _PolicyParts(0, 0, 0, 0, 0, ())
"""The parts of a policy that covers none of the actions."""
_UNKNOWN = _PolicyParts(0, 0, 0, 0, 0, ())
"""Not looked up yet (None is an answer: a Resource with a policy variable)."""


@dataclass(frozen=True, eq=False)
class _Summary:
    """What a principal's policies say of its requests of several actions (:meth:`_Evaluator._summary`): flags as
    bits over the actions (bit i: the i-th action), over all layers and per layer that must allow, and per action
    the parts whose statements its request takes one by one (:meth:`_Evaluator._request`)."""

    subject: Subject
    base: RequestContext  # the principal's context
    actions: tuple[str, ...]
    extra: Mapping[str, tuple[NamedPolicy, ...]]
    fixed_deny: int  # an unconditional Deny matches
    conditional: int  # some statement reads a key of the request
    # _settled's test: an unconditional matching Deny, or a layer with no Allow that may match, denies; an
    # unconditional matching Allow in every layer, and no Deny with a condition, allows
    never: int
    changeable: int
    always: int
    layers: tuple[int, ...]  # per layer that must allow, an unconditional Allow matches
    # per action: (the layer, -1 for the RCPs; the part), in two: the SCP layers' (shared), then the others'
    itemized: tuple[Mapping[int, list[tuple[int, _RequestPart]]], Mapping[int, list[tuple[int, _RequestPart]]]]
    # the clause rows of condition_policies, by the extra policies of an action (most have none)
    clause_rows: dict[tuple[NamedPolicy, ...], list[tuple[tuple[ConditionClause, ...], ...]]] = field(
        default_factory=dict)


def _leading_scps(layers: Sequence[Layer]) -> int:
    """How many of ``layers`` are SCP levels: they come first (:attr:`~supportkit.iam.evaluate.Subject.layers`)."""
    count = 0
    while count < len(layers) and layers[count].kind is PolicyKind.SCP:
        count += 1
    return count


class _Fold(NamedTuple):
    """Layers' sums (:class:`_LayerSums`) folded as :meth:`_Evaluator._summary` reads them (see :class:`_Summary`)."""

    fixed_deny: int
    conditional: int
    never: int
    changeable: int
    always: int
    layers: tuple[int, ...]  # per layer, its unconditional Allows
    itemized: dict[int, list[tuple[int, _RequestPart]]]  # per action, (layer, part)


def _fold(numbered: Iterable[tuple[int, _LayerSums]], every: int) -> _Fold | None:
    """Layers' sums, each with its number among the layers that must allow (-1: the RCPs, whose Allow allows
    nothing by itself), folded; None when one is :data:`_VARIABLE`."""
    fixed_deny = conditional = never = changeable = 0
    always = every
    layers: list[int] = []
    itemized: dict[int, list[tuple[int, _RequestPart]]] = {}
    for index, layer in numbered:
        if layer.variable:
            return None
        conditional |= layer.conditional
        fixed_deny |= layer.fixed_deny
        changeable |= layer.changeable
        for i, part in layer.itemized:
            itemized.setdefault(i, []).append((index, part))
        if index >= 0:
            layers.append(layer.fixed_allow)
            never |= every & ~layer.possible
            always &= layer.fixed_allow
    return _Fold(fixed_deny, conditional, never | fixed_deny, changeable, always, tuple(layers), itemized)


class _LayerSums(NamedTuple):
    """The flags of one layer's parts (:class:`_PolicyParts`) summed as bits over the actions, and its parts to
    take one by one (action index, part); ``variable``: a part is None (a Resource with a policy variable), and
    the sums stop there."""

    variable: bool
    conditional: int
    fixed_deny: int
    fixed_allow: int
    changeable: int
    possible: int
    itemized: tuple[tuple[int, _RequestPart], ...]


_VARIABLE = _LayerSums(True, 0, 0, 0, 0, 0, ())
"""The sums of a layer with a policy variable in a Resource: the request is the engine's to decide."""


SessionTags = tuple[tuple[str, ContextValue], ...]
"""Session tags a caller passes, (tag key, value) sorted by key."""


class _Evaluator:
    """Decisions with their conditions for one account, analyst context and final action."""

    def __init__(self, account: Account, context: Mapping[str, Any] | None) -> None:
        self.account = account
        # The keys every request carries, as the matrix assumes them, except the time: date conditions are
        # part of the answer ("allowed before 2027-01-01"), so the time is enumerated, not fixed, unless the
        # analyst fixed it (then both clock keys name that instant).
        fixed = any(str(key).lower() in CLOCK for key in context or {})
        assumed = {k: v for k, v in assumed_context(account.partition, given=context).items()
                   if fixed or k.lower() not in CLOCK}
        # What every request of the analysis carries (the analyst's keys and ``assumed``), and each identity's
        # context: the same with the principal's own keys added (identity_contexts).
        self.carried = RequestContext.of(context).with_defaults(assumed)
        # whether every request carries a key that needs a session permission (an analyst's aws:TagKeys, say); a
        # principal's own keys (identity_contexts) never do
        self.carried_session_keys = _session_keys_in(self.carried)
        self.contexts = dict(zip((i.arn for i in account.identities),
                                 identity_contexts(account.identities, context, assumed)))
        self._assumed: dict[tuple, tuple[Conditions, tuple[str, ...]]] = {}
        self._answers: dict[tuple, Conditions] = {}
        self._covered: dict[tuple, tuple[int, ...]] = {}
        # Policies are keys by identity (they compare so), which also keeps them alive while keyed.
        self._coverages: dict[tuple[str, ...], dict[Policy, _Coverage]] = {}  # by actions, then policy
        self._services: dict[tuple[str, ...], frozenset[str]] = {}  # by actions
        self._tables: dict[tuple, dict[Policy, _PolicyParts | None]] = {}  # _parts_of by its other arguments, policy
        self._shared_sums: dict[tuple, tuple[tuple[Layer, ...], _Fold | None]] = {}  # by table, first layer
        self._possible_scps: dict[tuple[tuple[str, ...], int], tuple[tuple[Layer, ...], int]] = {}  # by actions,
        # the first SCP layer's id: the SCP layers, and what they allow
        self._scp_rows: dict[tuple[int, int], tuple[tuple[tuple[NamedPolicy, ...], ...],  # by table and levels ids
                                                    list[tuple[tuple[ConditionClause, ...], ...]]]] = {}
        self._clauses: dict[tuple[tuple[str, ...], bool], dict[Policy, tuple[tuple[ConditionClause, ...], ...]]] = {}
        self._organization_keys: dict[tuple[int, int],  # by the ids of the SCP levels and the RCPs
                                      tuple[Sequence[Sequence[NamedPolicy]], Sequence[NamedPolicy], bool]] = {}
        self._tagging: dict[tuple[tuple, SessionTags], bool] = {}
        self._enumerations: dict[tuple[tuple[ConditionClause, ...], bool], Requests] = {}
        self._masks: dict[tuple, int] = {}

    def conditions(self, subject: Subject, arn: str, action: str, resource: str) -> Conditions:
        """When ``subject`` (the identity ``arn``) may call ``action`` on ``resource``: decided on its request
        reduced to what a request can change (:class:`_Request`), else, when a statement's Resource holds a
        policy variable, by the engine (:meth:`_engine_conditions`)."""
        summary = self._summary(subject, arn, (action,), (resource,), {})
        if summary is None:
            return self._engine_conditions(subject, arn, action, resource)
        return self._answer(self._request(summary, 0), subject, arn, resource)

    def _engine_conditions(self, subject: Subject, arn: str, action: str, resource: str) -> Conditions:
        """:meth:`conditions`, each enumerated request decided by :func:`supportkit.iam.evaluate.evaluate`."""
        base = self.contexts[arn]
        settled = _settled_by_facts(subject, action, resource, base)
        if settled is not None:
            return settled
        result = evaluate(subject, action, resource, base)
        return self._conditions(result, lambda c: evaluate(subject, action, resource, c), base,
                                condition_policies(subject), action, subject)

    def first(self, subject: Subject, arn: str, actions: Sequence[str], resource_of: Callable[[str], str],
              extra: Mapping[str, tuple[NamedPolicy, ...]] | None = None) -> tuple[str, Conditions] | None:
        """The first of ``actions`` allowed unconditionally, else the first allowed under some conditions.

        ``extra``: identity-based policies added for an action (what a principal would give itself). One
        decision per action finds an unconditional one; conditions are enumerated only when there is none, and
        only until an action is found that some request allows. Principals whose requests reduce alike
        (:class:`_Request`) share the answer.
        """
        extra = extra or {}

        def subject_of(action: str) -> Subject:
            added = extra.get(action, ())
            return replace(subject, identity_policies=(*subject.identity_policies, *added)) if added else subject

        actions = tuple(actions)
        resources = tuple(map(resource_of, actions))
        summary = self._summary(subject, arn, actions, resources, extra)
        base = self.contexts[arn]
        if summary is None:  # a Resource with a policy variable: the engine decides, on the actions it may allow
            possible = set(self.possible(subject, actions, extra))
            actions, resources = (tuple(a for a in actions if a in possible),
                                  tuple(r for a, r in zip(actions, resources) if a in possible))
            for action, resource in zip(actions, resources):
                result = evaluate(subject_of(action), action, resource, base)
                if result.decision is Decision.ALLOWED and not result.conditional:
                    return action, UNCONDITIONAL
            for action, resource in zip(actions, resources):
                conditions = self._engine_conditions(subject_of(action), arn, action, resource)
                if conditions.ever:
                    return action, conditions
            return None
        for index, action in enumerate(actions):
            if not summary.conditional >> index & 1 and self._request(summary, index).allows(base):
                return action, UNCONDITIONAL
        for index, action in enumerate(actions):
            if summary.never >> index & 1:
                continue  # denied whatever the request
            conditions = self._answer(self._request(summary, index), subject, arn, resources[index])
            if conditions.ever:
                return action, conditions
        return None

    def possible(self, subject: Subject, actions: tuple[str, ...],
                 extra: Mapping[str, tuple[NamedPolicy, ...]] | None = None) -> tuple[str, ...]:
        """The ``actions`` for which every layer that must allow has an Allow statement covering them, resources
        and conditions aside: the others are implicitly denied whatever the request (most identities hold no
        statement for most actions, and this costs a lookup per policy)."""
        every = possible = (1 << len(actions)) - 1  # bit i: actions[i]
        coverages = self._coverages_of(actions)
        layers = subject.layers
        if layers and layers[0].kind is PolicyKind.SCP:
            # The SCP levels come first, one tuple of Layer objects for every identity of the account
            # (Subject.layers, from one _scp_layers tuple per set of levels): what they allow is read once, known
            # by the first of them (kept alive here with the answer, so its id names no other).
            shared = self._possible_scps.get((actions, id(layers[0])))
            if shared is None:
                levels = layers[:_leading_scps(layers)]
                shared = self._possible_scps[(actions, id(layers[0]))] = (
                    levels, self._possible_in(levels, actions, every, coverages))
            if not shared[1]:
                return ()
            possible, layers = shared[1], layers[len(shared[0]):]
        possible = self._possible_in(layers, actions, possible, coverages, extra)
        return actions if possible == every else tuple(a for i, a in enumerate(actions) if possible >> i & 1)

    def _possible_in(self, layers: Iterable[Layer], actions: tuple[str, ...], possible: int,
                     coverages: dict[Policy, _Coverage], extra: Mapping[str, tuple[NamedPolicy, ...]] | None = None
                     ) -> int:
        """Which of the actions ``possible`` (as bits) every one of ``layers`` has an Allow statement covering, its
        policies' coverages of ``actions`` being ``coverages`` (:meth:`possible`)."""
        every = (1 << len(actions)) - 1
        for layer in layers:
            covered = 0
            for named in layer.policies:
                coverage = coverages.get(named.policy)  # _coverage's own lookup, inlined: one per policy and layer
                if coverage is None:
                    coverage = self._coverage(named.policy, actions)
                covered |= coverage.allowing
                if covered == every:
                    break
            if layer.kind is PolicyKind.IDENTITY and extra:
                covered |= sum(1 << i for i, action in enumerate(actions) if extra.get(action))
            possible &= covered
            if not possible:
                break
        return possible

    def _coverage(self, policy: Policy, actions: tuple[str, ...]) -> _Coverage:
        """Which statements of ``policy`` cover each of ``actions``: read once per policy, from the statements'
        Action lists, which the policies of an account repeat."""
        coverages = self._coverages.get(actions) or self._coverages_of(actions)  # the method only when new
        found = coverages.get(policy)
        if found is None and policy.services is not None and policy.services.isdisjoint(self._services_of(actions)):
            found = coverages[policy] = _NO_COVERAGE  # names none of their services: the statements are not read
        if found is None:
            by_index: dict[int, list[Statement]] = {}
            for st in policy.statements:
                # which actions a statement covers is known once per Action list: the policies repeat lists
                key = (st.not_action, st.action_set, actions)
                indices = self._covered.get(key)
                if indices is None:
                    indices = self._covered[key] = tuple(i for i, action in enumerate(actions)
                                                         if st.matches_action(action))
                for i in indices:
                    by_index.setdefault(i, []).append(st)
            found = coverages[policy] = _NO_COVERAGE if not by_index else _Coverage(
                tuple((i, tuple(by_index[i])) for i in sorted(by_index)),
                sum(1 << i for i, statements in by_index.items() if any(st.effect is Effect.ALLOW for st in statements)))
        return found

    def _coverages_of(self, actions: tuple[str, ...]) -> dict[Policy, _Coverage]:
        """The coverages worked out for ``actions``, by policy (callers looping over policies look them up
        directly)."""
        found = self._coverages.get(actions)
        if found is None:
            found = self._coverages[actions] = {}
        return found

    def _services_of(self, actions: tuple[str, ...]) -> frozenset[str]:
        """The lower-cased service prefixes of ``actions`` (see :attr:`~supportkit.iam.policy.Policy.services`)."""
        found = self._services.get(actions)
        if found is None:
            found = self._services[actions] = frozenset(action.lower().partition(":")[0] for action in actions)
        return found

    def _requests(self, subject: Subject, arn: str, actions: tuple[str, ...], resources: tuple[str, ...],
                  extra: Mapping[str, tuple[NamedPolicy, ...]]) -> list[_Request] | None:
        """``subject``'s request of each action (with the ``extra`` identity policies of that action) reduced to
        what the request can change; None when a statement's Resource holds a policy variable."""
        summary = self._summary(subject, arn, actions, resources, extra)
        return None if summary is None else [self._request(summary, i) for i in range(len(actions))]

    def _summary(self, subject: Subject, arn: str, actions: tuple[str, ...], resources: tuple[str, ...],
                 extra: Mapping[str, tuple[NamedPolicy, ...]]) -> _Summary | None:
        """What ``subject``'s policies say of its request of each action, before each is reduced
        (:meth:`_request`); None when a statement's Resource holds a policy variable.

        The flags of each policy's parts are summed as bits over the actions (:class:`_PolicyParts`); the parts
        with statements to take one by one are only gathered, per action, for the requests reduced."""
        count = len(actions)
        every = (1 << count) - 1  # bit i: actions[i]
        session_tags = subject.session_tags
        applying = 0  # the actions the RCPs take part in, as bits
        if subject.rcps:
            applying = sum(1 << i for i in range(count) if subject.rcps_apply_to(actions[i], resources[i]))
        table = self._tables.get((actions, resources, session_tags))  # _parts_of by policy
        if table is None:
            table = self._tables[(actions, resources, session_tags)] = {}
        layers = subject.layers
        # The SCP layers come first, the same Layer objects for every identity of the account: folded once, known
        # by the first of them as in possible() (none: the fold of no layer, the same for every such identity).
        key = (id(table), id(layers[0]) if layers and layers[0].kind is PolicyKind.SCP else None)
        shared = self._shared_sums.get(key)
        if shared is None:
            levels = layers[:_leading_scps(layers)]
            shared = self._shared_sums[key] = (levels, _fold(
                [(index, self._sums(table, layer.policies, every, actions, resources, session_tags))
                 for index, layer in enumerate(levels)], every))
        scps = len(shared[0])
        chosen = [(-1, self._sums(table, subject.rcps, applying, actions, resources, session_tags))]
        for index, layer in enumerate(layers[scps:], start=scps):
            added = ([(named, 1 << i) for i, action in enumerate(actions) for named in extra.get(action, ())]
                     if layer.kind is PolicyKind.IDENTITY and extra else ())
            chosen.append((index, self._sums(table, layer.policies, every, actions, resources, session_tags, added)))
        fold, own = shared[1], _fold(chosen, every)
        if fold is None or own is None:
            return None
        return _Summary(subject, self.contexts[arn], actions, extra, fold.fixed_deny | own.fixed_deny,
                        fold.conditional | own.conditional, fold.never | own.never, fold.changeable | own.changeable,
                        fold.always & own.always, (*fold.layers, *own.layers), (fold.itemized, own.itemized))

    def _sums(self, table: dict[Policy, _PolicyParts | None], policies: Iterable[NamedPolicy], taking: int,
              actions: tuple[str, ...], resources: tuple[str, ...], session_tags: bool,
              added: Iterable[tuple[NamedPolicy, int]] = ()) -> _LayerSums:
        """The flags of the parts of ``policies`` (which take part in the actions ``taking``, as bits) and of the
        ``added`` ones (each with its own bits) summed, and their parts to take one by one."""
        conditional = fixed_deny = fixed_allow = changeable = possible = 0
        itemized: list[tuple[int, _RequestPart]] = []
        for named, where in chain(zip(policies, repeat(taking)), added):
            parts = table.get(named.policy, _UNKNOWN)
            if parts is _UNKNOWN:
                parts = table[named.policy] = self._parts_of(named.policy, actions, resources, session_tags)
            if parts is _NO_PARTS:  # most policies, to most questions
                continue
            if parts is None:
                return _VARIABLE
            conditional |= parts.conditional & where
            fixed_deny |= parts.fixed_deny & where
            fixed_allow |= parts.fixed_allow & where
            changeable |= parts.denies_maybe & where
            possible |= parts.allow_possible & where
            for i, part in parts.itemized:
                if where >> i & 1:
                    itemized.append((i, part))
        return _LayerSums(False, conditional, fixed_deny, fixed_allow, changeable, possible, tuple(itemized))

    def _request(self, summary: _Summary, i: int) -> _Request:
        """The ``i``-th request of ``summary`` reduced to what the request can change: its statements on the
        principal's own keys decided on its values, the others kept; the clauses to enumerate are read only when
        some statement makes it conditional (the others are decided on the facts alone)."""
        subject, actions, base = summary.subject, summary.actions, summary.base
        denied = bool(summary.fixed_deny >> i & 1)
        allowed = [bool(bits >> i & 1) for bits in summary.layers]
        denies: list[Statement] = []
        deny_keys: list[tuple] = []
        allows: list[list[Statement]] = [[] for _ in allowed]
        allow_keys: list[list[tuple]] = [[] for _ in allowed]
        for index, part in chain(summary.itemized[0].get(i, ()), summary.itemized[1].get(i, ())):
            for st in part.facts:
                if st.conditions_hold(base):
                    if st.effect is Effect.DENY:
                        denied = True
                    elif index >= 0:
                        allowed[index] = True
            for st, facts in part.dynamic:
                item = (st.conditions, tuple(map(base.get, facts)) if facts else ())
                if st.effect is Effect.DENY:
                    denies.append(st)
                    deny_keys.append(item)
                elif index >= 0:
                    allows[index].append(st)
                    allow_keys[index].append(item)
        is_conditional = bool(summary.conditional >> i & 1)
        enumerated: tuple[ConditionClause, ...] = ()
        if is_conditional:
            added = summary.extra.get(actions[i], ())
            rows = summary.clause_rows.get(added)
            if rows is None:
                rows = summary.clause_rows[added] = self._clause_rows(subject, actions, added)
            enumerated = tuple(clause for row in rows for clause in row[i])
        key = (denied, tuple(deny_keys), tuple(zip(allowed, map(tuple, allow_keys))), is_conditional, enumerated)
        settled = (NEVER if summary.never >> i & 1 else
                   UNCONDITIONAL if summary.always >> i & 1 and not summary.changeable >> i & 1 else None)
        decision = ReducedDecision(denied, tuple(denies), tuple(zip(allowed, map(tuple, allows))))
        return _Request(key, decision, is_conditional, enumerated, settled)

    def _parts_of(self, policy: Policy, actions: tuple[str, ...], resources: tuple[str, ...], session_tags: bool
                  ) -> _PolicyParts | None:
        """:meth:`_part` for each action the policy takes part in, summed up; None when one is None (asked once per
        policy and arguments: :meth:`_summary` keeps the answers)."""
        coverage = self._coverage(policy, actions)
        if coverage is _NO_COVERAGE:
            return _NO_PARTS
        found: _PolicyParts | None = _NO_PARTS
        flags = [0] * 5
        itemized: list[tuple[int, _RequestPart]] = []
        for i, statements in coverage.by_index:
            part = self._part(statements, resources[i], session_tags)
            if part is None:
                found = None
                break
            if part is _NO_PART:
                continue
            bit = 1 << i
            if part.conditional:
                flags[0] |= bit
            if part.fixed_deny:
                flags[1] |= bit
            if part.fixed_allow:
                flags[2] |= bit
            if part.denies_maybe:
                flags[3] |= bit
            if part.allow_possible:
                flags[4] |= bit
            if part.facts or part.dynamic:
                itemized.append((i, part))
        else:
            if any(flags) or itemized:
                found = _PolicyParts(flags[0], flags[1], flags[2], flags[3], flags[4], tuple(itemized))
        return found

    @staticmethod
    def _part(statements: Iterable[Statement], resource: str, session_tags: bool) -> _RequestPart | None:
        """What one policy's ``statements`` covering an action on ``resource`` say before the principal's values
        (None: a Resource holds a policy variable), for principals whose
        :attr:`~supportkit.iam.evaluate.Subject.session_tags` is ``session_tags``."""
        fixed_allow = fixed_deny = conditional = denies_maybe = allow_possible = False
        facts: list[Statement] = []
        dynamic: list[tuple[Statement, tuple[str, ...]]] = []
        part: _RequestPart | None = None
        for st in statements:
            if st.resource_variables:
                break
            is_dynamic = request_dependent(st, session_tags)
            conditional = conditional or is_dynamic
            matches = st.matches_resource(resource, EMPTY_CONTEXT)
            if st.effect is Effect.DENY:
                denies_maybe = denies_maybe or bool(st.conditions)
            else:
                allow_possible = allow_possible or matches or bool(st.conditions)
            if not matches:
                continue
            if is_dynamic:
                dynamic.append((st, principal_keys(st)))
            elif st.conditions:
                facts.append(st)
            else:
                fixed_deny = fixed_deny or st.effect is Effect.DENY
                fixed_allow = fixed_allow or st.effect is Effect.ALLOW
        else:
            part = (_RequestPart(fixed_allow, fixed_deny, tuple(facts), tuple(dynamic), conditional, denies_maybe,
                                 allow_possible)
                    if conditional or fixed_allow or fixed_deny or facts or denies_maybe or allow_possible else _NO_PART)
        return part

    def _clause_rows(self, subject: Subject, actions: tuple[str, ...], extra: tuple[NamedPolicy, ...]
                     ) -> list[tuple[tuple[ConditionClause, ...], ...]]:
        """:meth:`_enumerated_clauses` of each of ``subject``'s :func:`condition_policies` with a condition (and of
        the ``extra`` identity policies), in their order, less those with no clause to enumerate; the SCP
        levels' rows, the same for every identity of the account, are gathered once."""
        session_tags = subject.session_tags
        table = self._clause_table(actions, session_tags)
        levels = subject.scp_levels
        shared = self._scp_rows.get((id(table), id(levels)))  # the levels are kept with their rows
        if shared is None:
            shared = self._scp_rows[(id(table), id(levels))] = (levels, [
                rows for level in levels for named in level if named.policy.conditioned
                and (rows := self._enumerated_clauses(table, named.policy, actions, session_tags))])
        return [*(rows for policy in condition_policies(subject, extra, scps=False) if policy.conditioned
                  and (rows := self._enumerated_clauses(table, policy, actions, session_tags))), *shared[1]]

    def _clause_table(self, actions: tuple[str, ...], session_tags: bool
                      ) -> dict[Policy, tuple[tuple[ConditionClause, ...], ...]]:
        """:meth:`_enumerated_clauses`' table for ``actions`` and ``session_tags``."""
        table = self._clauses.get((actions, session_tags))
        if table is None:
            table = self._clauses[(actions, session_tags)] = {}
        return table

    def _enumerated_clauses(self, table: dict[Policy, tuple[tuple[ConditionClause, ...], ...]], policy: Policy,
                            actions: tuple[str, ...], session_tags: bool) -> tuple[tuple[ConditionClause, ...], ...]:
        """Per action, the clauses of ``policy`` covering it whose keys :func:`enumerate_conditions` varies (none at
        all: an empty tuple), kept in ``table`` (by policy, for these actions and ``session_tags``)."""
        found = table.get(policy)
        if found is None:
            rows: list[tuple[ConditionClause, ...]] = [() for _ in actions]
            for i, statements in self._coverage(policy, actions).by_index:
                rows[i] = tuple(c for st in statements for c in st.conditions
                                if not is_principal_key(c.key.lower(), session_tags))
            found = table[policy] = tuple(rows) if any(rows) else ()
        return found

    def _answer(self, request: _Request, subject: Subject, arn: str, resource: str) -> Conditions:
        """:meth:`_request_conditions`, shared by the requests that reduce alike (:attr:`_Request.key`)."""
        if request.settled is not None:  # not part of the key: the enumeration may say less (MAX_COMBINATIONS)
            return request.settled
        key = (request.key, resource, subject.session_tags)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = self._request_conditions(request, subject, arn)
        return found

    def _request_conditions(self, request: _Request, subject: Subject, arn: str) -> Conditions:
        """:meth:`conditions` of a request its statements do not settle (:attr:`_Request.settled`), deciding each
        enumerated request on the reduced statements alone."""
        base = self.contexts[arn]
        if not request.conditional:
            return UNCONDITIONAL if request.allows(base) else NEVER
        return self._solve(request, base, subject.session_tags)

    def _solve(self, request: _Request, base: RequestContext, session_tags: bool) -> Conditions:
        """:meth:`_enumerate` of a reduced request, from the mask of each statement over the requests enumerated
        (as :mod:`supportkit.analysis.cells` does): a statement's mask, for the values of the keys it reads that
        are not enumerated, is shared by every principal and request that holds it."""
        requests = self._requests_of(request.enumerated, session_tags)
        if not requests.keys:
            return UNCONDITIONAL if request.allows(base) else NEVER
        decision = request.decision
        allowed = 0
        if not decision.denied:
            allowed = ((1 << requests.count) - 1) & ~self._holding(decision.denies, requests, base)
            for always, statements in decision.layers:
                if not always:
                    allowed &= self._holding(statements, requests, base)
        return requests.conclude(allowed, lambda kept: request.allows(_with(base, kept)))

    def _requests_of(self, clauses: tuple[ConditionClause, ...], session_tags: bool) -> Requests:
        """The requests :func:`enumerate_conditions` asks about for these clauses, built once."""
        key = (clauses, session_tags)
        found = self._enumerations.get(key)
        if found is None:
            found = self._enumerations[key] = Requests(clauses, self.carried,
                                                       partial(is_principal_key, session_tags=session_tags))
        return found

    def _holding(self, statements: Iterable[Statement], requests: Requests, base: RequestContext) -> int:
        """The positions of ``requests`` where one of ``statements`` holds, as bits."""
        found = 0
        for statement in statements:
            key = (statement.conditions, tuple(map(base.get, statement.keys_read)), id(requests))
            mask = self._masks.get(key)
            if mask is None:
                mask = self._masks[key] = requests.holding(statement, base)
            found |= mask
        return found

    def assume(self, caller: Identity, role: Identity, trust: NamedPolicy) -> tuple[Conditions, tuple[str, ...]]:
        """When ``caller`` can assume ``role``; shared by roles with the same trust policy (one parsed object
        for equal documents) that the caller's statements match alike, in the caller's account or in others."""
        key = self._assumption_key(caller, role, trust, ASSUME_ROLE)
        known = self._assumed.get(key)
        if known is None:
            known = self._assumed[key] = self._assume(caller, role, trust, self.contexts[caller.arn])
        return known

    def assume_admitted(self, caller: Identity, request: _Request, role: Identity, trust: NamedPolicy
                        ) -> tuple[Conditions, tuple[str, ...]]:
        """:meth:`assume` for a caller of the role's account that ``trust`` admits through the account alone (it
        names neither the caller nor every principal), from ``request``, the caller's own of ``sts:AssumeRole`` on
        the role (:meth:`_requests`), when no clause to enumerate (:meth:`assuming_clauses`, the trust's) names a
        key that needs a session permission.

        The trust's statements that admit the caller are one more layer that must allow, beside the caller's own
        (a trust naming only the account needs the caller's identity-based policies to allow too: the rules of
        :mod:`supportkit.iam.trust`), and the caveat of a trust naming the caller never applies. The answer is
        :meth:`_assume`'s (the engine's), with the same clauses enumerated (the trust's first) and the same
        settled shortcut, for the cost of one reduced request instead of the engine on each enumerated one.
        """
        covering = trust.policy.statements_for(ASSUME_ROLE)
        who = Caller.of(caller.subject.principal)
        grants = [(st, principal_grant(st.principal, who)) for st in covering if st.principal is not None]
        if any(grant is Grant.DIRECT for _, grant in grants) or account_of(role.arn) != who.account:
            return self.assume(caller, role, trust)  # not a caller it admits through the account
        session_tags = caller.subject.session_tags
        part = self._part([st for st, grant in grants if grant is Grant.ACCOUNT], role.arn, session_tags)
        if part is None:  # a Resource with a policy variable
            return self.assume(caller, role, trust)
        base = self.contexts[caller.arn]
        settled = _settled_assume(caller, role, trust, base)
        if settled is not None:
            return settled, ()
        denied, allowed = request.decision.denied or part.fixed_deny, part.fixed_allow
        for st in part.facts:
            if st.conditions_hold(base):
                denied = denied or st.effect is Effect.DENY
                allowed = allowed or st.effect is Effect.ALLOW
        denies = (*request.decision.denies, *(st for st, _ in part.dynamic if st.effect is Effect.DENY))
        allows = tuple(st for st, _ in part.dynamic if st.effect is Effect.ALLOW)
        decision = ReducedDecision(denied, denies, ((allowed, allows), *request.decision.layers))
        conditional = request.conditional or any(request_dependent(st, session_tags)  # the engine's Result.conditional
                                                 for st in trust.policy.statements_for_request(ASSUME_ROLE, role.arn))
        enumerated: tuple[ConditionClause, ...] = ()
        if conditional:
            trusted = self._enumerated_clauses(self._clause_table((ASSUME_ROLE,), session_tags), trust.policy,
                                               (ASSUME_ROLE,), session_tags)
            enumerated = (*(trusted[0] if trusted else ()), *self.assuming_clauses(caller.subject))
        combined = _Request((), decision, conditional, enumerated, None)
        return self._request_conditions(combined, caller.subject, caller.arn), ()

    def assuming_clauses(self, subject: Subject) -> tuple[ConditionClause, ...]:
        """The clauses of ``subject``'s policies covering ``sts:AssumeRole`` that an enumeration varies, those of SCP
        levels and RCPs that do not apply included, as the engine reads them (:func:`condition_policies`): what a
        role assumption enumerates on the caller's side, whether or not its own request depends on them."""
        return tuple(clause for row in self._clause_rows(subject, (ASSUME_ROLE,), ()) for clause in row[0])

    def caller_session_keys(self, subject: Subject, request: _Request | None = None) -> bool:
        """Whether :meth:`assuming_clauses` name a key that needs a session permission.

        ``request``, ``subject``'s own of ``sts:AssumeRole`` when known, spares reading them: a conditional one
        enumerates exactly those clauses, and of another only the SCP levels' and RCPs' can name such a key (an
        applying one would make it conditional), the same for every identity of the account: read once."""
        if request is None:
            return _session_keys(self.assuming_clauses(subject))
        if request.conditional:
            return _session_keys(request.enumerated)
        key = (id(subject.scp_levels), id(subject.rcps))  # both kept alive with the answer
        found = self._organization_keys.get(key)
        if found is None:
            policies = [named.policy for level in subject.scp_levels for named in level]
            found = self._organization_keys[key] = (subject.scp_levels, subject.rcps, _session_keys(
                clauses_for([*policies, *(named.policy for named in subject.rcps)], ASSUME_ROLE)))
        return found[2]

    def _assumption_key(self, caller: Identity, role: Identity, trust: NamedPolicy, action: str) -> tuple:
        """What decides ``caller``'s ``action`` on ``role`` under ``trust``: the caller (with its own statements
        for the action as they match the role's ARN: a policy it gave itself adds one), the trust policy, and
        whether the role is in the caller's account."""
        base = self.contexts[caller.arn]
        statements = [st for named in applicable_policies(caller.subject, action, role.arn)
                      for st in named.policy.statements_for(action)]
        return (caller.arn, action, id(trust.policy), account_of(role.arn) == caller.subject.principal.account,
                tuple(st.matches_resource(role.arn, base) for st in statements))

    def _assume(self, caller: Identity, role: Identity, trust: NamedPolicy,
                base: RequestContext) -> tuple[Conditions, tuple[str, ...]]:
        settled = _settled_assume(caller, role, trust, base)
        if settled is NEVER:
            return settled, ()
        if settled is not None and self._companions(caller, trust):
            settled = None  # an allow the statements settle may still need sts:TagSession or sts:SetSourceIdentity
        found = can_assume(caller.subject, trust, role.arn, ASSUME_ROLE, base)
        if settled is not None:
            return settled, found.caveats
        conditions = self._conditions(
            found.result, lambda c: can_assume(caller.subject, trust, role.arn, ASSUME_ROLE, c).result, base,
            [trust.policy, *condition_policies(caller.subject)], ASSUME_ROLE, caller.subject)
        return conditions, found.caveats

    def _companions(self, caller: Identity, trust: NamedPolicy) -> bool:
        """Whether some request of ``caller``'s assumption under ``trust`` carries a key that needs a session
        permission besides ``sts:AssumeRole`` (:func:`~supportkit.iam.trust.can_assume`): a key every request
        carries, or one the enumeration varies (the trust's clauses, :meth:`assuming_clauses`)."""
        return (self.carried_session_keys or _session_keys(clauses_for([trust.policy], ASSUME_ROLE))
                or self.caller_session_keys(caller.subject))

    def can_tag(self, caller: Identity, role: Identity, trust: NamedPolicy, needed: Sequence[SessionTags]) -> bool:
        """Whether some request lets ``caller`` pass, as it assumes ``role``, the session tags of one of ``needed``:
        sts:TagSession, which the trust policy and the caller's own policies must allow as they do sts:AssumeRole,
        in a request whose aws:RequestTag/<key> and aws:TagKeys name those tags ("Pass session tags in AWS STS",
        Permissions required to add session tags, and Controlling the tags that can be passed)."""
        return any(self._tags(caller, role, trust, tags) for tags in needed)

    def _tags(self, caller: Identity, role: Identity, trust: NamedPolicy, tags: SessionTags) -> bool:
        key = (self._assumption_key(caller, role, trust, TAG_SESSION), tags)
        found = self._tagging.get(key)
        if found is None:
            base = self.contexts[caller.arn].with_defaults(
                {**{f"aws:RequestTag/{name}": value for name, value in tags}, "aws:TagKeys": [n for n, _ in tags]})

            def allows(context: RequestContext) -> bool:
                return can_assume(caller.subject, trust, role.arn, TAG_SESSION, context).result.decision is \
                    Decision.ALLOWED

            # The tags passed are given: only the request's other keys are enumerated.
            clauses = [c for c in clauses_for([trust.policy, *condition_policies(caller.subject)], TAG_SESSION)
                       if session_action(c.key.lower()) is not TAG_SESSION]
            found = self._tagging[key] = self._enumerate(allows, clauses, base, caller.subject).ever
        return found

    def _conditions(self, result: Result, decide: Callable[[RequestContext], Result], base: RequestContext,
                    policies: list[Policy], action: str, subject: Subject) -> Conditions:
        if not result.conditional:
            return UNCONDITIONAL if result.decision is Decision.ALLOWED else NEVER
        return self._enumerate(lambda c: decide(c).decision is Decision.ALLOWED, clauses_for(policies, action),
                               base, subject)

    def _enumerate(self, allows: Callable[[RequestContext], bool], clauses: Iterable[ConditionClause],
                   base: RequestContext, subject: Subject) -> Conditions:
        """:func:`enumerate_conditions` for ``subject`` (its context ``base``): the keys every request carries,
        and the principal's own keys (ARN, tags, ...), facts of the snapshot, are not enumerated; a role's tags
        are when its sessions may be tagged (:attr:`~supportkit.iam.evaluate.Subject.session_tags`)."""
        return enumerate_conditions(allows, clauses, base,
                                    partial(is_principal_key, session_tags=subject.session_tags), self.carried)


def _settled(allow_layers: Sequence[Sequence[Statement]], statements: Iterable[Statement], resource: str,
             context: RequestContext) -> Conditions | None:
    """A decision no request value can change, read from the statements alone, or None.

    ``allow_layers``: per layer that must allow, the statements covering the action; ``statements``: every
    statement covering it. An unconditional matching Deny, or a layer with no Allow that could match, denies
    whatever the request says; an unconditional Allow in every layer with no Deny that depends on the
    request allows whatever it says. Otherwise the request's keys must be enumerated.
    """
    changeable_deny = False
    for statement in statements:
        if statement.effect is Effect.DENY:
            if statement.context_dependent:
                changeable_deny = True
            elif statement.matches_resource(resource, context):
                return NEVER
    fixed_allows = True
    for layer in allow_layers:
        allows = [st for st in layer if st.effect is Effect.ALLOW
                  and (st.context_dependent or st.matches_resource(resource, context))]
        if not allows:
            return NEVER
        fixed_allows = fixed_allows and any(not st.context_dependent for st in allows)
    return UNCONDITIONAL if fixed_allows and not changeable_deny else None


def _settled_by_facts(subject: Subject, action: str, resource: str, base: RequestContext) -> Conditions | None:
    """The answer for ``subject``'s request of ``action`` when the statements of its layers and RCPs covering it
    and the facts of ``base`` settle it whatever the request (see :func:`_settled`), else None."""
    layers = [[st for named in layer.policies for st in named.policy.statements_for(action)]
              for layer in subject.layers]
    rcp = [st for named in subject.rcps if subject.rcps_apply_to(action, resource)
           for st in named.policy.statements_for(action)]
    return _settled(layers, [*rcp, *(st for layer in layers for st in layer)], resource, base)


def _settled_assume(caller: Identity, role: Identity, trust: NamedPolicy, context: RequestContext) -> Conditions | None:
    """:func:`_settled` for a role assumption: the trust statements that admit the caller form a layer."""
    principal = caller.subject.principal
    admitting = {st: principal_grant(st.principal, Caller.of(principal))
                 for st in trust.policy.statements_for(ASSUME_ROLE) if st.principal is not None}
    admitting = {st: grant for st, grant in admitting.items() if grant is not Grant.NONE}
    same_account = account_of(role.arn) == principal.account
    fixed_direct = any(grant is Grant.DIRECT and st.effect is Effect.ALLOW and not st.context_dependent
                       for st, grant in admitting.items())
    any_direct = any(grant is Grant.DIRECT and st.effect is Effect.ALLOW for st, grant in admitting.items())
    layers: list[list[Statement]] = []
    for layer in caller.subject.layers:
        found = [st for named in layer.policies for st in named.policy.statements_for(ASSUME_ROLE)]
        if layer.kind is PolicyKind.IDENTITY and same_account and (fixed_direct or any_direct):
            if fixed_direct:
                continue  # named directly, unconditionally: no identity-based Allow needed
            found = [*found, *(st for st, grant in admitting.items() if grant is Grant.DIRECT)]
        layers.append(found)
    statements = [*(st for named in applicable_policies(caller.subject, ASSUME_ROLE, role.arn)
                    for st in named.policy.statements_for(ASSUME_ROLE)), *admitting]
    if principal.is_root:
        return NEVER
    return _settled([*layers, list(admitting)], statements, role.arn, context)


def _may_allow(subject: Subject, action: str, resource: str, context: RequestContext) -> bool:
    """Whether some identity-based Allow covers ``action`` on ``resource``, conditions aside: a cheap filter."""
    return any(statement.effect is Effect.ALLOW and statement.matches_resource(resource, context)
               for named in subject.identity_policies for statement in named.policy.statements_for(action))


def _changeable(identity: Identity) -> bool:
    return (identity.type is not IdentityType.ROOT and not identity.service_linked
            and permission_set(identity) is None)


def who_can(
    account: Account, actions: Sequence[str], *, resource_of: Callable[[str], str] = lambda action: "*",
    context: Mapping[str, Any] | None = None, depth: int = MAX_DEPTH, organization: Organization | None = None,
) -> tuple[AccessPath, ...]:
    """One best path per principal that can perform one of ``actions`` (directly, by role chain, by escalation).

    Each identity's direct access is its best over ``actions`` (the first unconditional one ends the
    search); chains and escalations are then followed once, each path keeping the action it ends with.
    ``organization``: the account's, when known; it decides which principals are of kind ``inside the
    organization`` rather than ``external`` (:mod:`supportkit.analysis.kinds`), not who has a path.
    """
    best: dict[str, AccessPath] = {}
    with no_collection():  # as the matrix: what is built here lives on, collecting it is wasted work
        evaluator = _Evaluator(account, context)
        sources = role_sources(account)
        kinds = identity_kinds(account, sources, organization)
        reached = _direct(account, evaluator, kinds, actions, resource_of)
        for path in (*_chains(account, evaluator, sources, kinds, reached, depth, organization),
                     *_escalations(account, evaluator, kinds, actions, resource_of, reached)):
            known = best.get(path.principal)
            if known is None or path.rank() < known.rank():
                best[path.principal] = path
    order = list(IdentityKind)
    return tuple(sorted(best.values(), key=lambda p: (order.index(p.kind), p.principal)))


def _direct(account: Account, evaluator: _Evaluator, kinds: Mapping[str, IdentityKind], actions: Sequence[str],
            resource_of: Callable[[str], str]) -> dict[str, AccessPath]:
    """Each identity's direct access to ``actions``: an unconditional one if any, else the first conditional one."""
    reached: dict[str, AccessPath] = {}
    for identity in account.identities:
        found = evaluator.first(identity.subject, identity.arn, actions, resource_of)
        if found is not None:
            notes = (INCOMPLETE_CAVEAT,) if identity.incomplete else ()
            reached[identity.arn] = AccessPath(identity.arn, kinds[identity.arn], found[0], Via.DIRECT, (), found[1],
                                               notes)
    return reached


def _chains(account: Account, evaluator: _Evaluator, sources: Mapping[str, tuple[TrustSource, ...]],
            kinds: Mapping[str, IdentityKind], reached: dict[str, AccessPath], depth: int,
            organization: Organization | None) -> list[AccessPath]:
    """Breadth-first role chains into the roles of ``reached`` (updated with the identities found)."""
    by_arn = {i.arn: i for i in account.identities}
    found: list[AccessPath] = []
    frontier = [arn for arn in reached if by_arn[arn].type is IdentityType.ROLE]
    assumers = _Assumers(account, evaluator)
    for _ in range(depth):
        next_frontier: list[str] = []
        for role_arn in frontier:
            role, tail = by_arn[role_arn], reached[role_arn]
            for path in _into(account, evaluator, role, sources[role_arn], kinds, tail, reached, assumers, by_arn,
                              organization):
                if path.principal not in by_arn:
                    found.append(path)
                    continue
                known = reached.get(path.principal)
                if known is None:
                    reached[path.principal] = path
                    if by_arn[path.principal].type is IdentityType.ROLE:
                        next_frontier.append(path.principal)
                elif path.rank() < known.rank():
                    reached[path.principal] = path
        frontier = next_frontier
    return [*found, *reached.values()]


def _into(account: Account, evaluator: _Evaluator, role: Identity, sources: tuple[TrustSource, ...],
          kinds: Mapping[str, IdentityKind], tail: AccessPath, reached: Mapping[str, AccessPath],
          assumers: _Assumers, by_arn: Mapping[str, Identity],
          organization: Organization | None = None) -> Iterable[AccessPath]:
    """Paths that end by assuming ``role`` and continuing as ``tail``, for callers without a path as good in
    ``reached``; a source outside the account is of the kind :func:`~supportkit.analysis.kinds.source_kind`
    gives it in ``organization``.

    A trust in the account alone can admit only ``assumers``; those it does not name are decided once per
    group (:meth:`_Assumers.groups`).
    """
    trust = role.trust
    if trust is None:
        return
    chain = {tail.principal, *(step.source for step in tail.steps)}
    anyone = any(s.kind is SourceKind.ANYONE for s in sources)
    account_wide = any(s.kind is SourceKind.ACCOUNT for s in sources)
    named = {s.principal: by_arn[s.principal] for s in sources
             if s.kind in (SourceKind.USER, SourceKind.ROLE) and s.principal in by_arn}
    best_new = (tail.decision is not AccessDecision.ALLOWED, len(tail.steps) + 1, _VIA_ORDER[Via.ROLE])
    # The role's next request (its own access, or its assumption of the next role of the chain) may need tags on
    # its session. Never so for an allowed tail (no condition at all), the only kind escalations lead into.
    tagging = session_tags_needed(role, tail.steps[0].conditions if tail.steps else tail.conditions)

    def admitted(caller: Identity) -> bool:
        return not tagging or evaluator.can_tag(caller, role, trust, tagging)

    def path(caller: Identity, conditions: Conditions, notes: tuple[str, ...]) -> AccessPath:
        step = Step(caller.arn, role.arn, ASSUME_ROLE, conditions, notes)
        return AccessPath(caller.arn, kinds[caller.arn], tail.action, Via.ROLE, (step, *tail.steps),
                          tail.conditions, tail.caveats)

    def alone(callers: Iterable[Identity]) -> Iterable[AccessPath]:
        for caller in callers:
            known = reached.get(caller.arn)
            if caller.arn in chain or caller.type is IdentityType.ROOT or (known is not None
                                                                             and known.rank() <= best_new):
                continue  # no loops; the root user cannot call AssumeRole; no worse path than one known
            if not (anyone or caller.arn in named or _may_allow(
                    caller.subject, ASSUME_ROLE, role.arn, evaluator.contexts[caller.arn])):
                continue
            conditions, notes = evaluator.assume(caller, role, trust)
            if conditions.ever and admitted(caller):
                yield path(caller, conditions, notes)

    grouping = assumers.groups(role, trust) if account_wide and not anyone else None
    if grouping is None:
        yield from alone(account.identities if anyone else {  # by ARN: hashing identities is dear
            i.arn: i for i in (*named.values(), *(assumers.identities if account_wide else ()))}.values())
    else:
        yield from alone(named.values())
        singles, groups = grouping
        found = [(position, next(iter(alone([caller])), None)) for position, caller in singles
                 if caller.arn not in named]
        ranks = {always: (not (always and tail.decision is AccessDecision.ALLOWED), *best_new[1:])
                 for always in (False, True)}  # a path through a group, by whether its decision always allows
        for group in groups:  # each decided already (groups() leaves out those no request lets assume the role)
            rank = ranks[group.always]
            if group.worst <= rank:
                continue  # improved()'s first test, here: most groups, for most roles
            improved = group.improved(rank, chain, reached)
            if improved:
                conditions, notes = group.decision(evaluator, role, trust)
                found += [(position, path(caller, conditions, notes)) for position, caller in improved
                          if admitted(caller)]
        # a group whose members all have a path as good as any through it can give is done for
        groups[:] = [group for group in groups if group.worst > _BEST_THROUGH_ROLE[group.always]]
        yield from (p for _, p in sorted(found, key=lambda item: item[0]) if p is not None)  # the assumers' order
    for source in sources:
        if source.kind in (SourceKind.ACCOUNT, SourceKind.USER, SourceKind.ROLE) or (tagging and not source.tags):
            continue  # the trust alone says whether it may tag: its own policies, if any, are not in the snapshot
        notes = (EXTERNAL_CAVEAT,) if source.kind in (SourceKind.EXTERNAL, SourceKind.ANYONE) else ()
        step = Step(source.label, role.arn, source.action, source.conditions, notes)
        yield AccessPath(source.label, source_kind(source, organization), tail.action, Via.ROLE, (step, *tail.steps),
                         tail.conditions, tail.caveats)


def session_tags_needed(role: Identity, conditions: Conditions) -> tuple[SessionTags, ...]:
    """The session tags, one set per way, that a session of ``role`` needs for a request allowed under
    ``conditions``; none when some way needs none. The role's sessions may be tagged
    (:attr:`~supportkit.iam.evaluate.Subject.session_tags`), and each way sets a principal tag, which then only a
    session tag can set: a caller that may not pass those (:meth:`_Evaluator.can_tag`) gets none of the access.
    """
    if not role.subject.session_tags:
        return ()
    needed = []
    for scenario in conditions.scenarios:
        tags = tuple(sorted((r.key[len(PRINCIPAL_TAG):], r.sample) for r in scenario.requirements
                            if r.key.lower().startswith(PRINCIPAL_TAG) and r.sample is not None))
        if not tags:
            return ()
        needed.append(tags)
    return tuple(needed)


class RoleAssumptions:
    """Role assumptions by the identities of one account, decided as who-can decides a chain's steps.

    For :mod:`supportkit.analysis.organization`: a step into a role of another account (given with its trust
    policy), the same-account chains that lead to the account's roles, and those that lead on from them.
    """

    def __init__(self, account: Account, context: Mapping[str, Any] | None = None) -> None:
        self.account = account
        self._evaluator = _Evaluator(account, context)

    def callers(self) -> list[Identity]:
        """The identities that may call ``sts:AssumeRole`` on another account's role at all: not the root user
        ("You cannot use AWS account root user credentials to call AssumeRole", AWS STS API Reference), and
        with some Allow for it in every layer of their own policies (identity policies, boundary, SCPs), which
        such a call needs (Cross-account policy evaluation logic). Every other :meth:`step` out of the account
        is None."""
        return [i for i in self.account.identities
                if i.type is not IdentityType.ROOT and self._evaluator.possible(i.subject, (ASSUME_ROLE,))]

    def step(self, caller: Identity, role: Identity) -> Step | None:
        """``caller`` assuming ``role`` (``role.trust`` its trust policy), or None when no request allows it.

        Into another account, the caller's own policies must allow too (Cross-account policy evaluation logic):
        without an identity-based Allow that could match, nothing is evaluated.
        """
        if role.trust is None or caller.type is IdentityType.ROOT or caller.arn == role.arn:
            return None
        if (account_of(role.arn) != self.account.info.account_id
                and not _may_allow(caller.subject, ASSUME_ROLE, role.arn, self._evaluator.contexts[caller.arn])):
            return None
        conditions, notes = self._evaluator.assume(caller, role, role.trust)
        return Step(caller.arn, role.arn, ASSUME_ROLE, conditions, notes) if conditions.ever else None

    def tags_needed(self, role: Identity, actions: Iterable[str], resource_of: Callable[[str], str]
                    ) -> tuple[SessionTags, ...]:
        """The session tags, one set per way, that a session of ``role`` needs to perform one of ``actions``
        (:func:`session_tags_needed`); none when some way needs none, or none is allowed."""
        needed: list[SessionTags] = []
        for action in actions:
            conditions = self._evaluator.conditions(role.subject, role.arn, action, resource_of(action))
            if conditions.ever:
                tags = session_tags_needed(role, conditions)
                if not tags:
                    return ()
                needed += tags
        return tuple(dict.fromkeys(needed))

    def can_tag(self, caller: Identity, role: Identity, needed: Sequence[SessionTags]) -> bool:
        """Whether ``caller`` may pass one of the ``needed`` sets of session tags as it assumes ``role``
        (:meth:`_Evaluator.can_tag`)."""
        assert role.trust is not None
        return self._evaluator.can_tag(caller, role, role.trust, needed)

    def chains_into(self, role_arns: Iterable[str], depth: int = MAX_DEPTH) -> list[Step]:
        """Every same-account step into the roles ``role_arns``, then into the roles those steps start from, to
        ``depth`` assumptions: the callers who-can follows (named by the trust policy, or allowed by their own
        policies where it trusts the account), each role once, so no chain loops."""
        by_arn = {i.arn: i for i in self.account.identities}
        frontier = [arn for arn in dict.fromkeys(role_arns) if arn in by_arn]
        if not frontier:
            return []
        sources = role_sources(self.account)
        kinds = identity_kinds(self.account, sources)
        assumers = _Assumers(self.account, self._evaluator)
        seen = set(frontier)
        steps: list[Step] = []
        for _ in range(depth):
            following: list[str] = []
            for arn in frontier:
                tail = AccessPath(arn, kinds[arn], ASSUME_ROLE, Via.DIRECT, (), UNCONDITIONAL)
                for path in _into(self.account, self._evaluator, by_arn[arn], sources[arn], kinds, tail, {},
                                  assumers, by_arn):
                    if path.principal not in by_arn:
                        continue  # another account, a provider or a service: not a same-account step
                    steps.append(path.steps[0])
                    if by_arn[path.principal].type is IdentityType.ROLE and path.principal not in seen:
                        seen.add(path.principal)
                        following.append(path.principal)
            frontier = following
        return steps

    def chains_from(self, role_arns: Iterable[str], depth: int = MAX_DEPTH) -> list[Step]:
        """Every same-account step from the roles ``role_arns`` into the account's roles, then from the roles those
        steps reach, to ``depth`` assumptions, each role once (so no chain loops)."""
        by_arn = {i.arn: i for i in self.account.identities}
        roles = [i for i in self.account.identities if i.type is IdentityType.ROLE and i.trust is not None]
        frontier = [arn for arn in dict.fromkeys(role_arns) if arn in by_arn]
        seen = set(frontier)
        steps: list[Step] = []
        for _ in range(depth):
            following: list[str] = []
            for arn in frontier:
                for role in roles:
                    step = self.step(by_arn[arn], role)
                    if step is None:
                        continue
                    steps.append(step)
                    if role.arn not in seen:
                        seen.add(role.arn)
                        following.append(role.arn)
            frontier = following
        return steps


_ASSUMING = (ASSUME_ROLE, TAG_SESSION, SET_SOURCE_IDENTITY)
"""What an assumption may be decided on: the action, and the permissions its session tags or source identity need."""
_NO_PATH = (True, 1 << 30, 0)
"""The rank of no path: worse than any."""
_BEST_THROUGH_ROLE = {always: (not always, 1, _VIA_ORDER[Via.ROLE]) for always in (False, True)}
"""The best rank of a path that assumes a role, by whether the assumption is allowed whatever the request: a
caller at it or better is not improved by such a path."""


def _session_keys(clauses: Iterable[ConditionClause]) -> bool:
    """Whether ``clauses`` name a key that needs a session permission."""
    return any(session_action(clause.key.lower()) for clause in clauses)


def _session_keys_in(context: RequestContext) -> bool:
    return any(map(session_action, context.keys()))


class _Group:
    """Assumers that one trust admits alike on the roles of one class (:meth:`_Assumers.groups`): their
    decision, taken once, and the members by the rank of their best path when last looked at."""

    def __init__(self, members: list[tuple[int, Identity]], request: _Request | None) -> None:
        self.members = members  # (position among the assumers, identity)
        self.request = request  # the first member's of sts:AssumeRole, when no key of it needs a session permission
        self._decision: tuple[Conditions, tuple[str, ...]] | None = None
        self.always = False  # the decision allows whatever the request
        self._by_rank: dict[tuple[bool, int, int], list[tuple[int, Identity]]] = {_NO_PATH: members}
        self.worst = _NO_PATH  # the worst rank a member was last seen at

    def decision(self, evaluator: _Evaluator, role: Identity, trust: NamedPolicy) -> tuple[Conditions, tuple[str, ...]]:
        if self._decision is None:
            caller = self.members[0][1]
            self._decision = (evaluator.assume(caller, role, trust) if self.request is None else
                              evaluator.assume_admitted(caller, self.request, role, trust))
            self.always = self._decision[0].always
        return self._decision

    def improved(self, rank: tuple[bool, int, int], chain: set[str], reached: Mapping[str, AccessPath]
                 ) -> list[tuple[int, Identity]]:
        """The members a path of ``rank`` would improve, not in ``chain``. Ranks only improve, so a member
        last seen at ``rank`` or better is not looked at again (nor, once all are, the group)."""
        if self.worst <= rank:
            return []
        found = []
        for seen in [seen for seen in self._by_rank if seen > rank]:
            for position, caller in self._by_rank.pop(seen):
                known = reached.get(caller.arn)
                now = known.rank() if known is not None else _NO_PATH
                if now > rank and caller.arn not in chain:
                    found.append((position, caller))
                self._by_rank.setdefault(now, []).append((position, caller))
        self.worst = max(self._by_rank)
        return found


class _Assumers:
    """The principals with some identity-based Allow for ``sts:AssumeRole``, the only ones a trust in the
    account alone can admit, grouped per role by what decides their assumption of it."""

    def __init__(self, account: Account, evaluator: _Evaluator) -> None:
        self.evaluator = evaluator
        # every other principal is denied it whatever the role
        self.identities = [i for i in account.identities if evaluator.possible(i.subject, (ASSUME_ROLE,))]
        policies = {id(named.policy): named.policy for i in self.identities
                    for named in applicable_policies(i.subject)}
        # The statements that can decide an assumption and whose Resource is not "*": a role's ARN matters
        # through their matches alone.
        # (read off each policy's coverage of the three actions, in one pass over its statements)
        self._statements = [st for policy in policies.values()
                            for _, covering in evaluator._coverage(policy, _ASSUMING).by_index
                            for st in covering if not st.resource_variables and not st.any_resource]
        self._groups: dict[tuple, tuple[list[tuple[int, Identity]], list[_Group]] | None] = {}

    def groups(self, role: Identity, trust: NamedPolicy) -> tuple[list[tuple[int, Identity]], list[_Group]] | None:
        """The assumers (with their positions) to decide one by one, and groups decided alike, for ``role``.

        Alike: the trust names none of them (it admits them through the account), and their requests of
        :data:`_ASSUMING` on the role reduce to equal keys (:class:`_Request`), with equal values of the
        principal keys the trust policy reads. None when every principal is to be decided alone (a trust
        naming everyone, or with a policy variable in its Resource).
        """
        trusted = [st for action in _ASSUMING for st in trust.policy.statements_for(action)]
        matches = lambda st: st.matches_resource(role.arn, EMPTY_CONTEXT)  # noqa: E731
        key = (account_of(role.arn), id(trust.policy), tuple(map(matches, self._statements)),
               tuple(map(matches, (st for st in trusted if not st.resource_variables))))
        if key not in self._groups:
            grouping = self._group(role, trusted)
            if grouping is not None:  # the groups no request lets assume the role are left out
                grouping = grouping[0], [g for g in grouping[1] if g.decision(self.evaluator, role, trust)[0].ever]
            self._groups[key] = grouping
        return self._groups[key]

    def _group(self, role: Identity, trusted: Sequence[Statement]
               ) -> tuple[list[tuple[int, Identity]], list[_Group]] | None:
        if any(st.resource_variables or st.principal is None or st.principal.everyone or st.principal.negated
               for st in trusted):
            return None
        named = {entry for st in trusted if st.principal is not None
                 for entry in st.principal.aws if account_entry(entry) is None}
        read = tuple(dict.fromkeys(k for st in trusted for k in principal_keys(st)))
        tagged = any(session_action(k) for st in trusted for k in st.keys_read)
        singles: list[tuple[int, Identity]] = []
        groups: dict[tuple, list[tuple[int, Identity]]] = {}
        firsts: list[_Request | None] = []  # per group, its first member's request (_Group.request)
        for position, caller in enumerate(self.identities):
            if caller.type is IdentityType.ROOT:
                continue
            requests = (None if caller.arn in named or caller.subject.principal.arn in named else
                        self.evaluator._requests(caller.subject, caller.arn, _ASSUMING[:1], (role.arn,), {}))
            if requests is not None and (tagged or self.evaluator.carried_session_keys
                                         or self.evaluator.caller_session_keys(caller.subject, requests[0])):
                # a request that needs the session permissions
                requests = self.evaluator._requests(caller.subject, caller.arn, _ASSUMING, (role.arn,) * 3, {})
            if requests is None:
                singles.append((position, caller))
                continue
            base = self.evaluator.contexts[caller.arn]
            # A caller whose sessions may be tagged meets the trust's tag conditions by its session's tags.
            key = (tuple(r.key for r in requests), tuple(base.get(k) for k in read), caller.subject.session_tags)
            members = groups.get(key)
            if members is None:
                members = groups[key] = []
                firsts.append(requests[0] if len(requests) == 1 else None)
            members.append((position, caller))
        return singles, [_Group(members, first) for members, first in zip(groups.values(), firsts)]


def _escalations(account: Account, evaluator: _Evaluator, kinds: Mapping[str, IdentityKind], actions: Sequence[str],
                 resource_of: Callable[[str], str], reached: Mapping[str, AccessPath]) -> Iterable[AccessPath]:
    """Principals that can give themselves one of ``actions`` (see the module docstring)."""
    groups = {g.name: g for g in account.groups}
    by_arn = {i.arn: i for i in account.identities}
    targets = sorted((arn for arn, path in reached.items() if path.decision is AccessDecision.ALLOWED),
                     key=lambda target: reached[target].rank())  # the best tails first
    for identity in account.identities:
        known = reached.get(identity.arn)
        if not _changeable(identity) or (known is not None and known.decision is AccessDecision.ALLOWED):
            continue
        subject = identity.subject
        may = frozenset(evaluator.possible(subject, _CHANGES))
        if not may:
            continue
        # The changes it may make, decided first: most principals that name them may not (an SCP, a boundary).
        changes = [(a, t, conditions) for a, t in _self_changes(identity, groups) if a in may
                   and (conditions := evaluator.conditions(subject, identity.arn, a, t)).ever]
        done = False  # an unconditional one-step escalation: nothing longer can rank better
        after = _best_after(evaluator, identity, actions, resource_of, lambda grant: (grant,)) if changes else None
        if after is not None:
            action, final = after
            for iam_action, target, step_conditions in changes:
                path = AccessPath(identity.arn, kinds[identity.arn], action, Via.ESCALATION,
                                  (Step(identity.arn, target, iam_action, step_conditions),), final)
                done = done or path.decision is AccessDecision.ALLOWED
                yield path
        if done:
            continue
        if changes:
            yield from _assume_after_grant(by_arn, evaluator, kinds, identity, changes[0], targets, reached)
        if identity.type is IdentityType.USER and "iam:AddUserToGroup" in may:
            for group in account.groups:
                if group.name in identity.groups:
                    continue
                step_conditions = evaluator.conditions(subject, identity.arn, "iam:AddUserToGroup", group.arn)
                joined = (_best_after(evaluator, identity, actions, resource_of, _constant(group.policies))
                          if step_conditions.ever else None)
                if joined is not None:
                    yield AccessPath(identity.arn, kinds[identity.arn], joined[0], Via.ESCALATION,
                                     (Step(identity.arn, group.arn, "iam:AddUserToGroup", step_conditions),), joined[1])
        if "iam:UpdateAssumeRolePolicy" in may:
            yield from _retrust(by_arn, evaluator, kinds, identity, targets, reached)


_CHANGES = ("iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:PutGroupPolicy", "iam:AttachGroupPolicy",
            "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:CreatePolicyVersion", "iam:AddUserToGroup",
            "iam:UpdateAssumeRolePolicy")
"""The IAM actions by which a principal changes its own permissions (see the module docstring)."""


def _self_changes(identity: Identity, groups: Mapping[str, Group]) -> list[tuple[str, str]]:
    """The (IAM action, ARN it changes) by which ``identity`` could add a policy to itself."""
    if identity.type is IdentityType.USER:
        moves = [("iam:PutUserPolicy", identity.arn), ("iam:AttachUserPolicy", identity.arn)]
        for name in identity.groups:
            if name in groups:
                moves += [("iam:PutGroupPolicy", groups[name].arn), ("iam:AttachGroupPolicy", groups[name].arn)]
    else:
        moves = [("iam:PutRolePolicy", identity.arn), ("iam:AttachRolePolicy", identity.arn)]
    # AWS managed policies cannot be versioned by their users.
    return moves + [("iam:CreatePolicyVersion", arn) for arn in identity.managed_policy_arns
                    if ":iam::aws:policy/" not in arn]


def _constant(policies: tuple[NamedPolicy, ...]) -> Callable[[NamedPolicy], tuple[NamedPolicy, ...]]:
    """Added policies that do not depend on the action (a group's), for :func:`_best_after`."""
    return lambda grant: policies


def _best_after(evaluator: _Evaluator, identity: Identity, actions: Sequence[str], resource_of: Callable[[str], str],
                added: Callable[[NamedPolicy], tuple[NamedPolicy, ...]]) -> tuple[str, Conditions] | None:
    """The action of ``actions`` the identity could perform with the ``added`` policies, and when."""
    return evaluator.first(identity.subject, identity.arn, actions, resource_of,
                           {action: added(_grant(action)) for action in actions})


def _assume_after_grant(by_arn: Mapping[str, Identity], evaluator: _Evaluator, kinds: Mapping[str, IdentityKind],
                        identity: Identity, change: tuple[str, str, Conditions], targets: Sequence[str],
                        reached: Mapping[str, AccessPath]) -> Iterable[AccessPath]:
    """A policy granting ``sts:AssumeRole`` given to itself, then assuming a role that has the action.

    Counts where granting the action itself does not work (a boundary or SCP allowing ``sts:AssumeRole``
    but not support actions): a trust policy that admits the account needs the caller's own Allow, which
    the granted policy supplies (STS API Reference, AssumeRole,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). ``change``: the first change of
    its own policies it may make (IAM action, the ARN it changes, when).
    """
    subject = identity.subject
    granted = replace(identity, subject=replace(subject, identity_policies=(*subject.identity_policies,
                                                                            _grant(ASSUME_ROLE))))
    for arn in targets:  # the best tails first
        role = by_arn[arn]
        if role.type is not IdentityType.ROLE or role.trust is None or arn == identity.arn:
            continue
        assume, notes = evaluator.assume(granted, role, role.trust)
        if assume.ever:
            tail = reached[arn]
            steps = (Step(identity.arn, change[1], change[0], change[2]),
                     Step(identity.arn, arn, ASSUME_ROLE, assume, notes), *tail.steps)
            path = AccessPath(identity.arn, kinds[identity.arn], tail.action, Via.ESCALATION, steps, tail.conditions,
                              tail.caveats)
            yield path
            if path.decision is AccessDecision.ALLOWED:
                return


def _retrust(by_arn: Mapping[str, Identity], evaluator: _Evaluator, kinds: Mapping[str, IdentityKind],
             identity: Identity, targets: Sequence[str], reached: Mapping[str, AccessPath]) -> Iterable[AccessPath]:
    """``iam:UpdateAssumeRolePolicy`` on a role that has the action, then assuming it as newly trusted."""
    base = evaluator.contexts[identity.arn]
    for arn in targets:  # the best tails first
        role = by_arn[arn]
        if (role.type is not IdentityType.ROLE or not _changeable(role) or arn == identity.arn
                or not _may_allow(identity.subject, "iam:UpdateAssumeRolePolicy", arn, base)):
            continue
        update = evaluator.conditions(identity.subject, identity.arn, "iam:UpdateAssumeRolePolicy", arn)
        if not update.ever:
            continue
        trust = trust_policy(f"{role.name}: trust policy naming {identity.arn}", parse_policy({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": identity.arn}, "Action": ASSUME_ROLE}],
        }, resource_policy=True))
        assume, notes = evaluator.assume(identity, role, trust)
        if assume.ever:
            tail = reached[arn]
            steps = (Step(identity.arn, arn, "iam:UpdateAssumeRolePolicy", update),
                     Step(identity.arn, arn, ASSUME_ROLE, assume, notes), *tail.steps)
            path = AccessPath(identity.arn, kinds[identity.arn], tail.action, Via.ESCALATION, steps, tail.conditions,
                              tail.caveats)
            yield path
            if path.decision is AccessDecision.ALLOWED:
                return  # targets come best first: no later one gives a better path


@dataclass(frozen=True)
class Target:
    """What ``who-can`` asks about: a capability's actions, or one action (or pattern) of the catalog."""

    label: str
    actions: tuple[Action, ...]

    def resource_of(self, account_id: str) -> Callable[[str], str]:
        """The resource each action is requested on: ``*``, or a probe check ARN for Trusted Advisor checks."""
        probe = probe_check_arn(account_id)
        takes = {a.name for a in self.actions if a.takes_check_arns}
        return lambda action: probe if action in takes else "*"


def resolve_target(catalog: Catalog, text: str) -> Target:
    """A capability (its enum name such as ``READ_CASES``, or its label) or a catalog action or pattern."""
    wanted = text.strip()
    for capability in Capability:
        if wanted.upper().replace("-", "_") == capability.name or wanted.lower() == capability.value.lower():
            return Target(capability.value, catalog.by_capability()[capability])
    if "*" in wanted or "?" in wanted:
        found = catalog.expand(wanted)
        if not found:
            raise TargetError(f"{text!r} names no action of the catalog")
        return Target(wanted, found)
    return Target(catalog.get(wanted).name, (catalog.get(wanted),))


class TargetError(SupportkitError, ValueError):
    """A who-can target that is neither a capability nor a catalog action."""


def who_can_target(account: Account, target: Target, *, context: Mapping[str, Any] | None = None,
                   depth: int = MAX_DEPTH) -> tuple[AccessPath, ...]:
    """:func:`who_can` for a resolved :class:`Target` (one best path per principal, over its actions)."""
    return who_can(account, [a.name for a in target.actions], resource_of=target.resource_of(account.info.account_id),
                   context=context, depth=depth)


CONDITIONAL_COLUMNS = ["identity_arn", "action", "access", "conditions"]


def conditional_cells(account: Account, matrix: pd.DataFrame, catalog: Catalog,
                      context: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """For each cell of ``matrix`` whose decision depends on the request: whether some request allows it.

    One row per such cell (``conditional`` in the matrix), with ``access`` ``allowed`` (every request),
    ``conditional`` (some requests: ``conditions`` says which, each verified by evaluating it) or
    ``denied`` (none), as :func:`who_can` answers for a direct path. Cells whose decision no request can
    change are the matrix's own. ``context`` is the analyst's, as the matrix was built with. Cells are
    answered once per what decides them (:mod:`supportkit.analysis.cells`); those with a policy variable in
    a Resource once per identity and set of statements covering the action, by the engine
    (:meth:`_Evaluator._engine_conditions`). Every column is categorical (``access`` has the three states as
    its categories, present or not); an empty table read back from Parquet has object columns.
    """
    evaluator = _Evaluator(account, context)
    by_covering: dict[tuple, Conditions] = {}

    def fallback(identity: Identity, action: str, resource: str) -> Conditions:
        # What decides the cell, and the clauses its enumeration reads (condition_policies holds policies that
        # take no part in the decision, such as SCPs in the management account): actions alike in both share it.
        subject = identity.subject
        covering = (identity.arn, resource, tuple(
            id(statement) for named in applicable_policies(subject, action, resource)
            for statement in named.policy.statements_for(action)), tuple(
            id(clause) for clause in clauses_for(condition_policies(subject), action)))
        found = by_covering.get(covering)
        if found is None:
            found = by_covering[covering] = evaluator._engine_conditions(identity.subject, identity.arn, action,
                                                                         resource)
        return found

    with no_collection():
        cells = cell_conditions(account, matrix, catalog, evaluator.contexts, evaluator.carried, fallback)
    # Categorical columns: the cells are many (most of a matrix, where a condition guards a whole service) and
    # their values few; a column of strings per cell would cost as much to build as the answers.
    states = (AccessDecision.ALLOWED.value, AccessDecision.CONDITIONAL.value, DENIED)
    access = np.array([0 if found.always else 1 if found.ever else 2 for found in cells.answers], dtype=np.int8)
    text_codes, texts = pd.factorize(np.array([found.text() if found.ever and not found.always else ""
                                               for found in cells.answers], dtype=object))
    return pd.DataFrame({"identity_arn": cells.identity_arn, "action": cells.action,
                         "access": pd.Categorical.from_codes(access[cells.answer_of], states),
                         "conditions": pd.Categorical.from_codes(text_codes[cells.answer_of], texts)},
                        columns=CONDITIONAL_COLUMNS)


ACCESS_TITLES = {
    "conditional_access": "Decisions that depend on the request, and the conditions under which they allow",
    "who_reads_cases": "Who can read every support case, and where they come from (who-can's answer)",
}
PATH_COLUMNS = ["principal", "kind", "via", "decision", "conditions", "route", "path", "identities", "caveats"]


def access_tables(account: Account, matrix: pd.DataFrame, catalog: Catalog,
                  context: Mapping[str, Any] | None = None,
                  organization: Organization | None = None) -> dict[str, pd.DataFrame]:
    """The tables of :data:`ACCESS_TITLES`: :func:`conditional_cells`, and :func:`who_can` for reading cases.

    ``who_reads_cases`` has one row per principal (IAM identities, other accounts, identity providers,
    Identity Center permission sets, services) with its best path; ``identities`` lists, joined by "; ",
    the account's identities the path goes through (the principal first when it is one), for links. With the
    account's ``organization``, its other accounts, anyone the trust admits from it alone, and the roles only
    they can assume are of kind ``inside the organization``, not ``external`` (:mod:`supportkit.analysis.kinds`).
    """
    arns = {i.arn for i in account.identities}
    rows = []
    for path in who_can(account, [WHO_READS_CASES], context=context, organization=organization):
        through = [path.principal] if path.principal in arns else []
        through += [step.target for step in path.steps if step.target in arns and step.target not in through]
        rows.append((path.principal, path.kind.value, path.via.value, path.decision.value,
                     _path_conditions(path), path.route(), path.text(), "; ".join(through), "; ".join(path.all_caveats)))
    tables = {"conditional_access": conditional_cells(account, matrix, catalog, context),
              "who_reads_cases": pd.DataFrame(rows, columns=PATH_COLUMNS)}
    for key, frame in tables.items():
        frame.attrs["title"] = ACCESS_TITLES[key]
    return tables


def _path_conditions(path: AccessPath) -> str:
    """Every condition the path needs, its steps' then the final request's, in words; "" when none."""
    parts = [f"{step.action} {step.conditions.text()}" for step in path.steps if not step.conditions.always]
    if not path.conditions.always:
        parts.append(f"{path.action} {path.conditions.text()}")
    return "; ".join(parts)


def access_summary(matrix: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                   access: np.ndarray | None = None) -> dict[str, Any]:
    """The headline's three states: per :data:`HEADLINE_ACTIONS` key, identities allowed whatever the request
    (the key) and only under some conditions (``<key>_conditionally``); then who-can's principals that read
    every case, by decision and by kind. ``access``: :func:`cell_access` of the tables, when made already."""
    if access is None:
        access = cell_access(matrix, tables["conditional_access"])
    actions = matrix["action"].astype(str).to_numpy()
    numbers: dict[str, Any] = {}
    for key, action in HEADLINE_ACTIONS.items():
        rows = actions == action
        numbers[key] = int((access[rows] == AccessDecision.ALLOWED.value).sum())
        numbers[f"{key}_conditionally"] = int((access[rows] == AccessDecision.CONDITIONAL.value).sum())
    readers = tables["who_reads_cases"]
    numbers["principals_reading_cases"] = int((readers["decision"] == AccessDecision.ALLOWED.value).sum())
    numbers["principals_reading_cases_conditionally"] = int(
        (readers["decision"] == AccessDecision.CONDITIONAL.value).sum())
    numbers["principals_reading_cases_by_kind"] = {
        kind: int(n) for kind, n in readers["kind"].value_counts(sort=False).items()}
    return numbers
