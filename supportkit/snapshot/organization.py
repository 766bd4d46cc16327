"""organization.json: an organization's tree and where each member account's snapshot folder is.

Written by ``supportkit fetch --organization`` (or by hand beside account folders); read here into
:class:`OrganizationInfo`. The file holds, besides, every SCP and RCP by id and the ids attached to
each target, for the record: the analysis reads each account's own ``scps.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportkit.errors import InputError, json_type
from supportkit.lazy import cached_property
from supportkit.snapshot.jsonfile import read_json

ORGANIZATION_FILE = "organization.json"
POLICY_FILES = {"SERVICE_CONTROL_POLICY": "scps", "RESOURCE_CONTROL_POLICY": "rcps"}
"""Policy type, and its key under ``policies`` in organization.json."""


@dataclass(frozen=True)
class OrganizationNode:
    """A root or an OU."""

    id: str
    name: str | None
    parent: str | None


@dataclass(frozen=True)
class MemberAccount:
    """One account of the organization: its snapshot folder, or the error that left it without one."""

    account_id: str
    name: str | None
    parent: str | None
    status: str
    folder: Path | None
    error: str | None


@dataclass(frozen=True)
class OrganizationInfo:
    organization_id: str
    management_account_id: str | None
    nodes: tuple[OrganizationNode, ...]
    accounts: tuple[MemberAccount, ...]
    notes: tuple[str, ...]
    source: Path

    @cached_property
    def account_ids(self) -> frozenset[str]:
        return frozenset(self._members)

    def member(self, account_id: str) -> MemberAccount | None:
        """The account of that id, None when the file does not list it."""
        return self._members.get(account_id)

    @cached_property
    def _members(self) -> dict[str, MemberAccount]:
        return {account.account_id: account for account in self.accounts}

    def unit_path(self, account: MemberAccount) -> tuple[str, ...]:
        """The names (ids when unnamed) of the root and OUs above ``account``, from the root down."""
        return tuple(node.name or node.id for node in self._above(account))

    def principal_org_path(self, account: MemberAccount) -> str | None:
        """The ``aws:PrincipalOrgPaths`` value of the account's principals, ``o-id/r-root/ou-.../``, when its
        parents lead up to a root (else None: unknown). "The path ... for the requesting principal's account"
        (AWS global condition context keys,
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
        nodes = self._above(account)
        if not nodes or nodes[0].parent is not None:
            return None
        return "/".join((self.organization_id, *(node.id for node in nodes))) + "/"

    @cached_property
    def _nodes(self) -> dict[str, OrganizationNode]:
        return {node.id: node for node in self.nodes}

    def _above(self, account: MemberAccount) -> tuple[OrganizationNode, ...]:
        """The root and OUs above ``account`` that organization.json names, from the top down."""
        by_id = self._nodes
        found: list[OrganizationNode] = []
        parent = account.parent
        while parent in by_id and len(found) <= len(by_id):
            node = by_id[parent]
            found.append(node)
            parent = node.parent
        return tuple(reversed(found))


def is_organization_folder(path: Path) -> bool:
    return (Path(path) / ORGANIZATION_FILE).is_file()


def _text(path: Path, value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(str(path), f"must be a non-empty string, not {json_type(value)}", json_path=where)
    return value


def _list(path: Path, value: Mapping[str, Any], key: str) -> list[Any]:
    found = value.get(key, [])
    if not isinstance(found, list):
        raise InputError(str(path), f"must be a list, not {json_type(found)}", json_path=key)
    return found


def read_organization(path: str | Path) -> OrganizationInfo:
    """The organization file at ``path`` (or in the folder ``path``); account folders are relative to it."""
    path = Path(path)
    if path.is_dir():
        path = path / ORGANIZATION_FILE
    value = read_json(path)
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"expected an object with organization, units, accounts, not {json_type(value)}")
    organization = value.get("organization")
    if not isinstance(organization, Mapping):
        raise InputError(str(path), f"must be an object, not {json_type(organization)}", json_path="organization")
    organization_id = _text(path, organization.get("id"), "organization.id")
    management = _text(path, organization.get("management_account_id"), "organization.management_account_id",
                       required=False)
    nodes = []
    for key in ("roots", "units"):
        for i, raw in enumerate(_list(path, value, key)):
            where = f"{key}[{i}]"
            if not isinstance(raw, Mapping):
                raise InputError(str(path), f"must be an object, not {json_type(raw)}", json_path=where)
            nodes.append(OrganizationNode(
                str(_text(path, raw.get("id"), f"{where}.id")), _text(path, raw.get("name"), f"{where}.name", required=False),
                _text(path, raw.get("parent"), f"{where}.parent", required=key == "units"),
            ))
    root = path.parent.resolve()
    accounts = []
    for i, raw in enumerate(_list(path, value, "accounts")):
        where = f"accounts[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError(str(path), f"must be an object, not {json_type(raw)}", json_path=where)
        account_id = str(_text(path, raw.get("id"), f"{where}.id"))
        if not (len(account_id) == 12 and account_id.isdigit()):
            raise InputError(str(path), f"must be 12 digits, not {account_id!r}", json_path=f"{where}.id")
        folder_text = _text(path, raw.get("folder"), f"{where}.folder", required=False)
        folder = (root / folder_text).resolve() if folder_text is not None else None
        if folder is not None and root not in folder.parents:
            raise InputError(str(path), f"{folder_text!r} is not a folder inside {root}", json_path=f"{where}.folder")
        accounts.append(MemberAccount(
            account_id, _text(path, raw.get("name"), f"{where}.name", required=False),
            _text(path, raw.get("parent"), f"{where}.parent", required=False),
            _text(path, raw.get("status"), f"{where}.status", required=False) or "ACTIVE", folder,
            _text(path, raw.get("error"), f"{where}.error", required=False),
        ))
    notes = _list(path, value, "notes")
    if not all(isinstance(note, str) for note in notes):
        raise InputError(str(path), "must be a list of strings", json_path="notes")
    return OrganizationInfo(str(organization_id), management, tuple(nodes), tuple(accounts), tuple(notes), path)
