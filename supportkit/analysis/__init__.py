"""Analyses of an account: the permission matrix, findings and personas, snapshot diffs."""
