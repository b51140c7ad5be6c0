"""The training engine: vmapped members equal separate runs, traced grids
share one program, early stopping and divergence act per member, files."""
import json
import os
import subprocess
import sys

import flax
import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from conftest import tiny_config, xla_flags
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import optim
from dlexp import grid as grid_lib
from dlexp import records
from dlexp.errors import ConfigError
from dlexp.train import program
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def _run(config, axes, workdir):
  return runner.run(config, axes, str(workdir), out=QUIET)


def _curve(result, key='val_loss'):
  rows = records.read_metrics(os.path.join(result['directory'],
                                           'metrics.jsonl'))
  return np.array([r[key] for r in rows if key in r], np.float64)


def _by(results):
  return {(r['trial'], r['seed']): r for r in results}


def test_vmapped_seeds_equal_each_seed_trained_alone(tmp_path):
  together = _run(tiny_config(num_seeds=2, members='vmap'), {}, tmp_path / 'v')
  alone = _run(tiny_config(seed=1, members='vmap'), {}, tmp_path / 'a')
  assert [r['seed'] for r in together] == [0, 1]
  np.testing.assert_allclose(_curve(together[1]), _curve(alone[0]),
                             rtol=2e-5, atol=1e-6)
  np.testing.assert_allclose(together[1]['test_loss'], alone[0]['test_loss'],
                             rtol=2e-5)
  # Different seeds really are different runs.
  assert not np.allclose(_curve(together[0]), _curve(together[1]))


def test_loop_mode_equals_vmap_mode(tmp_path):
  v = _run(tiny_config(num_seeds=2, members='vmap'), {}, tmp_path / 'v')
  l = _run(tiny_config(num_seeds=2, members='loop'), {}, tmp_path / 'l')
  for a, b in zip(v, l):
    np.testing.assert_allclose(_curve(a), _curve(b), rtol=2e-5, atol=1e-6)


def test_a_one_member_chunk_runs_unvmapped_with_the_same_numbers(tmp_path):
  # members=loop chunks of one call the per-member functions directly (no
  # vmap over a size-1 axis); a conv net (per-step driver) must train as
  # its vmapped pair of seeds does.
  called = []
  fn = program.over_members(lambda x: called.append('vmap') or x,
                            lambda x: called.append('plain') or x, (0,))
  fn(np.zeros((1, 3))), fn(np.zeros((2, 3)))
  assert called == ['plain', 'vmap']
  conv = dict(model__name='cnn', model__variant='mnist1d',
              data__train_limit=512, epochs=1)
  v = _run(tiny_config(num_seeds=2, members='vmap', **conv), {},
           tmp_path / 'v')
  l = _run(tiny_config(num_seeds=2, members='loop', **conv), {},
           tmp_path / 'l')
  for a, b in zip(v, l):
    for key in ('val_loss', 'train_loss'):
      np.testing.assert_allclose(_curve(a, key), _curve(b, key), rtol=2e-5,
                                 atol=1e-6)


