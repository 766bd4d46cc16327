"""The request/result protocol of ``supportkit simulate``: one JSON request in, one JSON result out.

Other tools drive this shape, so it is fixed (see the README). Each distinct policy document is
parsed once per :class:`Simulator` (by its :class:`~supportkit.iam.policy.PolicyCache`, the loader's too), so
a stream of requests sharing policies costs one parse each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import NoneType
from typing import Any, Iterable, Iterator, Mapping

from supportkit.iam.context import EMPTY_CONTEXT, ContextError, RequestContext
from supportkit.errors import PolicyError, SupportkitError
from supportkit.iam.evaluate import NamedPolicy, Principal, PolicyKind, Subject, evaluate, not_restricted_by_scps
from supportkit.iam.jsonobject import BoundedCache, cache_key, decode_json
from supportkit.iam.lint import Known, Linter
from supportkit.iam.policy import PolicyCache, json_limit

_REQUEST_FIELDS = frozenset(
    {"id", "principal", "action", "resource", "context", "identity_policies", "permissions_boundary",
     "session_policy", "scps", "rcps", "management_account"}
)


_PLAIN_IDS = frozenset({str, int, bool, NoneType})
"""Request id types always written back as they came (json.loads reads only integers it can write)."""

_UNDECODED = re.compile("[\udc80-\udcff]")
"""The characters ``surrogateescape`` decodes an invalid UTF-8 byte to."""


def _placed(field: str, warnings: tuple[str, ...]) -> tuple[str, ...]:
    """``warnings`` prefixed with the field they were found at (most policies have none)."""
    return tuple(f"{field}: {warning}" for warning in warnings) if warnings else ()


class RequestError(SupportkitError, ValueError):
    """A malformed simulate request; the message names the field."""


@dataclass(frozen=True)
class Request:
    """One parsed simulate request."""

    subject: Subject
    action: str
    resource: str
    context: RequestContext

    @property
    def policies(self) -> tuple[NamedPolicy, ...]:
        """Every policy of the request, in request order."""
        subject = self.subject
        policies = [*subject.identity_policies]
        if subject.permissions_boundary is not None:
            policies.append(subject.permissions_boundary)
        if subject.session_policy is not None:
            policies.append(subject.session_policy)
        for levels in (subject.scp_levels, subject.rcp_levels):
            for level in levels:
                policies.extend(level)
        return tuple(policies)


class Simulator:
    """Turns request objects into results, compiling each distinct policy document once.

    ``rcp_services``: the lower-cased service prefixes RCPs apply to (AWS's list, which the caller passes as
    data, e.g. :func:`supportkit.support.rcps.rcp_services`); None applies a request's RCPs to every action.
    ``scp_exempt``: lower-cased actions SCPs cannot restrict for the root user, with the reason (see
    :func:`~supportkit.iam.evaluate.not_restricted_by_scps`); a result they deny through SCPs only gets it in
    ``not_restricted_by_scps``. ``policies``: the cache of parsed documents (a new one when None).
    """

    def __init__(self, rcp_services: frozenset[str] | None = None, scp_exempt: Mapping[str, str] | None = None,
                 known_actions: Known | None = None, policies: PolicyCache | None = None) -> None:
        self.rcp_services = rcp_services
        self.scp_exempt = scp_exempt or {}
        # the lint warnings (see supportkit.iam.lint); None: no lint
        self._linter = Linter(known_actions) if known_actions is not None else None
        self.policies = policies if policies is not None else PolicyCache()
        self._named: dict[tuple[str, int], NamedPolicy] = {}
        # each placed policy's warnings, then its lint warnings, prefixed with its place in the request; only for
        # the policies that have some (most have none)
        self._notes: dict[NamedPolicy, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # per principal, context and SCP/RCP levels: bounded, as a stream may bring a new one with each request
        self._principals: BoundedCache[str, Principal] = BoundedCache()
        self._contexts: BoundedCache[bytes | str, RequestContext] = BoundedCache()
        self._levels_known: BoundedCache[tuple[str, bytes | str], tuple[tuple[NamedPolicy, ...], ...]] = BoundedCache()

    def policy(self, document: Any, field: str, kind: PolicyKind, level: int | None = None) -> NamedPolicy:
        """The policy at ``field``: a document is parsed once, and wrapped once for each place it takes."""
        try:
            policy = self.policies.parse(document, rcp=kind is PolicyKind.RCP)
        except PolicyError as error:
            raise RequestError(str(error.located(field))) from None
        key = (field, id(policy))  # the cache keeps the policy alive, so its id stays its own
        named = self._named.get(key)
        if named is None:
            named = self._named[key] = NamedPolicy(field, kind, policy, level)
            lint = self._linter.lint(policy) if self._linter is not None else ()
            if policy.warnings or lint:
                self._notes[named] = (_placed(field, policy.warnings), _placed(field, lint))
        return named

    def parse(self, raw: Any) -> Request:
        """Validate a request object; raises RequestError naming the offending field."""
        if not isinstance(raw, dict):
            raise RequestError(f"a request must be a JSON object, not {type(raw).__name__}")
        if not _REQUEST_FIELDS.issuperset(raw):
            unknown = sorted(map(str, set(raw) - _REQUEST_FIELDS))
            raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))}")
        for required in ("principal", "action"):
            if required not in raw:
                raise RequestError(f"missing field {required!r}")
        principal = self._principal(raw["principal"])
        action = raw["action"]
        if not isinstance(action, str) or ":" not in action:
            raise RequestError(f"action: {action!r} is not of the form service:Action")
        resource = raw.get("resource", "*")
        if not isinstance(resource, str) or not resource:
            raise RequestError("resource: must be a non-empty string")
        context = self._context(raw.get("context"))
        identity = self._policies_of(raw.get("identity_policies", []), "identity_policies", PolicyKind.IDENTITY)
        boundary = self._single(raw, "permissions_boundary", PolicyKind.BOUNDARY)
        session = self._single(raw, "session_policy", PolicyKind.SESSION)
        scp_levels = self._levels(raw, "scps", PolicyKind.SCP)
        rcp_levels = self._levels(raw, "rcps", PolicyKind.RCP)
        management = raw.get("management_account", False)
        if not isinstance(management, bool):
            raise RequestError("management_account: must be true or false")
        subject = Subject(principal, identity, boundary, session, scp_levels, management, rcp_levels,
                          self.rcp_services)
        return Request(subject, action, resource, context)

    def _context(self, values: Any) -> RequestContext:
        """The request's context; equal ones are built once (streams repeat a few contexts)."""
        if not values:
            return EMPTY_CONTEXT
        key = cache_key(values) if type(values) is dict else None
        context = self._contexts.get(key) if key is not None else None
        if context is None:
            try:
                context = RequestContext.of(values)
            except ContextError as error:
                raise RequestError(f"context: {error}") from None
            if key is not None:
                self._contexts.put(key, context)
        return context

    def _levels(self, raw: Mapping[str, Any], field: str, kind: PolicyKind) -> tuple[tuple[NamedPolicy, ...], ...]:
        """``scps`` or ``rcps``: levels from the organization root to the account, each a list of documents.

        Requests of one organization repeat the same levels: equal ones are looked up once, by their
        :func:`~supportkit.iam.jsonobject.value_key` (as :class:`~supportkit.iam.policy.PolicyCache` knows documents).
        """
        levels = raw.get(field, [])
        if levels == []:
            return ()
        if not isinstance(levels, list) or not all(isinstance(level, list) for level in levels):
            raise RequestError(f"{field}: must be a list of levels, each a list of policy documents")
        found_key = cache_key(levels)
        key = (field, found_key) if found_key is not None else None
        found = self._levels_known.get(key) if key is not None else None
        if found is None:
            found = tuple(self._policies_of(level, f"{field}[{i}]", kind, level=i) for i, level in enumerate(levels))
            if key is not None:
                self._levels_known.put(key, found)
        return found

    def _principal(self, arn: Any) -> Principal:
        principal = self._principals.get(arn) if isinstance(arn, str) else None
        if principal is None:
            try:
                principal = Principal.parse(arn)
            except SupportkitError as error:
                raise RequestError(f"principal: {error}") from None
            self._principals.put(arn, principal)
        return principal

    def _policies_of(self, documents: Any, field: str, kind: PolicyKind, level: int | None = None) -> tuple[NamedPolicy, ...]:
        if not isinstance(documents, list):
            raise RequestError(f"{field}: must be a list of policy documents")
        if not documents:
            return ()
        return tuple(self.policy(document, f"{field}[{i}]", kind, level) for i, document in enumerate(documents))

    def _single(self, raw: Mapping[str, Any], field: str, kind: PolicyKind) -> NamedPolicy | None:
        if raw.get(field) is None:
            return None
        return self.policy(raw[field], field, kind)

    def respond(self, raw: Any) -> dict[str, Any]:
        """The result line for one request object: the decision, or an ``error`` naming the problem."""
        request_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            if type(request_id) not in _PLAIN_IDS:
                json.dumps(request_id)  # echoed as given: it must be writable back
            request = self.parse(raw)
        except SupportkitError as error:
            return {"id": request_id, "error": str(error)}
        except RecursionError:  # valid JSON nested deeper than Python's stack lets it be walked
            return {"id": None, "error": "the request is nested too deeply to read"}
        result = evaluate(request.subject, request.action, request.resource, request.context)
        response = {"id": request_id, **result.to_json()}
        exemption = not_restricted_by_scps(request.subject, request.action, result, self.scp_exempt)
        if exemption is not None:
            response["not_restricted_by_scps"] = exemption
        warnings: list[str] = []
        linted: list[str] = []
        notes = self._notes
        for named in request.policies:
            found = notes.get(named)
            if found is not None:
                warnings.extend(found[0])
                linted.extend(found[1])
        subject = request.subject
        if subject.session_policy is not None and subject.session_policy_in_force is None:
            warnings.append("session_policy: only a role session has a session policy; ignored for this principal")
        warnings.extend(linted)
        if warnings:
            response["warnings"] = warnings
        return response


