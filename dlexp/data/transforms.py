"""How raw examples become model inputs, before standardization: pixel
scale (data.scale), image size (data.resize), channels (data.channels)
and pixel order (data.permute_pixels).

One place for both users of it: dlexp.data.splits.make_dataset (training
data) and Trained.preprocess (dlexp/api.py), so a saved model sees new raw
inputs exactly as training saw its data.
"""
import zlib
from typing import Tuple

import jax
import numpy as np

from dlexp.errors import ConfigError, DataError

SCALES = ('unit', 'raw')
CHANNELS = (0, 1, 3)
# Examples resized per call: bounds jax.image.resize's float temporaries.
_RESIZE_CHUNK = 4096


def validate(data_cfg, layout: str) -> None:
  """ConfigError (one line) for a bad data.scale / resize / channels."""
  scale = getattr(data_cfg, 'scale', 'unit')
  if scale not in SCALES:
    raise ConfigError(f'data.scale={scale!r} not allowed; allowed: '
                      f'{", ".join(SCALES)}')
  if scale == 'raw' and data_cfg.standardize:
    raise ConfigError("data.scale='raw' keeps pixels 0..255, which "
                      'data.standardize=True would standardize anyway; set '
                      'data.standardize=False')
  resize, channels = _ints(data_cfg)
  if resize < 0:
    raise ConfigError(f'data.resize={resize} must be >= 0 (0 = as stored)')
  if channels not in CHANNELS:
    raise ConfigError(f'data.channels={channels} not allowed; allowed: 0 '
                      '(as stored), 1, 3')
  if (resize or channels) and layout != 'image':
    key = 'resize' if resize else 'channels'
    raise ConfigError(f'data.{key}={resize or channels} needs images; '
                      f'data.name={data_cfg.name!r} holds {layout}s')
  _validate_shuffle_steps(data_cfg, layout)
  _validate_permute_pixels(data_cfg, layout)


def _ints(data_cfg) -> Tuple[int, int]:
  return (int(getattr(data_cfg, 'resize', 0)),
          int(getattr(data_cfg, 'channels', 0)))


def output_shape(input_shape, data_cfg) -> Tuple[int, ...]:
  """The shape (no batch axis) of an example of `input_shape` after the
  transforms."""
  shape = tuple(int(d) for d in input_shape)
  resize, channels = _ints(data_cfg)
  if resize:
    shape = (resize, resize) + shape[2:]
  if channels:
    shape = shape[:-1] + (channels,)
  return shape


def check_raw(name: str, x: np.ndarray, data_cfg) -> None:
  """data.scale='raw' on a dataset of floats would change nothing: an
  error, not an ignored setting."""
  if getattr(data_cfg, 'scale', 'unit') == 'raw' and x.dtype != np.uint8:
    raise ConfigError(f"data.scale='raw' keeps uint8 pixels 0..255; {name}'s "
                      f'inputs are {x.dtype}, taken as they are')


def to_float32(x: np.ndarray, scale: str = 'unit') -> np.ndarray:
  """float32 copy; uint8 pixels scaled to [0, 1] ('unit') or kept 0..255
  ('raw'); float inputs are taken as they are."""
  out = x.astype(np.float32)
  if x.dtype == np.uint8 and scale == 'unit':
    out *= np.float32(1 / 255)
  return out


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
  """(N, H, W, C) float images resized to (N, size, size, C), bilinear
  (jax.image.resize, with antialiasing when shrinking)."""
  if x.ndim != 4:
    raise DataError(f'data.resize needs images (N, H, W, C); got shape '
                    f'{x.shape}')
  if x.shape[1:3] == (size, size):
    return x
  shape = (size, size, x.shape[-1])
  resize = jax.jit(lambda a: jax.image.resize(a, (len(a),) + shape,
                                              'bilinear'))
  out = np.empty((len(x),) + shape, np.float32)
  for start in range(0, len(x), _RESIZE_CHUNK):
    out[start:start + _RESIZE_CHUNK] = resize(x[start:start + _RESIZE_CHUNK])
  return out


def set_channels(x: np.ndarray, channels: int) -> np.ndarray:
  """Grayscale repeated into `channels` (3: RGB); 0 or equal: unchanged."""
  have = x.shape[-1]
  if not channels or channels == have:
    return x
  if have != 1:
    raise DataError(f'data.channels={channels}: only 1-channel (grayscale) '
                    f'images can be repeated into channels; these have {have}')
  return np.repeat(x, channels, axis=-1)


