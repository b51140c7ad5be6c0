"""Fashion-MNIST from its four IDX files, found locally or downloaded.

Where it looks: the folder the user named, if any: data.data_dir, else
$DLEXP_DATA_DIR (the folder itself and its subfolder fashion_mnist/); then
nowhere else, so a named folder without the files is an error that names it
and the missing files. With no folder named: the Debian package's folder
(`apt-get install dataset-fashion-mnist`), then the download cache
(~/.cache/dlexp/fashion_mnist). With data.download=True and no place holding
the files, they are downloaded into the named folder, else into the cache.
"""
import functools
import hashlib
import logging
import os
import pathlib
import shutil
import tempfile
import urllib.request
from typing import List, Optional, Tuple

from dlexp.data import idx
from dlexp.data.base import RawData, cache_dir
from dlexp.errors import DataError

log = logging.getLogger(__name__)

CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
SYSTEM_DIR = pathlib.Path('/usr/share/datasets/fashion-mnist')
URLS = (
    'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/'
    'data/fashion/',
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
)
# SHA-256 of each file's *decompressed* IDX bytes. The gzip files differ
# between sources only in their header: Debian's copies drop the original file
# name and time stamp that the official ones carry (re-adding them reproduces
# the published SHA-256s of the official .gz files), so hashing the content
# accepts any faithful copy.
FILES = {
    'train_images': (
        'train-images-idx3-ubyte',
        'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888'),
    'train_labels': (
        'train-labels-idx1-ubyte',
        'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9'),
    'test_images': (
        't10k-images-idx3-ubyte',
        '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b'),
    'test_labels': (
        't10k-labels-idx1-ubyte',
        '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34'),
}
_TIMEOUT_S = 60


def named_dir(data_dir: str = '') -> Tuple[Optional[pathlib.Path], str]:
  """(folder, how it was named) that the user chose: data.data_dir, else
  $DLEXP_DATA_DIR; (None, '') when neither is set."""
  for root, why in ((data_dir, 'data.data_dir'),
                    (os.environ.get('DLEXP_DATA_DIR', ''), '$DLEXP_DATA_DIR')):
    if root:
      return pathlib.Path(root).expanduser(), why
  return None, ''


def search_places(data_dir: str = '') -> List[Tuple[pathlib.Path, str]]:
  """(folder, why it is searched), in search order: only the named folder
  (and its fashion_mnist/ subfolder) when one is named, else the defaults."""
  root, why = named_dir(data_dir)
  if root is not None:
    return [(root, why), (root / 'fashion_mnist', why)]
  return [(SYSTEM_DIR, 'apt-get install dataset-fashion-mnist'),
          (cache_dir('fashion_mnist'), 'download cache')]


def _find_files(folder: pathlib.Path) -> Tuple[dict, List[str]]:
  """Paths of the files in `folder` (.gz preferred) and the names missing."""
  found, missing = {}, []
  for key, (stem, _) in FILES.items():
    for name in (stem + '.gz', stem):
      if (folder / name).is_file():
        found[key] = folder / name
        break
    else:
      missing.append(stem)
  return found, missing


def locate(data_dir: str = '') -> Tuple[Optional[dict], List[str]]:
  """The four files from the first place holding all of them, or None and a
  description of every place looked at."""
  looked = []
  for folder, why in search_places(data_dir):
    found, missing = _find_files(folder)
    if not missing:
      return found, looked
    if not folder.is_dir():
      state = 'no such folder'
    else:
      state = f'has {len(found)} of 4 files, missing {", ".join(missing)}'
    looked.append(f'{folder} ({why}: {state})')
  return None, looked


def read(files: dict) -> RawData:
  """Reads and checks the four IDX files; once per process while they stay
  unchanged (same size and modification time)."""
  key = []
  for name, path in sorted(files.items()):
    try:
      stat = os.stat(path)
    except OSError:
      return _read(files)  # says which file cannot be read
    key.append((name, str(path), stat.st_size, stat.st_mtime_ns))
  return _read_unchanged(tuple(key))


# A script with several parts loads the dataset once per part
# (keras_workflow 9 times); gunzipping the training images took 0.35 s each
# time on 2 cores. The arrays are read-only views, safe to share.
@functools.lru_cache(maxsize=2)
def _read_unchanged(key) -> RawData:
  return _read({name: path for name, path, _, _ in key})


