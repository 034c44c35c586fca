"""Text variables held as codes and their distinct values, so each value is handled once.

A chunk of 1,000 subjects has some 170,000 LB records but a few hundred distinct LBTESTCD, unit
or date values. :func:`text_codes` turns every text variable of a chunk into a pandas
``Categorical`` (codes into its distinct values, in order of first appearance; -1 when missing)
as it is spooled; the checks and writers then test, measure and encode the distinct values once
(:func:`distinct`) and index them by the codes, instead of converting every record in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.exchange.metadata import DatasetSpec

__all__ = ["distinct", "text_codes"]


def distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, texts)``: per record the index of its value in ``texts`` (-1 when missing),
    and the distinct values as text (``str`` of each), in order of first appearance."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes)
        uniques = pd.Index(values.cat.categories)
    else:
        codes, found = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Index(found)
    if uniques.inferred_type == "string":  # text already (cached on the Index): no copy made
        return codes, np.asarray(uniques, dtype=np.object_)
    # Index.astype(str) converts in C and leaves values that are already text as they are
    texts = np.asarray(uniques.astype(str), dtype=np.object_)
    return codes, texts


def text_codes(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``frame`` with its text (``Char``) variables as ``Categorical`` (module docstring)."""
    columns = {}
    for variable in spec.variables:
        values = frame[variable.name]
        if variable.type == "Char" and not isinstance(values.dtype, pd.CategoricalDtype):
            codes, texts = distinct(values)
            # one Index: pandas checks the categories' uniqueness once and remembers it
            categories = pd.Index(texts, dtype=np.object_)
            if categories.is_unique:  # values that print alike stay as they are
                values = pd.Series(
                    pd.Categorical.from_codes(codes, categories=categories),
                    index=frame.index,
                    name=variable.name,
                )
        columns[variable.name] = values
    return pd.DataFrame(columns, index=frame.index)
