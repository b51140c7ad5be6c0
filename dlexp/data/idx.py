"""IDX files (the MNIST / Fashion-MNIST format), gzipped or not."""
import gzip
import os
import struct
import zlib
from typing import Optional, Union

import numpy as np

from dlexp.errors import DataError

# IDX type code (third magic byte) -> big-endian element type.
_DTYPES = {
    0x08: np.dtype('>u1'),
    0x09: np.dtype('>i1'),
    0x0B: np.dtype('>i2'),
    0x0C: np.dtype('>i4'),
    0x0D: np.dtype('>f4'),
    0x0E: np.dtype('>f8'),
}
_GZIP_MAGIC = b'\x1f\x8b'
UBYTE_IMAGES = 0x00000803  # uint8, 3 dims (N, H, W)
UBYTE_LABELS = 0x00000801  # uint8, 1 dim (N,)

PathLike = Union[str, os.PathLike]


def read_bytes(path: PathLike) -> bytes:
  """The file's content, gunzipped when it is gzip data (by magic, not name)."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise DataError(f'{path}: cannot read ({e.strerror or e})') from e
  if data[:2] != _GZIP_MAGIC:
    return data
  try:
    return gzip.decompress(data)
  except (OSError, EOFError, zlib.error) as e:
    # EOFError is what a truncated gzip stream raises.
    raise DataError(f'{path}: corrupt or truncated gzip data ({e})') from e


def parse_idx(data: bytes, source: str = '<bytes>',
              magic: Optional[int] = None) -> np.ndarray:
  """Parses IDX bytes into an array (native byte order).

  Args:
    data: the (decompressed) file content.
    source: the file name, for error messages.
    magic: if given, the exact magic number required (e.g. UBYTE_IMAGES).

  Returns:
    The array; for uint8 files a read-only view of `data` (no copy).
  """
  if len(data) < 4:
    raise DataError(f'{source}: {len(data)} bytes is too short for an IDX '
                    'header (needs at least 4)')
  (found,) = struct.unpack('>I', data[:4])
  if magic is not None and found != magic:
    raise DataError(f'{source}: bad IDX magic number 0x{found:08x}; expected '
                    f'0x{magic:08x}')
  code, ndim = (found >> 8) & 0xFF, found & 0xFF
  if found >> 16 != 0 or code not in _DTYPES or ndim == 0:
    raise DataError(f'{source}: bad IDX magic number 0x{found:08x}; expected '
                    '0x0000TTNN with type TT in '
                    f'{{{", ".join(f"{c:02x}" for c in _DTYPES)}}} and NN >= 1 '
                    'dimensions')
  header = 4 + 4 * ndim
  if len(data) < header:
    raise DataError(f'{source}: truncated IDX header ({len(data)} bytes, '
                    f'{ndim} dimensions need {header})')
  shape = struct.unpack(f'>{ndim}I', data[4:header])
  dtype = _DTYPES[code]
  expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  actual = len(data) - header
  if actual < expected:
    raise DataError(f'{source}: truncated: the header says shape {shape} '
                    f'({expected} data bytes) but the file has {actual}')
  if actual > expected:
    raise DataError(f'{source}: {actual - expected} unexpected bytes after '
                    f'the data of shape {shape}')
  array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize,
                        offset=header).reshape(shape)
  if dtype.itemsize > 1:
    array = array.astype(dtype.newbyteorder('='))
  return array


def read_idx(path: PathLike, magic: Optional[int] = None) -> np.ndarray:
  """Reads an IDX file, gzipped or not (see `parse_idx`)."""
  return parse_idx(read_bytes(path), source=str(path), magic=magic)


def write_idx(path: PathLike, array: np.ndarray,
              compress: bool = False) -> None:
  """Writes `array` as an IDX file (used to make small test files)."""
  array = np.asarray(array)
  codes = {np.dtype(v).newbyteorder('='): k for k, v in _DTYPES.items()}
  native = array.dtype.newbyteorder('=')
  if native not in codes:
    raise ValueError(f'IDX has no type code for dtype {array.dtype}')
  header = struct.pack('>I', (codes[native] << 8) | array.ndim)
  header += struct.pack(f'>{array.ndim}I', *array.shape)
  data = header + array.astype(_DTYPES[codes[native]]).tobytes()
  with open(path, 'wb') as f:
    f.write(gzip.compress(data) if compress else data)
