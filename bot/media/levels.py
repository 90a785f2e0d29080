"""Sound level of decoded PCM (numpy): used while preparing and splitting, in media workers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def frame_sum_squares(samples: npt.NDArray[np.generic]) -> tuple[float, int]:
    """Sum of squared samples (full scale = 1.0) and the sample count, for any PCM dtype."""
    if samples.dtype.kind == "f":
        x = samples.astype(np.float64, copy=False)
    else:
        full_scale = float(2 ** (8 * samples.dtype.itemsize - 1))
        x = samples.astype(np.float64)
        if samples.dtype.kind == "u":  # unsigned (u8 PCM) is centred on half scale
            x -= full_scale
        x /= full_scale
    return float(np.dot(x.ravel(), x.ravel())), int(x.size)
