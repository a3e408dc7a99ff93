"""The docs that promise behaviour stay true to the tests that check it."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """A docs script of scripts/, loaded in this process (torch and the tests are loaded
    already: a subprocess would spend seconds loading them again)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mistakes_catalogue_in_errors_md_is_up_to_date():
    errors_doc = _script("errors_doc")
    assert errors_doc.updated(errors_doc.DOC.read_text()) == errors_doc.DOC.read_text(), (
        "docs/errors.md is out of date: run python scripts/errors_doc.py"
    )


def test_the_settings_reference_is_up_to_date():
    """docs/settings.md is written from the declarations (scripts/settings_doc.py)."""
    settings_doc = _script("settings_doc")
    assert settings_doc.document() == settings_doc.DOC.read_text(), (
        "docs/settings.md is out of date: run python scripts/settings_doc.py"
    )


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
