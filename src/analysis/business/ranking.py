"""One order for ranked customer lists: by one or more numbers, largest first, ties by customer_id."""

from __future__ import annotations

import numpy as np
import pandas as pd


def order_desc_then_id(index: pd.Index, *keys: np.ndarray) -> np.ndarray:
    """Positions that sort the rows by ``keys`` (first key first), each descending, then by ``index`` (the
    customer ids) ascending. When the ids are in order already (the customer tables are), a stable sort on
    the numbers alone gives that order; otherwise the ids are sorted too."""
    if index.is_monotonic_increasing:
        return np.lexsort(tuple(-np.asarray(k, dtype=float) for k in reversed(keys)))
    names = [f"k{i}" for i in range(len(keys))]
    frame = pd.DataFrame({**dict(zip(names, keys)), "id": index.astype(str)})
    return frame.sort_values([*names, "id"], ascending=[False] * len(keys) + [True],
                             kind="mergesort").index.to_numpy()
