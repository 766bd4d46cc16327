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

import gzip
import json
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from supportkit.errors import InputError, PolicyError, SupportkitError, json_type
from supportkit.evaluate import NamedPolicy, Principal, PolicyKind, PrincipalError, PrincipalType, Subject
from supportkit.policy import Policy, decode_document, parse_policy, policy_from_value

DETAILS_FILE = "authorization-details.json"
ACCOUNT_FILE = "account.json"
SCPS_FILE = "scps.json"
ROLE_SESSION_NAME = "supportkit"
"""The session name roles are evaluated under: it appears in ``aws:userid`` as ``RoleId:supportkit``."""

_DETAILS_NAME = re.compile(r"^authorization-details.*\.json(?:\.gz)?$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):[a-z0-9-]*:[a-z0-9-]*:(?P<account>\d{12}):")
_LISTS = {"UserDetailList": "UserName", "GroupDetailList": "GroupName", "RoleDetailList": "RoleName", "Policies": "Arn"}
_KIND = {"UserDetailList": "user", "GroupDetailList": "group", "RoleDetailList": "role", "Policies": "managed policy"}
_PRINCIPAL_TYPES = {"UserDetailList": PrincipalType.USER, "RoleDetailList": PrincipalType.ASSUMED_ROLE}
_PAGING_KEYS = frozenset({"IsTruncated", "Marker", "ResponseMetadata"})
_ACCOUNT_KEYS = ("account_id", "name", "management_account", "support_plan", "notes")


class IdentityType(str, Enum):
    ROOT = "root"
    USER = "user"
    ROLE = "role"


class SupportPlan(str, Enum):
    BASIC = "basic"
    DEVELOPER = "developer"
    BUSINESS = "business"
    ENTERPRISE_ON_RAMP = "enterprise-on-ramp"
    ENTERPRISE = "enterprise"

    @property
    def provides_support_api(self) -> bool:
        """The AWS Support API (and the full Trusted Advisor checks) answers only Business support and up."""
        return self in (SupportPlan.BUSINESS, SupportPlan.ENTERPRISE_ON_RAMP, SupportPlan.ENTERPRISE)


class UnknownIdentityError(SupportkitError, LookupError):
    """A name or ARN that matches no identity of the account (or several)."""


@dataclass(frozen=True)
class Identity:
    """One principal of the account and what governs it. ``problems`` say why it may be incomplete."""

    type: IdentityType
    name: str
    arn: str
    id: str | None
    path: str
    tags: Mapping[str, str] = field(hash=False)
    groups: tuple[str, ...]
    created: datetime | None
    subject: Subject
    problems: tuple[str, ...] = ()

    @property
    def service_linked(self) -> bool:
        return self.subject.principal.service_linked

    @property
    def incomplete(self) -> bool:
        """Some policy that governs this identity could not be read: its decisions may be wrong."""
        return bool(self.problems)

    def context(self) -> dict[str, str]:
        """The condition keys AWS derives from this identity for each of its requests."""
        keys = self.subject.principal.derived_keys()
        if self.type is IdentityType.USER and self.id:
            keys["aws:userid"] = self.id
        elif self.type is IdentityType.ROLE and self.id:
            keys["aws:userid"] = f"{self.id}:{ROLE_SESSION_NAME}"
        for key, value in self.tags.items():
            keys[f"aws:PrincipalTag/{key}"] = value
        return keys


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    name: str | None = None
    management_account: bool = False
    support_plan: SupportPlan | None = None


@dataclass(frozen=True)
class Account:
    """A loaded snapshot: identities (root, then users, then roles, each by name) and their policies."""

    info: AccountInfo
    identities: tuple[Identity, ...]
    scp_levels: tuple[tuple[NamedPolicy, ...], ...]
    policies: tuple[NamedPolicy, ...]  # each identity policy and permissions boundary in use, once; then the SCPs
    warnings: tuple[str, ...]
    source: str

    def identity(self, key: str) -> Identity:
        """The identity with this ARN, ``user/NAME`` or ``role/NAME``, or name (``root`` for the root user)."""
        found = [i for i in self.identities if key in (i.arn, f"{i.type.value}/{i.name}")]
        if not found:
            found = [i for i in self.identities if i.name == key]
        if len(found) == 1:
            return found[0]
        if found:
            arns = ", ".join(i.arn for i in found)
            raise UnknownIdentityError(f"{key!r} names several identities ({arns}): give the ARN or TYPE/NAME")
        raise UnknownIdentityError(f"no identity {key!r} in {self.source}")


