"""The organization page: every input string shown as text, nothing fetched, no script; links to the reports."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from supportkit.analysis.organization import analyse_organization
from supportkit.report.organization_page import organization_html

A, B, OUTSIDE = "011111111111", "222222222222", "999999999999"
NAME = "<script>alert('name')</script>"
UNIT = "<img src=x onerror=alert(1)>"
NOTE = "<iframe src=https://example.com/></iframe>"
ERROR = "<b onmouseover=alert(2)>denied</b>"
ROLE = "<svg onload=alert(3)>"  # IAM refuses such a name, but a snapshot is untrusted input
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "ul", "li", "code", "a", "table",
                "thead", "tbody", "tr", "th", "td"}


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(text)
        self.text = "".join(self.texts)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.texts.append(data)


def write(folder: Path, account: str, details: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "authorization-details.json").write_text(json.dumps(details))
    (folder / "account.json").write_text(json.dumps({"account_id": account, "name": NAME}))


def statement(effect: str, action: str, **extra) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, **extra}]}


def hostile_organization(root: Path) -> Path:
    write(root / "a", A, {"UserDetailList": [{
        "UserName": "alice", "UserId": "AIDAEXAMPLEALICE00001", "Path": "/", "Arn": f"arn:aws:iam::{A}:user/alice",
        "GroupList": [], "AttachedManagedPolicies": [], "Tags": [],
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": statement("Allow", "sts:AssumeRole", Resource="*")}],
    }], "GroupDetailList": [], "RoleDetailList": [], "Policies": []})
    role = {"RoleId": "AROAEXAMPLEROLE000001", "Path": "/", "AttachedManagedPolicies": [], "Tags": [],
            "InstanceProfileList": [],
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": statement("Allow", "support:*", Resource="*")}]}
    write(root / "b", B, {"UserDetailList": [], "GroupDetailList": [], "Policies": [], "RoleDetailList": [
        {**role, "RoleName": ROLE, "Arn": f"arn:aws:iam::{B}:role/{ROLE}",
         "AssumeRolePolicyDocument": statement("Allow", "sts:AssumeRole", Principal={"AWS": [A, OUTSIDE]})},
    ]})
    (root / "organization.json").write_text(json.dumps({
        "organization": {"id": "o-hostile1", "management_account_id": "333333333333"},
        "roots": [{"id": "r-h1", "name": "Root"}], "units": [{"id": "ou-h1-x", "name": UNIT, "parent": "r-h1"}],
        "accounts": [{"id": A, "name": NAME, "parent": "ou-h1-x", "folder": "a"},
                     {"id": B, "name": NAME, "parent": "r-h1", "folder": "b"},
                     {"id": "333333333333", "name": NAME, "parent": "r-h1", "folder": None, "error": ERROR}],
        "notes": [NOTE],
    }))
    return root


def test_every_input_string_is_text_and_no_markup_or_network_reference_survives(tmp_path):
    analysis = analyse_organization(hostile_organization(tmp_path / "org"))
    text = organization_html(analysis, {A: f"{A}.html", B: f"{B}.html"}, title=NAME)
    page = Page(text)

    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    for hostile in (NAME, UNIT, NOTE, ERROR, ROLE):
        assert hostile in page.text, hostile
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert set(links) == {"index.html", f"{A}.html", f"{B}.html"}
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert [attrs.get("src") for _, attrs in page.tags if "src" in attrs] == []
    csp = next(attrs["content"] for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv"))
    assert "default-src 'none'" in csp


def test_the_page_shows_the_cross_account_path_and_the_outside_principal(tmp_path):
    analysis = analyse_organization(hostile_organization(tmp_path / "org"))
    page = Page(organization_html(analysis, {}))
    role = f"arn:aws:iam::{B}:role/{ROLE}"
    assert f"arn:aws:iam::{A}:user/alice -> sts:AssumeRole -> {role}" in page.text
    # the trust policy names an account outside the organization: it can read every case of B
    assert f"{OUTSIDE} (outside the organization) -> sts:AssumeRole -> {role}" in page.text
    assert f"Root / {UNIT}" in page.text


def test_findings_are_counted_by_severity_per_account(tmp_path):
    analysis = analyse_organization(hostile_organization(tmp_path / "org"))
    page = Page(organization_html(analysis, {}))
    heading = "Findings per account, by severity (as each account's report ranks them)"
    after = [text for text in page.texts[page.texts.index(heading):] if text.strip()]
    assert after[1:10] == ["account", "name", "critical", "high", "medium", "low", "info", "total", A]
    # B: an account outside the organization can read every case through the role: a critical finding
    row = analysis.findings_by_account().set_index("account_id").loc[B]
    assert row["critical"] >= 1 and row["total"] == sum(row[s] for s in ("critical", "high", "medium", "low", "info"))


def test_the_accounts_table_counts_apart_who_can_only_under_conditions(tmp_path):
    # Configuring MFA-protected API access
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html): with
    # Bool aws:MultiFactorAuthPresent true the request is allowed only when MFA was used. The root user reads
    # every case whatever the request; "mfa" only with MFA.
    root = tmp_path / "org"
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    write(root / "a", A, {"UserDetailList": [{
        "UserName": "mfa", "UserId": "AIDAEXAMPLEMFA0000001", "Path": "/", "Arn": f"arn:aws:iam::{A}:user/mfa",
        "GroupList": [], "AttachedManagedPolicies": [], "Tags": [], "UserPolicyList": [
            {"PolicyName": "p", "PolicyDocument": statement("Allow", "support:DescribeCases", Resource="*",
                                                            Condition=mfa)}],
    }], "GroupDetailList": [], "RoleDetailList": [], "Policies": []})
    (root / "organization.json").write_text(json.dumps({
        "organization": {"id": "o-mfa1", "management_account_id": "333333333333"},
        "roots": [{"id": "r-m1", "name": "Root"}], "units": [],
        "accounts": [{"id": A, "name": "a", "parent": "r-m1", "folder": "a"}],
    }))
    out = organization_html(analyse_organization(root), {})
    table = re.search(r"<h2>Accounts</h2>\s*<table>(.*?)</table>", out, re.S).group(1)
    columns = re.findall(r"<th>(.*?)</th>", table)
    row = dict(zip(columns, re.findall(r"<td[^>]*>(.*?)</td>", table)))
    assert row["can read all cases"] == "1 + 1 under conditions"
    assert row["can open cases"] == "1"  # the root user, whatever the request