def read_requests(text: str) -> Iterator[Any]:
    """Requests from text holding one JSON request (possibly pretty-printed) or JSON Lines.

    A line that is not JSON yields an :class:`RequestError` in its place, so the other lines still run.
    Lines end at ``\n`` (and ``\r\n``) only: U+2028, U+2029 and U+0085 are characters of a JSON string,
    not line breaks as ``str.splitlines`` has them. A leading byte order mark is skipped. Text decoded
    with ``errors="surrogateescape"`` (see :func:`decode_requests`) marks undecodable bytes, and a line
    holding one is an error of its own.
    """
    text = text.removeprefix("\ufeff")
    stripped = text.strip()
    if not stripped:
        return
    # then, and only then, look for it line by line; ASCII text (the common case) has none, known without a scan
    undecodable = not stripped.isascii() and _UNDECODED.search(stripped) is not None
    if "\n" in stripped and not undecodable:
        try:
            single = decode_json(stripped)
        except (ValueError, RecursionError):
            pass
        else:
            yield single
            return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        undecoded = _UNDECODED.search(line) if undecodable else None
        if undecoded is not None:
            byte = ord(undecoded.group()) - 0xDC00
            yield RequestError(f"line {number}: not UTF-8 text (byte 0x{byte:02x} at column {undecoded.start() + 1})")
            continue
        try:
            request = decode_json(line)
        except json.JSONDecodeError as error:
            request = RequestError(f"line {number}: not valid JSON: {error.msg} at column {error.colno}")
        except (ValueError, RecursionError) as error:  # valid JSON past Python's limits
            request = RequestError(f"line {number}: not valid JSON: {json_limit(error)}")
        yield request


def decode_requests(data: bytes) -> str:
    """Bytes of requests as text for :func:`read_requests`: an undecodable byte spoils its line only."""
    return data.decode("utf-8", errors="surrogateescape")


def simulate(requests: Iterable[Any], simulator: Simulator | None = None) -> Iterator[dict[str, Any]]:
    """One result object per request, in input order."""
    simulator = simulator or Simulator()
    for raw in requests:
        if isinstance(raw, RequestError):
            yield {"id": None, "error": str(raw)}
        else:
            yield simulator.respond(raw)