# Reading JSON files


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (gzip-compressed or not); InputError naming the file and line otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), error.strerror or str(error)) from None
    not_gzip = ""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(str(path), f"not a complete gzip file ({error})") from None
    elif path.suffix == ".gz":
        not_gzip = "; the name ends in .gz, but the file is not gzip-compressed"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(str(path), f"not UTF-8 text ({error.reason} at byte {error.start}){not_gzip}") from None
    if not text.strip():
        raise InputError(str(path), "the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        hint = "; the file ends before the JSON does (truncated?)" if error.pos >= len(text.rstrip()) else ""
        raise InputError(
            str(path), f"not valid JSON: {error.msg} at column {error.colno}{hint}{not_gzip}", line=error.lineno
        ) from None
    except RecursionError:
        raise InputError(str(path), "not readable: the JSON is nested too deeply") from None
    except ValueError as error:  # valid JSON past Python's limits: an integer of thousands of digits
        raise InputError(str(path), f"not readable: {str(error).split(':')[0]}") from None


def _located(file: str, json_path: str, message: str) -> str:
    """A problem as users read it: ``file, at JSON.path: message``."""
    return str(InputError(file, message, json_path=json_path))


def _join(base: str, error: PolicyError) -> str:
    return f"{base}.{error.path}" if error.path else base


# Authorization details: pages merged, each entry remembering where it was read


@dataclass(frozen=True)
class _Entry:
    """One element of a detail list and where it came from, so that messages can name it."""

    data: Mapping[str, Any]
    file: str
    path: str

    def at(self, suffix: str = "") -> str:
        return f"{self.path}{suffix}"


@dataclass
class _Details:
    """Merged pages: entries by list and name; of duplicates that differ, the first seen wins (with a warning)."""

    entries: dict[str, dict[str, _Entry]] = field(default_factory=lambda: {key: {} for key in _LISTS})
    warnings: list[str] = field(default_factory=list)

    def add_file(self, path: Path) -> None:
        value = read_json(path)
        expected = ", ".join(_LISTS)
        if not isinstance(value, Mapping):
            raise InputError(
                str(path), f"expected the object that aws iam get-account-authorization-details prints ({expected}), "
                f"not {json_type(value)}",
            )
        if not any(key in value for key in _LISTS):
            raise InputError(
                str(path), f"none of {expected}: not the output of aws iam get-account-authorization-details"
            )
        for key in value:
            if key not in _LISTS and key not in _PAGING_KEYS:
                self.warnings.append(_located(path.name, key, "unknown key, ignored"))
        for key, name_key in _LISTS.items():
            items = value.get(key, [])
            if not isinstance(items, list):
                raise InputError(str(path), f"must be a list, not {json_type(items)}", json_path=key)
            for index, item in enumerate(items):
                where = f"{key}[{index}]"
                if not isinstance(item, Mapping):
                    raise InputError(str(path), f"must be an object, not {json_type(item)}", json_path=where)
                for required in (name_key, "Arn"):
                    if not isinstance(item.get(required), str) or not item[required]:
                        raise InputError(str(path), "missing or not a string", json_path=f"{where}.{required}")
                if key in _PRINCIPAL_TYPES:
                    _check_principal_arn(path, item["Arn"], _PRINCIPAL_TYPES[key], f"{where}.Arn")
                self._add(key, item[name_key], _Entry(item, path.name, where))

    def _add(self, key: str, name: str, entry: _Entry) -> None:
        first = self.entries[key].setdefault(name, entry)
        if first is entry or first.data == entry.data:
            return
        self.warnings.append(
            f"{entry.file}, at {entry.path}: {_KIND[key]} {name} also at {first.file}, {first.path}, "
            "with different content; the first is used"
        )

    def raw(self) -> dict[str, list[Any]]:
        return {key: [dict(entry.data) for entry in entries.values()] for key, entries in self.entries.items()}


def _check_principal_arn(path: Path, arn: str, expected: PrincipalType, where: str) -> None:
    try:
        principal = Principal.parse(arn)
    except PrincipalError as error:
        raise InputError(str(path), str(error), json_path=where) from None
    if principal.type is not expected or principal.session_name is not None:
        kind = "user" if expected is PrincipalType.USER else "role"
        raise InputError(str(path), f"{arn!r} is not an IAM {kind} ARN", json_path=where)


def _read_details(paths: Sequence[Path]) -> _Details:
    if not paths:
        raise InputError("authorization details", "no file given")
    details = _Details()
    for path in paths:
        details.add_file(path)
    return details


def load_authorization_details(paths: Sequence[str | Path]) -> dict[str, list[Any]]:
    """The merged JSON of one account's get-account-authorization-details pages.

    Entries are merged by name (policies by ARN); of duplicates with different content the first is
    kept (:func:`load_account` warns about them).
    """
    return _read_details([Path(path) for path in paths]).raw()


def _natural_key(path: Path) -> tuple:
    """Sort page-2 before page-10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def _detail_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and _DETAILS_NAME.match(p.name)), key=_natural_key)


def find_snapshots(path: str | Path) -> list[Path]:
    """The snapshots at ``path``: a bare file or a snapshot folder is one; a folder of snapshot folders, each."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(str(path), "no such file or folder")
    if _detail_files(path):
        return [path]
    found = sorted((child for child in path.iterdir() if child.is_dir() and _detail_files(child)), key=_natural_key)
    if not found:
        raise InputError(str(path), f"no {DETAILS_FILE} here nor in any subfolder")
    return found


# Policies: each distinct document parsed once


class _PolicyParser:
    """Parses each distinct document once, so identical documents share one Policy (and its caches)."""

    def __init__(self) -> None:
        self._parsed: dict[str, Policy] = {}

    def parse(self, document: Any) -> Policy:
        value = decode_document(document)
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        policy = self._parsed.get(key)
        if policy is None:
            policy = self._parsed[key] = policy_from_value(value)
        return policy


def _policy_warnings(where: str, policy: Policy) -> list[str]:
    return [f"{where}: {warning}" for warning in policy.warnings]


# SCPs


@dataclass(frozen=True)
class _Scps:
    levels: tuple[tuple[NamedPolicy, ...], ...]
    targets: tuple[str, ...]
    errors: tuple[InputError, ...]  # the SCPs left out because they do not parse
    warnings: tuple[str, ...]


def _read_scps(path: Path, parser: _PolicyParser) -> _Scps:
    value = read_json(path)
    shape = 'expected {"levels": [{"target": ..., "policies": [...]}, ...]} from the organization root to the account'
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"{shape}, not {json_type(value)}")
    raw_levels = value.get("levels")
    if not isinstance(raw_levels, list):
        raise InputError(str(path), f"missing or not a list: {shape}", json_path="levels")
    levels: list[tuple[NamedPolicy, ...]] = []
    targets: list[str] = []
    errors: list[InputError] = []
    warnings: list[str] = []
    for i, raw_level in enumerate(raw_levels):
        where = f"levels[{i}]"
        if not isinstance(raw_level, Mapping):
            raise InputError(str(path), f"must be an object, not {json_type(raw_level)}", json_path=where)
        target = raw_level.get("target")
        if not isinstance(target, str) or not target:
            raise InputError(str(path), "missing or not a string", json_path=f"{where}.target")
        raw_policies = raw_level.get("policies")
        if not isinstance(raw_policies, list):
            raise InputError(str(path), "missing or not a list", json_path=f"{where}.policies")
        if not raw_policies:
            warnings.append(_located(
                path.name, f"{where}.policies", f"no SCP at {target}: AWS keeps at least one attached to every root, "
                "OU and account; with none, nothing is allowed at this level, so every request it governs is denied",
            ))
        level: list[NamedPolicy] = []
        for j, raw_policy in enumerate(raw_policies):
            policy_path = f"{where}.policies[{j}]"
            name, content, content_path = _scp_fields(path, raw_policy, policy_path)
            try:
                policy = parser.parse(content)
            except PolicyError as error:
                message = f"SCP {name}: {error.message}"
                errors.append(InputError(path.name, message, json_path=_join(content_path, error)))
                continue
            warnings.extend(_policy_warnings(f"{path.name}, at {content_path} (SCP {name})", policy))
            level.append(NamedPolicy(name, PolicyKind.SCP, policy, level=i, target=target))
        levels.append(tuple(level))
        targets.append(target)
    return _Scps(tuple(levels), tuple(targets), tuple(errors), tuple(warnings))


