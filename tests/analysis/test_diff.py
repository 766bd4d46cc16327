"""Snapshot diff on two synthetic snapshots of one account (tests/data/findings/diff_before, diff_after).

Between them: alice's inline policy gains a Deny of support:ResolveCase; bob is unchanged; dan (s3:*
only) is removed; carl (trustedadvisor:Describe*) is added.
"""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from supportkit.snapshot import load_account
from supportkit.support.catalog import load_catalog
from supportkit.analysis.diff import (
    CELL_COLUMNS, AccountMismatchError, diff_accounts, diff_matrices, identity_changes,
)
from supportkit.analysis.matrix import build_matrix

DATA = Path(__file__).parents[1] / "data" / "findings"
ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def accounts():
    return load_account(DATA / "diff_before"), load_account(DATA / "diff_after")


@pytest.fixture(scope="module")
def matrices(accounts):
    catalog = load_catalog()
    return tuple(build_matrix(account, catalog) for account in accounts)


def test_diff_accounts_reports_exactly_the_changed_cell_and_identities(accounts):
    diff = diff_accounts(*accounts)
    assert list(diff.cells.columns) == CELL_COLUMNS
    assert diff.cells.to_dict("records") == [{
        "identity_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "identity_type": "user",
        "identity_name": "alice",
        "action": "support:ResolveCase",
        "decision_before": "allowed",
        "decision_after": "explicitDeny",
        "deciding_before": "Allow in identity policy 'user/alice: SupportAccess (inline)' Statement[0]",
        "deciding_after": "Deny in identity policy 'user/alice: SupportAccess (inline)' Statement[1]",
        "blocked_by_before": "",
        "blocked_by_after": "",
    }]
    assert diff.identities.to_dict("records") == [
        {"identity_arn": f"arn:aws:iam::{ACCOUNT}:user/carl", "identity_type": "user", "identity_name": "carl",
         "change": "added"},
        {"identity_arn": f"arn:aws:iam::{ACCOUNT}:user/dan", "identity_type": "user", "identity_name": "dan",
         "change": "removed"},
    ]


def test_identity_changes_from_matrices_match_accounts(accounts, matrices):
    assert identity_changes(*matrices).equals(identity_changes(*accounts))


def test_a_matrix_has_no_changes_against_itself(matrices):
    before, _ = matrices
    assert diff_matrices(before, before).empty
    assert identity_changes(before, before).empty


def test_diff_does_not_depend_on_row_order(matrices):
    before, after = matrices
    shuffled = after.sample(frac=1, random_state=3)
    assert diff_matrices(before, shuffled).equals(diff_matrices(before, after))


def test_repeated_cells_are_an_error(matrices):
    before, after = matrices
    with pytest.raises(ValueError, match="several rows"):
        diff_matrices(before, pd.concat([after, after.iloc[:1]]))


def test_snapshots_of_two_accounts_are_refused(accounts):
    before, after = accounts
    other = dataclasses.replace(after, info=dataclasses.replace(after.info, account_id="444455556666"))
    with pytest.raises(AccountMismatchError, match="two accounts"):
        diff_accounts(before, other)
