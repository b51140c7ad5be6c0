"""Tests for dlexp.data. No network: every test runs with sockets blocked and
the download path is exercised through a mocked fetch."""
import gzip
import hashlib
import io
import pathlib
import socket
import struct
import types
import urllib.error

import numpy as np
import pytest

from dlexp import data
from dlexp.data import fashion_mnist, idx, mnist1d, splits, synthetic
from dlexp.data import tfds as tfds_data
from dlexp.errors import ConfigError, DataError

REAL_FASHION = pathlib.Path('/usr/share/datasets/fashion-mnist')


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
  """Any attempt to open a connection fails the test loudly."""
  def refuse(*args, **kwargs):
    raise AssertionError(f'network access attempted in a test: {args}')
  monkeypatch.setattr(socket.socket, 'connect', refuse)
  monkeypatch.setattr(socket, 'create_connection', refuse)
  monkeypatch.setattr(fashion_mnist, '_open_url', refuse)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
  """A private cache and no data folders inherited from the environment."""
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
  for var in ('DLEXP_DATA_DIR', 'TFDS_DATA_DIR'):
    monkeypatch.delenv(var, raising=False)


def cfg(**overrides):
  """A data config; a plain namespace so tests can set any type."""
  c = types.SimpleNamespace(**data.defaults().to_dict())
  for key, value in overrides.items():
    setattr(c, key, value)
  return c


def assert_one_line(error):
  assert '\n' not in str(error.value), str(error.value)


# --- config ---------------------------------------------------------------

def test_defaults_are_valid_and_have_contract_keys():
  c = data.defaults()
  assert sorted(c.keys()) == sorted([
      'name', 'data_dir', 'val_size', 'split_seed', 'standardize', 'download',
      'train_limit', 'test_limit', 'classes', 'cv_folds', 'imbalance_classes',
      'imbalance_ratio', 'target_outliers', 'target_outlier_scale',
      'label_noise', 'scale', 'resize', 'channels', 'permute_pixels',
      'shuffle_steps', 'per_feature', 'train_part'])
  assert (c.name, c.data_dir, c.val_size, c.download) == (
      'fashion_mnist', '', -1, False)
  data.validate(c)


@pytest.mark.parametrize('name', data.DATASETS.names())
def test_every_dataset_validates_with_its_defaults(name):
  # Before val_size was sized per dataset, mnist1d's default of 5000 was
  # larger than its 4000 training examples.
  data.validate(cfg(name=name))


def test_auto_val_size_is_a_tenth_of_train_capped_at_5000():
  assert data.resolve_val_size(-1, 60000) == 5000  # Fashion-MNIST, MNIST
  assert data.resolve_val_size(-1, 50000) == 5000  # CIFAR
  assert data.resolve_val_size(-1, 4000) == 400  # MNIST-1D
  assert data.resolve_val_size(-1, 10000) == 1000  # synthetic
  assert data.resolve_val_size(123, 4000) == 123  # explicit: as given
  assert data.resolve_val_size(0, 4000) == 0


def test_auto_val_size_on_load():
  ds = data.load(cfg(name='synthetic'))
  assert (ds.num_train, ds.num_val) == (9000, 1000)
  ds = data.load(cfg(name='synthetic', val_size=700))
  assert (ds.num_train, ds.num_val) == (9300, 700)


def test_dataset_names():
  assert data.DATASETS.names() == sorted([
      'fashion_mnist', 'mnist1d', 'synthetic', 'synthetic_vector', 'mnist',
      'cifar10', 'cifar100', 'tfds/fashion_mnist', 'diabetes'])


def test_unknown_dataset_has_did_you_mean():
  with pytest.raises(ConfigError, match="did you mean 'fashion_mnist'") as e:
    data.validate(cfg(name='fashion_mnst'))
  assert_one_line(e)


