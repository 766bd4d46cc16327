"""Read an AWS account snapshot: its identities and every policy that governs each of them.

The input is what ``aws iam get-account-authorization-details`` prints (one file, gzip-compressed or
not, or several page files of one account), alone or in a snapshot folder next to ``account.json``
and ``scps.json``. A bad policy never stops a load: the identities that use it are marked incomplete
with the reason (file and JSON path) and the policy is left out of their :class:`Subject`. Only input
that cannot be read as a snapshot at all (not JSON, wrong shape) raises :class:`InputError`.

Each distinct policy is parsed once, and every identity that attaches it shares the same
:class:`NamedPolicy` object: the matrix relies on that identity to evaluate each policy once.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping, Sequence
from typing import Any

from supportkit.errors import InputError, PolicyError, json_type
from supportkit.iam.evaluate import NamedPolicy, Principal, PolicyKind, Subject
from supportkit.iam.trust import admits_session_tags, trust_policy
from supportkit.snapshot.account_file import read_account_file
from supportkit.snapshot.details import Details, Entry, detail_files, read_details
from supportkit.snapshot.jsonfile import join_path, located
from supportkit.snapshot.model import (
    ACCOUNT_FILE, DETAILS_FILE, RCPS_FILE, SCPS_FILE, Account, AccountInfo, Group, Identity, IdentityType,
)
from supportkit.heap import no_collection
from supportkit.iam.arn import Arn
from supportkit.snapshot.policies import (
    ARN_CHARACTERS, ATTACHED_MANAGED_POLICIES, GROUPS_PER_USER, INLINE_POLICY_CHARACTERS, MANAGED_POLICY_CHARACTERS,
    TAGS_PER_ENTITY, PolicyParser, over_count, over_limit,
)
from supportkit.snapshot.scps import Scps, read_scps
from supportkit.support.rcps import rcp_services

_IAM_PATH = re.compile(r"/(?:[\x21-\x7e]{1,510}/)?")
"""IAM API Reference, User/Role "Path": pattern ``(\u002F)|(\u002F[\u0021-\u007E]+\u002F)``, length 1 to 512."""
_ENTRY_KEYS = {
    "user": frozenset({"Path", "UserName", "UserId", "Arn", "CreateDate", "UserPolicyList", "GroupList",
                       "AttachedManagedPolicies", "PermissionsBoundary", "Tags"}),
    "role": frozenset({"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument",
                       "InstanceProfileList", "RolePolicyList", "AttachedManagedPolicies", "PermissionsBoundary",
                       "Tags", "RoleLastUsed"}),
    "group": frozenset({"Path", "GroupName", "GroupId", "Arn", "CreateDate", "GroupPolicyList",
                        "AttachedManagedPolicies"}),
}
"""The fields of UserDetail, RoleDetail and GroupDetail (IAM API Reference, GetAccountAuthorizationDetails)."""
_GOVERNING_KEYS = frozenset({"UserPolicyList", "GroupList", "AttachedManagedPolicies", "PermissionsBoundary", "Tags",
                             "RolePolicyList", "GroupPolicyList"})
"""The fields whose content changes decisions: a key misspelt for one of them leaves policies out."""


class _Builder:
    """Turns merged authorization details into identities, sharing one NamedPolicy per distinct policy."""

    def __init__(
        self, details: Details, parser: PolicyParser, info: AccountInfo, partition: str, scps: Scps | None,
        rcps: Scps | None = None,
    ) -> None:
        self.details = details
        self.parser = parser
        self.info = info
        self.partition = partition
        self.scp_levels = scps.levels if scps else ()
        self.scp_problems = tuple(str(error) for error in scps.errors) if scps else ()
        self.rcp_levels = rcps.levels if rcps else ()
        self.rcp_problems = tuple(str(error) for error in rcps.errors) if rcps else ()
        self.warnings: list[str] = list(details.warnings)
        self.policies: dict[int, NamedPolicy] = {}  # every NamedPolicy attached to someone, in first-use order
        self._managed: dict[str, NamedPolicy | str] = {}
        self._managed_arns: dict[int, str] = {}  # id of a managed policy's NamedPolicy -> its ARN
        self._boundaries: dict[str, NamedPolicy] = {}
        self._groups: dict[str, tuple[list[NamedPolicy], list[str]]] = {}

    def _keep(self, named: NamedPolicy) -> NamedPolicy:
        self.policies.setdefault(id(named), named)
        return named

    def _parse(self, name: str, document: Any, file: str, where: str) -> NamedPolicy | str:
        """The NamedPolicy of one document, or the problem (file and JSON path) when it does not parse."""
        try:
            policy = self.parser.parse(document)
        except PolicyError as error:
            return located(file, join_path(where, error), error.message)
        self.warnings.extend(self.parser.warnings(f"{file}, at {where} ({name})", policy))
        return NamedPolicy(name, PolicyKind.IDENTITY, policy)  # kept in ``policies`` once attached

    def managed(self, arn: str) -> NamedPolicy | str:
        """The managed policy ``arn`` at its default version: from the file, else the bundled AWS snapshot."""
        found = self._managed.get(arn)
        if found is None:
            found = self._load_managed(arn)
            self._managed[arn] = found
            if isinstance(found, str):
                self.warnings.append(f"policy left out: {found}")
            else:
                self._managed_arns[id(found)] = arn
        return found

    def _load_managed(self, arn: str) -> NamedPolicy | str:
        entry = self.details.entries["Policies"].get(arn)
        if entry is None:
            from supportkit.support.managed import aws_managed_policy

            snapshot = aws_managed_policy(arn)
            if snapshot is None:
                return f"managed policy {arn} is not in the file nor in the bundled AWS managed policy snapshot"
            self.warnings.append(
                f"managed policy {arn} is not in the file: used the bundled AWS managed policy snapshot "
                f"({snapshot.name} {snapshot.version})"
            )
            return self._parse(snapshot.name, snapshot.document, "bundled AWS managed policy snapshot", snapshot.arn)
        name = entry.data.get("PolicyName")
        name = name if isinstance(name, str) and name else arn.rsplit("/", 1)[-1]
        chosen = self._default_version(entry, name)
        if isinstance(chosen, str):
            return chosen
        document, where = chosen
        # The quota binds the policies customers write; AWS's own (ReadOnlyAccess, ...) are far larger.
        parsed_arn = Arn.parse(arn)
        customer = parsed_arn is None or parsed_arn.account != "aws"
        oversize = customer and over_limit(
            f"managed policy {name}", self.parser.size(document), MANAGED_POLICY_CHARACTERS)
        if oversize:
            self.warnings.append(located(entry.file, where, oversize))
        return self._parse(name, document, entry.file, where)

    def _default_version(self, entry: Entry, name: str) -> tuple[Any, str] | str:
        """The default version's document and JSON path; IsDefaultVersion decides, DefaultVersionId cross-checks."""
        versions = entry.data.get("PolicyVersionList")
        if not isinstance(versions, list):
            return located(entry.file, entry.at(".PolicyVersionList"), "missing or not a list")
        default_id = entry.data.get("DefaultVersionId")
        usable = [(i, v) for i, v in enumerate(versions) if isinstance(v, Mapping)]
        flagged = [(i, v) for i, v in usable if v.get("IsDefaultVersion") is True]
        by_id = [(i, v) for i, v in usable if default_id is not None and v.get("VersionId") == default_id]
        if len(flagged) == 1:
            index, version = flagged[0]
            if default_id is not None and version.get("VersionId") != default_id:
                self.warnings.append(located(
                    entry.file, entry.at(f".PolicyVersionList[{index}]"),
                    f"{name}: the version marked default is {version.get('VersionId')!r} but DefaultVersionId is "
                    f"{default_id!r}; used the one marked default",
                ))
        elif by_id:
            index, version = by_id[0]
            self.warnings.append(located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: {len(flagged)} versions are marked IsDefaultVersion; used DefaultVersionId {default_id!r}",
            ))
        elif flagged:
            index, version = flagged[0]
            self.warnings.append(located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: {len(flagged)} versions are marked IsDefaultVersion; used the first",
            ))
        else:
            return located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: no version is marked IsDefaultVersion nor has DefaultVersionId {default_id!r}",
            )
        where = entry.at(f".PolicyVersionList[{index}].Document")
        if "Document" not in version:
            return located(entry.file, where, "missing")
        return version["Document"], where

    def _list(self, entry: Entry, key: str, problems: list[str]) -> list[tuple[str, Any]]:
        """The elements of an optional list field with their JSON paths; a non-list is a problem."""
        value = entry.data.get(key)
        if value is None:
            if key in entry.data:  # null is not an empty list: what it held is unknown
                problems.append(located(entry.file, entry.at(f".{key}"), "null where a list is expected"))
            return []
        if not isinstance(value, list):
            problems.append(located(entry.file, entry.at(f".{key}"), f"must be a list, not {json_type(value)}"))
            return []
        return [(entry.at(f".{key}[{i}]"), item) for i, item in enumerate(value)]

    def _attachments(
        self, entry: Entry, owner: str, inline_key: str, keep: bool = True
    ) -> tuple[list[NamedPolicy], list[str]]:
        """The inline then the attached managed policies of a user, group or role, and the problems met.

        ``keep``: the policies are in use (listed in ``Account.policies``); a group without members gives none.
        """
        policies: list[NamedPolicy] = []
        problems: list[str] = self._unknown_keys(entry, inline_key)

        def add(found: NamedPolicy | str) -> None:
            if isinstance(found, str):
                problems.append(found)
            else:
                policies.append(self._keep(found) if keep else found)

        inline_size = 0
        for where, item in self._list(entry, inline_key, problems):
            name = item.get("PolicyName") if isinstance(item, Mapping) else None
            if not isinstance(name, str) or "PolicyDocument" not in item:
                problems.append(located(entry.file, where, "an inline policy needs PolicyName and PolicyDocument"))
                continue
            inline_size += self.parser.size(item["PolicyDocument"])
            inline = self._parse(
                f"{owner}: {name} (inline)", item["PolicyDocument"], entry.file, f"{where}.PolicyDocument"
            )
            if isinstance(inline, str):
                self.warnings.append(f"policy left out: {inline}")
            add(inline)
        kind = {"UserPolicyList": "user", "RolePolicyList": "role", "GroupPolicyList": "group"}[inline_key]
        oversize = over_limit(f"the {kind}'s inline policies together", inline_size, INLINE_POLICY_CHARACTERS[kind])
        if oversize:
            self.warnings.append(located(entry.file, entry.at(f".{inline_key}"), oversize))
        attached = self._list(entry, "AttachedManagedPolicies", problems)
        self._count(entry, ".AttachedManagedPolicies", f"managed policies attached to the {kind}", len(attached),
                    ATTACHED_MANAGED_POLICIES[kind])
        for where, item in attached:
            arn = item.get("PolicyArn") if isinstance(item, Mapping) else None
            if not isinstance(arn, str):
                problems.append(located(entry.file, where, "an attached policy needs PolicyArn"))
                continue
            add(self.managed(arn))
        return policies, problems

    def _unknown_keys(self, entry: Entry, inline_key: str) -> list[str]:
        """Warnings for fields AWS does not print; problems for those that look like a misspelt policy field."""
        kind = {"UserPolicyList": "user", "RolePolicyList": "role", "GroupPolicyList": "group"}[inline_key]
        known = _ENTRY_KEYS[kind]
        problems: list[str] = []
        for key in entry.data:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            where = entry.at(f".{key}")
            if close and close[0] in _GOVERNING_KEYS:
                problems.append(located(entry.file, where, f"unknown field; did you mean {close[0]}? Its policies "
                                                           "were not read"))
            else:
                hint = f"; did you mean {close[0]}?" if close else ""
                self.warnings.append(located(entry.file, where, f"unknown field, ignored{hint}"))
        return problems

    def group(self, name: str, keep: bool = True) -> tuple[list[NamedPolicy], list[str]] | None:
        entry = self.details.entries["GroupDetailList"].get(name)
        if entry is None:
            return None
        if name not in self._groups:
            self._groups[name] = self._attachments(entry, f"group/{name}", "GroupPolicyList", keep)
        return self._groups[name]

    def root(self) -> Identity:
        arn = f"arn:{self.partition}:iam::{self.info.account_id}:root"
        subject = self._subject(Principal.parse(arn), [], None)
        return Identity(
            IdentityType.ROOT, "root", arn, self.info.account_id, "/", MappingProxyType({}), (), None, subject,
            self._scp_problems(subject),
        )

    def user(self, name: str, entry: Entry) -> Identity:
        policies, problems = self._attachments(entry, f"user/{name}", "UserPolicyList")
        groups: list[str] = []
        listed = self._list(entry, "GroupList", problems)
        self._count(entry, ".GroupList", "groups", len(listed), GROUPS_PER_USER)
        for where, group_name in listed:
            if not isinstance(group_name, str):
                problems.append(located(entry.file, where, f"must be a group name, not {json_type(group_name)}"))
                continue
            groups.append(group_name)
            group = self.group(group_name)
            if group is None:
                message = located(
                    entry.file, where, f"group {group_name} is not in GroupDetailList: its policies are unknown"
                )
                self.warnings.append(message)
                problems.append(message)
                continue
            policies.extend(group[0])
            problems.extend(group[1])
        return self._identity(IdentityType.USER, name, entry, "UserId", policies, problems, tuple(groups))

    def role(self, name: str, entry: Entry) -> Identity:
        policies, problems = self._attachments(entry, f"role/{name}", "RolePolicyList")
        return self._identity(IdentityType.ROLE, name, entry, "RoleId", policies, problems, ())

    def _trust(self, name: str, entry: Entry) -> NamedPolicy | str:
        """The role's trust policy, or the problem (file and JSON path) when it is missing or does not parse."""
        where = entry.at(".AssumeRolePolicyDocument")
        if "AssumeRolePolicyDocument" not in entry.data:
            return located(entry.file, where, "missing: nobody is known to be able to assume the role")
        try:
            policy = self.parser.parse(entry.data["AssumeRolePolicyDocument"], resource_policy=True)
        except PolicyError as error:
            return located(entry.file, join_path(where, error), error.message)
        self.warnings.extend(self.parser.warnings(f"{entry.file}, at {where} (role/{name} trust policy)", policy))
        return trust_policy(f"role/{name}: trust policy", policy)

    def _identity(
        self, kind: IdentityType, name: str, entry: Entry, id_key: str, policies: list[NamedPolicy],
        problems: list[str], groups: tuple[str, ...],
    ) -> Identity:
        arn = entry.data["Arn"]
        principal = Principal.parse(arn)  # checked when the file was read
        oversize = over_limit("the ARN", len(arn), ARN_CHARACTERS)
        if oversize:
            self.warnings.append(located(entry.file, entry.at(".Arn"), oversize))
        path = entry.data.get("Path")
        if path is not None and not (isinstance(path, str) and _IAM_PATH.fullmatch(path)):
            shown = repr(path) if isinstance(path, str) else json_type(path)
            problems.append(located(entry.file, entry.at(".Path"), f"{shown[:80]} is not an IAM path; the ARN's "
                                                                    f"path {principal.path!r} is used"))
        elif isinstance(path, str) and path != principal.path:
            # The path decides whether a role is service-linked (exempt from SCPs): trust the Path field.
            arn = f"arn:{principal.partition}:iam::{principal.account}:{kind.value}{path}{principal.name}"
            self.warnings.append(located(
                entry.file, entry.at(".Arn"), f"its path is not Path {path!r}; the ARN is taken to be {arn}"
            ))
            principal = Principal.parse(arn)
        if principal.account != self.info.account_id and self.scp_levels:
            problems.append(
                f"{entry.file}, at {entry.at('.Arn')}: belongs to account {principal.account}, not "
                f"{self.info.account_id}, so the SCPs loaded may not be its own"
            )
        boundary = self._boundary(entry, problems)
        subject = self._subject(principal, policies, boundary)
        problems.extend(self._scp_problems(subject))
        identity_id = entry.data.get(id_key)
        tags, created = self._tags(entry, problems), self._date(entry, "CreateDate")
        trust: NamedPolicy | None = None
        trust_problems: tuple[str, ...] = ()
        if kind is IdentityType.ROLE:  # read last: its warnings follow the role's own
            found = self._trust(name, entry)
            if isinstance(found, str):
                self.warnings.append(f"trust policy left out: {found}")
                trust_problems = (found,)
            else:
                trust = found
                if admits_session_tags(found.policy):
                    subject = replace(subject, session_tags=True)
        return Identity(
            kind, name, arn, identity_id if isinstance(identity_id, str) else None, principal.path, tags, groups,
            created, subject, tuple(dict.fromkeys(problems)), trust, trust_problems,
            managed_policy_arns=tuple(dict.fromkeys(
                self._managed_arns[id(named)] for named in policies if id(named) in self._managed_arns)),
        )

    def _boundary(self, entry: Entry, problems: list[str]) -> NamedPolicy | None:
        raw = entry.data.get("PermissionsBoundary")
        if raw is None:
            return None
        arn = raw.get("PermissionsBoundaryArn") if isinstance(raw, Mapping) else None
        if not isinstance(arn, str):
            problems.append(located(entry.file, entry.at(".PermissionsBoundary"), "needs PermissionsBoundaryArn"))
            return None
        found = self.managed(arn)
        if isinstance(found, str):
            problems.append(f"permissions boundary: {found}")
            return None
        if arn not in self._boundaries:
            # The same parsed policy, but explained as a boundary: a boundary grants nothing by itself.
            self._boundaries[arn] = self._keep(NamedPolicy(found.name, PolicyKind.BOUNDARY, found.policy))
        return self._boundaries[arn]

    def _subject(self, principal: Principal, policies: list[NamedPolicy], boundary: NamedPolicy | None) -> Subject:
        unique = tuple({id(named): named for named in policies}.values())
        return Subject(
            principal, unique, boundary, scp_levels=self.scp_levels, management_account=self.info.management_account,
            rcp_levels=self.rcp_levels, rcp_services=rcp_services() if self.rcp_levels else None,
        )

    def _scp_problems(self, subject: Subject) -> tuple[str, ...]:
        return (*(self.scp_problems if subject.scps_apply else ()),
                *(self.rcp_problems if subject.rcps_in_force else ()))

    def _tags(self, entry: Entry, problems: list[str]) -> Mapping[str, str]:
        tags: dict[str, str] = {}
        listed = self._list(entry, "Tags", problems)
        self._count(entry, ".Tags", "tags", len(listed), TAGS_PER_ENTITY)
        for where, tag in listed:
            if not (isinstance(tag, Mapping) and isinstance(tag.get("Key"), str) and isinstance(tag.get("Value"), str)):
                problems.append(located(entry.file, where, 'a tag must be {"Key": string, "Value": string}'))
                continue
            tags[tag["Key"]] = tag["Value"]
        return MappingProxyType(tags)

    def _count(self, entry: Entry, field: str, what: str, count: int, limit: int) -> None:
        """A located warning when a list holds more values than AWS allows."""
        over = over_count(what, count, limit)
        if over:
            self.warnings.append(located(entry.file, entry.at(field), over))

    def _date(self, entry: Entry, key: str) -> datetime | None:
        """An ISO 8601 date (``2023-03-09T10:41:45Z`` or ``2023-03-09 10:41:45+00:00``); UTC when no offset."""
        value = entry.data.get(key)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            where = entry.at(f".{key}")
            self.warnings.append(located(entry.file, where, f"{value!r} is not an ISO 8601 date; ignored"))
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _arn_accounts(details: Details) -> Counter[tuple[str, str]]:
    """(partition, account id) of each user and role ARN; of group and customer policy ARNs when there are none."""
    for keys in (("UserDetailList", "RoleDetailList"), ("GroupDetailList", "Policies")):
        found: Counter[tuple[str, str]] = Counter(
            (arn.partition, arn.account)
            for key in keys
            for entry in details.entries[key].values()
            if (arn := Arn.parse(entry.data["Arn"])) is not None and arn.in_an_account
        )
        if found:
            return found
    return Counter()