def apply(x: np.ndarray, data_cfg) -> np.ndarray:
  """Raw examples (uint8 or float) -> float32 model inputs, not yet
  standardized."""
  out = to_float32(x, getattr(data_cfg, 'scale', 'unit'))
  resize, channels = _ints(data_cfg)
  if resize:
    out = resize_images(out, resize)
  out = set_channels(out, channels)
  if getattr(data_cfg, 'permute_pixels', 0):
    out = permute_pixels(out, int(data_cfg.permute_pixels))
  if getattr(data_cfg, 'shuffle_steps', False):
    out = shuffle_steps(out, int(data_cfg.split_seed))
  return out


# -- step order (data.shuffle_steps) -------------------------------------------
# Its own stream of split_seed (as data.label_noise has its own).
_STEP_STREAM = 0x73746570  # 'step'


def _validate_shuffle_steps(data_cfg, layout: str) -> None:
  shuffle = getattr(data_cfg, 'shuffle_steps', False)
  if not isinstance(shuffle, bool):
    raise ConfigError(f'data.shuffle_steps={shuffle!r} must be True or False')
  if shuffle and layout not in ('sequence', 'image'):
    raise ConfigError(f'data.shuffle_steps=True reorders the steps of '
                      f'sequences (or the rows of images); data.name='
                      f'{data_cfg.name!r} holds {layout}s')


def shuffle_steps(x: np.ndarray, seed: int) -> np.ndarray:
  """Each example's steps (axis 1: a sequence's time steps, an image's rows,
  the steps an RNN reads) in a random order of its own: the values are
  kept, the order is destroyed. The permutation is drawn from `seed` and the
  example's own values, so it is the same in every epoch, split and call
  (a saved model's preprocess included), and independent between examples
  (two identical examples share it)."""
  if x.ndim < 2:
    raise DataError(f'data.shuffle_steps needs examples with steps (N, L, '
                    f'...); got shape {x.shape}')
  x = np.ascontiguousarray(x)
  steps = x.shape[1]
  order = np.array([
      np.random.default_rng([seed, _STEP_STREAM, zlib.crc32(row.tobytes())])
      .permutation(steps) for row in x], np.int64)
  order = order.reshape((len(x), steps) + (1,) * (x.ndim - 2))
  return np.take_along_axis(x, order, axis=1)


# -- pixel order (data.permute_pixels) -----------------------------------------
# Its own stream of the permutation seed, so that no other draw of the same
# number (a split_seed, a model seed) shares its randomness.
_PIXEL_STREAM = 0x706978  # 'pix'


def _validate_permute_pixels(data_cfg, layout: str) -> None:
  seed = getattr(data_cfg, 'permute_pixels', 0)
  if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
    raise ConfigError(f'data.permute_pixels={seed!r} must be an int >= 0 '
                      '(0 = off; else the seed of one fixed permutation)')
  if seed and layout != 'image':
    raise ConfigError(f'data.permute_pixels={seed} permutes the pixel '
                      f'positions of images; data.name={data_cfg.name!r} '
                      f'holds {layout}s')


def pixel_permutation(height: int, width: int, seed: int) -> np.ndarray:
  """The permutation of the height * width pixel positions (row-major) that
  data.permute_pixels=`seed` applies: one fixed draw per seed."""
  rng = np.random.default_rng([seed, _PIXEL_STREAM])
  return rng.permutation(height * width)


def permute_pixels(x: np.ndarray, seed: int) -> np.ndarray:
  """Images (N, H, W, C) with their pixel positions shuffled by ONE fixed
  permutation (the same for every image, split, epoch and call, a saved
  model's preprocess included): each pixel's channels move together, the
  values and the class are kept, the spatial neighbourhoods are destroyed.
  A fully connected net is indifferent to it (it permutes the rows of its
  first weight matrix, which are drawn i.i.d.); a convolution is not."""
  if x.ndim != 4:
    raise DataError(f'data.permute_pixels needs images (N, H, W, C); got '
                    f'shape {x.shape}')
  n, h, w, c = x.shape
  order = pixel_permutation(h, w, seed)
  return x.reshape(n, h * w, c)[:, order].reshape(n, h, w, c)