@pytest.mark.parametrize('overrides, pattern', [
    ({'val_size': 60000}, r'data.val_size=60000 must be < 60000'),
    ({'name': 'mnist1d', 'val_size': 5000},
     r'data.val_size=5000 must be < 4000'),
    ({'val_size': -2}, r'data.val_size=-2 must be >= 0, or -1 for auto'),
    ({'name': 'mnist1d', 'data_dir': '/data'},
     r"data.data_dir='/data' not allowed with data.name='mnist1d'.*reads no "
     'files'),
    ({'name': 'synthetic', 'data_dir': '/data'}, r'reads no files'),
    ({'split_seed': -3}, r'data.split_seed=-3 must be >= 0'),
    ({'train_limit': -1}, r'data.train_limit=-1 must be >= 0'),
    ({'test_limit': 1.5}, r'data.test_limit=1.5 must be an int'),
    ({'standardize': 'yes'}, r"data.standardize='yes' must be a bool"),
    ({'download': 1}, r'data.download=1 must be a bool'),
    ({'data_dir': 3}, r'data.data_dir=3 must be a string'),
])
def test_validate_rejects(overrides, pattern):
  with pytest.raises(ConfigError, match=pattern) as e:
    data.validate(cfg(**overrides))
  assert_one_line(e)


def test_cache_dir_honors_xdg(monkeypatch, tmp_path):
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
  assert data.cache_dir('x') == tmp_path / 'dlexp' / 'x'
  monkeypatch.setenv('XDG_CACHE_HOME', 'relative/path')  # invalid per XDG
  assert data.cache_dir() == pathlib.Path.home() / '.cache' / 'dlexp'


# --- IDX ------------------------------------------------------------------

@pytest.mark.parametrize('compress', [False, True])
def test_idx_reads_handmade_file(tmp_path, compress):
  images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  raw = struct.pack('>IIII', 0x00000803, 2, 3, 4) + images.tobytes()
  path = tmp_path / ('f.gz' if compress else 'f')
  path.write_bytes(gzip.compress(raw) if compress else raw)
  out = idx.read_idx(path, magic=idx.UBYTE_IMAGES)
  np.testing.assert_array_equal(out, images)
  assert out.dtype == np.uint8


@pytest.mark.parametrize('dtype', [np.uint8, np.int16, np.int32, np.float32,
                                   np.float64])
def test_idx_round_trip_dtypes(tmp_path, dtype):
  array = (np.arange(12) - 3).reshape(3, 4).astype(dtype)
  if dtype == np.uint8:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
  idx.write_idx(tmp_path / 'a.gz', array, compress=True)
  out = idx.read_idx(tmp_path / 'a.gz')
  np.testing.assert_array_equal(out, array)
  assert out.dtype == array.dtype


def test_idx_truncated_file(tmp_path):
  path = tmp_path / 'train-images-idx3-ubyte'
  idx.write_idx(path, np.zeros((5, 28, 28), np.uint8))
  path.write_bytes(path.read_bytes()[:-100])
  with pytest.raises(DataError, match='truncated') as e:
    idx.read_idx(path)
  assert str(path) in str(e.value)
  assert '3920 data bytes' in str(e.value)
  assert_one_line(e)


def test_idx_truncated_gzip(tmp_path):
  path = tmp_path / 'train-labels-idx1-ubyte.gz'
  idx.write_idx(path, np.arange(1000, dtype=np.uint8) % 10, compress=True)
  path.write_bytes(path.read_bytes()[:-20])
  with pytest.raises(DataError, match='corrupt or truncated gzip') as e:
    idx.read_idx(path)
  assert str(path) in str(e.value)
  assert_one_line(e)


def test_idx_bad_magic(tmp_path):
  path = tmp_path / 'junk'
  path.write_bytes(b'<html>not an idx file</html>')
  with pytest.raises(DataError, match='bad IDX magic number 0x3c68746d') as e:
    idx.read_idx(path)
  assert str(path) in str(e.value)
  # A valid IDX file of the wrong kind (labels where images belong).
  labels = tmp_path / 'labels'
  idx.write_idx(labels, np.zeros(3, np.uint8))
  with pytest.raises(DataError, match='0x00000801; expected 0x00000803'):
    idx.read_idx(labels, magic=idx.UBYTE_IMAGES)


def test_idx_trailing_bytes(tmp_path):
  path = tmp_path / 'x'
  idx.write_idx(path, np.zeros(4, np.uint8))
  path.write_bytes(path.read_bytes() + b'\0\0')
  with pytest.raises(DataError, match='2 unexpected bytes'):
    idx.read_idx(path)


# --- Fashion-MNIST files --------------------------------------------------

