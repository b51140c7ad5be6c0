"""MNIST-1D, generated offline with the mnist1d package's default arguments.

mnist1d.get_dataset() downloads a pickle by default, so the generator
(make_dataset) is called instead; its output is cached as .npz under
~/.cache/dlexp/mnist1d, keyed by the generator arguments, because generating
takes about a second.
"""
import hashlib
import json
import os
import random
import tempfile
import zipfile

import numpy as np

from dlexp.data.base import RawData, cache_dir

CLASS_NAMES = tuple(str(i) for i in range(10))
# Bumped when the cached file's layout changes, so old caches are not misread.
_CACHE_FORMAT = 1


def generator_args() -> dict:
  """The package's default generator arguments (no download URL)."""
  from mnist1d.data import get_dataset_args  # imports matplotlib: ~1 s
  args = get_dataset_args(as_dict=True)
  args.pop('url', None)
  return args


def cache_path(args: dict):
  key = json.dumps({'args': args, 'format': _CACHE_FORMAT}, sort_keys=True)
  digest = hashlib.sha256(key.encode()).hexdigest()[:16]
  return cache_dir('mnist1d', f'mnist1d_{digest}.npz')


def generate(args: dict) -> dict:
  """Runs the mnist1d generator; x (N, L) float32, y (N,) int32."""
  # mnist1d imports matplotlib (~1 s): loaded only when data is generated.
  from mnist1d.data import make_dataset  # pylint: disable=g-import-not-at-top
  from mnist1d.utils import ObjectView  # pylint: disable=g-import-not-at-top
  # make_dataset reseeds the global `random` and numpy generators; restore
  # them so that loading data does not change anyone else's random stream.
  py_state, np_state = random.getstate(), np.random.get_state()
  try:
    d = make_dataset(ObjectView(dict(args)))
  finally:
    random.setstate(py_state)
    np.random.set_state(np_state)
  return {'train_x': d['x'].astype(np.float32),
          'train_y': d['y'].astype(np.int32),
          'test_x': d['x_test'].astype(np.float32),
          'test_y': d['y_test'].astype(np.int32)}


def _read_cache(path) -> dict:
  try:
    with np.load(path) as f:
      return {k: f[k] for k in ('train_x', 'train_y', 'test_x', 'test_y')}
  except (OSError, KeyError, ValueError, zipfile.BadZipFile):
    return {}  # Missing or damaged: regenerate.


def _write_cache(path, arrays: dict) -> None:
  """Writes via a temp file and rename so readers never see a partial file;
  an unwritable cache only costs regeneration next time."""
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix='.npz.part')
    try:
      with os.fdopen(fd, 'wb') as f:
        np.savez(f, **arrays)
      os.chmod(tmp, 0o644)  # mkstemp makes it private; the data is public
      os.replace(tmp, path)
    finally:
      if os.path.exists(tmp):
        os.unlink(tmp)
  except OSError:
    pass


def load_raw(data_cfg) -> RawData:
  """MNIST-1D as sequences (N, 40, 1); 4000 train / 1000 test by default."""
  del data_cfg  # Generated, so there is nothing to locate or download.
  args = generator_args()
  path = cache_path(args)
  arrays = _read_cache(path)
  if not arrays:
    arrays = generate(args)
    _write_cache(path, arrays)
  return RawData(train_x=arrays['train_x'][..., None],
                 train_y=arrays['train_y'],
                 test_x=arrays['test_x'][..., None],
                 test_y=arrays['test_y'],
                 class_names=CLASS_NAMES)
