"""Reading a sweep back and drawing it (rnnlab-report, cli/report.py)."""
