"""Issue 20: every limit is named once (drcore.limits), listed in the README's Limits table with its value, and the
upload size Streamlit enforces is that limit."""

from __future__ import annotations

import re
from pathlib import Path

import drcore.limits as limits

REPOSITORY = Path(__file__).resolve().parents[1]


def _limits() -> dict[str, float]:
    return {name: value for name, value in vars(limits).items() if name.isupper()}


def _table() -> list[str]:
    readme = (REPOSITORY / "README.md").read_text()
    section = readme.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "`" in line]


def test_every_limit_has_a_row_in_the_readme_with_its_value() -> None:
    rows = _table()
    for name, value in _limits().items():
        row = next((line for line in rows if f"`{name}`" in line), None)
        assert row is not None, f"{name} is not in the README's Limits table"
        shown = {float(number.replace(",", "")) for number in re.findall(r"\d[\d,]*(?:\.\d+)?", row.split("|")[2])}
        expected = value / 2**20 if name == "MAX_COCO_BYTES" else value  # shown in MiB
        assert expected in shown, f"{name} = {value}, the README says {row.split('|')[2].strip()}"


def test_streamlit_upload_size_is_the_named_limit() -> None:
    config = (REPOSITORY / ".streamlit" / "config.toml").read_text()  # tomllib needs Python 3.11
    assert re.findall(r"^maxUploadSize\s*=\s*(\d+)\s*$", config, re.MULTILINE) == [str(limits.MAX_UPLOAD_MB)]
