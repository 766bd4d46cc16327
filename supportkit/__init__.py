"""supportkit: who in an AWS account can use AWS Support, Trusted Advisor and support plans, and why.

The names below are the public API; they stay importable from here whatever moves inside the package.
They are loaded on first use, so ``import supportkit`` stays cheap (no pandas until a matrix is asked for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportkit.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "load_account": "supportkit.snapshot.load",
    "Account": "supportkit.snapshot.model",
    "build_matrix": "supportkit.analysis.matrix",
    "all_findings": "supportkit.analysis.findings",
    "analyse": "supportkit.analysis.account_analysis",
    "AccountAnalysis": "supportkit.analysis.account_analysis",
    "Finding": "supportkit.analysis.finding",
    "Severity": "supportkit.analysis.finding",
    "produce_findings": "supportkit.analysis.finding",
    "simulate": "supportkit.iam.simulate",
    "run_reports": "supportkit.report.pipeline",
    "load_catalog": "supportkit.support.catalog",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from supportkit.analysis.account_analysis import AccountAnalysis, analyse
    from supportkit.analysis.finding import Finding, Severity, produce_findings
    from supportkit.analysis.findings import all_findings
    from supportkit.analysis.matrix import build_matrix
    from supportkit.iam.simulate import simulate
    from supportkit.report.pipeline import run_reports
    from supportkit.snapshot.load import load_account
    from supportkit.snapshot.model import Account
    from supportkit.support.catalog import load_catalog


__getattr__ = lazy_exports(__name__, _EXPORTS)
