"""Which files a mining run reads: a folder tree, or a CSV that lists them."""

import csv
from pathlib import Path

from drcore.errors import DatasetIncomplete, DrxError

PATH_COLUMNS = ("path", "image", "file")


def _folder_files(folder: Path) -> list[Path]:
    """Every regular, non-hidden file under ``folder`` (recursively): each is mined or reported as an error."""
    files = []
    for path in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if path.is_file() and not hidden:
            files.append(path.resolve())
    return files


def _csv_files(table: Path) -> list[Path]:
    """The paths in a CSV's ``path`` (or ``image``, ``file``) column, relative ones taken from the CSV's folder."""
    with open(table, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        column = next((name for name in PATH_COLUMNS if name in (reader.fieldnames or [])), None)
        if column is None:
            raise DatasetIncomplete(
                f"{table.name} has no column named {' or '.join(PATH_COLUMNS)}; columns: {reader.fieldnames}"
            )
        paths = [Path(row[column].strip()) for row in reader if (row.get(column) or "").strip()]
    return [(path if path.is_absolute() else table.parent / path).resolve() for path in paths]


def archive_files(source: str | Path) -> list[Path]:
    """Absolute, sorted, unique paths of the files to mine: a folder tree, or a ``.csv`` listing them.

    Files a CSV names but that do not exist are kept: the run reports them in its errors file.
    """
    source = Path(source)
    if source.is_dir():
        files = _folder_files(source)
    elif source.is_file() and source.suffix.lower() == ".csv":
        files = _csv_files(source)
    elif source.is_file():
        raise DrxError(f"{source} is neither a folder nor a .csv file listing photographs")
    else:
        raise DrxError(f"no such folder or CSV file: {source}")
    return sorted(set(files))
