"""Reading the raw extract (the validated reader) and writing analysis datasets.

Raw files are read as text (every column a string, empty field = missing) with pyarrow and
kept as pandas categoricals (one copy of each distinct string), so a 10^6-patient extract
fits in memory. Everything that reads ``data/raw`` goes through :func:`read_raw`.

Rules of the reader (registry ids in brackets; each problem names file, row and column):
- The file must exist [F01] and hold a header and at least one row [F05].
- UTF-8 [F02]. A UTF-8 byte-order mark is removed and noted (it carries no data). Any other
  encoding stops the run, naming the row and column of the first undecodable byte and the
  encodings tried: a GB18030/GBK export is recognised but never converted silently, because a
  legacy file can be partly valid UTF-8 (GB18030 '女' is also the UTF-8 'Ů') and a guess could
  change values without a trace.
- Comma-separated [F03]; every row has as many fields as the header [F04] (an unquoted decimal
  comma is named as such, with its row and column). Quoted fields are standard CSV and read as
  their content; quoted or space-padded column names and blank lines are harmless and noted
  [F09]. Row numbers are the file's line numbers minus one (blank lines keep their number).
- Every dictionary column present [F06], each once [F07]; an unknown extra column is ignored
  and logged as a query [F08].
"""

from __future__ import annotations

import csv
import difflib
import mmap
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .dictionary import columns as dict_columns
from .dictionary import load_dictionary

STRING = pd.ArrowDtype(pa.string())
BOM = b"\xef\xbb\xbf"
OTHER_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}


def _error(*args, **kw):
    from .clean.errors import DataError
    return DataError(*args, **kw)


def _line_col(data: bytes, offset: int, header: list[str]) -> tuple[int | None, str | None]:
    """(data row, column name) of a byte offset: row = line number - 1 (None for the header)."""
    line = data.count(b"\n", 0, offset)
    start = data.rfind(b"\n", 0, offset) + 1
    k = data.count(b",", start, offset)
    if line == 0:
        return None, None
    return line, header[k] if k < len(header) else None


