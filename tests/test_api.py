"""The Python API (dlexp.fit, dlexp.load, Trained) and the model files: save
-> load -> predict, continuing equals training longer, from_arrays, binary
class subsets."""
import json
import os

import numpy as np
import pytest

from conftest import member_dir, tiny_config
import dlexp
from dlexp import data as data_lib
from dlexp import tree_paths
from dlexp.errors import ConfigError, DataError
from dlexp.train import model_io


def _equal_trees(a, b):
  fa, fb = tree_paths.flat(a), tree_paths.flat(b)
  assert fa.keys() == fb.keys()
  for k in fa:
    np.testing.assert_array_equal(fa[k], fb[k], err_msg='/'.join(k))


def test_save_load_predict_identical_and_evaluate_matches_the_run(tmp_path):
  # BatchNorm: the batch statistics must travel with the parameters.
  c = tiny_config(model__norm='batch', num_seeds=2)
  trained = dlexp.fit(c, workdir=str(tmp_path / 'runs'), out=False)
  assert trained.seeds == [0, 1] and trained.epochs == [2, 2]
  assert sorted(trained.history) == [0, 1]
  assert [r['epoch'] for r in trained.history[1]] == [0, 1, 2]
  x = np.random.default_rng(0).normal(size=(37, 8, 8, 1)).astype(np.float32)
  before = trained.predict(x, batch_size=16)
  assert before.shape == (37, 10)
  np.testing.assert_allclose(before.sum(1), 1.0, rtol=1e-5)

  path = trained.save(str(tmp_path / 'saved'))
  assert sorted(os.listdir(path)) == ['config.json', 'history.json',
                                      'model.json', 'state']
  meta = json.load(open(os.path.join(path, 'model.json')))
  assert meta['dataset']['class_names'] == [str(i) for i in range(10)]
  assert meta['dataset']['input_shape'] == [8, 8, 1]
  assert 'versions' in meta['environment']
  loaded = dlexp.load(path)
  np.testing.assert_array_equal(loaded.predict(x, batch_size=16), before)
  np.testing.assert_array_equal(loaded.predict(x, seed=1),
                                trained.predict(x, seed=1))
  assert not np.allclose(loaded.predict(x, seed=1), before)
  _equal_trees(loaded.state, trained.state)
  assert loaded.history == trained.history
  # evaluate() gives the numbers the runner logged for the final model.
  for seed, result in zip(trained.seeds, trained.results):
    got = loaded.evaluate('test', seed=seed)
    np.testing.assert_allclose(got['loss'], result['test_loss'], rtol=1e-4)
    np.testing.assert_allclose(got['accuracy'], result['test_accuracy'],
                               atol=1e-6)
  # Every run directory keeps its model: the same predictions from it.
  run = member_dir(tmp_path / 'runs', 'run', 1)
  assert os.path.isdir(os.path.join(run, 'model', 'state'))
  np.testing.assert_array_equal(dlexp.load(run).predict(x),
                                trained.predict(x, seed=1))
  # Raw (N, H, W) images get their channel axis; raw evaluate == split one.
  ds = trained.dataset
  raw_x = ds.test_x * ds.std + ds.mean
  np.testing.assert_allclose(
      loaded.evaluate((raw_x[..., 0], ds.test_y))['loss'],
      loaded.evaluate('test')['loss'], rtol=1e-4)


def test_save_model_false_writes_no_model(tmp_path):
  from dlexp.train import runner  # pylint: disable=g-import-not-at-top
  r = runner.run(tiny_config(epochs=1, save_model=False), {},
                 str(tmp_path), out=runner.Printer(quiet=True))[0]
  assert r['status'] == 'done'
  assert not os.path.exists(os.path.join(r['directory'], 'model'))
  with pytest.raises(ConfigError, match='holds no saved model'):
    dlexp.load(r['directory'])


