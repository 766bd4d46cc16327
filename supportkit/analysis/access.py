"""A matrix cell's access in the three states who-can answers: allowed whatever the request, allowed only under
some conditions, or denied; and the actions the headline counts.

Apart from :mod:`supportkit.analysis.paths`, which finds the conditions (``conditional_access``), so that a
report rendering a saved analysis reads these states without loading the engines that made it.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import pandas as pd

from supportkit.iam.evaluate import Decision


class AccessDecision(str, Enum):
    ALLOWED = "allowed"
    CONDITIONAL = "conditional"


DENIED = "denied"
"""The ``access`` of a cell that no request allows (:func:`supportkit.analysis.paths.conditional_cells`)."""
SOME_CHECKS = "some checks"
"""The matrix's ``check_scope`` of a Trusted Advisor check action allowed on some checks only."""

WHO_READS_CASES = "support:DescribeCases"
"""Whoever may call it reads every case of the account: support actions take no resource."""
HEADLINE_ACTIONS = {
    "can_open_cases": "support:CreateCase", "can_read_all_cases": WHO_READS_CASES,
    "can_resolve_cases": "support:ResolveCase", "can_change_plan": "supportplans:StartSupportPlanUpdate",
    "can_permit_support": "supportauthz:CreateSupportPermit",
}
"""The headline numbers that count one action's identities, by their key in the summary."""


def cell_access(matrix: pd.DataFrame, conditional: pd.DataFrame) -> np.ndarray:
    """Per matrix row: ``allowed`` (whatever the request), ``conditional`` or ``denied``, as who-can answers
    (the first of :func:`cell_states`)."""
    return cell_states(matrix, conditional)[0]


def cell_states(matrix: pd.DataFrame, conditional: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix row, its access and, for a ``conditional`` one, the conditions under which it allows in words
    ("with MFA", "" for every other cell), both from one lookup of the rows in ``conditional``.

    ``conditional`` is :func:`~supportkit.analysis.paths.conditional_cells` of that matrix; other cells keep
    the matrix's decision (a Trusted Advisor check action allowed on some checks counts as allowed). A cell
    the matrix grants is never ``denied``: ``conditional_cells`` decides a check action on a probe check that
    a grant naming some checks does not cover, so where it finds no request allowed, the cell is ``conditional``.
    """
    granted = (matrix["decision"].astype(str).to_numpy() == Decision.ALLOWED.value) | (
        matrix["check_scope"].astype(str).to_numpy() == SOME_CHECKS)
    access = np.where(granted, AccessDecision.ALLOWED.value, DENIED).astype(object)
    conditions = np.full(len(matrix), "", dtype=object)
    if len(conditional):
        keys = pd.MultiIndex.from_arrays([matrix["identity_arn"].astype(str), matrix["action"].astype(str)])
        found = conditional[["access", "conditions"]].set_axis(pd.MultiIndex.from_arrays(
            [conditional["identity_arn"].astype(str), conditional["action"].astype(str)]), axis=0).reindex(keys)
        known = found["access"].notna().to_numpy()
        access[known] = found["access"].to_numpy(dtype=object)[known]
        conditions[known] = found["conditions"].to_numpy(dtype=object)[known]
    access[granted & (access == DENIED)] = AccessDecision.CONDITIONAL.value
    return access, conditions
