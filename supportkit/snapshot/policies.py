"""Policy documents of a snapshot: each distinct document parsed once."""

from __future__ import annotations

import json
from typing import Any

from supportkit.iam.lint import Linter
from supportkit.iam.policy import Policy, PolicyCache


_canonical_text = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
"""``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` with the encoder built once
(``json.dumps`` builds one per call when given options; the loader encodes every document)."""


class PolicyParser:
    """The loader's way into the one :class:`~supportkit.iam.policy.PolicyCache` (simulate's too): documents are
    known by their canonical JSON text, which :meth:`size` computes as well (the loader asks for a document's
    size, then parses it, for one text's cost). One :class:`~supportkit.iam.lint.Linter` for the whole load lints
    each distinct policy once (every role of an account may carry the same trust policy) and each action text once.
    """

    def __init__(self) -> None:
        self.policies = PolicyCache()
        self._last: tuple[object, str] | None = None  # the object :meth:`size` last read, and its canonical text
        self._linter: Linter | None = None

    def parse(self, document: Any, *, resource_policy: bool = False, rcp: bool = False) -> Policy:
        """``resource_policy``: a role trust policy, whose statements keep their Principal; ``rcp``: an RCP
        (see :func:`~supportkit.iam.policy.parse_policy`)."""
        return self.policies.parse(document, resource_policy=resource_policy, rcp=rcp, key=self._canonical)

    def size(self, document: Any) -> int:
        """:func:`policy_size` of ``document``."""
        if isinstance(document, str):
            return policy_size(document)
        return _size_of_compact(self._canonical(document))

    def _canonical(self, value: Any) -> str:
        last = self._last
        if last is not None and last[0] is value:
            return last[1]
        text = _canonical_text(value)
        self._last = (value, text)
        return text

    def warnings(self, where: str, policy: Policy) -> list[str]:
        """The policy's own warnings and its lint against the Support catalog, each prefixed with ``where``."""
        if self._linter is None:
            from supportkit.support.catalog import load_catalog

            self._linter = Linter(load_catalog().known_actions)
        return [f"{where}: {warning}" for warning in (*policy.warnings, *self._linter.lint(policy))]


MANAGED_POLICY_CHARACTERS = 6_144
INLINE_POLICY_CHARACTERS = {"user": 2_048, "role": 10_240, "group": 5_120}
ORGANIZATION_POLICY_CHARACTERS = 5_120
ARN_CHARACTERS = 2_048
"""AWS's documented limits. "IAM and AWS STS quotas" (IAM User Guide,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): "The size of each managed
policy can't exceed 6,144 characters"; "User policy size can't exceed 2,048 characters. Role policy size
can't exceed 10,240 characters. Group policy size can't exceed 5,120 characters" (the sum of an entity's
inline policies); "IAM doesn't count white space when calculating the size of a policy against these
limits". "Quotas and service limits for AWS Organizations": "Service control policies: 5,120 characters -
Resource control policies: 5,120 characters", and for these "All characters ... count against its maximum
size". IAM API Reference, "Role" data type: "Arn ... Maximum length of 2048"."""


ATTACHED_MANAGED_POLICIES = {"user": 20, "role": 25, "group": 10}
GROUPS_PER_USER = 10
TAGS_PER_ENTITY = 50
SCPS_PER_TARGET = 5
"""AWS's documented numbers of values. "IAM and AWS STS quotas" (above): managed policies attached to an IAM user
10 by default, 20 at most; to a role 10, at most 25; to a group 10, not adjustable; "Groups an IAM user can be a
member of: 10"; "Tags that can be attached to an IAM role" and "... to an IAM user": 50. The maxima are what
IAM can be raised to, so only counts past them cannot be real. "Quotas and service limits for AWS Organizations":
5 service control policies per root, per OU and per account."""


def over_count(what: str, count: int, limit: int) -> str | None:
    """The warning for more values than AWS allows: AWS would have refused them, as :func:`over_limit` says."""
    if count <= limit:
        return None
    return f"{count:,} {what}, over AWS's limit of {limit:,}: AWS would refuse them, so this snapshot may not be " \
           "what AWS holds (evaluated anyway)"


def policy_size(document: Any) -> int:
    """A document's size as IAM counts it against its quotas: characters other than white space."""
    if isinstance(document, str):
        return len("".join(document.split()))
    return _size_of_compact(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def _size_of_compact(text: str) -> int:
    """:func:`policy_size` of compact JSON text (no white space between tokens); the order of keys is no matter.

    Inside strings JSON escapes the ASCII control characters, so ASCII text can hold only spaces.
    """
    if text.isascii():
        return len(text) - text.count(" ")
    return len("".join(text.split()))


def over_limit(what: str, size: int, limit: int) -> str | None:
    """The warning for a size past an AWS limit: AWS would have refused it, so the snapshot is not what IAM holds."""
    if size <= limit:
        return None
    return f"{what} is {size:,} characters, over AWS's limit of {limit:,}: IAM would refuse it, so this snapshot " \
           "may not be what AWS holds (evaluated anyway)"
