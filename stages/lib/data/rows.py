"""Where a row of a data file is, for error messages."""
import pandas as pd


def first_marked(frame: pd.DataFrame, marked: pd.Series) -> tuple:
    """(index, place) of the first row `marked` flags: its line in the file where the reader
    kept it (TSV frames are indexed by "line"), else its row number."""
    at = marked.idxmax()
    return at, f"line {at}" if frame.index.name == "line" else f"row {marked.argmax() + 1}"