def _account_id(
    arns: Counter[tuple[str, str]], given: str | None, source: str, warnings: list[str], read: Sequence[str] = ()
) -> str:
    """The account id: as given, else the most common one in the ARNs (with a warning when they disagree)."""
    accounts: Counter[str] = Counter()
    for (_, account), count in arns.items():
        accounts[account] += count
    if given is None:
        if not accounts:
            skipped = next((w for w in read if "entry skipped" in w), None)
            why = f" (entries were skipped, e.g. {skipped})" if skipped else ""
            raise InputError(source, f"cannot tell the account id: no ARN names one; give it in {ACCOUNT_FILE}{why}")
        given = accounts.most_common(1)[0][0]
    others = ", ".join(f"{account} ({count})" for account, count in sorted(accounts.items()) if account != given)
    if others:
        warnings.append(
            f"the file mixes accounts: ARNs of {others} besides {given} ({accounts[given]}); "
            f"the account is taken to be {given}"
        )
    return given


def _inputs(path: str | Path | Sequence[str | Path]
            ) -> tuple[list[Path], Path | None, Path | None, Path | None, str]:
    """The detail files, account.json, scps.json and rcps.json (when present) of a folder, a file or files."""
    if not isinstance(path, (str, os.PathLike)):
        files = [Path(p) for p in path]
        return files, None, None, None, ", ".join(str(p) for p in files)
    root = Path(path)
    if root.is_file():
        return [root], None, None, None, str(root)
    if not root.is_dir():
        raise InputError(str(root), "no such file or folder")
    files = detail_files(root)
    if not files:
        raise InputError(str(root), f"no {DETAILS_FILE} (nor {DETAILS_FILE}.gz, nor pages of it) in this folder")
    present = [root / name if (root / name).is_file() else None for name in (ACCOUNT_FILE, SCPS_FILE, RCPS_FILE)]
    return files, present[0], present[1], present[2], str(root)


