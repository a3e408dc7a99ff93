"""Write docs/settings.md, every setting of every part, from the declarations themselves.

    python scripts/settings_doc.py          # rewrite it
    python scripts/settings_doc.py --check  # exit 1 if it is out of date (a test runs this)

The root settings and the classes rnnlab configures but does not own come from
rnnlab/run/schema.py; every registered part (rnnlab's and installed packages') from its
declared constructor (rnnlab/declared.py), found through the registry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "settings.md"
PARTS = ("model", "data", "callbacks")  # the groups whose classes are rnnlab's parts


def _yaml(value) -> str:
    """A default as a config would write it."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return "(below)"
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value) if value is None or isinstance(value, bool | list) else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(declaration) -> list[str]:
    from rnnlab.declared import fields

    rows = ["| key | allowed | default | meaning |", "|---|---|---|---|"]
    for field in fields(declaration):
        shown = "(required)" if field.required else f"`{_yaml(field.default)}`"
        rows.append(f"| `{field.name}` | {_cell(field.allowed)} | {shown} | {_cell(field.meaning)} |")
    return rows


def document() -> str:
    from importlib.metadata import entry_points

    from rnnlab import registry
    from rnnlab.run import schema

    lines = [
        "# Settings",
        "",
        "Every key rnnlab reads, its allowed values, default and meaning, written by",
        "`python scripts/settings_doc.py` from the declarations that check them (a test keeps",
        "it current). A value outside what a key allows stops the run before anything is built,",
        "with one line naming the key (docs/errors.md). A config's own values may differ from",
        "a class's defaults: `rnnlab-train --cfg job` prints the composed config.",
        "",
    ]
    roots = [
        ("rnnlab-train (conf/train.yaml)", schema.TrainSettings),
        ("task", schema.TaskSettings),
        ("report", schema.ReportSettings),
        ("rnnlab-eval (conf/eval.yaml)", schema.EvalSettings),
        ("rnnlab-sample (conf/sample.yaml)", schema.SampleSettings),
    ]
    for title, model in roots:
        lines += [f"## {title}", "", *table(model), ""]
    lines += ["## Classes rnnlab configures but does not own", ""]
    for target, model in schema.DECLARED.items():
        lines += [f"### `{target}`", "", *table(model), ""]
    for group in PARTS:
        lines += [f"## {group}", ""]
        for entry in sorted(entry_points(group=registry.GROUPS[group]), key=lambda e: e.name):
            if not entry.module.startswith("rnnlab."):
                continue  # a class of another package: its own declaration, in its own docs
            lines += [f"### `{registry.target(entry)}` ({entry.name})", "", *table(entry.load()), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    text = document()
    if "--check" in sys.argv[1:]:
        if not DOC.is_file() or DOC.read_text() != text:
            print("docs/settings.md is out of date: run python scripts/settings_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
