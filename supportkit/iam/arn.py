"""ARNs: the one list of AWS partitions, and the one way supportkit splits an ARN into its fields."""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
"""The partitions of AWS (IAM User Guide, IAM identifiers: ARNs)."""

_ACCOUNT = re.compile(r"[0-9]{12}")  # ASCII digits only: \d would take other scripts' digits too


@dataclass(frozen=True)
class Arn:
    """``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`` (the resource may hold more colons)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: object) -> Arn | None:
        """The fields of ``text``, or None when it is not six colon-separated fields starting with ``arn``."""
        if not isinstance(text, str):
            return None
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @property
    def in_known_partition(self) -> bool:
        return self.partition in PARTITIONS

    @property
    def in_an_account(self) -> bool:
        """Whether the account field is a 12-digit account id (not ``aws``, not empty)."""
        return _ACCOUNT.fullmatch(self.account) is not None


def account_of(text: str) -> str:
    """The account field of the ARN ``text``; "" when it is not an ARN."""
    arn = Arn.parse(text)
    return arn.account if arn is not None else ""