@pytest.mark.parametrize('driver', ['scan', 'step'])
def test_programs_lowered_from_shapes_serve_the_real_states(driver):
  """precompile lowers the state's programs from ShapeDtypeStructs before
  init has run; the real states must then hit those executables, not
  compile again (a mismatch in shapes, dtypes or weak types would). The
  test split, larger than the validation split and than its batch, is cut
  into the validation split's batch shape: no second eval program."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  from dlexp import data  # pylint: disable=g-import-not-at-top
  from dlexp.train import device_data  # pylint: disable=g-import-not-at-top
  cfg = tiny_config(diagnostics__every_epochs=1, eval_batch_size=800)
  dataset = data.load(cfg.data)
  mesh = Mesh(np.array(jax.devices()[:1]), ('data',))
  ddata = device_data.to_device(dataset, cfg, mesh)
  n_val, n_test = len(dataset.val_y), len(dataset.test_y)
  assert n_val < cfg.eval_batch_size < n_test
  assert ddata.val[0].shape[:2] == (1, n_val)
  assert ddata.test[0].shape[:2] == (-(-n_test // n_val), n_val)
  assert ddata.test[2].sum() == n_test  # the padding weighs nothing
  prog = program.build(cfg, dataset, mesh)
  seeds = jnp.arange(2, dtype=jnp.int32)
  sample = jnp.zeros((1,) + tuple(dataset.input_shape), jnp.float32)
  hp = program.stack_hp({p: [config_lib.get(cfg, p)] * 2
                         for p in config_lib.traced_fields()})
  active = np.ones(2, bool)
  state, tracker = prog.precompile(
      driver, (seeds, sample), mesh, hp, active, ddata,
      lambda: device_data.replicate(prog.init(seeds, sample), mesh))
  compiled = prog.compile_seconds()
  state, _ = program.run_epoch(prog, driver, state, hp, active,
                               ddata.train_x, ddata.train_y)
  program.evaluate(prog, state.params, state.batch_stats, hp, ddata.val)
  program.evaluate(prog, state.params, state.batch_stats, hp, ddata.test)
  row = {n: np.zeros(2, np.float32) for n in prog.row_spec(2)}
  prog.after_epoch(state, tracker, hp, row, np.bool_(True), ddata.probe_x,
                   ddata.probe_y)
  assert prog.compile_seconds() == compiled


def test_traced_axis_is_one_group_and_matches_separate_runs(tmp_path):
  axes = {'optimizer.learning_rate': [0.01, 0.1],
          'optimizer.momentum': [0.0, 0.9], 'model.dropout_rate': [0.0, 0.3]}
  trials = grid_lib.make_trials(tiny_config(), axes)
  assert len(trials) == 8 and len(grid_lib.group_trials(trials)) == 1
  grid = _by(_run(tiny_config(), {'optimizer.learning_rate': [0.01, 0.1],
                                  'model.dropout_rate': [0.0, 0.3]},
                  tmp_path / 'g'))
  single = _run(tiny_config(optimizer__learning_rate=0.1,
                            model__dropout_rate=0.3), {}, tmp_path / 's')[0]
  member = grid[('learning_rate=0.1,dropout_rate=0.3', 0)]
  np.testing.assert_allclose(_curve(member), _curve(single), rtol=2e-5,
                             atol=1e-6)
  curves = [_curve(r) for r in grid.values()]
  assert all(not np.allclose(curves[0], c) for c in curves[1:])


def test_a_group_without_penalty_trains_as_a_traced_zero_penalty(tmp_path):
  """Every member at l1 = l2 = 0: the penalty is left out of the program
  (LeftOut.penalty), with the numbers of the l2 = 0 member of a
  grid that traces it."""
  grid = _by(_run(tiny_config(), {'reg.l2': [0.0, 0.01]}, tmp_path / 'g'))
  single = _run(tiny_config(), {}, tmp_path / 's')[0]
  np.testing.assert_allclose(_curve(grid[('l2=0', 0)]), _curve(single),
                             rtol=2e-5, atol=1e-6)
  assert not np.allclose(_curve(grid[('l2=0.01', 0)]), _curve(single))
  cfg = tiny_config()
  dataset = data_lib.load(cfg.data)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  penalized = tiny_config()
  penalized.reg.l2 = 0.01
  left = program.left_out([cfg])
  assert left.penalty and not program.left_out([cfg, penalized]).penalty
  assert program.build(cfg, dataset, mesh, left).steps.left_out.penalty
  assert not program.build(cfg, dataset, mesh).steps.left_out.penalty


def test_left_out_names_what_every_member_has_off():
  plain, decayed = tiny_config(), tiny_config()
  decayed.optimizer.weight_decay = 1e-3
  decayed.model.dropout_rate = 0.2
  both = program.left_out([plain, decayed])
  assert both.optimizer == {'optimizer.clip_global_norm'}
  assert not both.dropout and program.left_out([plain]).dropout
  assert program.left_out([plain, plain]).optimizer == set(
      optim.OFF_AT_ZERO)


def test_shape_or_code_axes_are_separate_groups():
  trials = grid_lib.make_trials(
      tiny_config(), {'model.activation': ['relu', 'elu'],
                      'model.width': [8, 16],
                      'optimizer.learning_rate': [0.1, 0.2]})
  assert len(trials) == 8
  assert len(grid_lib.group_trials(trials)) == 4


def test_joint_axis_sets_several_fields_per_value():
  """An axis whose values are {path: value} dicts (an optimizer with its own
  learning rate) crossed with a plain axis; names list every path set."""
  settings = [{'optimizer.name': 'sgd', 'optimizer.learning_rate': 0.1},
              {'optimizer.name': 'adam', 'optimizer.learning_rate': 0.001,
               'schedule.name': 'cosine'}]
  trials = grid_lib.make_trials(tiny_config(), {
      'setting': settings, 'model.dropout_rate': [0.0, 0.3]})
  assert [t.name for t in trials] == [
      'optimizer.name=sgd,learning_rate=0.1,dropout_rate=0',
      'optimizer.name=sgd,learning_rate=0.1,dropout_rate=0.3',
      'optimizer.name=adam,learning_rate=0.001,schedule.name=cosine,'
      'dropout_rate=0',
      'optimizer.name=adam,learning_rate=0.001,schedule.name=cosine,'
      'dropout_rate=0.3']
  adam = trials[3]
  assert adam.overrides == {**settings[1], 'model.dropout_rate': 0.3}
  assert (adam.config.optimizer.name, adam.config.optimizer.learning_rate,
          adam.config.schedule.name) == ('adam', 0.001, 'cosine')
  # sgd does not name a schedule: it keeps the base config's
  assert trials[0].config.schedule.name == 'constant'
  # the rate and dropout are traced: one program per optimizer + schedule
  assert len(grid_lib.group_trials(trials)) == 2
  assert grid_lib.axis_paths({'setting': settings, 'model.dropout_rate': [0]}) \
      == {'optimizer.name': 'setting', 'optimizer.learning_rate': 'setting',
          'schedule.name': 'setting', 'model.dropout_rate': 'model.dropout_rate'}


@pytest.mark.parametrize('axes,message', [
    ({'s': [{'optimizer.name': 'sgd'}, 'adam']}, r'grid axis s mixes'),
    ({'s': [{}]}, r'grid axis s mixes .* empty dict'),
    ({'s': [{'optimizer.learning_rat': 0.1}]},
     r"did you mean 'optimizer.learning_rate'"),
    ({'s': [{'data.train_limit': 10}]}, r'data.train_limit cannot be a grid'),
    # read once per sweep (device data): as an axis it would be ignored
    ({'eval_batch_size': [100, 200]}, r'eval_batch_size cannot be a grid'),
    ({'diagnostics.probe_size': [8, 16]},
     r'diagnostics.probe_size cannot be a grid'),
    ({'s': [{'optimizer.learning_rate': 0.1}],
      'optimizer.learning_rate': [0.2]},
     r'optimizer.learning_rate is set by two grid axes'),
    ({'s': [{'optimizer.learning_rate': -1.0}]}, r'learning_rate=-1.0'),
    ({'optimizer.learning_rate': [0.1, 0.1]},
     r"grid trial 'learning_rate=0.1' appears twice"),
])
def test_bad_joint_axes_are_one_line_errors(axes, message):
  with pytest.raises(ConfigError, match=message):
    grid_lib.make_trials(tiny_config(), axes)


def test_passes_are_the_union_of_their_products(tmp_path):
  """A list of grids: each pass's product, in order, a shared trial once,
  every pass validated before anything is written."""
  passes = [{'optimizer.learning_rate': [0.1, 0.2]},
            {'model.activation': ['elu'],
             'optimizer.learning_rate': [0.1, 0.2]},
            {'optimizer.learning_rate': [0.2]}]
  trials = grid_lib.make_trials(tiny_config(), passes)
  assert [t.name for t in trials] == [
      'learning_rate=0.1', 'learning_rate=0.2',
      'activation=elu,learning_rate=0.1', 'activation=elu,learning_rate=0.2']
  assert trials[2].config.model.activation == 'elu'
  assert trials[0].config.model.activation == 'relu'
  assert len(grid_lib.group_trials(trials)) == 2
  with pytest.raises(ConfigError, match='learning_rate=-0.1'):
    _run(tiny_config(), passes + [{'optimizer.learning_rate': [-0.1]}],
         tmp_path)
  with pytest.raises(ConfigError, match='no passes'):
    grid_lib.make_trials(tiny_config(), [])
  assert not os.listdir(tmp_path)


def test_files_written(tmp_path):
  c = tiny_config(num_seeds=2, epochs=3)
  c.diagnostics.every_epochs = 1
  results = _run(c, {'model.activation': ['relu']}, tmp_path)
  for r in results:
    d = r['directory']
    cid = os.path.basename(os.path.dirname(d))
    assert d == str(tmp_path / 'activation=relu' / cid / f'seed_{r["seed"]}')
    cfg = json.load(open(os.path.join(d, 'config.json')))
    assert cfg['config_id'] == cid and len(cid) == 10
    assert cfg['config']['model.activation'] == 'relu'
    assert cfg['seed'] == r['seed']
    rows = records.read_metrics(os.path.join(d, 'metrics.jsonl'))
    assert [row['epoch'] for row in rows] == [0, 1, 2, 3]
    for row in rows[1:]:
      for key in ('step', 'train_loss', 'train_accuracy', 'val_loss',
                  'val_accuracy', 'learning_rate', 'examples_per_sec'):
        assert key in row, key
      assert row['step'] == row['epoch'] * (2048 - 0) // 64
      assert 'diag/dead_fraction' in row
    assert 'diag/dead_fraction' in rows[0]  # at initialization
    status = json.load(open(os.path.join(d, 'status.json')))
    assert status['status'] == 'done'
    assert status['final']['epochs_run'] == 3
    for key in ('git_commit', 'versions', 'devices', 'train_seconds'):
      assert key in status
    assert status['versions']['jax'] == jax.__version__
    assert status['versions']['flax'] == flax.__version__
    assert any(f.startswith('events') for f in os.listdir(os.path.join(d,
                                                                       'tb')))
    # The final val metrics are those of the restored best epoch.
    best = min(rows[1:], key=lambda row: row['val_loss'])
    assert status['final']['best_epoch'] == best['epoch']
    np.testing.assert_allclose(status['final']['val_loss'], best['val_loss'],
                               rtol=1e-5)


def test_early_stopping_acts_per_member(tmp_path):
  c = tiny_config(epochs=6)
  c.early_stopping.patience = 2
  c.early_stopping.min_delta = 1e-3
  # lr 1e-7 cannot improve val_loss by 1e-3: it stops after epoch 1 + 2.
  results = _by(_run(c, {'optimizer.learning_rate': [1e-7, 0.05]}, tmp_path))
  slow = results[('learning_rate=1e-07', 0)]
  fast = results[('learning_rate=0.05', 0)]
  assert slow['stopped_epoch'] == 3 and slow['epochs_run'] == 3
  assert len(_curve(slow)) == 4  # epochs 0..3: nothing logged after stopping
  assert slow['best_epoch'] == 1
  assert fast['epochs_run'] > 3


def test_divergent_member_does_not_affect_others(tmp_path):
  grid = _by(_run(tiny_config(epochs=3),
                  {'optimizer.learning_rate': [0.05, 1e4]}, tmp_path / 'g'))
  alone = _run(tiny_config(epochs=3), {}, tmp_path / 'a')[0]
  bad, good = grid[('learning_rate=10000', 0)], grid[('learning_rate=0.05', 0)]
  assert bad['status'] == 'diverged' and bad['diverged_epoch'] >= 1
  status = json.load(open(os.path.join(bad['directory'], 'status.json')))
  assert status['status'] == 'diverged'
  assert good['status'] == 'done'
  np.testing.assert_allclose(_curve(good), _curve(alone), rtol=2e-5,
                             atol=1e-6)


_TWO_DEVICES = r'''
import json, sys
sys.path.insert(0, 'tests')
import jax
from conftest import tiny_config
from dlexp.train import runner
assert jax.device_count() == int(sys.argv[2]), jax.devices()
res = runner.run(tiny_config(num_seeds=2), {}, sys.argv[1],
                 out=runner.Printer(quiet=True))
print(json.dumps([r['test_loss'] for r in res]))
'''


@pytest.mark.parametrize('devices', [2])
def test_two_cpu_devices_match_one(tmp_path, devices):
  def run(n):
    count = f'--xla_force_host_platform_device_count={n}'
    env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=xla_flags(count))
    out = subprocess.run(
        [sys.executable, '-c', _TWO_DEVICES, str(tmp_path / f'd{n}'), str(n)],
        env=env, capture_output=True, text=True, check=True,
        cwd=os.path.dirname(os.path.dirname(__file__)))
    return json.loads(out.stdout.strip().splitlines()[-1])
  np.testing.assert_allclose(run(devices), run(1), rtol=1e-4)


def test_grid_values_validated_before_compiling(tmp_path):
  with pytest.raises(ConfigError, match='learning_rate=-0.1'):
    _run(tiny_config(), {'optimizer.learning_rate': [0.1, -0.1]}, tmp_path)
  with pytest.raises(ConfigError, match="did you mean 'model.activation'"):
    _run(tiny_config(), {'model.activaton': ['relu']}, tmp_path)
  assert not os.listdir(tmp_path)  # nothing written


def test_batch_size_larger_than_dataset_is_an_error(tmp_path):
  with pytest.raises(ConfigError, match='batch_size=4096 is larger'):
    _run(tiny_config(batch_size=4096), {}, tmp_path)


def test_unknown_key_suggests_closest():
  c = config_lib.default_config()
  with pytest.raises(ConfigError, match="did you mean 'optimizer.momentum'"):
    config_lib.set_value(c, 'optimizer.momentun', 0.9)
  with pytest.raises(ConfigError, match='wrong type'):
    config_lib.set_value(c, 'epochs', 'ten')


def test_step_driver_equals_scan_driver(tmp_path):
  """The per-step driver (conv nets on CPU) trains exactly what the scanned
  epoch trains: same permutation, same steps, same early-stopping masks."""
  scan = _run(tiny_config(num_seeds=2, epoch_driver='scan'), {}, tmp_path / 's')
  step = _run(tiny_config(num_seeds=2, epoch_driver='step'), {}, tmp_path / 'p')
  for a, b in zip(scan, step):
    np.testing.assert_allclose(_curve(a), _curve(b), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(_curve(a, 'train_loss'),
                               _curve(b, 'train_loss'), rtol=2e-5, atol=1e-6)


def test_auto_member_mode_follows_the_measured_cpu_rule():
  from dlexp.train import program  # pylint: disable=g-import-not-at-top
  cfg = tiny_config()
  for members in (1, 3, 30):  # an MLP: vmap at every measured count
    assert program.member_mode(cfg, members) == 'vmap'
  cfg.model.name = 'cnn'
  assert program.member_mode(cfg, 2) == 'loop'
  cfg.members = 'vmap'  # an explicit choice is kept
  assert program.member_mode(cfg, 30) == 'vmap'
  cfg.model.name, cfg.members = 'mlp', 'loop'
  assert program.member_mode(cfg, 3) == 'loop'


def test_conv_nets_optimize_their_after_epoch_program():
  """QUICK_COMPILE (XLA O0) is for programs whose run time is negligible: a
  conv net's per-epoch diagnostics are not (tenfold slower unoptimized)."""
  import types  # pylint: disable=g-import-not-at-top
  from dlexp.train import program  # pylint: disable=g-import-not-at-top
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  mesh = Mesh(np.array(jax.devices()[:1]), ('data',))
  spec = types.SimpleNamespace(num_classes=10, target_dim=(),
                               input_shape=(28, 28, 1),
                               train_y=np.zeros(64, np.int32))
  cfg = tiny_config()
  assert (program.build(cfg, spec, mesh).after_epoch.options
          == program.QUICK_COMPILE)
  cfg.model.name = 'cnn'
  assert program.build(cfg, spec, mesh).after_epoch.options is None


