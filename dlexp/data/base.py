"""Types shared by the dataset loaders: raw arrays in, a frozen Dataset out."""
import dataclasses
import os
import pathlib
from typing import Callable, Tuple

import numpy as np

# Layouts of x without the batch axis: images (H, W, C), sequences (L, C),
# vectors (D,).
LAYOUTS = ('image', 'sequence', 'vector')


@dataclasses.dataclass(frozen=True)
class RawData:
  """What a loader returns: the official train/test splits, not yet split,
  scaled or standardized. x is uint8 (scaled to [0, 1] later) or float."""
  train_x: np.ndarray
  train_y: np.ndarray
  test_x: np.ndarray
  test_y: np.ndarray
  class_names: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """A registered dataset: how to load it and what `validate` may check early.

  `num_train` is the size of the official training split (before the
  validation split is carved from it); `input_shape` (no batch axis) and
  `num_classes` describe the loaded arrays, so a model can be rebuilt from a
  run's config without loading the data. `reads_files`: the loader reads
  data.data_dir (false for generated datasets, where setting it is an error
  rather than silently ignored).
  """
  loader: Callable[..., RawData]
  num_train: int
  layout: str
  description: str
  input_shape: Tuple[int, ...] = ()
  num_classes: int = 10
  reads_files: bool = True


# eq=False: arrays make `==` ambiguous, and identity is what callers mean.
@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """A loaded dataset: read-only numpy arrays, x float32, y int32 class ids;
  or y float32 regression targets (N,) or (N, d), with num_classes 0 and no
  class names.

  x is stored standardized as `(x_raw - mean) / std`, where x_raw is the raw
  value (uint8 pixels scaled to [0, 1]) and mean/std (float32, shape () for
  one channel, (C,) per channel) come from the training split only; with
  standardization off they are 0 and 1.
  """
  name: str
  train_x: np.ndarray
  train_y: np.ndarray
  val_x: np.ndarray
  val_y: np.ndarray
  test_x: np.ndarray
  test_y: np.ndarray
  class_names: Tuple[str, ...]
  num_classes: int
  input_shape: Tuple[int, ...]
  mean: np.ndarray
  std: np.ndarray

  @property
  def num_train(self) -> int:
    return len(self.train_y)

  @property
  def num_val(self) -> int:
    return len(self.val_y)

  @property
  def num_test(self) -> int:
    return len(self.test_y)

  @property
  def target_dim(self) -> int:
    """Outputs a regression model needs: d of (N, d) targets, 1 of (N,)."""
    return int(self.train_y.shape[1]) if self.train_y.ndim > 1 else 1

  def __repr__(self) -> str:
    # The default repr would print every array.
    return (f'Dataset({self.name}: train={self.num_train}, val={self.num_val}, '
            f'test={self.num_test}, input_shape={self.input_shape}, '
            f'num_classes={self.num_classes})')


def cache_dir(*parts: str) -> pathlib.Path:
  """dlexp's user cache folder ($XDG_CACHE_HOME/dlexp or ~/.cache/dlexp)."""
  root = os.environ.get('XDG_CACHE_HOME', '')
  # The XDG spec says relative values are invalid and must be ignored.
  if not root or not os.path.isabs(root):
    root = os.path.join(os.path.expanduser('~'), '.cache')
  return pathlib.Path(root, 'dlexp', *parts)