def test_fine_tuning_a_loaded_model_equals_training_longer(tmp_path):
  # Dropout on and two vmapped seeds: the dropout and data-order keys, the
  # momentum trace and the step must all continue where they stopped.
  c = tiny_config(num_seeds=2, model__dropout_rate=0.1, epochs=3)
  c.early_stopping.restore_best = False
  longer = dlexp.fit(c, out=False)
  c.epochs = 2
  dlexp.fit(c, out=False).save(str(tmp_path / 'two'))
  more = dlexp.load(str(tmp_path / 'two')).fit(epochs=1, out=False)
  assert more.epochs == [3, 3]
  _equal_trees(more.state, longer.state)
  for seed in (0, 1):
    assert [r['epoch'] for r in more.history[seed]] == [3]
    last = longer.history[seed][-1]
    for key in ('train_loss', 'val_loss', 'val_accuracy'):
      assert more.history[seed][0][key] == last[key], key


def _xor_blobs(n, rng):
  """Four Gaussian blobs at the corners of a square, XOR-labelled: no linear
  model gets above ~50%."""
  corners = rng.integers(0, 2, size=(n, 2))
  x = corners * 2.0 - 1.0 + 0.25 * rng.normal(size=(n, 2))
  return x.astype(np.float32), (corners[:, 0] ^ corners[:, 1]).astype(np.int64)


def test_from_arrays_trains_a_small_numpy_task(tmp_path):
  rng = np.random.default_rng(0)
  x, y = _xor_blobs(2400, rng)
  xt, yt = _xor_blobs(500, rng)
  ds = data_lib.from_arrays(x, y, xt, yt, val_size=0.25,
                            class_names=('same', 'different'))
  assert (ds.num_train, ds.num_val, ds.num_test) == (1800, 600, 500)
  assert ds.class_names == ('same', 'different') and ds.input_shape == (2,)
  np.testing.assert_allclose(ds.train_x.mean(), 0.0, atol=1e-5)
  config = {'model.depth': 2, 'model.width': 16, 'epochs': 8,
            'batch_size': 32, 'optimizer.learning_rate': 0.05,
            'diagnostics.every_epochs': 0}
  trained = dlexp.fit(config, data=ds, out=False)
  assert trained.results[0]['test_accuracy'] > 0.97
  acc = trained.evaluate((xt, yt))['accuracy']
  assert acc == pytest.approx(trained.results[0]['test_accuracy'], abs=1e-6)
  assert (trained.predict(xt).argmax(1) == yt).mean() == pytest.approx(acc)
  # A model of arrays, reloaded, needs its arrays to go on training.
  loaded = dlexp.load(trained.save(str(tmp_path / 'xor')))
  with pytest.raises(DataError, match="trained on 'arrays' passed as arrays"):
    loaded.fit(epochs=1, out=False)
  assert loaded.fit(epochs=1, data=ds, out=False).epochs == [9]
  # Without a test split nothing is tested (and nothing crashes).
  no_test = dlexp.fit(dict(config, epochs=1), out=False,
                      data=data_lib.from_arrays(x, y, val_size=0.25))
  assert 'test_loss' not in no_test.results[0]
  assert 'val_accuracy' in no_test.results[0]


def test_from_arrays_errors():
  x = np.zeros((10, 3), np.float32)
  with pytest.raises(DataError, match='need integer class ids or float'):
    data_lib.from_arrays(x, np.array(['cat'] * 10))
  with pytest.raises(DataError, match='y_test .* does not match y_train'):
    data_lib.from_arrays(x, np.zeros(10, int), x, np.zeros(10, np.float32))
  with pytest.raises(DataError, match='x_test and y_test go together'):
    data_lib.from_arrays(x, np.zeros(10, int), x_test=x)
  with pytest.raises(DataError, match='val_size=0 not allowed'):
    data_lib.from_arrays(x, np.zeros(10, int), val_size=0)
  with pytest.raises(ConfigError, match='data.train_limit=2048 does not '
                     'apply'):
    dlexp.fit(tiny_config(), data=data_lib.from_arrays(x, np.arange(10) % 2))