def _scp_fields(path: Path, raw: Any, where: str) -> tuple[str, Any, str]:
    """Name, content and content JSON path of one SCP, as {"Name", "Content"} or as describe-policy prints it."""
    if not isinstance(raw, Mapping):
        raise InputError(str(path), f"must be an object, not {json_type(raw)}", json_path=where)
    names: Mapping[str, Any] = raw
    if "Policy" in raw:
        inner = raw["Policy"]
        where = f"{where}.Policy"
        if not isinstance(inner, Mapping):
            raise InputError(str(path), f"must be an object, not {json_type(inner)}", json_path=where)
        raw = inner
        summary = inner.get("PolicySummary")
        names = summary if isinstance(summary, Mapping) else {}
    if "Content" not in raw:
        raise InputError(
            str(path), 'missing Content (give {"Name": ..., "Content": ...} or describe-policy output)',
            json_path=f"{where}.Content",
        )
    name = next((names[key] for key in ("Name", "Id", "Arn") if isinstance(names.get(key), str)), where)
    return name, raw["Content"], f"{where}.Content"


def load_scps(path: str | Path) -> tuple[tuple[NamedPolicy, ...], ...]:
    """The SCP levels of ``scps.json``, from the organization root down to the account.

    Strict: an SCP that does not parse raises InputError (:func:`load_account` instead marks the
    identities it governs incomplete).
    """
    scps = _read_scps(Path(path), _PolicyParser())
    if scps.errors:
        first = scps.errors[0]
        raise InputError(str(path), first.message, json_path=first.json_path)
    return scps.levels


