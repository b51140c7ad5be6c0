"""The dataset on the device(s): training arrays resident and replicated,
evaluation splits pre-batched with padding weights, the diagnostics probe."""
import dataclasses
from typing import Optional, Tuple

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from dlexp.config import AUTO_PROBE_MAX, AUTO_PROBE_SIZE
from dlexp.errors import ConfigError


@dataclasses.dataclass
class DeviceData:
  train_x: jax.Array
  train_y: jax.Array
  val: Tuple[jax.Array, jax.Array, jax.Array]  # (B, b, ...) batches + weights
  test: Optional[Tuple[jax.Array, jax.Array, jax.Array]]  # None: no test
  probe_x: jax.Array
  probe_y: jax.Array


def batched(x: np.ndarray, y: np.ndarray, batch: int):
  """Pads to a whole number of batches of `batch` (at least one); weight 0
  marks the padding."""
  n = len(y)
  num = -(-n // batch)
  pad = num * batch - n
  w = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
  x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
  y = np.concatenate([y, np.zeros((pad,) + y.shape[1:], y.dtype)])
  shape = lambda a: a.reshape((num, batch) + a.shape[1:])
  return shape(x), shape(y), shape(w)


def eval_batch(config, dataset) -> int:
  """The one batch size of validation and test, so that one compiled
  `eval_sums` serves both (a second shape compiled it again after training,
  alone): eval_batch_size, or the whole validation split when smaller,
  since it runs every epoch.
  The test split, evaluated once, is cut and padded to it. Without a
  validation split (cross-validation, from_arrays), the test split's."""
  n = len(dataset.val_y) or len(dataset.test_y)
  return max(1, min(config.eval_batch_size, n))


def replicate(tree, mesh):
  """Every leaf on every device of the mesh: the placement the compiled
  programs are built for (training outputs come back replicated too)."""
  return jax.device_put(tree, _replicated(mesh))


def replicated_shapes(shapes, mesh):
  """ShapeDtypeStructs placed as `replicate` places the arrays: what a
  program can be lowered for before the arrays exist."""
  def placed(s):
    # Older jax (0.4.30) has no weak types on ShapeDtypeStruct or eval_shape.
    weak = {'weak_type': s.weak_type} if hasattr(s, 'weak_type') else {}
    return jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=_replicated(mesh),
                                **weak)
  return jax.tree_util.tree_map(placed, shapes)


def _replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def _probe_split(dataset):
  """(name, x, y) of the split the diagnostics probe is drawn from: the
  validation split, or under cross-validation (no validation split) the
  training split."""
  if len(dataset.val_y):
    return 'validation', dataset.val_x, dataset.val_y
  return 'training', dataset.train_x, dataset.train_y


def probe_size(config, dataset) -> int:
  """How many examples the diagnostics probe takes from its split
  (_probe_split). ConfigError if diagnostics.probe_size asks for more."""
  size = config.diagnostics.probe_size
  split, _, probe_y = _probe_split(dataset)
  n = len(probe_y)
  if size == AUTO_PROBE_SIZE:
    return min(AUTO_PROBE_MAX, n)
  if size > n:
    raise ConfigError(
        f'diagnostics.probe_size={size} is larger than the {split} split '
        f'({n} examples) the probe is drawn from; allowed: 1..{n}, or '
        f'{AUTO_PROBE_SIZE} = auto (up to {AUTO_PROBE_MAX})')
  return size


def to_device(dataset, config, mesh) -> DeviceData:
  """Small datasets stay resident on the device(s), replicated."""
  put = lambda a: replicate(a, mesh)
  _, probe_x, probe_y = _probe_split(dataset)
  probe = probe_size(config, dataset)
  batch = eval_batch(config, dataset)
  return DeviceData(
      train_x=put(dataset.train_x), train_y=put(dataset.train_y),
      val=tuple(map(put, batched(dataset.val_x, dataset.val_y, batch)))
      if len(dataset.val_y) else None,
      # A dataset from arrays may have no test split (nothing to evaluate).
      test=tuple(map(put, batched(dataset.test_x, dataset.test_y, batch)))
      if len(dataset.test_y) else None,
      probe_x=put(probe_x[:probe]), probe_y=put(probe_y[:probe]))
