"""Public datasets through TensorFlow Datasets, read without TensorFlow.

`tfds.data_source` random-accesses prepared ArrayRecord files; it downloads
and prepares only when data.download=True. The data folder is data.data_dir,
else $TFDS_DATA_DIR, else ~/tensorflow_datasets (TFDS's default).

Testing: `tfds.testing.mock_data(policy=MockPolicy.USE_CODE)` works without
TensorFlow (tested with tensorflow-datasets 4.9.10). AUTO falls back to
USE_CODE when no metadata files exist; USE_FILES needs dataset_info.json files
that the pip package does not ship. Under USE_CODE, split=None yields no
splits and batched `__getitems__` is broken, hence the per-split, per-example
reads below.
"""
import os

import numpy as np

from dlexp.data.base import RawData
from dlexp.errors import DataError


def resolve_data_dir(data_dir: str = '') -> str:
  """The TFDS data folder used, made explicit so errors can name it."""
  return (data_dir or os.environ.get('TFDS_DATA_DIR', '')
          or os.path.join(os.path.expanduser('~'), 'tensorflow_datasets'))


def _to_arrays(source, image_key: str = 'image', label_key: str = 'label'):
  """All examples of a data source as (x uint8 (N, H, W, C), y int64 (N,))."""
  n = len(source)
  first = source[0] if n else None
  shape = np.shape(first[image_key]) if n else (0,)
  x = np.empty((n,) + tuple(shape), np.uint8)
  y = np.empty((n,), np.int64)
  # One example at a time: decoding (PNG for CIFAR) dominates, and the mocked
  # sources of tfds.testing do not implement batched __getitems__.
  for i in range(n):
    example = first if i == 0 else source[i]
    x[i] = example[image_key]
    y[i] = example[label_key]
  return x, y


def load_raw(tfds_name: str, data_cfg) -> RawData:
  """Reads the 'train' and 'test' splits of TFDS dataset `tfds_name`."""
  import tensorflow_datasets as tfds  # Slow import (~2 s): only when used.
  data_dir = resolve_data_dir(data_cfg.data_dir)
  try:
    # Split by split: under tfds.testing.mock_data(policy=USE_CODE) the split
    # names are unknown, so split=None would return no splits at all.
    train, test = (tfds.data_source(tfds_name, split=split, data_dir=data_dir,
                                    download=bool(data_cfg.download))
                   for split in ('train', 'test'))
  except (OSError, ValueError, RuntimeError, AssertionError) as e:
    folder = os.path.join(data_dir, tfds_name)
    if os.path.isdir(folder):
      reason = ' '.join(str(e).split())[:300]
      reason = f'{type(e).__name__}: {reason}'
    else:
      # TFDS's own message for this case talks about file formats.
      reason = 'no such folder'
    raise DataError(
        f'tfds/{tfds_name}: no prepared ArrayRecord data under {folder} '
        f'({reason}); '
        f'prepare it there (e.g. `tfds build {tfds_name} --data_dir={data_dir}'
        ' --file_format=array_record`), or let TFDS download and prepare it '
        'with --config.data.download=True; choose the folder with '
        '--config.data.data_dir or $TFDS_DATA_DIR') from e
  label = train.dataset_info.features['label']
  train_x, train_y = _to_arrays(train)
  test_x, test_y = _to_arrays(test)
  return RawData(train_x=train_x, train_y=train_y, test_x=test_x,
                 test_y=test_y, class_names=tuple(label.names))
