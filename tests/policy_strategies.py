"""Hypothesis strategies shared by the random-account tests: policy statements over a test's vocabulary."""

from __future__ import annotations

from typing import Any, Sequence

from hypothesis import strategies as st


def statements(actions: Sequence[str], resources: Sequence[str], conditions: Sequence[dict[str, Any] | None], *,
               effects: Sequence[str] = ("Allow", "Allow", "Deny"),
               not_action: Sequence[bool] = (False, False, False, True),
               not_resource: Sequence[bool] = (False,), unique_resources: bool = True,
               ) -> st.SearchStrategy[dict[str, Any]]:
    """A statement of one of ``effects``, one or two of ``actions`` (as NotAction as often as ``not_action``
    says) on one or two of ``resources`` (NotResource likewise), with one of ``conditions`` (None: none)."""
    return st.builds(
        lambda effect, negated, chosen, negated_resource, where, condition: {
            "Effect": effect, ("NotAction" if negated else "Action"): chosen,
            ("NotResource" if negated_resource else "Resource"): where,
            **({"Condition": condition} if condition else {})},
        st.sampled_from(effects), st.sampled_from(not_action),
        st.lists(st.sampled_from(actions), min_size=1, max_size=2, unique=True),
        st.sampled_from(not_resource),
        st.lists(st.sampled_from(resources), min_size=1, max_size=2, unique=unique_resources),
        st.sampled_from(conditions),
    )
