"""The policy language and AWS's evaluation logic: pure, no I/O, no knowledge of AWS Support."""
