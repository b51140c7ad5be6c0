"""Transfer learning as configuration: init.from_path / init.skip /
init.restore and train.freeze, with their one-line errors."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh

from conftest import member_dir, run_script, tiny_config
import dlexp
from dlexp import data as data_lib
from dlexp import grid as grid_lib
from dlexp.errors import ConfigError
from dlexp.train import model_io, program, runner, transfer

QUIET = runner.Printer(quiet=True)


@pytest.fixture(scope='module')
def source(tmp_path_factory):
  """A saved 2x16 MLP trained 2 epochs on the 10 synthetic classes."""
  path = str(tmp_path_factory.mktemp('source') / 'model')
  dlexp.fit(tiny_config(), out=False).save(path)
  return path


def _fit(config, workdir=None):
  return dlexp.fit(config, workdir=workdir, out=False)


def test_frozen_parameters_are_bitwise_unchanged_while_the_head_moves(
    source, tmp_path):
  before = dlexp.load(source).params()
  # Decoupled weight decay, L2, a max-norm bound smaller than the loaded
  # kernels' norms and global pruning would all move the frozen layers.
  c = tiny_config(epochs=2)
  c.init.from_path = source
  c.train.freeze = ('dense[12]',)
  c.optimizer.weight_decay = 0.1
  c.reg.l2 = 0.01
  c.reg.max_norm = 0.5
  c.reg.prune_method, c.reg.prune_scope = 'one_shot', 'global'
  axes = {'optimizer.learning_rate': [0.01, 0.1]}
  assert len(grid_lib.group_trials(grid_lib.make_trials(c, axes))) == 1
  results = runner.run(c, axes, str(tmp_path), out=QUIET)
  heads = []
  for r in results:
    after = dlexp.load(r['directory']).params()
    for layer in ('dense1', 'dense2'):
      for name in ('kernel', 'bias'):
        np.testing.assert_array_equal(after[layer][name],
                                      before[layer][name])
    kernel = after['logits']['kernel']
    assert not np.allclose(kernel, before['logits']['kernel'])
    # Only the trainable kernel was pruned, to the global target of 50%.
    assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-6
    heads.append(kernel)
  assert not np.allclose(heads[0], heads[1])  # two learning rates, one program


def test_frozen_layers_have_no_optimizer_state():
  from dlexp import optim  # pylint: disable=g-import-not-at-top
  c = tiny_config(optimizer__name='adam', train__freeze=('dense1',))
  params = {'dense1': {'kernel': jnp.ones((3, 2))},
            'logits': {'kernel': jnp.ones((2, 4))}}
  opt = optim.make_optimizer(c, steps_per_epoch=10)
  state = opt.init(params)
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  updates, state = opt.update(grads, state, params, {
      'optimizer.learning_rate': jnp.float32(0.5)}, 0)
  np.testing.assert_array_equal(updates['dense1']['kernel'], 0.0)
  assert np.all(np.asarray(updates['logits']['kernel']) < 0)
  adam = state.inner.inner_states['train'].inner_state[2]  # clip, clip,
  # direction, decay, lr
  # Adam keeps moments for the trained layer only.
  assert isinstance(adam.mu['dense1']['kernel'], optax.MaskedNode)
  assert adam.mu['logits']['kernel'].shape == (2, 4)


def test_skip_reinitializes_exactly_the_skipped_parameters(source):
  """A 3-class subset: the loaded head does not fit and is skipped."""
  c = tiny_config(data__classes=(0, 1, 2), num_seeds=2)
  c.init.from_path, c.init.skip = source, ('logits',)
  dataset = data_lib.load(c.data)
  transfer.check(c, dataset)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  prog = program.build(c, dataset, mesh)
  sample = jnp.zeros((1, 8, 8, 1))
  fresh, tracker = prog.init(jnp.asarray([0, 1], jnp.int32), sample)
  members = [grid_lib.Member(None, s, '') for s in (0, 1)]
  states, trackers, start = transfer.start_states(c, [members], [fresh],
                                                  [tracker])
  assert start == 0
  got, fresh = states[0].params, jax.device_get(fresh.params)
  saved = dlexp.load(source).params()
  for i in (0, 1):  # one saved member starts every seed
    for layer in ('dense1', 'dense2'):
      for name in ('kernel', 'bias'):
        np.testing.assert_array_equal(got[layer][name][i], saved[layer][name])
    for name in ('kernel', 'bias'):  # the fresh head of that seed
      np.testing.assert_array_equal(got['logits'][name][i],
                                    fresh['logits'][name][i])
  assert got['logits']['kernel'].shape == (2, 16, 3)
  np.testing.assert_array_equal(trackers[0].best_params['dense1']['kernel'],
                                got['dense1']['kernel'])
  # The optimizer, step and keys are the fresh ones of each seed.
  np.testing.assert_array_equal(states[0].data_key,
                                jax.device_get(prog.init(
                                    jnp.asarray([0, 1], jnp.int32),
                                    sample)[0].data_key))


def test_transferred_model_starts_where_the_saved_one_ended(source):
  """Epoch 0 of a run started from the saved model (nothing skipped) is the
  saved model on the same validation split."""
  c = tiny_config(epochs=1)
  c.init.from_path = source
  trained = _fit(c)
  np.testing.assert_allclose(trained.history[0][0]['val_loss'],
                             dlexp.load(source).evaluate('val')['loss'],
                             rtol=1e-5)


@pytest.mark.parametrize('setting, message', [
    (dict(train__freeze=('dense9',)),
     "train.freeze pattern 'dense9' matches no parameter of this model; "
     'parameters: dense1, dense2, logits'),
    (dict(init__skip=('head',)),
     "init.skip pattern 'head' matches no parameter"),
    (dict(model__width=8),
     r'init.from_path: dense1/bias has shape \(16,\) in the saved model '
     r'.* and \(8,\) in this model; add it to init.skip'),
    (dict(data__classes=(0, 1)),
     r'init.from_path: logits/bias has shape \(10,\) in the saved model .* '
     r'and \(2,\) in this model'),
    (dict(model__depth=3),
     'init.from_path: dense3/(kernel|bias) .* of this model is not in the saved '
     'model'),
    (dict(model__depth=1, model__width=16),
     'init.from_path: dense2/bias .* of the saved model .* is not in this '
     'model'),
    (dict(init__restore='state', epochs=2),
     'epochs=2 must be > 2, the epochs .* has trained'),
    (dict(init__restore='state', epochs=3, optimizer__name='adam'),
     "init.restore='state': opt_state/inner/.* in this run"),
    (dict(init__restore='state', init__skip=('logits',)),
     "init.skip=.* not allowed with init.restore='state'"),
    (dict(init__skip=('(',)), r"init.skip: '\(' is not a regular expression"),
    (dict(num_seeds=2, init__from_path='MULTI'),
     r'holds seeds \[0, 3\], not seed 1'),
])
def test_one_line_errors_before_anything_is_written(source, tmp_path,
                                                    setting, message):
  setting = dict(setting)
  if setting.get('init__from_path') == 'MULTI':
    multi = str(tmp_path / 'multi')
    loaded = dlexp.load(source)
    model_io.write(multi, model_io.stack([model_io.take(loaded.state, 0)] * 2),
                   dict(loaded.flat_config(), num_seeds=2),
                   dict(loaded.meta, members=[dict(loaded.meta['members'][0],
                                                   seed=s) for s in (0, 3)]))
    setting['init__from_path'] = multi
  c = tiny_config(init__from_path=source)
  for key, value in setting.items():
    c_path = key.replace('__', '.')
    from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
    config_lib.set_value(c, c_path, value)
  workdir = tmp_path / 'never'
  with pytest.raises(ConfigError, match=message) as e:
    runner.run(c, {}, str(workdir), out=QUIET)
  assert '\n' not in str(e.value)
  assert not workdir.exists()


@pytest.mark.parametrize('where, message', [
    ('missing', "init.from_path '.*missing' does not exist"),
    ('empty', 'holds no saved model'),
    ('torn', 'is not a readable dlexp model'),
])
def test_from_path_that_is_no_model(tmp_path, where, message):
  path = tmp_path / where
  if where != 'missing':
    path.mkdir()
  if where == 'torn':
    (path / 'model.json').write_text('{"format": "dlexp.model"}')
  c = tiny_config(init__from_path=str(path))
  with pytest.raises(ConfigError, match=message):
    runner.run(c, {}, str(tmp_path / 'never'), out=QUIET)
  assert not (tmp_path / 'never').exists()


def test_experiment_script_starts_from_a_saved_model(source, tmp_path):
  workdir = str(tmp_path / 'runs')
  args = [f'--workdir={workdir}', '--dataset=synthetic',
          '--config.model.depth=2', '--config.model.width=16',
          '--config.data.train_limit=2048', '--config.data.val_size=500',
          '--epochs=1', '--seeds=1', '--activations=relu',
          f'--config.init.from_path={source}', '--config.init.skip=logits',
          "--config.train.freeze=('dense1','dense2')"]
  proc = run_script('elu_vs_relu', *args, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  run = member_dir(workdir, 'activation=relu', 0)
  trained = dlexp.load(run)
  assert trained.config.init.skip == ('logits',)
  assert trained.config.train.freeze == ('dense1', 'dense2')
  np.testing.assert_array_equal(trained.params()['dense2']['kernel'],
                                dlexp.load(source).params()['dense2']['kernel'])
  bad = run_script('elu_vs_relu', *args[:-3],
                   '--config.init.from_path=/nonexistent', timeout=300)
  assert bad.returncode == 2
  assert bad.stderr.strip() == ("error: init.from_path '/nonexistent' does "
                                'not exist')


@pytest.mark.parametrize('claim, table, failed', [
    (0, 'regime', 'scratch needs at least 5 evaluations'),
    (0, 'regime_never', 'every seed of scratch and fine-tuning reaches'),
    (0, 'regime_knowledge', 'the source carries transferable knowledge'),
    (1, 'regime', 'the source carries transferable knowledge'),
    (1, 'regime_floor', 'scratch needs at least 5 evaluations'),
    (1, 'regime_chance', 'training from scratch learns the target task'),
    (2, 'regime', 'the source carries transferable knowledge'),
    (2, 'regime_chance', 'training from scratch learns the target task'),
    (3, 'regime', 'the random-label source memorised its random labels'),
    (3, 'regime_learned', 'the random-label source learned nothing'),
    (4, 'regime', 'the synthetic-domain source learned its own task'),
    (4, 'regime_knowledge', 'the source carries transferable knowledge'),
    (5, 'regime', 'full fine-tuning learns the target task'),
    (5, 'regime_knowledge', 'the source carries transferable knowledge'),
])
def test_transfer_claims_stop_at_the_precondition_that_fails(claim, table,
                                                             failed):
  """Each fabricated table of tests/fabricated/transfer_learning.py that
  breaks one precondition stops its claim there, naming it (test_rules
  checks only the table called 'regime')."""
  from dlexp import claims, findings  # pylint: disable=g-import-not-at-top
  from fabricated import transfer_learning as fabricated  # pylint: disable=g-import-not-at-top
  script = findings.load_script('transfer_learning')
  (got,) = claims.evaluate([script.CLAIMS[claim]],
                           fabricated.CASES[claim][table])
  assert got['verdict'] == claims.INCONCLUSIVE, got
  assert got['evidence'].startswith('regime not reached'), got
  assert failed in got['evidence'].split('regime not reached', 1)[1], got
