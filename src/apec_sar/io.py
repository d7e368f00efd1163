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
  [F09]. Row numbers are the file's line numbers minus one (blank lines keep their number), so
  each record must be on one line: a quoted value holding a line break (a line feed or a carriage
  return), a carriage return inside a row and lines ended by a carriage return alone stop the run,
  naming row and column [F10]
  (:func:`spanning_record_error`; the block reader of the Dask path gives the same message
  wherever a block boundary falls).
- Every dictionary column present [F06], each once [F07]; an unknown extra column is ignored
  and logged as a query [F08].
"""

from __future__ import annotations

import csv
import difflib
import functools
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
_RELOCK = "re-export the file, replace it in data/raw and re-lock the extract (make relock)"


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
    if "\r" in text:
        raise _error(file, None, None, "CSV structure",
                     "the header line holds a carriage return (CR) that does not end it: the file's lines end with CR "
                     "alone (old Mac OS line ends), which this reader does not split", value=text[:60],
                     todo="re-export the file with LF or CRLF line ends (any current spreadsheet or text editor); "
                          + _RELOCK) from None
    try:
        names = next(csv.reader([text]))
    except csv.Error as exc:
        raise _error(file, None, None, "CSV structure", f"the header line cannot be read as CSV ({exc})",
                     value=text[:60]) from None
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
        raise _error(file, None, dup[0], "unique column names",
                     f"column {dup[0] or repr(dup[0]) + ' (an empty name)'} appears twice in the header")


def _line_table(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(start offset, length without the line end) of every line, or None if the file has no blank line
    (the common case: the file is scanned for a blank line, not split)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm.find(b"\n\n") < 0 and mm.find(b"\n\r\n") < 0:       # either line end, mixed or not
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
        cr = np.flatnonzero((buf == 13) & (np.append(buf[1:], 0) != 10))
        if len(cr):                       # the parser ends a line at a CR alone: the row is split in two
            row, col = _line_col(data, int(cr[0]), header)
            return _error(file, row, col, "CSV structure",
                          "a carriage return (CR) inside the row, not part of its line end: the parser breaks the "
                          "row there", value=data[max(int(cr[0]) - 20, starts[row] if row else 0):int(cr[0]) + 1]
                          .decode("utf-8", "replace"),
                          other_rows=sorted({_line_col(data, int(x), header)[0] or 0 for x in cr[1:]} - {row}),
                          todo="remove the carriage return from the value at the site or in the export; " + _RELOCK)
        return _error(file, None, None, "CSV structure", "the CSV parser failed but every row has the header's fields")
    i = int(bad[0])
    line = data[starts[i]:starts[i] + lengths[i]].decode("utf-8", "replace")
    fields = next(csv.reader([line.replace("\r", " ")]))     # a CR inside the row is not a field end here
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
    path, header, has_bom = open_raw(folder, file, log)
    table = _parse(path, path, file, header, skip_header=True)
    if table.num_rows == 0:
        raise no_rows_error(file)
    src = np.arange(1, table.num_rows + 1, dtype=np.int64)
    lines = _line_table(path)
    blank = None
    if lines is not None:
        data_lines = np.flatnonzero(lines[1] > 0)
        data_lines = data_lines[data_lines > 0]
        if len(data_lines) != table.num_rows:
            raise _not_one_record_a_line(path, file, header)
        src = data_lines.astype(np.int64)
        blank = int(np.sum(lines[1] == 0))
    elif _newlines(path) - 1 != table.num_rows:
        raise _not_one_record_a_line(path, file, header)
    df = _categoricals(table, file, src)
    if any(df[c].cat.categories.str.contains(_BREAK).any() for c in dict_columns(file)):
        raise _not_one_record_a_line(path, file, header)   # a quote left open on the last line, a CR in a value
    file_notes(file, header, has_bom, blank, log)
    return df


def open_raw(folder: Path, file: str, log=None) -> tuple[Path, list[str], bool]:
    """The per-file rules of the reader, checked before any row is parsed: the file exists
    [F01] and is not empty [F05], its header decodes as UTF-8 [F02], is comma-separated [F03]
    and names every dictionary column once [F06, F07] (names trimmed: noted in ``log``).
    Returns (path, header, whether the file starts with a byte-order mark)."""
    folder = Path(folder)
    path = folder / f"{file}.csv"
    if path.is_dir():
        raise _error(file, None, None, "file present", f"{path} is a folder, not a file")
    if not path.is_file():
        raise _error(file, None, None, "file present", f"{path} does not exist{_similar_files(folder, file)}")
    if path.stat().st_size == 0:
        raise _error(file, None, None, "not empty", "the file is empty (no header, no rows)")
    expected = dict_columns(file)
    first = _first_line(path)
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _encoding_error(path, file, expected)
    has_bom = first.startswith(BOM)
    line = first[3:] if has_bom else first
    if not line.strip():
        raise _error(file, None, None, "not empty", "the first line is empty: the file has no header")
    if b"\x00" in line:
        raise _error(file, None, None, "encoding", "the header holds NUL bytes (a UTF-16 export without its byte-order "
                     "mark?); encodings tried: UTF-8 (NUL bytes are not text)",
                     todo="re-export the file as UTF-8 (Excel: Save As 'CSV UTF-8'; or iconv -f UTF-16 -t UTF-8), "
                          "replace it in data/raw and re-lock the extract (make relock)")
    header = _parse_header(file, path, line, log)
    _check_header(file, header)
    return path, header, has_bom


def no_rows_error(file: str):
    """[F05] a header and no data row."""
    return _error(file, None, None, "not empty", "the file has a header but no data rows")


def file_notes(file: str, header: list[str], has_bom: bool, blank_lines: int | None, log) -> None:
    """The notes of one file for the harmonisation summary (byte-order mark removed; blank lines
    skipped, ``None`` when the file has none and was not scanned) and its unknown-column
    queries [F08], logged once per file."""
    if log is None:
        return
    log.note(file, "(file)", "UTF-8 byte-order mark removed", int(has_bom))
    if blank_lines is not None:
        log.note(file, "(file)", "blank lines skipped", blank_lines)
    expected = dict_columns(file)
    for c in [c for c in header if c not in expected]:
        log.add(file, [0], [None], c, "unknown column", None, "column ignored (not in the data dictionary)")


SPAN_LINES = 100         # lines tried for the end of a record whose quote is open at a line end
_BREAK = r"[\r\n]"


def _read_csv(source, header: list[str], skip_header: bool, newlines_in_values: bool, block_size: int) -> pa.Table:
    """The reader's CSV options: UTF-8, the header's names, every column a string, empty = missing."""
    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(encoding="utf8", block_size=block_size, skip_rows=int(skip_header),
                                       column_names=header),
        parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                             strings_can_be_null=True, null_values=[""]))


def _csv_strings(text: bytes, header: list[str], skip_header: bool = False) -> pa.Table | None:
    """``text`` parsed as the reader parses it, quoted line breaks allowed; None if it does not parse."""
    try:
        return _read_csv(pa.BufferReader(text), header, skip_header, newlines_in_values=True, block_size=1 << 26)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None


def _first_break(t: pa.Table, header: list[str]) -> tuple[int, str, str] | None:
    """(record, column, value) of the first value holding a line break (LF or CR), columns in header order."""
    best = None
    for c in header:
        hit = pc.index(pc.fill_null(pc.match_substring_regex(t[c], _BREAK), False), True).as_py()
        if hit >= 0 and (best is None or hit < best[0]):
            best = (hit, c, t[c][hit].as_py())
    return best


def _break_in_block(data: bytes, n_own: int, skip_header: bool, header: list[str]) -> tuple[int, str, str] | None:
    """(line, column, value) of the first value holding a line break in a record starting on one
    of the first ``n_own`` lines of ``data``. The block parsed whole when it parses (exact: the
    reader's own parser); else each line with an odd number of double quotes on its own, then
    joined with the lines after it."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, lengths = _lines(buf)
    t = _csv_strings(data, header, skip_header)
    if t is not None:
        hit = _first_break(t, header)
        if hit is None:
            return None
        lines = np.flatnonzero(lengths > 0)               # the parser skips blank lines
        lines = lines[lines > 0] if skip_header else lines
        line = int(lines[hit[0]]) if hit[0] < len(lines) else None
        return (line, hit[1], hit[2]) if line is not None and line < n_own else None
    quotes = np.concatenate([[0], np.cumsum(buf == 34)])
    crs = np.concatenate([[0], np.cumsum(buf == 13)])
    odd = (quotes[starts + lengths] - quotes[starts]) % 2 == 1
    with_cr = crs[starts + lengths] - crs[starts] > 0    # a CR before the line's end (a CRLF's is not counted)
    ends = np.append(starts[1:], len(data))
    for i in np.flatnonzero(odd | with_cr):
        if i >= n_own:
            break
        if skip_header and i == 0:
            continue                                      # the header (checked by open_raw)
        alone = _csv_strings(data[starts[i]:ends[i]], header)
        hit = _first_break(alone, header) if alone is not None and alone.num_rows == 1 else None
        if alone is not None and alone.num_rows == 1 and (hit is None or "\n" not in hit[2]):
            if hit is None:
                continue                                  # a whole record on its line
            return int(i), hit[1], hit[2]                 # a carriage return in a quoted value
        for k in range(1, min(SPAN_LINES, len(starts) - i)):
            joined = _csv_strings(data[starts[i]:ends[i + k]], header)
            if joined is not None and joined.num_rows == 1 and (got := _first_break(joined, header)):
                return int(i), got[1], got[2]
        if hit is not None:
            return int(i), hit[1], hit[2]                 # a quote open to the end of the file
    return None


@functools.lru_cache(maxsize=16)
def _spanning_record(path: str, stat_key: tuple, header: tuple[str, ...]) -> tuple[int, str, str] | None:
    line0 = 0
    for start, stop in blocks(Path(path), BLOCK_SCAN):
        own = _owned(Path(path), start, stop)
        n_own = _count_lines(own)
        if b'"' in own:
            # the lines owned, and those after them that a record may run on into
            after = _owned(Path(path), stop, stop + (1 << 20)).splitlines(keepends=True)[:SPAN_LINES]
            hit = _break_in_block(own + b"".join(after), n_own, line0 == 0, list(header))
            if hit is not None:
                return line0 + hit[0], hit[1], hit[2]
        line0 += n_own
    return None


def spanning_record_error(path: Path, file: str, header: list[str]):
    """[F10] The first record of the file holding a line break in a quoted value (a record over
    several lines, or a carriage return inside a value), as a DataError naming its row (the line
    it starts on, minus one) and column; None if there is none. Row numbers are line numbers, and
    the partitioned reader splits files at line ends, so such a record stops the run instead of
    shifting every later row's number. Error path only: reads the whole file in blocks, each
    parsed by the reader's parser (remembered per file, as every failing block of the partitioned
    reader asks)."""
    st = Path(path).stat()
    hit = _spanning_record(str(path), (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), tuple(header))
    if hit is None:
        return None
    row, column, value = hit
    n = value.count("\n")
    detail = (f"a quoted value holds a line break, so the record runs over lines {row + 1}-{row + 1 + n} of the "
              "file (or its closing quote is missing); each record must be on one line (row numbers are the file's "
              "line numbers)") if n else \
        "a quoted value holds a carriage return (a line break inside a spreadsheet cell); values must be on one line"
    return _error(file, row, column, "CSV structure", detail, value=value,
                  todo="remove the line break from the value at the site or in the export; " + _RELOCK)


def _not_one_record_a_line(path: Path, file: str, header: list[str]):
    """The error of a parse whose records are not the file's lines (the same whichever block of
    lines found it)."""
    return spanning_record_error(path, file, header) or _error(
        file, None, None, "CSV structure", "the file's records are not its lines (a quoted value holding line "
        "breaks, or a quote never closed?)")


def _newlines(path: Path) -> int:
    """The lines of a file (a last line without its line feed counted)."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK_SCAN):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _breaks(table: pa.Table, header: list[str]) -> bool:
    return any(pc.any(pc.match_substring_regex(table[c], _BREAK)).as_py() for c in header)


def _parse(source, path: Path, file: str, header: list[str], skip_header: bool) -> pa.Table:
    """Parse CSV text (``source``: the file, or a block of its lines) with every column a
    string and an empty field missing. A parser failure becomes the DataError of its cause,
    located in the whole file ``path``: encoding [F02], field count [F04], other structure."""
    try:
        return _read_csv(source, header, skip_header, newlines_in_values=False, block_size=1 << 24)
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "utf8" in msg.lower():
            raise _encoding_error(path, file, header) from None
        err = spanning_record_error(path, file, header)       # next, whichever block of lines failed
        if err is not None:
            raise err from None
        if "Expected" in msg and "columns" in msg:
            raise _field_count_error(path, file, header) from None
        raise _error(file, None, None, "CSV structure", msg.splitlines()[0]) from None


def _select(table: pa.Table, file: str, src: np.ndarray) -> pd.DataFrame:
    """SRC_ROW and the dictionary's columns (in its order) as pyarrow-backed strings."""
    df = table.select(dict_columns(file)).to_pandas(types_mapper={pa.string(): STRING}.get)
    df.insert(0, "SRC_ROW", src)
    return df


def categorical_table(table: pa.Table, file: str) -> pd.DataFrame:
    """An Arrow table of :func:`read_block` rows (SRC_ROW and the string columns, any row order)
    in the reader's final form, rows in file order (as :func:`read_raw` returns)."""
    table = table.sort_by("SRC_ROW")
    return _categoricals(table, file, table["SRC_ROW"].to_numpy().astype(np.int64))


def categorical_parquet(path: Path | str, file: str) -> pd.DataFrame:
    """The Parquet pieces of :func:`read_block` rows in ``path`` (a file or a folder of pieces;
    SRC_ROW and the string columns, any row order) in the reader's final form: exactly what
    ``categorical_table(pyarrow.parquet.read_table(path), file)`` returns, but each string column
    read as Parquet stores it, once per distinct value of a piece, instead of once per row and
    then hashed again (a 20,000-patient partition of the Dask path: about 2x faster)."""
    cols = dict_columns(file)
    t = pq.read_table(path, columns=["SRC_ROW", *cols], read_dictionary=cols).unify_dictionaries()
    t = t.take(pc.sort_indices(t["SRC_ROW"]))
    df = pd.DataFrame({c: _in_order_of_appearance(t[c]) for c in cols})
    df.insert(0, "SRC_ROW", t["SRC_ROW"].to_numpy().astype(np.int64))
    return df


def _in_order_of_appearance(col: pa.ChunkedArray) -> pd.Categorical:
    """A dictionary column as a pandas categorical whose categories are in order of first
    appearance, as ``pyarrow.compute.dictionary_encode`` makes them (:func:`_categoricals`)."""
    if not pa.types.is_dictionary(col.type):          # not a string column (as categorical_table does)
        return pa.table({"c": pc.dictionary_encode(col)}).to_pandas()["c"].array
    arr = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    seen = pd.unique(idx[idx >= 0])
    remap = np.full(len(arr.dictionary) + 1, -1, dtype=np.int64)
    remap[seen] = np.arange(len(seen))
    cats = pd.Index(arr.dictionary.take(pa.array(seen, pa.int64())).to_pandas(), dtype=object)
    return pd.Categorical.from_codes(remap[idx], categories=cats)


def categorical_frame(df: pd.DataFrame | list[pd.DataFrame], file: str) -> pd.DataFrame:
    """A frame of :func:`read_block` (or a list of them, one after the other) in the reader's
    final form (as :func:`read_raw` returns)."""
    frames = df if isinstance(df, list) else [df]
    cols = dict_columns(file)
    table = pa.concat_tables([pa.table({c: arrow_strings(x[c]) for c in cols}) for x in frames]) if frames else \
        pa.table({c: pa.array([], pa.string()) for c in cols})
    src = np.concatenate([x.SRC_ROW.to_numpy(dtype=np.int64) for x in frames]) if frames else np.zeros(0, np.int64)
    return _categoricals(table, file, src)


def arrow_strings(s: pd.Series) -> pa.Array:
    """A column of strings as an Arrow string array (no copy when it is Arrow-backed)."""
    if isinstance(s.dtype, pd.ArrowDtype) or (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        return pa.array(s.array).cast(pa.string())
    return pa.array(s.astype(object).where(s.notna(), None).to_numpy(), type=pa.string())   # a shuffle's other form


def _categoricals(table: pa.Table, file: str, src: np.ndarray) -> pd.DataFrame:
    """SRC_ROW and the dictionary's columns as pandas categoricals. A 10^6-patient extract
    repeats the same ids, dates and codes millions of times; each distinct string is stored
    (and parsed) once. Categories are in order of first appearance, so a subset of a file's
    rows in file order keeps the file's relative order of categories."""
    expected = dict_columns(file)
    table = pa.table({c: pc.dictionary_encode(table[c]) for c in expected})
    df = table.to_pandas()
    df.insert(0, "SRC_ROW", src)
    return df


# --- the same reader over blocks of lines (the Dask path, apec_sar.scale) ---------------------------
# A block [start, stop) of a file owns every line that starts inside it (the header, line 0, is
# owned by the first block and skipped), so blocks need no agreement about boundaries. A block's
# first line number is the count of line starts before it (``line_counts`` of the blocks before),
# so SRC_ROW is the file's line number, blank lines counted, exactly as in read_raw.

def blocks(path: Path, block_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges [start, stop) of about ``block_bytes`` covering the file."""
    size = Path(path).stat().st_size
    edges = list(range(0, size, max(int(block_bytes), 1))) + [size]
    return list(zip(edges[:-1], edges[1:]))


BLOCK_SCAN = 64 << 20          # bytes read at a time by the error-path scans of a whole file


def _owned(path: Path, start: int, stop: int) -> bytes:
    """The bytes of the lines starting in [start, stop)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        begin = start
        if start > 0:
            fh.seek(start - 1)
            if fh.read(1) != b"\n":                    # start is inside a line owned by the block before
                fh.readline()
                begin = fh.tell()
        if begin >= stop:
            return b""
        fh.seek(begin)
        data = fh.read(stop - begin)
        if stop < size and not data.endswith(b"\n"):
            data += fh.readline()                        # finish the last line owned
    return data


_BLANK_LINE = re.compile(rb"\n\r?\n")


def _count_lines(data: bytes) -> int:
    """Lines of a run of whole lines (the last one may lack its line feed)."""
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def _has_blank_line(data: bytes) -> bool:
    return data.startswith((b"\n", b"\r\n")) or _BLANK_LINE.search(data) is not None   # re: 3x bytes.find


def line_counts(path: Path, start: int, stop: int) -> tuple[int, int]:
    """(lines starting in [start, stop), blank lines among them)."""
    data = _owned(path, start, stop)
    if not data:
        return 0, 0
    n = _count_lines(data)
    blank = int(np.sum(_lines(np.frombuffer(data, dtype=np.uint8))[1] == 0)) if _has_blank_line(data) else 0
    return n, blank


def read_block(path: Path, file: str, header: list[str], start: int, stop: int, first_line: int) -> pd.DataFrame:
    """The rows of the lines starting in [start, stop) of a raw file (``first_line``: the line
    number of the first; 0 for the first block, whose header line is skipped), parsed as
    :func:`read_raw` parses the whole file: same parser and errors, SRC_ROW the data row.
    Columns are pyarrow strings (cheap to move between workers); :func:`categorical_frame`
    gives the reader's final form."""
    path = Path(path)
    data = _owned(path, start, stop)
    skip = first_line == 0
    if not data:
        return _select(pa.table({c: pa.array([], pa.string()) for c in header}), file, np.zeros(0, dtype=np.int64))
    table = _parse(pa.BufferReader(data), path, file, header, skip_header=skip)
    src = first_line + int(skip) + np.arange(table.num_rows, dtype=np.int64)
    if _has_blank_line(data):
        starts, lengths = _lines(np.frombuffer(data, dtype=np.uint8))
        numbers = first_line + np.arange(len(starts), dtype=np.int64)
        numbers = numbers[(lengths > 0) & (numbers > 0)]
        if len(numbers) != table.num_rows:
            raise _not_one_record_a_line(path, file, header)
        src = numbers
    elif _count_lines(data) - int(skip) != table.num_rows:
        raise _not_one_record_a_line(path, file, header)
    if b'"' in data and _breaks(table, dict_columns(file)):   # a quote open to the end of the block, a CR in a value
        raise _not_one_record_a_line(path, file, header)
    return _select(table, file, src)


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
