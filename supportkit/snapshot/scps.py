"""scps.json and rcps.json: the SCP and RCP levels in force, from the organization root down to the account.

Both files have the same shape. An empty SCP level denies everything it governs (AWS keeps at least one
SCP attached); an empty RCP level is normal: AWS keeps RCPFullAWSAccess attached everywhere and it need not
be listed.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from supportkit.errors import InputError, PolicyError, json_type
from supportkit.iam.evaluate import NamedPolicy, PolicyKind
from supportkit.snapshot.jsonfile import join_path, located, read_json
from supportkit.snapshot.policies import (
    ORGANIZATION_POLICY_CHARACTERS, SCPS_PER_TARGET, PolicyParser, over_count, over_limit,
)


@dataclass(frozen=True)
class Scps:
    levels: tuple[tuple[NamedPolicy, ...], ...]
    targets: tuple[str, ...]
    errors: tuple[InputError, ...]  # the SCPs left out because they do not parse
    warnings: tuple[str, ...]


def read_scps(path: Path, parser: PolicyParser, kind: PolicyKind = PolicyKind.SCP) -> Scps:
    """The levels of an scps.json (or, with ``kind`` RCP, an rcps.json); bad policies go to ``errors``."""
    label = kind.value.upper()
    warnings: list[str] = []
    value = read_json(path, warnings)
    shape = 'expected {"levels": [{"target": ..., "policies": [...]}, ...]} from the organization root to the account'
    if not isinstance(value, Mapping):
        raise InputError(str(path), f"{shape}, not {json_type(value)}")
    raw_levels = value.get("levels")
    if not isinstance(raw_levels, list):
        raise InputError(str(path), f"missing or not a list: {shape}", json_path="levels")
    levels: list[tuple[NamedPolicy, ...]] = []
    targets: list[str] = []
    errors: list[InputError] = []
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
        if not raw_policies and kind is PolicyKind.SCP:
            warnings.append(located(
                path.name, f"{where}.policies", f"no SCP at {target}: AWS keeps at least one attached to every root, "
                "OU and account; with none, nothing is allowed at this level, so every request it governs is denied",
            ))
        too_many = kind is PolicyKind.SCP and over_count(f"SCPs attached to {target}", len(raw_policies),
                                                         SCPS_PER_TARGET)
        if too_many:
            warnings.append(located(path.name, f"{where}.policies", too_many))
        level: list[NamedPolicy] = []
        for j, raw_policy in enumerate(raw_policies):
            policy_path = f"{where}.policies[{j}]"
            name, content, content_path = _scp_fields(path, raw_policy, policy_path)
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            oversize = over_limit(f"{label} {name}", len(text), ORGANIZATION_POLICY_CHARACTERS)  # every character
            if oversize:
                warnings.append(located(path.name, content_path, oversize))
            try:
                policy = parser.parse(content, rcp=kind is PolicyKind.RCP)
            except PolicyError as error:
                message = f"{label} {name}: {error.message}"
                errors.append(InputError(path.name, message, json_path=join_path(content_path, error)))
                continue
            warnings.extend(parser.warnings(f"{path.name}, at {content_path} ({label} {name})", policy))
            level.append(NamedPolicy(name, kind, policy, level=i, target=target))
        levels.append(tuple(level))
        targets.append(target)
    return Scps(tuple(levels), tuple(targets), tuple(errors), tuple(warnings))


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
    scps = read_scps(Path(path), PolicyParser())
    if scps.errors:
        first = scps.errors[0]
        raise InputError(str(path), first.message, json_path=first.json_path)
    return scps.levels

