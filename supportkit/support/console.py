"""What Support Center's console needs besides the ``support:`` actions: the Support Center Console API.

AWS's page "Adding IAM policies for the Support Center Console API operations" says that without policies for
the ``support-console:`` operations users receive ``AccessDenied`` after 16 November 2026 (earlier copies said
1 June and 2 November 2026), and "Option 2: Create a custom policy with minimum required permissions" lists the
``support-console:`` actions that support interactions, case creation and case management need. Both are kept
as data (``data/support_center_console.json``) with their sources, so a new copy of the pages is one edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache

from supportkit.support.data import read_text

CONSOLE_FILE = "support_center_console.json"


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    quote: str

    @property
    def citation(self) -> str:
        return f'AWS Support User Guide, "{self.title}" ({self.url})'


@dataclass(frozen=True)
class ConsoleRequirement:
    """The ``support-console:`` actions Support Center needs, since when, and where AWS says so."""

    actions: tuple[str, ...]
    actions_source: Source
    enforced_from: date
    enforcement_source: Source

    @property
    def enforced_text(self) -> str:
        """The enforcement date as people read it: 16 November 2026."""
        return f"{self.enforced_from.day} {self.enforced_from:%B %Y}"


def parse_requirement(text: str) -> ConsoleRequirement:
    data = json.loads(text)
    return ConsoleRequirement(
        tuple(data["actions"]), Source(**data["actions_source"]), date.fromisoformat(data["enforced_from"]),
        Source(**data["enforcement_source"]),
    )


@cache
def console_requirement() -> ConsoleRequirement:
    """The packaged requirement (read once per process)."""
    return parse_requirement(read_text(CONSOLE_FILE))
