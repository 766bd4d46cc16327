"""Policy documents of a snapshot: each distinct document parsed once."""

from __future__ import annotations

import json
from typing import Any

from supportkit.iam.jsonobject import has_repeated_keys
from supportkit.iam.lint import lint_policy
from supportkit.iam.policy import Policy, decode_document, policy_from_value


class PolicyParser:
    """Parses each distinct document once, so identical documents share one Policy (and its caches)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[bool, str], Policy] = {}

    def parse(self, document: Any, *, resource_policy: bool = False) -> Policy:
        """``resource_policy``: a role trust policy, whose statements keep their Principal."""
        value = decode_document(document)
        if has_repeated_keys(value):  # its JSON text would look like a valid document's
            return policy_from_value(value, resource_policy=resource_policy)
        key = (resource_policy, json.dumps(value, sort_keys=True, separators=(",", ":")))
        policy = self._parsed.get(key)
        if policy is None:
            policy = self._parsed[key] = policy_from_value(value, resource_policy=resource_policy)
        return policy


def policy_warnings(where: str, policy: Policy) -> list[str]:
    """The policy's own warnings and its lint against the Support catalog, each prefixed with ``where``."""
    from supportkit.support.catalog import load_catalog

    lint = lint_policy(policy, load_catalog().known_actions)
    return [f"{where}: {warning}" for warning in (*policy.warnings, *lint)]