def write_fashion(folder, marker=0, n_train=20, n_test=10, compress=True):
  """Small valid Fashion-MNIST IDX files; pixel [0, 0] of every image is
  `marker`, so a test can tell which folder was read."""
  folder = pathlib.Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(marker)
  for split, n in (('train', n_train), ('t10k', n_test)):
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = marker
    suffix = '.gz' if compress else ''
    idx.write_idx(folder / f'{split}-images-idx3-ubyte{suffix}', images,
                  compress)
    idx.write_idx(folder / f'{split}-labels-idx1-ubyte{suffix}',
                  (np.arange(n) % 10).astype(np.uint8), compress)
  return folder


def marker_of(files):
  return int(idx.read_idx(files['train_images'])[0, 0, 0])


@pytest.fixture
def no_system_copy(monkeypatch, tmp_path):
  """Hides /usr/share/datasets/fashion-mnist (or points at a test folder)."""
  system = tmp_path / 'system'
  monkeypatch.setattr(fashion_mnist, 'SYSTEM_DIR', system)
  return system


def test_search_order(monkeypatch, tmp_path, no_system_copy):
  write_fashion(tmp_path / 'cfg', marker=1)
  write_fashion(tmp_path / 'env' / 'fashion_mnist', marker=2)  # subfolder
  write_fashion(no_system_copy, marker=3, compress=False)
  write_fashion(data.cache_dir('fashion_mnist'), marker=4)
  monkeypatch.setenv('DLEXP_DATA_DIR', str(tmp_path / 'env'))
  assert marker_of(fashion_mnist.locate(str(tmp_path / 'cfg'))[0]) == 1
  assert marker_of(fashion_mnist.locate('')[0]) == 2
  monkeypatch.delenv('DLEXP_DATA_DIR')
  files, _ = fashion_mnist.locate('')
  assert marker_of(files) == 3
  assert files['train_images'].name == 'train-images-idx3-ubyte'  # raw IDX
  for f in no_system_copy.iterdir():
    f.unlink()
  assert marker_of(fashion_mnist.locate('')[0]) == 4


def test_load_from_data_dir(tmp_path, no_system_copy):
  write_fashion(tmp_path / 'd', n_train=30, n_test=10)
  ds = data.load(cfg(data_dir=str(tmp_path / 'd'), val_size=5))
  assert ds.train_x.shape == (25, 28, 28, 1)
  assert ds.val_x.shape == (5, 28, 28, 1)
  assert ds.test_x.shape == (10, 28, 28, 1)
  assert ds.class_names[0] == 'T-shirt/top' and ds.num_classes == 10
  assert ds.input_shape == (28, 28, 1)


def test_load_raw_gives_the_stored_arrays(tmp_path, no_system_copy):
  # What README's predict example feeds a Trained: uint8 pixels as stored,
  # the official splits uncut.
  write_fashion(tmp_path / 'd', marker=7, n_train=30, n_test=10)
  raw = data.load_raw('fashion_mnist', data_dir=str(tmp_path / 'd'))
  assert raw.train_x.dtype == np.uint8 and raw.train_x.shape == (30, 28, 28, 1)
  assert raw.test_x.shape == (10, 28, 28, 1)
  assert int(raw.train_x[0, 0, 0, 0]) == 7
  with pytest.raises(ConfigError, match="unknown data field 'datadir' "
                     r"\(did you mean 'data_dir'\?\)"):
    data.load_raw('fashion_mnist', datadir='x')
  with pytest.raises(ConfigError, match="did you mean 'mnist1d'"):
    data.load_raw('MNIST1D')


