"""Reading the raw extract and writing analysis datasets.

Raw files are read as text (every column a string, empty field = missing) with pyarrow and
kept as pandas categoricals (one copy of each distinct string), so a 10^6-patient extract
fits in memory. Structural
problems stop the run with file, row and column named: wrong encoding, an empty file, a
missing column. An unknown extra column is ignored and logged as a query.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .dictionary import columns as dict_columns

STRING = pd.ArrowDtype(pa.string())


def _encoding_error(path: Path, file: str):
    from .clean.errors import DataError
    data = path.read_bytes()
    for i, line in enumerate(data.split(b"\n")):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            header = data.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
            col = header[line[: exc.start].count(b",")] if i else None
            return DataError(file, i if i else None, col, "encoding",
                             f"not valid UTF-8 (byte {exc.start + 1} of the line); re-export the file as UTF-8")
    return DataError(file, None, None, "encoding", "not valid UTF-8")


def read_raw(folder: Path, file: str, log=None) -> pd.DataFrame:
    """Read ``folder/file.csv``: categorical string columns in dictionary order plus
    ``SRC_ROW`` (1-based data row). ``log``: a QueryLog for recoverable structure problems."""
    from .clean.errors import DataError
    path = Path(folder) / f"{file}.csv"
    part = Path(folder) / f"{file}.arrow"
    if not path.is_file() and part.is_file():
        return _read_partition(part, file)
    if not path.is_file():
        raise DataError(file, None, None, "file present", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(file, None, None, "not empty", "the file is empty (no header, no rows)")
    expected = dict_columns(file)
    try:
        header = path.open(encoding="utf-8").readline().rstrip("\r\n").split(",")
    except UnicodeDecodeError:
        raise _encoding_error(path, file) from None
    missing = [c for c in expected if c not in header]
    if missing:
        raise DataError(file, None, missing[0], "required column", f"column {missing[0]} missing from the header")
    if len(set(header)) != len(header):
        dup = next(c for c in header if header.count(c) > 1)
        raise DataError(file, None, dup, "unique column names", f"column {dup} appears twice in the header")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8", block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=True, null_values=[""]))
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise _encoding_error(path, file) from None
        raise DataError(file, None, None, "CSV structure", str(exc).splitlines()[0]) from None
    if table.num_rows == 0:
        raise DataError(file, None, None, "not empty", "the file has a header but no data rows")
    extra = [c for c in header if c not in expected]
    for c in extra:
        if log is not None:
            log.add(file, [0], [None], c, "unknown column", None, "column ignored (not in the data dictionary)")
    table = table.select(expected)
    # dictionary-encoded -> pandas categoricals: a 10^6-patient extract repeats the same ids,
    # dates and codes millions of times; each distinct string is stored (and parsed) once
    table = pa.table({c: pc.dictionary_encode(table[c]) for c in expected})
    df = table.to_pandas()
    df.insert(0, "SRC_ROW", pd.RangeIndex(1, len(df) + 1).to_numpy())
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