def test_binary_subset_trains_with_one_output_unit():
  c = tiny_config(loss__name='bce', data__classes=(7, 3), epochs=3)
  trained = dlexp.fit(c, out=False)
  assert trained.num_classes == 2 and trained.class_names == ('7', '3')
  assert trained.params()['logits']['kernel'].shape == (16, 1)
  ds = trained.dataset
  full = data_lib.load(tiny_config().data)
  # Only classes 7 and 3 remain, relabelled 0 and 1 in that order.
  assert ds.num_test == int(np.isin(full.test_y, (7, 3)).sum())
  assert set(np.unique(ds.train_y)) == {0, 1}
  assert trained.results[0]['test_accuracy'] > 0.95
  p = trained.predict(ds.test_x * ds.std + ds.mean)
  assert p.shape == (ds.num_test, 2)
  np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
  assert (p.argmax(1) == ds.test_y).mean() == pytest.approx(
      trained.results[0]['test_accuracy'], abs=1e-6)


def test_fashion_mnist_class_subset():
  c = tiny_config(data__name='fashion_mnist', data__classes=(0, 6))
  c.data.train_limit = 0
  ds = data_lib.load(c.data)
  assert ds.class_names == ('T-shirt/top', 'Shirt')
  assert ds.num_train + ds.num_val == 12000 and ds.num_test == 2000


def test_data_classes_errors():
  for bad in ((3,), (1, 1), (-1, 2)):
    with pytest.raises(ConfigError, match='data.classes'):
      dlexp.fit(tiny_config(data__classes=bad), out=False)
  with pytest.raises(ConfigError, match="class 12 is not one of synthetic's"):
    data_lib.load(tiny_config(data__classes=(0, 12)).data)


@pytest.mark.parametrize('target_dim', [1, 2])
def test_from_arrays_regression_on_float_targets(target_dim):
  rng = np.random.default_rng(1)

  def task(n):
    x = rng.uniform(-2, 2, size=(n, 2)).astype(np.float32)
    t = np.stack([np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2,
                  x[:, 0] * x[:, 1]], axis=1).astype(np.float32)
    return x, (t[:, 0] if target_dim == 1 else t)

  x, t = task(2000)
  xt, tt = task(400)
  ds = data_lib.from_arrays(x, t, xt, tt, val_size=400)
  assert ds.num_classes == 0 and ds.class_names == ()
  assert ds.target_dim == target_dim and ds.train_y.dtype == np.float32
  config = {'model.depth': 2, 'model.width': 32, 'epochs': 6,
            'batch_size': 32, 'optimizer.learning_rate': 0.02,
            'loss.name': 'mse', 'diagnostics.every_epochs': 0}
  trained = dlexp.fit(config, data=ds, out=False)
  result = trained.results[0]
  assert 'test_accuracy' not in result and 'val_accuracy' not in result
  # Measured: test mse 0.013 (d=1) and 0.016 (d=2) against a target
  # variance of 1.0 and 1.5: the net explains ~99% of it.
  assert result['test_mse'] < 0.05 * np.var(tt)
  assert trained.params()['logits']['kernel'].shape == (32, target_dim)
  got = trained.evaluate((xt, tt))
  assert sorted(got) == ['loss', 'mae', 'mse']
  np.testing.assert_allclose(got['mse'], result['test_mse'], rtol=1e-4)
  pred = trained.predict(xt)
  assert pred.shape == tt.shape
  np.testing.assert_allclose(np.mean((pred - tt) ** 2), got['mse'], rtol=1e-4)
  with pytest.raises(ConfigError, match="loss.name='cross_entropy' needs "
                     'class labels; float regression targets take mse'):
    dlexp.fit(dict(config, **{'loss.name': 'cross_entropy'}), data=ds,
              out=False)
