"""Write the catalogue section of docs/errors.md from the mistakes the tests try.

    python scripts/errors_doc.py          # rewrite the section
    python scripts/errors_doc.py --check  # exit 1 if the doc is out of date (a test runs this)

The rows come from tests/cli/test_mistakes.py (MISTAKES, FILE_MESSAGES): each is a case the
test suite runs through the real entry point, checking the whole line it prints; the pairs
of settings that contradict come from rnnlab/run/contradictions.py (CONTRADICTIONS), whose
examples the same test file runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"
START, END = "<!-- mistakes:start -->", "<!-- mistakes:end -->"
PAIRS_START, PAIRS_END = "<!-- contradictions:start -->", "<!-- contradictions:end -->"


def catalogue() -> str:
    sys.path.insert(0, str(ROOT))
    from tests.cli.test_mistakes import FILE_MESSAGES, MISTAKES

    def shown(text: str) -> str:  # file placeholders as <name>, pipes escaped for the table
        return re.sub(r"\{(\w+)\}", r"<\1>", text).replace("|", "\\|")

    rows = []
    for case, entry, args, message in MISTAKES:
        command = shown(" ".join([entry, *args]))
        line = shown(f"{entry}: error: {message or FILE_MESSAGES[case]}")
        rows.append(f"| {case} | `{command}` | `{line}` |")
    header = "| case | command | what it prints (exit 2) |\n|---|---|---|"
    return "\n".join([START, header, *rows, END])


def contradictions() -> str:
    from rnnlab.run.contradictions import CONTRADICTIONS

    def shown(text: str) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", text).replace("|", "\\|")

    rows = []
    for rule in CONTRADICTIONS:
        example = shown(" ".join(rule.example))
        allowed = shown(rule.allowed)
        rows.append(f"| `{rule.first}` | `{rule.second}` | {allowed} | `rnnlab-train {example}` |")
    header = "| setting | beside | must be | e.g. |\n|---|---|---|---|"
    return "\n".join([PAIRS_START, header, *rows, PAIRS_END])


def _between(text: str, start: str, end: str, section: str) -> str:
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return before + section + after


def updated(text: str) -> str:
    text = _between(text, START, END, catalogue())
    return _between(text, PAIRS_START, PAIRS_END, contradictions())


def main() -> int:
    text = DOC.read_text()
    new = updated(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("docs/errors.md is out of date: run python scripts/errors_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
