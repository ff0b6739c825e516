"""Reading submitted files (JSON or CSV) into raw records, never failing on a bad row.

A broken row becomes a raw record marked with its problem, so validation reports it with a
reason and line number while every good row around it still goes through. JSON numbers are
parsed as exact Decimals (never floats). A CSV needs a header row naming the fields; a row with
fewer cells than the header is `truncated_row`, one with more is `unexpected_field`, blank lines
are skipped, and a file cut inside a quoted cell rejects the remainder as truncated.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from oracle.reasons import Reason
from oracle.results import RawRecord


class LoadError(ValueError):
    """The file as a whole is unreadable (not JSON, no CSV header): nothing to validate."""


def parse_json_records(text: str) -> list[RawRecord]:
    """Records from a JSON array of objects, or an object with a "records" array.

    Items that are not objects become raw records whose problem is `malformed_field`.
    """
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise LoadError(f"not valid JSON: {e}") from None
    except RecursionError:  # nested deeper than the interpreter's recursion limit
        raise LoadError("not valid JSON: nested too deeply") from None
    if isinstance(data, Mapping) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        raise LoadError('expected a JSON array of records or {"records": [...]}')
    out = []
    for i, item in enumerate(data):
        if isinstance(item, Mapping):
            out.append(RawRecord(i, dict(item)))
        else:
            out.append(
                RawRecord(
                    i, {"value": item}, problem=(Reason.MALFORMED_FIELD, None, "not an object")
                )
            )
    return out


def parse_csv_records(text: str) -> list[RawRecord]:
    """Records from CSV text whose first row is the header."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError("empty CSV: no header row") from None
    except csv.Error as e:
        raise LoadError(f"unreadable CSV header: {e}") from None
    header = [h.strip() for h in header]
    if not header or any(not h for h in header) or len(set(header)) != len(header):
        raise LoadError("CSV header must name every column once")
    width = len(header)
    out: list[RawRecord] = []
    index = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            out.append(
                RawRecord(index, {}, line, (Reason.TRUNCATED_ROW, None, f"unreadable row: {e}"))
            )
            break
        if not row:
            continue
        if len(row) == width:
            out.append(RawRecord(index, dict(zip(header, row, strict=True)), line))
        elif len(row) < width:
            fields = dict(zip(header, row, strict=False))
            out.append(
                RawRecord(
                    index,
                    fields,
                    line,
                    (
                        Reason.TRUNCATED_ROW,
                        header[len(row)],
                        f"row has {len(row)} of {width} cells; missing from {header[len(row)]}",
                    ),
                )
            )
        else:
            fields = dict(zip(header, row[:width], strict=True))
            fields["_extra"] = ",".join(row[width:])
            out.append(
                RawRecord(
                    index,
                    fields,
                    line,
                    (
                        Reason.UNEXPECTED_FIELD,
                        None,
                        f"row has {len(row)} cells for {width} columns",
                    ),
                )
            )
        index += 1
    return out


def load_records(path: Path) -> list[RawRecord]:
    """Raw records from a .json or .csv file (chosen by extension)."""
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_json_records(text)
    if suffix == ".csv":
        return parse_csv_records(text)
    raise LoadError(f"{path.name}: expected a .json or .csv file")