def test_per_feature_standardization(tmp_path, no_system_copy):
  # Each pixel its own training mean and std (Klambauer et al.'s premise);
  # a pixel constant in training (here pixel [0, 0], the marker) keeps its
  # scale instead of dividing by zero; validation uses the train statistics.
  write_fashion(tmp_path / 'd', n_train=40, n_test=10)
  ds = data.load(cfg(data_dir=str(tmp_path / 'd'), val_size=8,
                     per_feature=True))
  assert ds.mean.shape == ds.std.shape == (28, 28, 1)
  flat = ds.train_x.reshape(len(ds.train_x), -1)
  varying = flat.std(0) > 0
  np.testing.assert_allclose(flat.mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(flat.std(0)[varying], 1, rtol=1e-4)
  assert float(ds.std[0, 0, 0]) == 1.0  # constant pixel: scale kept
  per_channel = data.load(cfg(data_dir=str(tmp_path / 'd'), val_size=8))
  assert per_channel.mean.shape == ()
  with pytest.raises(ConfigError, match='data.per_feature=True needs '
                     'data.standardize=True'):
    data.validate(cfg(per_feature=True, standardize=False))


def test_nowhere_error_lists_every_place(tmp_path, no_system_copy):
  cache = data.cache_dir('fashion_mnist')
  write_fashion(cache)
  for f in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
    (cache / f).unlink()
  with pytest.raises(DataError) as e:
    data.load(cfg())
  assert_one_line(e)
  message = str(e.value)
  for place in (no_system_copy, cache):
    assert f'{place} (' in message
  assert 'no such folder' in message
  assert 'has 2 of 4 files, missing t10k-images-idx3-ubyte' in message
  assert 'apt-get install dataset-fashion-mnist' in message
  assert '$DLEXP_DATA_DIR' in message and '--config.data.data_dir' in message
  assert '--config.data.download=True' in message
  assert 'Download is off' in message


@pytest.mark.parametrize('how', ['data_dir', 'env'])
def test_named_folder_without_the_files_is_an_error_not_a_fallback(
    monkeypatch, tmp_path, no_system_copy, how):
  """The default places hold the files, but the user named another folder:
  it is the only place looked in, and the error names it and what is
  missing (before, the system copy was read without a word)."""
  write_fashion(no_system_copy, marker=3)
  write_fashion(data.cache_dir('fashion_mnist'), marker=4)
  named = tmp_path / 'mine'
  write_fashion(named)
  for f in ('train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
    (named / f).unlink()
  if how == 'env':
    monkeypatch.setenv('DLEXP_DATA_DIR', str(named))
    c, why = cfg(), '$DLEXP_DATA_DIR'
  else:
    c, why = cfg(data_dir=str(named)), 'data.data_dir'
  with pytest.raises(DataError) as e:
    data.load(c)
  assert_one_line(e)
  message = str(e.value)
  assert f'{why}={named} does not hold the four IDX files' in message
  assert (f'{named} ({why}: has 2 of 4 files, missing '
          'train-labels-idx1-ubyte, t10k-labels-idx1-ubyte)') in message
  assert f'{named / "fashion_mnist"} ({why}: no such folder)' in message
  assert fashion_mnist.locate(c.data_dir)[0] is None


def test_data_dir_wins_over_the_environment(monkeypatch, tmp_path,
                                            no_system_copy):
  write_fashion(tmp_path / 'flag', marker=1)
  write_fashion(tmp_path / 'env', marker=2)
  monkeypatch.setenv('DLEXP_DATA_DIR', str(tmp_path / 'env'))
  assert marker_of(fashion_mnist.locate(str(tmp_path / 'flag'))[0]) == 1
  assert marker_of(fashion_mnist.locate('')[0]) == 2


def test_corrupt_file_is_an_error_not_skipped(tmp_path, no_system_copy):
  folder = write_fashion(tmp_path / 'd')
  path = folder / 'train-images-idx3-ubyte.gz'
  path.write_bytes(path.read_bytes()[:50])
  write_fashion(data.cache_dir('fashion_mnist'))  # a good later place
  with pytest.raises(DataError, match='corrupt or truncated gzip') as e:
    data.load(cfg(data_dir=str(folder), val_size=5))
  assert str(path) in str(e.value)


def test_fashion_mnist_is_read_once_while_unchanged(tmp_path,
                                                    no_system_copy):
  """A script loads the dataset once per part: the files are read (and
  gunzipped) again only when they change."""
  folder = write_fashion(tmp_path / 'd', marker=1)
  files, _ = fashion_mnist.locate(str(folder))
  first = fashion_mnist.read(files)
  assert fashion_mnist.read(files) is first
  write_fashion(folder, marker=2, n_train=30)  # replaced in place
  again = fashion_mnist.read(files)
  assert again.train_x[0, 0, 0, 0] == 2 and len(again.train_x) == 30
  assert not first.train_x.flags.writeable  # shared: nobody may change it


def test_mismatched_counts(tmp_path, no_system_copy):
  folder = write_fashion(tmp_path / 'd')
  idx.write_idx(folder / 'train-labels-idx1-ubyte.gz',
                np.zeros(7, np.uint8), compress=True)
  with pytest.raises(DataError, match='has 20 images but .* has 7 labels'):
    data.load(cfg(data_dir=str(folder), val_size=5))


# --- download (mocked fetch) ----------------------------------------------

@pytest.fixture
def fake_server(monkeypatch, tmp_path):
  """Serves small fake gz files whose content hashes replace the official
  ones; returns the list of URLs requested, and a dict of per-URL faults."""
  source = write_fashion(tmp_path / 'served', marker=7)
  table = {}
  for key, (stem, _) in fashion_mnist.FILES.items():
    content = idx.read_bytes(source / f'{stem}.gz')
    table[key] = (stem, hashlib.sha256(content).hexdigest())
  monkeypatch.setattr(fashion_mnist, 'FILES', table)
  requested, faults = [], {}

  def open_url(url):
    requested.append(url)
    fault = faults.get(url) or faults.get('*')
    if fault == 'unreachable':
      raise urllib.error.URLError('no route to host')
    body = (source / url.rsplit('/', 1)[1]).read_bytes()
    if fault == 'corrupt':
      body = gzip.compress(b'\0\0\x08\x03' + b'\1' * 100)
    return io.BytesIO(body)

  monkeypatch.setattr(fashion_mnist, '_open_url', open_url)
  return types.SimpleNamespace(requested=requested, faults=faults)


def test_download_into_cache(fake_server, no_system_copy):
  ds = data.load(cfg(download=True, val_size=5))
  assert ds.train_x.shape == (15, 28, 28, 1)
  cache = data.cache_dir('fashion_mnist')
  assert sorted(p.name for p in cache.iterdir()) == sorted(
      f'{stem}.gz' for stem, _ in fashion_mnist.FILES.values())
  assert all(u.startswith(fashion_mnist.URLS[0])
             for u in fake_server.requested)
  assert len(fake_server.requested) == 4
  # Next time the cache is a search place: no fetch at all.
  fake_server.requested.clear()
  data.load(cfg(download=True, val_size=5))
  assert not fake_server.requested


def test_download_falls_back_to_mirror(fake_server, no_system_copy):
  for stem, _ in fashion_mnist.FILES.values():
    fake_server.faults[fashion_mnist.URLS[0] + stem + '.gz'] = 'unreachable'
  data.load(cfg(download=True, val_size=5))
  assert sum(u.startswith(fashion_mnist.URLS[1])
             for u in fake_server.requested) == 4


def test_download_checksum_mismatch_leaves_nothing(fake_server,
                                                   no_system_copy):
  fake_server.faults['*'] = 'corrupt'
  with pytest.raises(DataError) as e:
    data.load(cfg(download=True, val_size=5))
  assert_one_line(e)
  message = str(e.value)
  assert 'Download failed' in message and 'checksum mismatch' in message
  for base in fashion_mnist.URLS:
    assert base + 'train-images-idx3-ubyte.gz' in message
  assert 'apt-get install dataset-fashion-mnist' in message
  cache = data.cache_dir('fashion_mnist')
  assert list(cache.iterdir()) == []  # no partial or unverified file


def test_download_into_the_named_folder(fake_server, tmp_path,
                                        no_system_copy):
  named = tmp_path / 'mine'
  ds = data.load(cfg(download=True, data_dir=str(named), val_size=5))
  assert ds.train_x.shape == (15, 28, 28, 1)
  assert sorted(p.name for p in named.iterdir()) == sorted(
      f'{stem}.gz' for stem, _ in fashion_mnist.FILES.values())
  assert not data.cache_dir('fashion_mnist').exists()


def test_no_fetch_without_download_flag(fake_server, no_system_copy):
  with pytest.raises(DataError, match='Download is off'):
    data.load(cfg(download=False))
  assert not fake_server.requested


# --- real Fashion-MNIST (the Debian package's files) ----------------------

@pytest.fixture(scope='module')
def real_fashion():
  if not (REAL_FASHION / 'train-images-idx3-ubyte.gz').is_file():
    pytest.skip('dataset-fashion-mnist is not installed')
  c = types.SimpleNamespace(**data.defaults().to_dict())
  c.data_dir = str(REAL_FASHION)
  return data.load(c)


def test_real_fashion_mnist(real_fashion):
  ds = real_fashion
  assert ds.train_x.shape == (55000, 28, 28, 1)
  assert ds.val_x.shape == (5000, 28, 28, 1)
  assert ds.test_x.shape == (10000, 28, 28, 1)
  assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int32
  full_train = np.concatenate([ds.train_y, ds.val_y])
  np.testing.assert_array_equal(np.bincount(full_train), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(ds.test_y), [1000] * 10)
  assert ds.class_names == ('T-shirt/top', 'Trouser', 'Pullover', 'Dress',
                            'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                            'Ankle boot')
  assert ds.mean.shape == () and 0.2 < float(ds.mean) < 0.4
  assert abs(float(ds.train_x.mean())) < 1e-3
  assert abs(float(ds.train_x.std()) - 1) < 1e-3


def test_real_fashion_matches_checksum_table():
  if not REAL_FASHION.is_dir():
    pytest.skip('dataset-fashion-mnist is not installed')
  for stem, sha256 in fashion_mnist.FILES.values():
    content = idx.read_bytes(REAL_FASHION / f'{stem}.gz')
    assert hashlib.sha256(content).hexdigest() == sha256, stem


# --- splits and standardization -------------------------------------------

def test_split_deterministic_and_disjoint():
  train, val = data.split_indices(100, 20, split_seed=3)
  train2, val2 = data.split_indices(100, 20, split_seed=3)
  np.testing.assert_array_equal(train, train2)
  np.testing.assert_array_equal(val, val2)
  assert len(val) == 20 and len(train) == 80
  assert not set(train) & set(val)
  assert set(train) | set(val) == set(range(100))
  other, _ = data.split_indices(100, 20, split_seed=4)
  assert not np.array_equal(train, other)


def test_load_split_is_reproducible():
  a = data.load(cfg(name='synthetic', val_size=100, split_seed=1))
  b = data.load(cfg(name='synthetic', val_size=100, split_seed=1))
  c = data.load(cfg(name='synthetic', val_size=100, split_seed=2))
  np.testing.assert_array_equal(a.val_x, b.val_x)
  np.testing.assert_array_equal(a.train_y, b.train_y)
  assert not np.array_equal(a.val_x, c.val_x)
  # Validation examples are training-split examples, never test examples.
  raw = synthetic.make_synthetic()
  _, val_idx = data.split_indices(len(raw.train_y), 100, 1)
  np.testing.assert_allclose(a.val_x * a.std + a.mean, raw.train_x[val_idx],
                             atol=1e-5)


def test_standardization_uses_train_statistics_only():
  rng = np.random.default_rng(0)
  train = rng.integers(0, 100, (500, 4, 4, 1), dtype=np.uint8)
  test = rng.integers(155, 256, (50, 4, 4, 1), dtype=np.uint8)  # brighter
  raw = data.RawData(train, np.arange(500) % 10, test, np.arange(50) % 10,
                     tuple('0123456789'))
  ds = data.make_dataset('t', raw, cfg(val_size=50))
  assert abs(float(ds.train_x.mean())) < 1e-5
  assert abs(float(ds.train_x.std()) - 1) < 1e-4
  assert float(ds.test_x.mean()) > 3  # test statistics were not used
  train_idx, _ = data.split_indices(500, 50, 0)
  raw_train = train[train_idx].astype(np.float64) / 255
  np.testing.assert_allclose(ds.mean, raw_train.mean(), rtol=1e-5)
  np.testing.assert_allclose(ds.std, raw_train.std(), rtol=1e-5)


def test_standardization_per_channel_for_colour():
  rng = np.random.default_rng(0)
  train = np.stack([rng.integers(lo, lo + 50, (200, 5, 5), dtype=np.uint8)
                    for lo in (0, 100, 200)], axis=-1)
  raw = data.RawData(train, np.zeros(200, int), train[:10], np.zeros(10, int),
                     ('a',))
  ds = data.make_dataset('t', raw, cfg(val_size=0))
  assert ds.mean.shape == (3,) and ds.std.shape == (3,)
  np.testing.assert_allclose(ds.train_x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
  np.testing.assert_allclose(ds.train_x.std(axis=(0, 1, 2)), 1, atol=1e-4)
  assert ds.val_x.shape == (0, 5, 5, 3)


def test_no_standardization_scales_pixels_to_unit_range():
  raw = data.RawData(np.full((4, 2, 2, 1), 255, np.uint8), np.zeros(4, int),
                     np.zeros((2, 2, 2, 1), np.uint8), np.zeros(2, int), ('a',))
  ds = data.make_dataset('t', raw, cfg(val_size=1, standardize=False))
  assert float(ds.train_x.max()) == 1.0 and float(ds.test_x.max()) == 0.0
  assert float(ds.mean) == 0.0 and float(ds.std) == 1.0


def test_constant_input_does_not_divide_by_zero():
  raw = data.RawData(np.ones((10, 3), np.float32), np.zeros(10, int),
                     np.ones((2, 3), np.float32), np.zeros(2, int), ('a',))
  ds = data.make_dataset('t', raw, cfg(val_size=2))
  assert np.all(np.isfinite(ds.train_x)) and float(ds.std) == 1.0


def test_labels_out_of_range_rejected():
  raw = data.RawData(np.zeros((3, 2), np.float32), np.array([0, 1, 5]),
                     np.zeros((1, 2), np.float32), np.array([0]), ('a', 'b'))
  with pytest.raises(DataError, match='train labels span 0..5, outside 0..1'):
    data.make_dataset('t', raw, cfg(val_size=0))


def test_val_size_checked_against_actual_size():
  raw = synthetic.make_synthetic(num_train=10, num_test=2)
  with pytest.raises(ConfigError, match='data.val_size=10 must be < 10'):
    data.make_dataset('t', raw, cfg(val_size=10))


def test_train_and_test_limit():
  full = data.load(cfg(name='synthetic', val_size=100))
  ds = data.load(cfg(name='synthetic', val_size=100, train_limit=64,
                     test_limit=32, standardize=False))
  assert (ds.num_train, ds.num_val, ds.num_test) == (64, 100, 32)
  # The first N training examples after the split; the split itself is the
  # same with or without a limit.
  np.testing.assert_array_equal(ds.train_y, full.train_y[:64])
  np.testing.assert_array_equal(ds.val_y, full.val_y)
  # A limit larger than the data keeps everything.
  big = data.load(cfg(name='synthetic', val_size=100, train_limit=10**9))
  assert big.num_train == full.num_train


def test_dataset_is_read_only_with_contract_dtypes():
  ds = data.load(cfg(name='synthetic_vector', val_size=100))
  assert ds.input_shape == (64,) and ds.train_x.shape[1:] == (64,)
  for x, y in ((ds.train_x, ds.train_y), (ds.val_x, ds.val_y),
               (ds.test_x, ds.test_y)):
    assert x.dtype == np.float32 and y.dtype == np.int32
    with pytest.raises(ValueError):
      x[0] = 0
  with pytest.raises(AttributeError):
    ds.name = 'other'
  assert 'train=9900' in repr(ds)


# --- synthetic --------------------------------------------------------------

def test_synthetic_deterministic_and_learnable():
  a = synthetic.make_synthetic(seed=5, num_train=2000, num_test=500)
  b = synthetic.make_synthetic(seed=5, num_train=2000, num_test=500)
  c = synthetic.make_synthetic(seed=6, num_train=2000, num_test=500)
  np.testing.assert_array_equal(a.train_x, b.train_x)
  np.testing.assert_array_equal(a.test_y, b.test_y)
  assert not np.array_equal(a.train_x, c.train_x)
  assert a.train_x.shape == (2000, 8, 8, 1) and a.train_x.dtype == np.float32
  # Nearest class mean, fitted on train, classifies the test set.
  x, xt = a.train_x.reshape(2000, -1), a.test_x.reshape(500, -1)
  means = np.stack([x[a.train_y == k].mean(0) for k in range(10)])
  pred = np.argmin(((xt[:, None] - means[None]) ** 2).sum(-1), axis=1)
  assert (pred == a.test_y).mean() > 0.9


def test_synthetic_datasets_load():
  ds = data.load(cfg(name='synthetic', val_size=1000))
  assert ds.train_x.shape == (9000, 8, 8, 1)
  assert ds.test_x.shape == (2000, 8, 8, 1)
  assert ds.num_classes == 10


# --- mnist1d (generated once per session: ~2 s) -------------------------------

@pytest.fixture(scope='session')
def mnist1d_cache(tmp_path_factory):
  return tmp_path_factory.mktemp('mnist1d_cache')


def test_mnist1d(monkeypatch, mnist1d_cache):
  monkeypatch.setenv('XDG_CACHE_HOME', str(mnist1d_cache))
  py_state = np.random.get_state()[1].copy()
  ds = data.load(cfg(name='mnist1d', val_size=500))
  assert ds.train_x.shape == (3500, 40, 1)
  assert ds.val_x.shape == (500, 40, 1)
  assert ds.test_x.shape == (1000, 40, 1)
  assert ds.input_shape == (40, 1)
  assert ds.class_names == tuple('0123456789')
  assert ds.train_y.min() == 0 and ds.train_y.max() == 9
  # The generator reseeds numpy's global RNG; load must restore it.
  np.testing.assert_array_equal(np.random.get_state()[1], py_state)
  cached = list((mnist1d_cache / 'dlexp' / 'mnist1d').glob('*.npz'))
  assert len(cached) == 1

  # Second load reads the cache: generating again would fail here.
  def no_generate(args):
    raise AssertionError('regenerated despite the cache')
  monkeypatch.setattr(mnist1d, 'generate', no_generate)
  again = data.load(cfg(name='mnist1d', val_size=500))
  np.testing.assert_array_equal(again.train_x, ds.train_x)


def test_mnist1d_damaged_cache_is_regenerated(monkeypatch, tmp_path):
  monkeypatch.setattr(mnist1d, 'generator_args', lambda: {'tiny': True})
  fake = {'train_x': np.zeros((20, 40), np.float32),
          'train_y': np.arange(20, dtype=np.int32) % 10,
          'test_x': np.zeros((5, 40), np.float32),
          'test_y': np.arange(5, dtype=np.int32)}
  calls = []
  monkeypatch.setattr(mnist1d, 'generate',
                      lambda args: calls.append(args) or fake)
  path = mnist1d.cache_path({'tiny': True})
  path.parent.mkdir(parents=True)
  path.write_bytes(b'not a zip file')
  ds = data.load(cfg(name='mnist1d', val_size=5))
  assert ds.train_x.shape == (15, 40, 1) and len(calls) == 1
  with np.load(path) as f:  # rewritten with the generated arrays
    assert f['train_x'].shape == (20, 40)


# --- TFDS (mocked: tfds.testing.mock_data, no TensorFlow, no files) ----------

@pytest.mark.parametrize('name, shape, num_classes', [
    ('mnist', (28, 28, 1), 10),
    ('cifar10', (32, 32, 3), 10),
    ('cifar100', (32, 32, 3), 100),
    ('tfds/fashion_mnist', (28, 28, 1), 10),
])
def test_tfds_mocked(tmp_path, name, shape, num_classes):
  tfds = pytest.importorskip('tensorflow_datasets')
  # USE_CODE: the dataset classes give the features; AUTO/USE_FILES want
  # metadata files that the installed package does not ship.
  with tfds.testing.mock_data(num_examples=40,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = data.load(cfg(name=name, val_size=8, data_dir=str(tmp_path)))
  assert ds.train_x.shape == (32,) + shape
  assert ds.val_x.shape == (8,) + shape
  assert ds.test_x.shape == (40,) + shape
  assert ds.input_shape == shape and ds.num_classes == num_classes
  assert ds.train_x.dtype == np.float32 and ds.test_y.dtype == np.int32
  for y in (ds.train_y, ds.val_y, ds.test_y):
    assert y.min() >= 0 and y.max() < num_classes
  channels = shape[-1]
  assert ds.mean.shape == (() if channels == 1 else (channels,))
  axes = tuple(range(ds.train_x.ndim - 1))
  np.testing.assert_allclose(ds.train_x.mean(axes), 0, atol=1e-4)
  np.testing.assert_allclose(ds.train_x.std(axes), 1, atol=1e-3)
  if name == 'tfds/fashion_mnist':
    assert ds.class_names[0] == 'T-shirt/top'


def test_tfds_missing_data(monkeypatch, tmp_path):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
  with pytest.raises(DataError) as e:
    data.load(cfg(name='cifar10'))
  assert_one_line(e)
  message = str(e.value)
  assert str(tmp_path / 'tfds' / 'cifar10') in message
  assert 'tfds build cifar10' in message
  assert '--config.data.download=True' in message
  assert tfds_data.resolve_data_dir('/x') == '/x'
  assert tfds_data.resolve_data_dir('') == str(tmp_path / 'tfds')