# account.json


def _read_account_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The validated fields of ``account.json`` and its notes (e.g. why SCPs could not be fetched)."""
    value = read_json(path)
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"expected an object with {', '.join(_ACCOUNT_KEYS)}, not {json_type(value)}")
    fields: dict[str, Any] = {}
    account_id = value.get("account_id")
    if account_id is not None:
        if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
            raise InputError(
                str(path), f"must be 12 digits as a string (leading zeros matter), not {account_id!r}",
                json_path="account_id",
            )
        fields["account_id"] = account_id
    name = value.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise InputError(str(path), f"must be a string, not {json_type(name)}", json_path="name")
        fields["name"] = name
    management = value.get("management_account")
    if management is not None:
        if not isinstance(management, bool):
            raise InputError(str(path), f"must be true or false, not {management!r}", json_path="management_account")
        fields["management_account"] = management
    plan = value.get("support_plan")
    if plan is not None:
        try:
            fields["support_plan"] = SupportPlan(str(plan).strip().lower().replace("_", "-"))
        except ValueError:
            choices = ", ".join(p.value for p in SupportPlan)
            raise InputError(str(path), f"must be one of {choices}, not {plan!r}", json_path="support_plan") from None
    notes = value.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise InputError(str(path), "must be a list of strings", json_path="notes")
    return fields, [f"{path.name}: {note}" for note in notes]


# Building the account


class _Builder:
    """Turns merged authorization details into identities, sharing one NamedPolicy per distinct policy."""

    def __init__(
        self, details: _Details, parser: _PolicyParser, info: AccountInfo, partition: str, scps: _Scps | None
    ) -> None:
        self.details = details
        self.parser = parser
        self.info = info
        self.partition = partition
        self.scp_levels = scps.levels if scps else ()
        self.scp_problems = tuple(str(error) for error in scps.errors) if scps else ()
        self.warnings: list[str] = list(details.warnings)
        self.policies: dict[int, NamedPolicy] = {}  # every NamedPolicy attached to someone, in first-use order
        self._managed: dict[str, NamedPolicy | str] = {}
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
            return _located(file, _join(where, error), error.message)
        self.warnings.extend(_policy_warnings(f"{file}, at {where} ({name})", policy))
        return NamedPolicy(name, PolicyKind.IDENTITY, policy)  # kept in ``policies`` once attached

    def managed(self, arn: str) -> NamedPolicy | str:
        """The managed policy ``arn`` at its default version: from the file, else the bundled AWS snapshot."""
        found = self._managed.get(arn)
        if found is None:
            found = self._load_managed(arn)
            self._managed[arn] = found
            if isinstance(found, str):
                self.warnings.append(f"policy left out: {found}")
        return found

    def _load_managed(self, arn: str) -> NamedPolicy | str:
        entry = self.details.entries["Policies"].get(arn)
        if entry is None:
            from supportkit.managed import aws_managed_policy

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
        return self._parse(name, document, entry.file, where)

    def _default_version(self, entry: _Entry, name: str) -> tuple[Any, str] | str:
        """The default version's document and JSON path; IsDefaultVersion decides, DefaultVersionId cross-checks."""
        versions = entry.data.get("PolicyVersionList")
        if not isinstance(versions, list):
            return _located(entry.file, entry.at(".PolicyVersionList"), "missing or not a list")
        default_id = entry.data.get("DefaultVersionId")
        usable = [(i, v) for i, v in enumerate(versions) if isinstance(v, Mapping)]
        flagged = [(i, v) for i, v in usable if v.get("IsDefaultVersion") is True]
        by_id = [(i, v) for i, v in usable if default_id is not None and v.get("VersionId") == default_id]
        if len(flagged) == 1:
            index, version = flagged[0]
            if default_id is not None and version.get("VersionId") != default_id:
                self.warnings.append(_located(
                    entry.file, entry.at(f".PolicyVersionList[{index}]"),
                    f"{name}: the version marked default is {version.get('VersionId')!r} but DefaultVersionId is "
                    f"{default_id!r}; used the one marked default",
                ))
        elif by_id:
            index, version = by_id[0]
            self.warnings.append(_located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: {len(flagged)} versions are marked IsDefaultVersion; used DefaultVersionId {default_id!r}",
            ))
        elif flagged:
            index, version = flagged[0]
            self.warnings.append(_located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: {len(flagged)} versions are marked IsDefaultVersion; used the first",
            ))
        else:
            return _located(
                entry.file, entry.at(".PolicyVersionList"),
                f"{name}: no version is marked IsDefaultVersion nor has DefaultVersionId {default_id!r}",
            )
        where = entry.at(f".PolicyVersionList[{index}].Document")
        if "Document" not in version:
            return _located(entry.file, where, "missing")
        return version["Document"], where

    def _list(self, entry: _Entry, key: str, problems: list[str]) -> list[tuple[str, Any]]:
        """The elements of an optional list field with their JSON paths; a non-list is a problem."""
        value = entry.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            problems.append(_located(entry.file, entry.at(f".{key}"), f"must be a list, not {json_type(value)}"))
            return []
        return [(entry.at(f".{key}[{i}]"), item) for i, item in enumerate(value)]

    def _attachments(self, entry: _Entry, owner: str, inline_key: str) -> tuple[list[NamedPolicy], list[str]]:
        """The inline then the attached managed policies of a user, group or role, and the problems met."""
        policies: list[NamedPolicy] = []
        problems: list[str] = []

        def add(found: NamedPolicy | str) -> None:
            if isinstance(found, str):
                problems.append(found)
            else:
                policies.append(self._keep(found))

        for where, item in self._list(entry, inline_key, problems):
            name = item.get("PolicyName") if isinstance(item, Mapping) else None
            if not isinstance(name, str) or "PolicyDocument" not in item:
                problems.append(_located(entry.file, where, "an inline policy needs PolicyName and PolicyDocument"))
                continue
            inline = self._parse(
                f"{owner}: {name} (inline)", item["PolicyDocument"], entry.file, f"{where}.PolicyDocument"
            )
            if isinstance(inline, str):
                self.warnings.append(f"policy left out: {inline}")
            add(inline)
        for where, item in self._list(entry, "AttachedManagedPolicies", problems):
            arn = item.get("PolicyArn") if isinstance(item, Mapping) else None
            if not isinstance(arn, str):
                problems.append(_located(entry.file, where, "an attached policy needs PolicyArn"))
                continue
            add(self.managed(arn))
        return policies, problems

    def group(self, name: str) -> tuple[list[NamedPolicy], list[str]] | None:
        entry = self.details.entries["GroupDetailList"].get(name)
        if entry is None:
            return None
        if name not in self._groups:
            self._groups[name] = self._attachments(entry, f"group/{name}", "GroupPolicyList")
        return self._groups[name]

    def root(self) -> Identity:
        arn = f"arn:{self.partition}:iam::{self.info.account_id}:root"
        subject = self._subject(Principal.parse(arn), [], None)
        return Identity(
            IdentityType.ROOT, "root", arn, self.info.account_id, "/", MappingProxyType({}), (), None, subject,
            self._scp_problems(subject),
        )

    def user(self, name: str, entry: _Entry) -> Identity:
        policies, problems = self._attachments(entry, f"user/{name}", "UserPolicyList")
        groups: list[str] = []
        for where, group_name in self._list(entry, "GroupList", problems):
            if not isinstance(group_name, str):
                problems.append(_located(entry.file, where, f"must be a group name, not {json_type(group_name)}"))
                continue
            groups.append(group_name)
            group = self.group(group_name)
            if group is None:
                message = _located(
                    entry.file, where, f"group {group_name} is not in GroupDetailList: its policies are unknown"
                )
                self.warnings.append(message)
                problems.append(message)
                continue
            policies.extend(group[0])
            problems.extend(group[1])
        return self._identity(IdentityType.USER, name, entry, "UserId", policies, problems, tuple(groups))

    def role(self, name: str, entry: _Entry) -> Identity:
        policies, problems = self._attachments(entry, f"role/{name}", "RolePolicyList")
        return self._identity(IdentityType.ROLE, name, entry, "RoleId", policies, problems, ())

    def _identity(
        self, kind: IdentityType, name: str, entry: _Entry, id_key: str, policies: list[NamedPolicy],
        problems: list[str], groups: tuple[str, ...],
    ) -> Identity:
        arn = entry.data["Arn"]
        principal = Principal.parse(arn)  # checked when the file was read
        path = entry.data.get("Path")
        if isinstance(path, str) and path.startswith("/") and path.endswith("/") and path != principal.path:
            # The path decides whether a role is service-linked (exempt from SCPs): trust the Path field.
            arn = f"arn:{principal.partition}:iam::{principal.account}:{kind.value}{path}{principal.name}"
            self.warnings.append(_located(
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
        return Identity(
            kind, name, arn, identity_id if isinstance(identity_id, str) else None,
            principal.path, self._tags(entry, problems), groups,
            self._date(entry, "CreateDate"), subject, tuple(dict.fromkeys(problems)),
        )

    def _boundary(self, entry: _Entry, problems: list[str]) -> NamedPolicy | None:
        raw = entry.data.get("PermissionsBoundary")
        if raw is None:
            return None
        arn = raw.get("PermissionsBoundaryArn") if isinstance(raw, Mapping) else None
        if not isinstance(arn, str):
            problems.append(_located(entry.file, entry.at(".PermissionsBoundary"), "needs PermissionsBoundaryArn"))
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
            principal, unique, boundary, scp_levels=self.scp_levels, management_account=self.info.management_account
        )

    def _scp_problems(self, subject: Subject) -> tuple[str, ...]:
        return self.scp_problems if subject.scps_apply else ()

    def _tags(self, entry: _Entry, problems: list[str]) -> Mapping[str, str]:
        tags: dict[str, str] = {}
        for where, tag in self._list(entry, "Tags", problems):
            if not (isinstance(tag, Mapping) and isinstance(tag.get("Key"), str) and isinstance(tag.get("Value"), str)):
                problems.append(_located(entry.file, where, 'a tag must be {"Key": string, "Value": string}'))
                continue
            tags[tag["Key"]] = tag["Value"]
        return MappingProxyType(tags)

    def _date(self, entry: _Entry, key: str) -> datetime | None:
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
            self.warnings.append(_located(entry.file, where, f"{value!r} is not an ISO 8601 date; ignored"))
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _arn_accounts(details: _Details) -> Counter[tuple[str, str]]:
    """(partition, account id) of each user and role ARN; of group and customer policy ARNs when there are none."""
    for keys in (("UserDetailList", "RoleDetailList"), ("GroupDetailList", "Policies")):
        found: Counter[tuple[str, str]] = Counter(
            (match["partition"], match["account"])
            for key in keys
            for entry in details.entries[key].values()
            if (match := _ARN.match(entry.data["Arn"]))
        )
        if found:
            return found
    return Counter()


def _account_id(arns: Counter[tuple[str, str]], given: str | None, source: str, warnings: list[str]) -> str:
    """The account id: as given, else the most common one in the ARNs (with a warning when they disagree)."""
    accounts: Counter[str] = Counter()
    for (_, account), count in arns.items():
        accounts[account] += count
    if given is None:
        if not accounts:
            raise InputError(source, f"cannot tell the account id: no ARN names one; give it in {ACCOUNT_FILE}")
        given = accounts.most_common(1)[0][0]
    others = ", ".join(f"{account} ({count})" for account, count in sorted(accounts.items()) if account != given)
    if others:
        warnings.append(
            f"the file mixes accounts: ARNs of {others} besides {given} ({accounts[given]}); "
            f"the account is taken to be {given}"
        )
    return given


def _inputs(path: str | Path | Sequence[str | Path]) -> tuple[list[Path], Path | None, Path | None, str]:
    """The detail files, account.json and scps.json (when present) of a folder, a file or a list of files."""
    if not isinstance(path, (str, os.PathLike)):
        files = [Path(p) for p in path]
        return files, None, None, ", ".join(str(p) for p in files)
    root = Path(path)
    if root.is_file():
        return [root], None, None, str(root)
    if not root.is_dir():
        raise InputError(str(root), "no such file or folder")
    files = _detail_files(root)
    if not files:
        raise InputError(str(root), f"no {DETAILS_FILE} (nor {DETAILS_FILE}.gz, nor pages of it) in this folder")
    present = [root / name if (root / name).is_file() else None for name in (ACCOUNT_FILE, SCPS_FILE)]
    return files, present[0], present[1], str(root)


def _sorted_by_name(entries: Mapping[str, _Entry]) -> list[tuple[str, _Entry]]:
    return sorted(entries.items(), key=lambda item: (item[0].lower(), item[0]))


def load_account(
    path: str | Path | Sequence[str | Path], *, scps: str | Path | None = None, management_account: bool | None = None
) -> Account:
    """Load one account: a snapshot folder, a bare authorization-details file, or several page files of it.

    A folder may hold ``account.json`` and ``scps.json``; ``scps`` and ``management_account`` given
    here override them.
    """
    detail_files, account_file, folder_scps, source = _inputs(path)
    details = _read_details(detail_files)
    warnings: list[str] = []
    fields: dict[str, Any] = {}
    if account_file is not None:
        fields, notes = _read_account_file(account_file)
        warnings.extend(notes)
    if management_account is not None:
        fields["management_account"] = management_account
    arns = _arn_accounts(details)
    fields["account_id"] = _account_id(arns, fields.get("account_id"), source, warnings)
    info = AccountInfo(**fields)
    partitions = Counter({p: n for (p, account), n in arns.items() if account == info.account_id})
    partition = partitions.most_common(1)[0][0] if partitions else "aws"

    parser = _PolicyParser()
    scps_path = Path(scps) if scps is not None else folder_scps
    scp_data = _read_scps(scps_path, parser) if scps_path is not None else None
    if scp_data is not None and scps_path is not None:
        warnings.extend(scp_data.warnings)
        warnings.extend(f"policy left out: {error}" for error in scp_data.errors)
        if scp_data.targets and scp_data.targets[-1] != info.account_id:
            warnings.append(
                f"{scps_path.name}: the last SCP level targets {scp_data.targets[-1]}, not the account "
                f"{info.account_id}; levels go from the organization root down to the account"
            )

    builder = _Builder(details, parser, info, partition, scp_data)
    identities = [builder.root()]
    identities.extend(builder.user(name, entry) for name, entry in _sorted_by_name(details.entries["UserDetailList"]))
    identities.extend(builder.role(name, entry) for name, entry in _sorted_by_name(details.entries["RoleDetailList"]))
    scp_policies = [named for level in builder.scp_levels for named in level]
    return Account(
        info, tuple(identities), builder.scp_levels, (*builder.policies.values(), *scp_policies),
        (*warnings, *builder.warnings), source,
    )


# What-if: the account as if a policy were detached or edited


class UnknownPolicyError(SupportkitError, LookupError):
    """A what-if names a policy that no identity of the account uses."""


def detach_policy(account: Account, policy_name: str, identity: str | None = None) -> Account:
    """The account as if the identity policy ``policy_name`` were detached from ``identity`` (from everyone when None).

    ``identity`` is anything :meth:`Account.identity` accepts. A policy that reaches a user through a
    group is removed from that user only, not from the group's other members.
    """
    wanted = account.identity(identity).arn if identity is not None else None
    changed = False
    identities = []
    for current in account.identities:
        policies = current.subject.identity_policies
        kept = tuple(named for named in policies if named.name != policy_name)
        if wanted in (None, current.arn) and len(kept) != len(policies):
            current = replace(current, subject=replace(current.subject, identity_policies=kept))
            changed = True
        identities.append(current)
    if not changed:
        raise UnknownPolicyError(f"no identity policy {policy_name!r} is attached to {identity or 'any identity'}")
    used = {id(named) for current in identities for named in current.subject.identity_policies}
    policies = tuple(
        named for named in account.policies if named.kind is not PolicyKind.IDENTITY or id(named) in used
    )
    return replace(account, identities=tuple(identities), policies=policies)


def replace_policy(account: Account, policy_name: str, document: Any) -> Account:
    """The account as if the identity policy or permissions boundary ``policy_name`` had ``document`` instead.

    ``document`` is what :func:`parse_policy` takes; think of it as a new default version. Every identity
    that attaches the policy sees the change; SCPs are left alone.
    """
    parsed = parse_policy(document)
    swapped: dict[int, NamedPolicy] = {}

    def swap(named: NamedPolicy | None) -> NamedPolicy | None:
        if named is None or named.name != policy_name or named.kind is PolicyKind.SCP:
            return named
        if id(named) not in swapped:
            swapped[id(named)] = NamedPolicy(named.name, named.kind, parsed, named.level, named.target)
        return swapped[id(named)]

    identities = tuple(
        replace(current, subject=replace(
            current.subject,
            identity_policies=tuple(swap(named) for named in current.subject.identity_policies),
            permissions_boundary=swap(current.subject.permissions_boundary),
        ))
        for current in account.identities
    )
    if not swapped:
        raise UnknownPolicyError(f"no identity policy or permissions boundary named {policy_name!r} is in use")
    policies = tuple(swapped.get(id(named), named) for named in account.policies)
    return replace(account, identities=identities, policies=policies)