def test_garbage_collection_resumes_after_compiling_even_on_error():
  """Program.precompile turns Python's cyclic GC off while it traces; it is
  back on afterwards, also when a compile fails, and stays off for a caller
  that had turned it off."""
  import gc  # pylint: disable=g-import-not-at-top
  assert gc.isenabled()
  with pytest.raises(RuntimeError):
    with program._no_gc():  # pylint: disable=protected-access
      assert not gc.isenabled()
      raise RuntimeError('compile failed')
  assert gc.isenabled()
  gc.disable()
  try:
    with program._no_gc():  # pylint: disable=protected-access
      pass
    assert not gc.isenabled()
  finally:
    gc.enable()


def test_diagnostics_every_other_epoch_match_the_every_epoch_ones(tmp_path):
  """every_epochs = 2 diagnoses epochs 0, 2 and the last (3) with
  after_epoch and runs after_epoch_quiet (no diagnostics) at the others,
  both compiled up front; every_epochs = 1 needs only after_epoch. Same
  training, so the diagnosed epochs agree."""
  def diag_rows(every, name):
    (result,) = _run(tiny_config(epochs=3, diagnostics__every_epochs=every),
                     {}, tmp_path / name)
    rows = records.read_metrics(os.path.join(result['directory'],
                                             'metrics.jsonl'))
    with open(os.path.join(result['directory'], 'status.json')) as f:
      programs = json.load(f)['compile_seconds_by_program']
    return programs, {
        r['epoch']: {k: v for k, v in r.items() if k.startswith('diag/')}
        for r in rows if 'epoch' in r}
  (p_every, every), (p_other, other) = (diag_rows(1, 'every'),
                                        diag_rows(2, 'other'))
  assert 'after_epoch_quiet' in p_other and 'after_epoch_quiet' not in p_every
  assert [e for e in sorted(other) if other[e]] == [0, 2, 3]
  assert all(every[e] for e in (0, 1, 2, 3))
  for e in (0, 2, 3):
    assert other[e].keys() == every[e].keys()
    np.testing.assert_allclose([other[e][k] for k in sorted(other[e])],
                               [every[e][k] for k in sorted(every[e])],
                               rtol=1e-5, atol=1e-7)


def test_no_validation_split_trains_on_every_example(tmp_path):
  # data.val_size=0: the whole training split trains (2,048 examples, 32
  # steps of 64), validation metrics are NaN, test metrics are measured,
  # and the monitor must be a training metric.
  cfg = tiny_config(data__val_size=0, early_stopping__monitor='train_loss',
                    early_stopping__restore_best=False)
  (res,) = _run(cfg, {}, tmp_path)
  assert res['status'] == 'done'
  assert np.isnan(res['val_loss']) and np.isnan(res['val_accuracy'])
  assert 0 < res['test_accuracy'] <= 1
  assert _curve(res, 'step')[-1] == 2 * (2048 // 64)  # 2 epochs of 32
  with pytest.raises(ConfigError, match="early_stopping.monitor='val_loss' "
                     'watches the validation split'):
    _run(tiny_config(data__val_size=0), {}, tmp_path / "refused")
  assert not (tmp_path / 'refused').exists()  # refused before anything
