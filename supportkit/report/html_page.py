"""The shell of supportkit's static pages (the index, the organization page): no script, nothing fetched."""

from __future__ import annotations

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
"""The Content-Security-Policy of every page: inline styles and data: images only, as the report template's."""


def standalone_page(heading: str, style: str, body: str) -> str:
    """A whole HTML page; ``heading`` and ``body`` must already be escaped HTML."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>{style}</style>
</head>
<body>
<h1>{heading}</h1>
{body}
</body>
</html>
"""
