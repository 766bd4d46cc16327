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
customer managed policy attached to it, and ``iam:UpdateAssumeRolePolicy`` on a role that can perform
the action (then assuming it, named in the new trust policy). Each of these actions is authorized on
the user, group, role or policy it changes (Service Authorization Reference, IAM actions,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
Service-linked roles and Identity Center roles cannot be changed ("You cannot modify the trust policy
for a service-linked role", Update a role trust policy,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html; Identity
Center roles are "only modifiable by AWS").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Sequence

from supportkit.analysis.matrix import probe_check_arn
from supportkit.analysis.conditions import NEVER, UNCONDITIONAL, Conditions, clauses_for, enumerate_conditions
from supportkit.analysis.kinds import SOURCE_KINDS, IdentityKind, identity_kinds
from supportkit.analysis.trust import SourceKind, TrustSource, permission_set, trust_sources
from supportkit.errors import SupportkitError
from supportkit.iam.context import RequestContext
from supportkit.iam.evaluate import Decision, NamedPolicy, PolicyKind, Result, Subject, evaluate, is_principal_key
from supportkit.iam.policy import Policy, parse_policy
from supportkit.iam.trust import ASSUME_ROLE, can_assume, trust_policy
from supportkit.snapshot.model import Account, Identity, IdentityType
from supportkit.support.catalog import Action, Capability, Catalog

MAX_DEPTH = 3
"""Role assumptions followed at most (a user, then up to three roles)."""

EXTERNAL_CAVEAT = ("the other account's own policies must also allow this request; they are not in this "
                   "snapshot (Cross-account policy evaluation logic)")
INCOMPLETE_CAVEAT = "some policies of this identity could not be read: the answer may be wrong"


class Via(str, Enum):
    DIRECT = "direct"
    ROLE = "role chain"
    ESCALATION = "privilege escalation"


class AccessDecision(str, Enum):
    ALLOWED = "allowed"
    CONDITIONAL = "conditional"


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

    @property
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

    def text(self) -> str:
        """The path in one line for people: principal, then each step, then the final request's conditions."""
        parts = [f"{step.action} -> {step.target}" + _when(step.conditions) for step in self.steps]
        route = (" via " + ", ".join(parts)) if parts else " directly"
        return f"{self.principal}{route}: {self.action}{_when(self.conditions)}"

    def rank(self) -> tuple[int, int, int]:
        """Better paths sort first: allowed before conditional, shorter, then direct before escalation."""
        return (self.decision is not AccessDecision.ALLOWED, len(self.steps), list(Via).index(self.via))


def _when(conditions: Conditions) -> str:
    return "" if conditions.always else f" ({conditions.text()})"


def _grant(action: str) -> NamedPolicy:
    """The policy a principal would give itself: the action, on every resource."""
    return NamedPolicy(f"self-granted {action}", PolicyKind.IDENTITY, parse_policy(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))


class _Evaluator:
    """Decisions with their conditions for one account, analyst context and final action."""

    def __init__(self, account: Account, context: Mapping[str, Any] | None) -> None:
        self.account = account
        self.extra = RequestContext.of(context or {})
        self.contexts = {i.arn: self.extra.with_defaults(i.context()) for i in account.identities}

    def conditions(self, subject: Subject, arn: str, action: str, resource: str,
                   extra_policies: Iterable[NamedPolicy] = ()) -> Conditions:
        """When ``subject`` (the identity ``arn``) may call ``action`` on ``resource``."""
        base = self.contexts[arn]
        result = evaluate(subject, action, resource, base)
        return self._conditions(result, lambda c: evaluate(subject, action, resource, c), base,
                                [n.policy for n in (*subject.identity_policies, *extra_policies, *_others(subject))],
                                action)

    def assume(self, caller: Identity, role: Identity, trust: NamedPolicy) -> tuple[Conditions, tuple[str, ...]]:
        base = self.contexts[caller.arn]
        found = can_assume(caller.subject, trust, role.arn, ASSUME_ROLE, base)
        conditions = self._conditions(
            found.result, lambda c: can_assume(caller.subject, trust, role.arn, ASSUME_ROLE, c).result, base,
            [trust.policy, *(n.policy for n in (*caller.subject.identity_policies, *_others(caller.subject)))],
            ASSUME_ROLE)
        return conditions, found.caveats

    @staticmethod
    def _conditions(result: Result, decide: Callable[[RequestContext], Result], base: RequestContext,
                    policies: list[Policy], action: str) -> Conditions:
        if not result.conditional:
            return UNCONDITIONAL if result.decision is Decision.ALLOWED else NEVER
        # The principal's own keys (ARN, tags, ...) are facts of the snapshot: not enumerated.
        return enumerate_conditions(lambda c: decide(c).decision is Decision.ALLOWED, clauses_for(policies, action),
                                    base, is_principal_key)


def _others(subject: Subject) -> Iterable[NamedPolicy]:
    """The boundary, session policy and SCPs of a subject: their conditions matter too."""
    if subject.permissions_boundary is not None:
        yield subject.permissions_boundary
    if subject.session_policy is not None:
        yield subject.session_policy
    for level in subject.scp_levels:
        yield from level


def _mentions(subject: Subject, action: str) -> bool:
    """Whether some identity-based statement of ``subject`` covers ``action`` (else no Allow can come from it)."""
    return any(named.policy.statements_for(action) for named in subject.identity_policies)


def _changeable(identity: Identity) -> bool:
    return (identity.type is not IdentityType.ROOT and not identity.service_linked
            and permission_set(identity) is None)


def who_can(
    account: Account, actions: Sequence[str], *, resource_of: Callable[[str], str] = lambda action: "*",
    context: Mapping[str, Any] | None = None, depth: int = MAX_DEPTH,
) -> tuple[AccessPath, ...]:
    """One best path per principal that can perform one of ``actions`` (directly, by role chain, by escalation)."""
    evaluator = _Evaluator(account, context)
    sources = {i.arn: trust_sources(i, account.info.account_id) for i in account.identities
               if i.type is IdentityType.ROLE}
    kinds = identity_kinds(account, sources)
    best: dict[str, AccessPath] = {}
    for action in actions:
        for path in _paths(account, evaluator, sources, kinds, action, resource_of(action), depth):
            known = best.get(path.principal)
            if known is None or path.rank() < known.rank():
                best[path.principal] = path
    order = list(IdentityKind)
    return tuple(sorted(best.values(), key=lambda p: (order.index(p.kind), p.principal)))


def _paths(account: Account, evaluator: _Evaluator, sources: Mapping[str, tuple[TrustSource, ...]],
           kinds: Mapping[str, IdentityKind], action: str, resource: str, depth: int) -> list[AccessPath]:
    by_arn = {i.arn: i for i in account.identities}
    found: list[AccessPath] = []
    reached: dict[str, AccessPath] = {}  # identities of the account with their best path so far

    def caveats(identity: Identity) -> tuple[str, ...]:
        return (INCOMPLETE_CAVEAT,) if identity.incomplete else ()

    for identity in account.identities:
        conditions = evaluator.conditions(identity.subject, identity.arn, action, resource)
        if conditions.ever:
            reached[identity.arn] = AccessPath(identity.arn, kinds[identity.arn], action, Via.DIRECT, (), conditions,
                                               caveats(identity))
    frontier = [arn for arn, path in reached.items() if by_arn[arn].type is IdentityType.ROLE]
    for _ in range(depth):
        next_frontier: list[str] = []
        for role_arn in frontier:
            role, tail = by_arn[role_arn], reached[role_arn]
            for path in _into(account, evaluator, role, sources[role_arn], kinds, tail):
                if path.principal in by_arn:
                    known = reached.get(path.principal)
                    if known is None:
                        reached[path.principal] = path
                        if by_arn[path.principal].type is IdentityType.ROLE:
                            next_frontier.append(path.principal)
                    elif path.rank() < known.rank():
                        reached[path.principal] = path
                else:
                    found.append(path)
        frontier = next_frontier
    found.extend(reached.values())
    found.extend(_escalations(account, evaluator, kinds, action, resource, reached))
    return found


def _into(account: Account, evaluator: _Evaluator, role: Identity, sources: tuple[TrustSource, ...],
          kinds: Mapping[str, IdentityKind], tail: AccessPath) -> Iterable[AccessPath]:
    """Paths that end by assuming ``role`` and continuing as ``tail``."""
    if role.trust is None:
        return
    chain = {tail.principal, *(step.source for step in tail.steps)}
    anyone = any(s.kind is SourceKind.ANYONE for s in sources)
    account_wide = any(s.kind is SourceKind.ACCOUNT for s in sources)
    named = {s.principal for s in sources if s.kind in (SourceKind.USER, SourceKind.ROLE)}
    for caller in account.identities:
        if caller.arn in chain or caller.type is IdentityType.ROOT:
            continue  # no loops; the root user cannot call AssumeRole
        # Trusting only the account, a caller needs an identity-based Allow: skip those with no statement for it.
        if not (caller.arn in named or anyone or (account_wide and _mentions(caller.subject, ASSUME_ROLE))):
            continue
        conditions, notes = evaluator.assume(caller, role, role.trust)
        if conditions.ever:
            step = Step(caller.arn, role.arn, ASSUME_ROLE, conditions, notes)
            yield AccessPath(caller.arn, kinds[caller.arn], tail.action, Via.ROLE, (step, *tail.steps),
                             tail.conditions, tail.caveats)
    for source in sources:
        if source.kind in (SourceKind.ACCOUNT, SourceKind.USER, SourceKind.ROLE):
            continue
        notes = (EXTERNAL_CAVEAT,) if source.kind in (SourceKind.EXTERNAL, SourceKind.ANYONE) else ()
        step = Step(source.label, role.arn, source.action, source.conditions, notes)
        yield AccessPath(source.label, SOURCE_KINDS[source.kind], tail.action, Via.ROLE, (step, *tail.steps),
                         tail.conditions, tail.caveats)


def _escalations(account: Account, evaluator: _Evaluator, kinds: Mapping[str, IdentityKind], action: str,
                 resource: str, reached: Mapping[str, AccessPath]) -> Iterable[AccessPath]:
    """Principals that can give themselves the action (see the module docstring)."""
    grant = _grant(action)
    groups = {g.name: g for g in account.groups}
    targets = [arn for arn, path in reached.items() if path.decision is AccessDecision.ALLOWED]
    for identity in account.identities:
        if not _changeable(identity):
            continue
        known = reached.get(identity.arn)
        if known is not None and known.decision is AccessDecision.ALLOWED:
            continue
        subject = identity.subject
        granted = replace(subject, identity_policies=(*subject.identity_policies, grant))
        after = evaluator.conditions(granted, identity.arn, action, resource, (grant,))
        moves: list[tuple[str, str]] = []  # (IAM action, the ARN it changes)
        if after.ever:
            if identity.type is IdentityType.USER:
                moves += [("iam:PutUserPolicy", identity.arn), ("iam:AttachUserPolicy", identity.arn)]
                for name in identity.groups:
                    if name in groups:
                        moves += [("iam:PutGroupPolicy", groups[name].arn), ("iam:AttachGroupPolicy", groups[name].arn)]
            else:
                moves += [("iam:PutRolePolicy", identity.arn), ("iam:AttachRolePolicy", identity.arn)]
            moves += [("iam:CreatePolicyVersion", arn) for arn in identity.managed_policy_arns
                      if ":iam::aws:policy/" not in arn]
        for iam_action, target in moves:
            if not _mentions(subject, iam_action):
                continue
            step_conditions = evaluator.conditions(subject, identity.arn, iam_action, target)
            if step_conditions.ever:
                yield AccessPath(identity.arn, kinds[identity.arn], action, Via.ESCALATION,
                                 (Step(identity.arn, target, iam_action, step_conditions),), after)
        if identity.type is IdentityType.USER and _mentions(subject, "iam:AddUserToGroup"):
            for group in account.groups:
                if group.name in identity.groups:
                    continue
                joined = replace(subject, identity_policies=(*subject.identity_policies, *group.policies))
                with_group = evaluator.conditions(joined, identity.arn, action, resource, group.policies)
                step_conditions = evaluator.conditions(subject, identity.arn, "iam:AddUserToGroup", group.arn)
                if with_group.ever and step_conditions.ever:
                    yield AccessPath(identity.arn, kinds[identity.arn], action, Via.ESCALATION,
                                     (Step(identity.arn, group.arn, "iam:AddUserToGroup", step_conditions),),
                                     with_group)
        if _mentions(subject, "iam:UpdateAssumeRolePolicy"):
            yield from _retrust(account, evaluator, kinds, identity, targets, reached)


def _retrust(account: Account, evaluator: _Evaluator, kinds: Mapping[str, IdentityKind], identity: Identity,
             targets: Sequence[str], reached: Mapping[str, AccessPath]) -> Iterable[AccessPath]:
    """``iam:UpdateAssumeRolePolicy`` on a role that has the action, then assuming it as newly trusted."""
    by_arn = {i.arn: i for i in account.identities}
    for arn in targets:
        role = by_arn[arn]
        if role.type is not IdentityType.ROLE or not _changeable(role) or arn == identity.arn:
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
            yield AccessPath(identity.arn, kinds[identity.arn], tail.action, Via.ESCALATION, steps, tail.conditions,
                             tail.caveats)


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