def _encoding_error(path: Path, file: str, header: list[str]):
    """The first undecodable byte and the encodings tried (error path: reads the whole file)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _error(file, None, None, "encoding",
                      "the file is UTF-16 (it starts with a UTF-16 byte-order mark); encodings tried: UTF-8 (fails)")
    body = data[3:] if data.startswith(BOM) else data
    try:
        body.decode("utf-8")
        return _error(file, None, None, "encoding", "not valid UTF-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    row, col = _line_col(body, bad, header)
    try:
        body.decode("gb18030")
        tried = ("encodings tried: UTF-8 (fails), GB18030 (decodes: the file looks like a GB18030/GBK export "
                 "of a Chinese hospital system; it is not converted automatically)")
    except UnicodeDecodeError:
        tried = "encodings tried: UTF-8 (fails), GB18030 (fails)"
    pos = bad - (body.rfind(b"\n", 0, bad) + 1)
    return _error(file, row, col, "encoding", f"not valid UTF-8 (byte {pos + 1} of the line); {tried}",
                  value=body[bad:bad + 2])


def _similar_files(folder: Path, file: str) -> str:
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    close = difflib.get_close_matches(f"{file}.csv", names, n=3, cutoff=0.6)
    close += [n for n in names if n.lower() == f"{file}.csv" and n not in close]
    return f" (found instead: {', '.join(sorted(close))})" if close else ""


def _first_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.readline().rstrip(b"\r\n")


def _parse_header(file: str, path: Path, line: bytes, log) -> list[str]:
    """Column names of the header line: unquoted, surrounding spaces removed (noted)."""
    expected = dict_columns(file)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise _encoding_error(path, file, expected) from None
    names = next(csv.reader([text]))
    if len(names) < len(expected):
        for delim, label in OTHER_DELIMITERS.items():
            alt = next(csv.reader([text], delimiter=delim))
            if len(alt) > len(names) and len({a.strip() for a in alt} & set(expected)) > len(expected) // 2:
                raise _error(file, None, None, "CSV dialect",
                             f"the header is separated by {label}, not by commas ({len(alt)} names split by {label})",
                             value=text[:60]) from None
    tidy = [n.strip() for n in names]
    changed = sum(1 for n, t in zip(names, tidy) if n != t) + (len(names) if '"' in text else 0)
    if log is not None:
        log.note(file, "(header)", "column names unquoted / trimmed", changed)
    return tidy


def _check_header(file: str, header: list[str]) -> None:
    expected = dict_columns(file)
    missing = [c for c in expected if c not in header]
    if missing:
        c = missing[0]
        near = [h for h in header if h.upper().replace(" ", "") == c] or difflib.get_close_matches(c, header, n=1)
        hint = f" (the header has {near[0]!r}; names are matched exactly)" if near else ""
        raise _error(file, None, c, "required column", f"column {c} missing from the header{hint}")
    dup = [c for c in header if header.count(c) > 1]
    if dup:
        raise _error(file, None, dup[0], "unique column names", f"column {dup[0]} appears twice in the header")


def _line_table(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(start offset, length without the line end) of every line, or None if the file has no blank line
    (the common case: the file is scanned for a blank line, not split)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        crlf = mm.find(b"\r\n", 0, 1 << 16) >= 0
        if mm.find(b"\n\r\n" if crlf else b"\n\n") < 0:
            return None
        buf = np.frombuffer(mm, dtype=np.uint8).copy()
    return _lines(buf)


def _lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [len(buf)]])
    if starts[-1] == len(buf):                           # the final newline ends the last line
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - starts - cr


def _field_count_error(path: Path, file: str, header: list[str]):
    """The first row whose number of fields differs from the header's (vectorised; commas inside
    double quotes do not count)."""
    data = path.read_bytes()
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, lengths = _lines(buf)
    in_quotes = (np.cumsum(buf == ord('"')) % 2).astype(bool)
    commas = np.concatenate([[0], np.cumsum((buf == ord(",")) & ~in_quotes)])
    n_fields = commas[starts + lengths] - commas[starts] + 1
    bad = np.flatnonzero((n_fields != len(header)) & (lengths > 0) & (np.arange(len(starts)) > 0))
    if not len(bad):
        return _error(file, None, None, "CSV structure", "the CSV parser failed but every row has the header's fields")
    i = int(bad[0])
    line = data[starts[i]:starts[i] + lengths[i]].decode("utf-8", "replace")
    fields = next(csv.reader([line]))
    spec = load_dictionary()["files"][file]["columns"]
    others = [int(r) for r in bad[1:]]
    detail = f"the row has {int(n_fields[i])} fields, the header {len(header)}"
    if len(fields) == len(header) + 1:
        # a decimal comma: two fields that join into a number of a numeric column; among several
        # such places, the one that leaves every field of the row valid for its column
        cands = []
        for k in range(len(header)):
            pair = f"{fields[k]},{fields[k + 1]}"
            if re.fullmatch(r"-?\d+,\d+", pair) and spec.get(header[k], {}).get("type") == "decimal":
                merged = fields[:k] + [pair.replace(",", ".")] + fields[k + 2:]
                bad = sum(not _valid(spec.get(h, {}), v) for h, v in zip(header, merged))
                cands.append((bad, k, pair))
        if cands:
            best = min(c[0] for c in cands)
            top = [c for c in cands if c[0] == best]
            _, k, pair = top[0]
            also = f" (or in {', '.join(header[c[1]] for c in top[1:])})" if len(top) > 1 else ""
            return _error(file, i, header[k], "field count", detail + f"; the value looks like a decimal comma{also}",
                          value=pair, other_rows=others)
    return _error(file, i, None, "field count", detail + " (a value with an unquoted comma, or a lost separator?)",
                  value=line[:80], other_rows=others)


def _valid(spec: dict, value: str) -> bool:
    """Whether a raw field fits its column's dictionary type, codes and range (for diagnosis)."""
    if value == "":
        return True
    t = spec.get("type")
    if t in ("decimal", "integer"):
        try:
            x = float(value)
        except ValueError:
            return False
        lo, hi = spec.get("range", (float("-inf"), float("inf")))
        return lo <= x <= hi
    if t == "code":
        return value in [str(c) for c in spec.get("site_codes", spec.get("codes", []))]
    return True


