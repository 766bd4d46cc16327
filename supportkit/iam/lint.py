"""Lint: valid policy text that cannot mean what it says, as warnings with the JSON path.

* an action of a known service prefix that the service does not have (``support:CreateCas``), or a wildcard
  that names none of its actions;
* a service prefix that is not one but looks like a typo of a known one (``suport:*``);
* a global condition key (``aws:...``) that the IAM User Guide does not list (``aws:usrname``).

Which actions and prefixes exist is not IAM-language knowledge: the caller passes them (``known``), e.g. the
Support catalog. Everything here is pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import lru_cache

from supportkit.iam.keys import is_global_key, suggest_global_key
from supportkit.iam.policy import ActionSet, Policy

Known = Mapping[str, Mapping[str, str]]
"""Lower-cased service prefix -> its actions: lower-cased name -> the name as AWS writes it."""


def _statement_path(policy: Policy, index: int) -> str:
    """``Statement[2]``, or ``Statement`` when the document's Statement is one object."""
    return "Statement" if isinstance(policy.document.get("Statement"), Mapping) else f"Statement[{index}]"


@lru_cache(maxsize=65536)
def _near(word: str, candidates: tuple[str, ...]) -> str | None:
    """The candidate ``word`` looks like a typo of, if any (remembered: policies repeat the same names)."""
    near = difflib.get_close_matches(word, candidates, n=1, cutoff=0.8)
    return near[0] if near else None


@lru_cache(maxsize=16384)
def _names_none(text: str, prefix: str, names: tuple[str, ...]) -> bool:
    """Whether the wildcard action ``text`` matches none of the prefix's action ``names``."""
    matcher = ActionSet.of((text,))
    return not any(matcher.matches(f"{prefix}:{candidate}") for candidate in names)


def _action_warning(text: str, known: Known) -> str | None:
    prefix, colon, name = text.lower().partition(":")
    if not colon or "*" in prefix or "?" in prefix:
        return None
    names = known.get(prefix)
    if names is None:
        near = _near(prefix, tuple(known))
        return f"{text!r}: no service has the prefix {prefix!r}; did you mean {near!r}?" if near else None
    if "*" in name or "?" in name:
        return f"{text!r} names no action of {prefix}" if _names_none(text, prefix, tuple(names)) else None
    if name not in names:
        near = _near(name, tuple(names))
        hint = f"; did you mean {prefix}:{names[near]}?" if near else ""
        return f"{text!r}: {prefix} has no such action{hint}"
    return None


class Linter:
    """Lint against one ``known``, remembering each policy's warnings, each Action list's and each condition key's.

    Request streams and accounts repeat all three (an SCP in every request; ``s3:GetObject`` in every other
    policy, whose unknown prefix costs a fuzzy search among the known ones). Policies are remembered by
    identity (they are shared, see :class:`~supportkit.iam.policy.PolicyCache`), and kept alive.
    """

    def __init__(self, known: Known) -> None:
        self.known = known
        self._policies: dict[Policy, tuple[str, ...]] = {}
        self._actions: dict[str, str | None] = {}
        # per Action list: the index and warning of each action warned about (statements repeat lists)
        self._action_lists: dict[tuple[str, ...], tuple[tuple[int, str], ...]] = {}
        # per condition key: why it is not a global key, or None
        self._keys: dict[str, str | None] = {}

    def lint(self, policy: Policy) -> tuple[str, ...]:
        """The lint warnings of ``policy``, each starting with its JSON path."""
        found = self._policies.get(policy)
        if found is None:
            found = self._policies[policy] = self._lint(policy)
        return found

    def _action_warning(self, text: str) -> str | None:
        if text in self._actions:
            return self._actions[text]
        found = self._actions[text] = _action_warning(text, self.known)
        return found

    def _list_warnings(self, actions: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
        found = self._action_lists.get(actions)
        if found is None:
            found = self._action_lists[actions] = tuple(
                (j, warning) for j, text in enumerate(actions) if (warning := self._action_warning(text)))
        return found

    def _key_warning(self, key: str) -> str | None:
        if key in self._keys:
            return self._keys[key]
        found = None
        if key.lower().startswith("aws:") and not is_global_key(key):
            near = suggest_global_key(key)
            hint = f"; did you mean {near!r}?" if near else ""
            found = f"{key!r} is not a global condition key{hint} (no request has it)"
        self._keys[key] = found
        return found

    def _lint(self, policy: Policy) -> tuple[str, ...]:
        warnings: list[str] = []
        for statement in policy.statements:
            element = "NotAction" if statement.not_action else "Action"
            for j, found in self._list_warnings(statement.actions):
                warnings.append(f"{_statement_path(policy, statement.index)}.{element}[{j}]: {found}")
            for clause in statement.conditions:
                if (key_warning := self._key_warning(clause.key)) is not None:
                    warnings.append(f"{_statement_path(policy, statement.index)}.Condition.{clause.operator}."
                                    f"{clause.key}: {key_warning}")
        return tuple(warnings)
