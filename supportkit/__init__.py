"""supportkit: who in an AWS account can use AWS Support, Trusted Advisor and support plans, and why."""

__version__ = "0.1.0"