def _read(files: dict) -> RawData:
  arrays = {}
  for key, path in files.items():
    magic = idx.UBYTE_IMAGES if key.endswith('images') else idx.UBYTE_LABELS
    arrays[key] = idx.read_idx(path, magic=magic)
  for split in ('train', 'test'):
    images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
    image_path, label_path = files[f'{split}_images'], files[f'{split}_labels']
    if images.shape[1:] != (28, 28):
      raise DataError(f'{image_path}: images are {images.shape[1:]}, '
                      'Fashion-MNIST images are (28, 28)')
    if len(images) != len(labels):
      raise DataError(f'{image_path} has {len(images)} images but '
                      f'{label_path} has {len(labels)} labels')
    if len(labels) and labels.max() >= len(CLASS_NAMES):
      raise DataError(f'{label_path}: label {labels.max()} is out of range; '
                      f'Fashion-MNIST labels are 0..{len(CLASS_NAMES) - 1}')
  # Images get a channel axis: NHWC.
  return RawData(train_x=arrays['train_images'][..., None],
                 train_y=arrays['train_labels'],
                 test_x=arrays['test_images'][..., None],
                 test_y=arrays['test_labels'],
                 class_names=CLASS_NAMES)


def _open_url(url: str):
  """The network access point (tests replace it)."""
  return urllib.request.urlopen(url, timeout=_TIMEOUT_S)  # noqa: S310


def _content_sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(idx.read_bytes(path)).hexdigest()


def _download_one(url: str, dest: pathlib.Path, sha256: str) -> None:
  """Downloads `url` to `dest` via a temp file in the same folder, renamed
  into place only after the checksum matched, so `dest` is never partial."""
  fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f'.{dest.name}.',
                             suffix='.part')
  try:
    with os.fdopen(fd, 'wb') as out, _open_url(url) as response:
      shutil.copyfileobj(response, out, length=1 << 20)
    got = _content_sha256(pathlib.Path(tmp))
    if got != sha256:
      raise DataError(f'{url}: checksum mismatch (content SHA-256 {got}, '
                      f'expected {sha256})')
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the data is public
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


def download(folder: pathlib.Path) -> dict:
  """Downloads the four files into `folder` (first URL that works, per file).

  Raises:
    DataError: if some file could not be fetched and verified; its message
      lists every URL tried and why it failed.
  """
  folder.mkdir(parents=True, exist_ok=True)
  files = {}
  for key, (stem, sha256) in FILES.items():
    dest = folder / (stem + '.gz')
    if dest.is_file():
      try:
        if _content_sha256(dest) == sha256:
          files[key] = dest
          continue
      except DataError:
        pass  # A bad leftover is replaced below.
    failures = []
    for base in URLS:
      url = base + stem + '.gz'
      try:
        log.info('downloading %s', url)
        _download_one(url, dest, sha256)
        files[key] = dest
        break
      except (OSError, DataError) as e:  # URLError is an OSError.
        failures.append(f'{url}: {e}')
    else:
      raise DataError('; '.join(failures))
  return files


def _nowhere_message(looked: List[str], download_note: str) -> str:
  cache = cache_dir('fashion_mnist')
  return (
      'fashion_mnist: the four IDX files (train-images-idx3-ubyte[.gz], '
      'train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], '
      't10k-labels-idx1-ubyte[.gz]) were not found; looked in: '
      f'{"; ".join(looked)}. {download_note}. Get them in one of three ways: '
      '(1) apt-get install dataset-fashion-mnist; '
      '(2) point data.data_dir (--config.data.data_dir=DIR) or $DLEXP_DATA_DIR '
      'to a folder holding the IDX files; '
      f'(3) allow the download into {cache} with --config.data.download=True')


def _named_dir_message(root: pathlib.Path, why: str, looked: List[str],
                       download_note: str) -> str:
  return (
      f'fashion_mnist: {why}={root} does not hold the four IDX files '
      f'(looked in: {"; ".join(looked)}). {download_note}. A named folder is '
      'the only place looked in: put the files there, add '
      '--config.data.download=True to download them into it, or unset '
      f'{why} to use the default places ({SYSTEM_DIR}, '
      f'{cache_dir("fashion_mnist")})')


def load_raw(data_cfg) -> RawData:
  """Finds (or downloads, when allowed) and reads Fashion-MNIST."""
  files, looked = locate(data_cfg.data_dir)
  if files is not None:
    return read(files)
  root, why = named_dir(data_cfg.data_dir)

  def message(note):
    if root is not None:
      return _named_dir_message(root, why, looked, note)
    return _nowhere_message(looked, note)

  if not data_cfg.download:
    raise DataError(message('Download is off'))
  try:
    files = download(root if root is not None else cache_dir('fashion_mnist'))
  except (OSError, DataError) as e:
    raise DataError(message(
        f'Download failed: {e}'.replace('\n', ' '))) from e
  return read(files)