def read_raw(folder: Path, file: str, log=None) -> pd.DataFrame:
    """Read ``folder/file.csv``: categorical string columns in dictionary order plus
    ``SRC_ROW`` (the file's line number minus one). ``log``: a QueryLog for unknown columns
    and harmonisation notes. See the module docstring for the rules."""
    folder = Path(folder)
    path = folder / f"{file}.csv"
    part = folder / f"{file}.arrow"
    if not path.is_file() and part.is_file():
        return _read_partition(part, file)
    if not path.is_file():
        raise _error(file, None, None, "file present", f"{path} does not exist{_similar_files(folder, file)}")
    if path.stat().st_size == 0:
        raise _error(file, None, None, "not empty", "the file is empty (no header, no rows)")
    expected = dict_columns(file)
    first = _first_line(path)
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _encoding_error(path, file, expected)
    has_bom = first.startswith(BOM)
    header = _parse_header(file, path, first[3:] if has_bom else first, log)
    _check_header(file, header)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8", block_size=1 << 24, skip_rows=1, column_names=header),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=True, null_values=[""]))
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "utf8" in msg.lower():
            raise _encoding_error(path, file, header) from None
        if "Expected" in msg and "columns" in msg:
            raise _field_count_error(path, file, header) from None
        raise _error(file, None, None, "CSV structure", msg.splitlines()[0]) from None
    if table.num_rows == 0:
        raise _error(file, None, None, "not empty", "the file has a header but no data rows")
    if log is not None:
        log.note(file, "(file)", "UTF-8 byte-order mark removed", int(has_bom))
    src = np.arange(1, table.num_rows + 1, dtype=np.int64)
    lines = _line_table(path)
    if lines is not None:
        data_lines = np.flatnonzero(lines[1] > 0)
        data_lines = data_lines[data_lines > 0]
        if len(data_lines) == table.num_rows:
            src = data_lines.astype(np.int64)
        if log is not None:
            log.note(file, "(file)", "blank lines skipped", int(np.sum(lines[1] == 0)))
    for c in [c for c in header if c not in expected]:
        if log is not None:
            log.add(file, [0], [None], c, "unknown column", None, "column ignored (not in the data dictionary)")
    table = table.select(expected)
    # dictionary-encoded -> pandas categoricals: a 10^6-patient extract repeats the same ids,
    # dates and codes millions of times; each distinct string is stored (and parsed) once
    table = pa.table({c: pc.dictionary_encode(table[c]) for c in expected})
    df = table.to_pandas()
    df.insert(0, "SRC_ROW", src)
    return df


def _read_partition(path: Path, file: str) -> pd.DataFrame:
    """A partition written by :mod:`apec_sar.scale` (Arrow IPC, already read from the raw CSV
    once, with the original row numbers in ``__SRC_ROW``)."""
    import pyarrow.feather as feather
    table = feather.read_table(path)
    expected = dict_columns(file)
    src = table["__SRC_ROW"].to_numpy()
    table = pa.table({c: pc.dictionary_encode(table[c]) for c in expected})
    df = table.to_pandas()
    df.insert(0, "SRC_ROW", src)
    return df


def write_dataset(df: pd.DataFrame, path: Path, description: str, labels: dict[str, str] | None = None) -> None:
    """Write a parquet file whose schema metadata carries the dataset description and the
    variable labels. Deterministic: no timestamps, fixed row order as given."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {b"description": description.encode("utf-8")}
    if labels:
        import json
        meta[b"labels"] = json.dumps(labels, ensure_ascii=False, sort_keys=True).encode("utf-8")
    table = table.replace_schema_metadata({**{k: v for k, v in (table.schema.metadata or {}).items() if k != b"pandas"}, **meta})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def read_dataset(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def dataset_description(path: Path) -> str:
    meta = pq.read_schema(path).metadata or {}
    return meta.get(b"description", b"").decode("utf-8")
