"""Sparsity of the trained weights: exact and near zeros among the kernels,
and the model's size stored dense and as CSR (activation zeros, which
dropout makes, are dropout.activation_zeros_hook)."""
from typing import Dict

import jax
import numpy as np
import scipy.sparse
from flax import traverse_util


def sparse_bytes(kernel: np.ndarray) -> int:
  """Bytes of `kernel` (fan-in x fan-out view) stored as scipy's CSR matrix:
  values, column indices and row pointers."""
  m = scipy.sparse.csr_matrix(kernel.reshape(-1, kernel.shape[-1]))
  return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)


def weight_sparsity_hook(small: float = 1e-3):
  """Hook, over all kernels of the final parameters: 'kernel_zero_fraction'
  (exactly 0), 'kernel_small_fraction' (|w| < `small`), 'dense_kb' (every
  parameter stored dense, float32) and 'sparse_kb' (kernels stored as CSR,
  the other parameters dense), 'size_ratio' = sparse / dense."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    flat = traverse_util.flatten_dict(jax.device_get(ctx.params))
    out = {k: [] for k in ('kernel_zero_fraction', 'kernel_small_fraction',
                           'dense_kb', 'sparse_kb')}
    for i in range(len(ctx.members)):
      zeros = smalls = count = dense = stored = 0
      for path, value in flat.items():
        w = np.asarray(value[i], np.float32)
        dense += w.nbytes
        if path[-1] == 'kernel':
          zeros += int(np.sum(w == 0))
          smalls += int(np.sum(np.abs(w) < small))
          count += w.size
          stored += sparse_bytes(w)
        else:
          stored += w.nbytes
      out['kernel_zero_fraction'].append(zeros / max(count, 1))
      out['kernel_small_fraction'].append(smalls / max(count, 1))
      out['dense_kb'].append(dense / 1024)
      out['sparse_kb'].append(stored / 1024)
    out = {k: np.asarray(v) for k, v in out.items()}
    out['size_ratio'] = out['sparse_kb'] / out['dense_kb']
    return out

  return hook
