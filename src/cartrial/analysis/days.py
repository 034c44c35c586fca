"""Numbers of days as pandas time deltas, without pandas' uninitialised-memory warning.

pandas 2.x turns a float array into ``timedelta64`` (``pd.to_timedelta(values, unit="D")``, and
``pd.to_datetime`` with a unit) in ``cast_from_unit_vectorized``: it splits each value into whole
and fractional parts, but allocates the fractions with ``np.empty`` and never writes the fraction
of a NaN, then rounds every fraction (``np.round(frac, 13)``, a multiply by 10**13). The NaN's
result is right (NaT), but whatever the memory held is multiplied too: now and then a huge
leftover double raises numpy's "overflow encountered in multiply" RuntimeWarning (seen in
100,000-subject exports, varying from run to run with the memory's history; pandas source
``pandas/_libs/tslibs/conversion.pyx``). :func:`days_to_timedelta` passes pandas the known
values only.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["days_to_timedelta"]


def days_to_timedelta(days: pd.Series) -> pd.Series:
    """``days`` (numbers of days, NaN when unknown) as ``timedelta64[ns]``, NaT when unknown.

    Examples
    --------
    >>> days_to_timedelta(pd.Series([1.0, None, 2.5])).tolist()
    [Timedelta('1 days 00:00:00'), NaT, Timedelta('2 days 12:00:00')]
    """
    numbers = pd.to_numeric(days).astype(float)
    known = numbers.notna()
    delta = pd.to_timedelta(numbers.where(known, 0.0), unit="D")  # no NaN reaches pandas
    return delta.where(known)
