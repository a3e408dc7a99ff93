"""The docs that promise behaviour stay true to the tests that check it."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_mistakes_catalogue_in_errors_md_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "errors_doc.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_settings_reference_is_up_to_date():
    """docs/settings.md is written from the declarations (scripts/settings_doc.py)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_doc.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_test_that_errors_md_names_exists():
    defined = {
        name
        for path in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(), flags=re.MULTILINE)
    }
    # test functions: after "::" or ", ", and not a file name (test_series.py)
    named = set(re.findall(r"(?:::|, )(test_\w+)(?![\w.])", (ROOT / "docs" / "errors.md").read_text()))
    assert len(named) > 30
    assert named <= defined, sorted(named - defined)
