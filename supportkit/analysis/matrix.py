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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from supportkit.snapshot import Account, Identity
from supportkit.support.catalog import Catalog, check_arn, load_catalog
from supportkit.iam.context import EMPTY_CONTEXT, RequestContext
from supportkit.errors import SupportkitError
from supportkit.iam.evaluate import (
    Decision, NamedPolicy, PolicyKind, PolicyMatch, Result, Subject, applicable_policies, decide, match_policy,
)
from supportkit.iam.patterns import Pattern
from supportkit.iam.policy import ActionSet, Policy

ALL_CHECKS = "all checks"
SOME_CHECKS = "some checks"

LONG_COLUMNS = [
    "identity_arn", "identity_type", "identity_name", "action", "prefix", "capability", "access_level", "decision",
    "explanation", "deciding_statements", "blocked_by", "conditional", "context_keys", "check_scope", "incomplete",
]
DECISIONS = [d.value for d in Decision]
_ALLOWED, _EXPLICIT, _IMPLICIT = (DECISIONS.index(d.value) for d in Decision)


def identity_context(identity: Identity, extra: Mapping[str, Any] | None = None) -> RequestContext:
    """The context a matrix row is evaluated under: the analyst's keys, completed by the identity's own."""
    return RequestContext.of(extra or {}).with_defaults(identity.context())


def probe_check_arn(account_id: str) -> str:
    """A check ARN no real check has: a statement that matches it covers every check of the account."""
    return check_arn(account_id, region="zz-probe-1", category="zz_probe", check_id="ZzProbe0")


@dataclass
class _Policies:
    """Allow/Deny/keyed vectors over the catalog, per policy and per value of the context keys it reads."""

    names: list[str]
    resources: list[str]
    matches: dict[tuple, PolicyMatch] = field(default_factory=dict)
    vectors: dict[tuple, int] = field(default_factory=dict)
    allow: list[np.ndarray] = field(default_factory=list)
    deny: list[np.ndarray] = field(default_factory=list)
    keyed: list[np.ndarray] = field(default_factory=list)
    _reach: dict[int, list[int]] = field(default_factory=dict)
    _statement_reach: dict[tuple[bool, ActionSet], frozenset[int]] = field(default_factory=dict)

    def signature(self, policy: Policy, context: RequestContext) -> tuple:
        """The values of the context keys ``policy`` reads: equal signatures, equal verdicts."""
        keys = policy.keys_read
        return context.signature(keys) if keys else ()

    def reach(self, policy: Policy) -> list[int]:
        """Indices of the catalog actions some statement's Action/NotAction covers."""
        found = self._reach.get(id(policy))
        if found is None:
            covered: set[int] = set()
            for statement in policy.statements:
                action_key = (statement.not_action, statement.action_set)  # ActionSet.of shares equal lists
                indices = self._statement_reach.get(action_key)
                if indices is None:
                    indices = self._statement_reach[action_key] = frozenset(
                        i for i, name in enumerate(self.names) if statement.matches_action(name))
                covered |= indices
            found = self._reach[id(policy)] = sorted(covered)
        return found

    def match(self, policy: Policy, index: int, context: RequestContext, signature: tuple,
              resource: str | None = None) -> PolicyMatch:
        resource = resource or self.resources[index]
        key = (id(policy), index, resource, signature)
        found = self.matches.get(key)
        if found is None:
            found = self.matches[key] = match_policy(policy, self.names[index], resource, context)
        return found

    def vector(self, policy: Policy, context: RequestContext, signature: tuple) -> int:
        """The row of this policy's vectors under ``context`` (computed on first use)."""
        key = (id(policy), signature)
        row = self.vectors.get(key)
        if row is None:
            n = len(self.names)
            allow, deny, keyed = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
            for index in self.reach(policy):
                found = self.match(policy, index, context, signature)
                allow[index], deny[index], keyed[index] = bool(found.allows), bool(found.denies), bool(found.keys)
            row = self.vectors[key] = len(self.allow)
            self.allow.append(allow)
            self.deny.append(deny)
            self.keyed.append(keyed)
        return row


def _layer(named: NamedPolicy, levels: int) -> int:
    """Layers in the documented order: SCP levels 0..L-1, then identity, boundary, session."""
    if named.kind is PolicyKind.SCP:
        return named.level or 0
    return levels + {PolicyKind.IDENTITY: 0, PolicyKind.BOUNDARY: 1, PolicyKind.SESSION: 2}[named.kind]


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