def _sorted_by_name(entries: Mapping[str, Entry]) -> list[tuple[str, Entry]]:
    return sorted(entries.items(), key=lambda item: (item[0].lower(), item[0]))


def load_account(
    path: str | Path | Sequence[str | Path], *, scps: str | Path | None = None, rcps: str | Path | None = None,
    management_account: bool | None = None,
) -> Account:
    """Load one account: a snapshot folder, a bare authorization-details file, or several page files of it.

    A folder may hold ``account.json``, ``scps.json`` and ``rcps.json``; ``scps``, ``rcps`` and
    ``management_account`` given here override them.
    """
    with no_collection():
        return _load(path, scps, rcps, management_account)


def _load(
    path: str | Path | Sequence[str | Path], scps: str | Path | None, rcps: str | Path | None,
    management_account: bool | None,
) -> Account:
    detail_files, account_file, folder_scps, folder_rcps, source = _inputs(path)
    details = read_details(detail_files)
    warnings: list[str] = []
    fields: dict[str, Any] = {}
    if account_file is not None:
        fields, notes = read_account_file(account_file)
        warnings.extend(notes)
    if management_account is not None:
        fields["management_account"] = management_account
    arns = _arn_accounts(details)
    fields["account_id"] = _account_id(arns, fields.get("account_id"), source, warnings, details.warnings)
    info = AccountInfo(**fields)
    partitions = Counter({p: n for (p, account), n in arns.items() if account == info.account_id})
    partition = partitions.most_common(1)[0][0] if partitions else "aws"

    parser = PolicyParser()
    scps_path = Path(scps) if scps is not None else folder_scps
    scp_data = read_scps(scps_path, parser) if scps_path is not None else None
    if scp_data is not None and scps_path is not None:
        warnings.extend(scp_data.warnings)
        warnings.extend(f"policy left out: {error}" for error in scp_data.errors)
        if scp_data.targets and scp_data.targets[-1] != info.account_id:
            warnings.append(
                f"{scps_path.name}: the last SCP level targets {scp_data.targets[-1]}, not the account "
                f"{info.account_id}; levels go from the organization root down to the account"
            )

    rcps_path = Path(rcps) if rcps is not None else folder_rcps
    rcp_data = read_scps(rcps_path, parser, PolicyKind.RCP) if rcps_path is not None else None
    if rcp_data is not None:
        warnings.extend(rcp_data.warnings)
        warnings.extend(f"policy left out: {error}" for error in rcp_data.errors)

    builder = _Builder(details, parser, info, partition, scp_data, rcp_data)
    identities = [builder.root()]
    by_arn: dict[str, Entry] = {}
    for kind, build in (("UserDetailList", builder.user), ("RoleDetailList", builder.role)):
        for name, entry in _sorted_by_name(details.entries[kind]):
            first = by_arn.setdefault(entry.data["Arn"], entry)
            if first is not entry:  # an ARN names one principal: results keyed by ARN need it unique
                warnings.append(located(entry.file, entry.path, f"the same ARN as {first.file}, {first.path} "
                                                                "(another name); this entry is skipped"))
                continue
            identities.append(build(name, entry))
    groups = tuple(
        Group(name, entry.data["Arn"], tuple(found[0]))
        for name, entry in _sorted_by_name(details.entries["GroupDetailList"])
        if (found := builder.group(name, keep=False)) is not None  # groups without members: policies not in use
    )
    org_policies = [named for levels in (builder.scp_levels, builder.rcp_levels) for level in levels for named in level]
    return Account(
        info, tuple(identities), builder.scp_levels, (*builder.policies.values(), *org_policies),
        (*warnings, *builder.warnings), source, builder.rcp_levels, groups,
    )