def build_matrix(
    account: Account, catalog: Catalog | None = None, *, context: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The long-form matrix: one row per identity and catalog action, with the explanation columns.

    ``context`` holds keys added to every request (``aws:MultiFactorAuthPresent``, ``aws:SourceIp``, ...);
    each identity also carries the keys AWS derives from it (principal ARN, type, user name, tags).
    """
    catalog = catalog or load_catalog()
    rows = _Rows.of(account, catalog, context)
    cells = _decide_all(rows, len(catalog.actions))
    return _frame(account, catalog, rows, cells)


@dataclass
class _Rows:
    """One row per (identity, applicable policy): its Allow/Deny/keyed vectors, layer and named policy."""

    subjects: list[Subject]
    applicable: list[tuple[NamedPolicy, ...]]
    contexts: list[RequestContext]
    policies: _Policies
    named_checks: list[tuple[int, str]]
    levels: int
    identity: np.ndarray
    layer: np.ndarray
    variant: np.ndarray
    variants: int
    allow: np.ndarray
    deny: np.ndarray
    keyed: np.ndarray

    @classmethod
    def of(cls, account: Account, catalog: Catalog, context: Mapping[str, Any] | None) -> "_Rows":
        actions = catalog.actions
        names = [a.name for a in actions]
        check_actions = [i for i, a in enumerate(actions) if a.takes_check_arns]
        identities = account.identities
        applicable = [applicable_policies(identity.subject) for identity in identities]
        # Check actions are also evaluated on each check ARN a statement names, as extra columns after the
        # catalog's: where a decision there differs from the probe's, the action is allowed on some checks only.
        in_use = {id(named.policy): named.policy for found in applicable for named in found}
        named_checks = sorted({
            (a, arn) for policy in in_use.values()
            for a, arns in _check_candidates(policy, names, check_actions, account.info.account_id).items()
            for arn in arns
        })
        probe = probe_check_arn(account.info.account_id)
        policies = _Policies([*names, *(names[a] for a, _ in named_checks)],
                             [*(probe if a.takes_check_arns else "*" for a in actions), *(arn for _, arn in named_checks)])
        levels = max((len(i.subject.scp_levels) for i in identities), default=0)
        contexts = [identity_context(identity, context) for identity in identities]
        row_identity: list[int] = []
        row_layer: list[int] = []
        row_vector: list[int] = []
        row_variant: list[int] = []
        variants: dict[tuple, int] = {}
        for i, found in enumerate(applicable):
            for named in found:
                signature = policies.signature(named.policy, contexts[i])
                row_identity.append(i)
                row_layer.append(_layer(named, levels))
                row_vector.append(policies.vector(named.policy, contexts[i], signature))
                row_variant.append(variants.setdefault((id(named), signature), len(variants)))
        vector = np.array(row_vector, dtype=np.int64)
        width = len(policies.names)
        stack = lambda vectors: np.array(vectors, dtype=bool).reshape(len(vectors), width)[vector]  # noqa: E731
        return cls(
            [identity.subject for identity in identities], applicable, contexts, policies, named_checks, levels, np.array(row_identity, dtype=np.int64),
            np.array(row_layer, dtype=np.int64), np.array(row_variant, dtype=np.int64), len(variants),
            stack(policies.allow), stack(policies.deny), stack(policies.keyed),
        )


@dataclass
class _Cells:
    """Per identity and catalog action: the decision, the blocking layer, and the key of its explanation."""

    decision: np.ndarray
    some_checks: np.ndarray
    key: np.ndarray


def _decide_all(rows: _Rows, n: int) -> _Cells:
    """The documented evaluation order applied to every identity at once (``n`` catalog actions)."""
    n_identities = len(rows.applicable)
    n_layers = rows.levels + 3
    width = len(rows.policies.names)
    # Layer verdicts: absent layers pass, except the identity layer (something must allow) and the SCP
    # levels of a member account (each must allow). The root user has no identity layer.
    ok = np.ones((n_identities, n_layers, width), dtype=bool)
    for i, subject in enumerate(rows.subjects):
        if subject.scps_apply:
            ok[i, :len(subject.scp_levels)] = False
        if not subject.principal.is_root:
            ok[i, rows.levels] = False
    segment = rows.identity * n_layers + rows.layer
    if len(segment):
        order = np.argsort(segment, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(segment[order]) != 0])
        heads = segment[order][starts]
        ok.reshape(n_identities * n_layers, width)[heads] = np.logical_or.reduceat(rows.allow[order], starts, axis=0)
    # Rows are in identity order, so an identity is a contiguous run of rows.
    denied = np.zeros((n_identities, width), dtype=bool)
    run_starts = np.flatnonzero(np.r_[True, np.diff(rows.identity) != 0]) if len(rows.identity) else np.zeros(0, int)
    owners = rows.identity[run_starts]
    if len(run_starts):
        denied[owners] = np.logical_or.reduceat(rows.deny, run_starts, axis=0)
    blocked_layer = (~ok).argmax(axis=1)
    decision = np.where(denied, _EXPLICIT, np.where(~ok.all(axis=1), _IMPLICIT, _ALLOWED)).astype(np.int8)
    some_checks = np.zeros((n_identities, n), dtype=bool)
    for column, (a, _) in enumerate(rows.named_checks, start=n):
        some_checks[:, a] |= (decision[:, column] == _ALLOWED) != (decision[:, a] == _ALLOWED)
    decision, blocked_layer = decision[:, :n], blocked_layer[:, :n]  # from here on, the catalog's columns only
    allow, deny, keyed = rows.allow[:, :n], rows.deny[:, :n], rows.keyed[:, :n]
    blocked = np.where(decision == _IMPLICIT, blocked_layer + 1, 0)
    # Hashes of the policies that decided each cell and of those that consulted context keys.
    weights = np.random.default_rng(20261129).integers(1, 2**63, size=max(rows.variants, 1), dtype=np.uint64)
    r_weight = weights[rows.variant] if len(rows.variant) else np.zeros(0, np.uint64)
    decided_hash = np.zeros((n_identities, n), dtype=np.uint64)
    keyed_hash = np.zeros((n_identities, n), dtype=np.uint64)
    for chunk in np.array_split(np.arange(len(run_starts)), max(1, len(rows.identity) // 20_000)):
        if not len(chunk):
            continue
        lo = run_starts[chunk[0]]
        hi = run_starts[chunk[-1] + 1] if chunk[-1] + 1 < len(run_starts) else len(rows.identity)
        row_decision = decision[rows.identity[lo:hi]]
        decided = (deny[lo:hi] & (row_decision == _EXPLICIT)) | (allow[lo:hi] & (row_decision == _ALLOWED))
        weight = r_weight[lo:hi, None]
        starts = run_starts[chunk] - lo
        decided_hash[owners[chunk]] = np.add.reduceat(np.where(decided, weight, np.uint64(0)), starts, axis=0)
        keyed_hash[owners[chunk]] = np.add.reduceat(np.where(keyed[lo:hi], weight, np.uint64(0)), starts, axis=0)
    action_index = np.broadcast_to(np.arange(n), (n_identities, n))
    return _Cells(decision, some_checks, _mix(action_index, decision, blocked, decided_hash, keyed_hash).ravel())


def _frame(account: Account, catalog: Catalog, rows: _Rows, cells: _Cells) -> pd.DataFrame:
    """The long form, explaining one representative cell per distinct key with the decide() simulate uses."""
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
    for k, flat in enumerate(first):
        i, a = divmod(int(flat), n)
        result = _explain(rows.subjects[i], rows.applicable[i], rows.policies, a, rows.contexts[i])
        if DECISIONS.index(result.decision.value) != cells.decision[i, a]:
            raise AssertionError(f"matrix and decide() disagree on {identities[i].arn} {actions[a].name}")
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


def _explain(subject: Subject, applicable: tuple[NamedPolicy, ...], policies: _Policies, index: int,
             context: RequestContext, resource: str | None = None) -> Result:
    return decide(subject, {
        named: policies.match(named.policy, index, context, policies.signature(named.policy, context), resource)
        for named in applicable
    })


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
    """Write the long form as CSV, JSON Lines or Parquet to ``output`` (standard output for text formats).

    CSV and Parquet go through Arrow, which writes a million rows in well under a second.
    """
    if fmt == "parquet" and output is None:
        raise SupportkitError("--format parquet needs -o FILE: Parquet is binary")
    try:
        if fmt == "json":
            text = matrix.to_json(orient="records", lines=True)
            text += "" if text.endswith("\n") else "\n"
            if output is None:
                sys.stdout.write(text)
            else:
                Path(output).write_text(text, encoding="utf-8")
            return
        table = pa.Table.from_pandas(matrix, preserve_index=False)
        if fmt == "parquet":
            pq.write_table(table, output)
            return
        options = pa_csv.WriteOptions(quoting_style="needed")
        if output is None:
            sys.stdout.flush()
            pa_csv.write_csv(table, sys.stdout.buffer, write_options=options)
        else:
            pa_csv.write_csv(table, str(output), write_options=options)
    except OSError as error:
        raise SupportkitError(f"{output or 'standard output'}: {error.strerror or error}") from None
