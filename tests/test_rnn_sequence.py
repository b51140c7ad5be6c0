"""experiments/rnn_sequence.py and the two options it ablates: a recurrent
layer with its recurrence cut (model.recurrent=False) and each sequence's
steps in an order of its own (data.shuffle_steps); the rules on fabricated
tables; the script at its smoke size."""
import glob
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_one_line_error, run_script, verdict_lines
from dlexp import claims, data, findings
from dlexp.data import transforms
from dlexp.errors import ConfigError
from dlexp.models import build_model, defaults, validate
from dlexp.models.rnn import Recurrent
from fabricated import rnn_sequence as fab


# -- model.recurrent ----------------------------------------------------------
def _layer_outputs(cell, recurrent, x):
  layer = Recurrent(cell, 6, jax.nn.initializers.normal(0.5),
                    recurrent=recurrent)
  params = layer.init(jax.random.key(0), x)
  return params, np.asarray(layer.apply(params, x))


@pytest.mark.parametrize('cell', ['gru', 'lstm'])
def test_cut_recurrence_makes_step_t_depend_on_input_t_alone(cell):
  """Changing the first 10 steps changes no later output of the cut layer,
  and changes later outputs of the intact one (the state carries them)."""
  x = jax.random.normal(jax.random.key(1), (3, 20, 2))
  x2 = x.at[:, :10].set(jax.random.normal(jax.random.key(2), (3, 10, 2)))
  for recurrent in (True, False):
    params, y = _layer_outputs(cell, recurrent, x)
    _, y2 = _layer_outputs(cell, recurrent, x2)
    assert not np.allclose(y[:, :10], y2[:, :10])  # the changed steps
    later = np.abs(y[:, 10:] - y2[:, 10:]).max()
    assert (later > 1e-3) if recurrent else (later == 0.0), (recurrent,
                                                             later)


def test_cut_recurrence_is_the_cell_on_a_zero_state_at_every_step():
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(1), (3, 7, 2))
  params, y = _layer_outputs('gru', False, x)
  cell = nn.GRUCell(6)
  zero = jnp.zeros((3, 6))
  for t in range(7):
    _, expected = cell.apply({'params': params['params']['cell']}, zero,
                             x[:, t])
    np.testing.assert_allclose(y[:, t], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('cell', ['gru', 'lstm'])
def test_cut_and_intact_networks_have_the_same_parameters(cell):
  shapes = []
  for recurrent in (True, False):
    cfg = defaults()
    cfg.update(name=cell, hidden=(8, 8), readout='all', recurrent=recurrent)
    validate(cfg)
    model = build_model(cfg, 10, (40, 1))
    variables = jax.eval_shape(
        lambda m=model: m.init(jax.random.key(0), jnp.ones((2, 40, 1)),
                               train=False))
    shapes.append(jax.tree_util.tree_map(lambda a: a.shape, variables))
  assert shapes[0] == shapes[1]


@pytest.mark.parametrize('changes,message', [
    (dict(name='mlp'), r"model.recurrent=False not allowed for model 'mlp'"),
    (dict(dropout='variational'), r"'variational' masks the recurrent state"),
    (dict(dropout='per_step_recurrent'),
     r"'per_step_recurrent' masks the recurrent state"),
    (dict(bidirectional=True), r'bidirectional=True reads the sequence'),
])
def test_cut_recurrence_rejects_what_needs_the_state(changes, message):
  cfg = defaults()
  cfg.update(name='gru', recurrent=False)
  validate(cfg)  # alone it is fine
  cfg.update(changes)
  with pytest.raises(ConfigError, match=message):
    validate(cfg)


# -- model.dropout='per_step_recurrent' ---------------------------------------
def _classifier_outputs(cell, x, rate, train, variants):
  """{variant: logits} of one tiny classifier's parameters under each
  dropout variant, the same 'dropout' key for all."""
  out, params = {}, None
  for variant in variants:
    cfg = defaults()
    cfg.update(name=cell, hidden=(8,), dropout=variant)
    validate(cfg)
    model = build_model(cfg, 10, x.shape[1:])
    if params is None:
      params = model.init(jax.random.key(0), x, train=False)['params']
    rngs = {'dropout': jax.random.key(1)} if train else {}
    out[variant] = np.asarray(model.apply({'params': params}, x, train=train,
                                          dropout_rate=rate, rngs=rngs))
  return out


@pytest.mark.parametrize('cell', ['gru', 'lstm'])
def test_per_step_recurrent_is_no_dropout_at_rate_zero_and_in_inference(cell):
  x = jax.random.normal(jax.random.key(2), (3, 8, 2))
  for rate, train in ((0.0, True), (0.5, False)):
    out = _classifier_outputs(cell, x, rate, train,
                              ('none', 'per_step_recurrent'))
    np.testing.assert_array_equal(out['per_step_recurrent'], out['none'])
  # In training it masks h as well: other logits than every other variant's.
  others = ('none', 'standard', 'variational')
  out = _classifier_outputs(cell, x, 0.5, True,
                            others + ('per_step_recurrent',))
  for other in others:
    assert not np.allclose(out['per_step_recurrent'], out[other]), other


def test_per_step_recurrent_needs_a_recurrent_model():
  cfg = defaults()
  cfg.update(name='mlp', dropout='per_step_recurrent')
  with pytest.raises(ConfigError, match=r"model.dropout='per_step_recurrent' "
                     r"not allowed for model 'mlp'.*'standard' for a fresh "
                     'mask per step'):
    validate(cfg)


# -- data.shuffle_steps -------------------------------------------------------
def _numbered(n=50, steps=12, channels=1):
  """Example i, step j, channel c holds 1000 i + 10 j + c: every value
  says where it came from."""
  i, j, c = np.meshgrid(np.arange(n), np.arange(steps), np.arange(channels),
                        indexing='ij')
  return (1000 * i + 10 * j + c).astype(np.float32)


def test_shuffle_steps_permutes_each_example_on_its_own_keeping_values():
  x = _numbered(channels=3)
  out = transforms.shuffle_steps(x, seed=0)
  assert out.shape == x.shape
  np.testing.assert_array_equal(out // 1000, x // 1000)  # same example
  np.testing.assert_array_equal(out % 10, x % 10)  # channels move together
  order = (out[..., 0] % 1000) // 10  # the source step of each step
  for row in order:
    assert sorted(row) == list(range(12))  # a permutation: values kept
  assert (order != np.arange(12)).any(axis=1).mean() > 0.9  # order changed
  assert len({tuple(r) for r in order}) > 45  # each example its own order


def test_shuffle_steps_is_deterministic_per_seed_and_per_example():
  x = _numbered()
  a, b = transforms.shuffle_steps(x, 0), transforms.shuffle_steps(x, 0)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, transforms.shuffle_steps(x, 1))
  # An example keeps its permutation in any batch or split it is part of.
  np.testing.assert_array_equal(transforms.shuffle_steps(x[7:9], 0), a[7:9])


def test_shuffle_steps_is_off_by_default_and_shuffles_mnist1d_when_on():
  cfg = data.defaults()
  assert cfg.shuffle_steps is False
  cfg.update(name='mnist1d', train_limit=300, val_size=100, test_limit=100)
  kept = data.load(cfg)
  cfg.shuffle_steps = True
  shuffled = data.load(cfg)
  for split in ('train', 'val', 'test'):
    a, b = getattr(kept, f'{split}_x'), getattr(shuffled, f'{split}_x')
    np.testing.assert_array_equal(getattr(kept, f'{split}_y'),
                                  getattr(shuffled, f'{split}_y'))
    np.testing.assert_allclose(np.sort(a, 1), np.sort(b, 1), atol=1e-6)
    assert (a != b).mean() > 0.9


def test_shuffle_steps_needs_steps():
  cfg = data.defaults()
  cfg.update(name='synthetic_vector', shuffle_steps=True)
  with pytest.raises(ConfigError, match='data.shuffle_steps=True reorders'):
    data.validate(cfg)
  cfg.name = 'synthetic'  # images: their rows are the steps
  data.validate(cfg)


# -- the rules ----------------------------------------------------------------
def test_order_claim_needs_both_halves():
  """(a) order matters in the data, (b) the RNN uses it: either half
  contradicted contradicts the claim."""
  order = findings.load_script('rnn_sequence').CLAIMS[1]
  memoryless_blind = fab.parts({(fab.SHUFFLED, False): fab.accuracy(0.44)})
  (got,) = claims.evaluate([order], memoryless_blind)
  assert got['verdict'] == claims.CONTRADICTED
  assert '(a) order matters in this data' in got['evidence']
  (got,) = claims.evaluate([order], fab.parts(cells=('gru', 'lstm')))
  assert got['verdict'] == claims.SUPPORTED


# -- the script ---------------------------------------------------------------
def test_smoke(tmp_path):
  workdir = str(tmp_path / 'runs')
  proc = run_script('rnn_sequence', '--smoke', f'--workdir={workdir}')
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = proc.stdout
  for part in ('### true order', '### shuffled steps'):
    section = out.split(part)[1].split('###')[0]
    assert '| name=gru,recurrent=True | 2 |' in section
    assert '| name=gru,recurrent=False | 2 |' in section
  assert [s for s, _, _ in verdict_lines(out)] == ['004 G5', '004 G5']
  (path,) = glob.glob(os.path.join(workdir, 'findings', 'rnn_sequence-*.json'))
  with open(path) as f:
    record = json.load(f)
  assert record['size'] == 'smoke' and len(record['claims']) == 2
  # The rules run on the recorded evidence (the smoke nets miss the regime).
  evidence = claims.from_record(record['evidence'])
  memory, order = findings.load_script('rnn_sequence').CLAIMS
  assert 'gru recurrence cut, true order' in memory.rule(evidence).evidence
  assert 'gru intact, shuffled steps' in order.rule(evidence).evidence
  # The runs of each part read the data as that part says.
  configs = glob.glob(os.path.join(workdir, '**', 'config.json'),
                      recursive=True)
  shuffled = set()
  for name in configs:
    with open(name) as f:
      shuffled.add(json.load(f)['config']['data.shuffle_steps'])
  assert shuffled == {True, False}


@pytest.mark.parametrize('args,message', [
    (['--orders=true,sideways'], r'--orders=true,sideways not allowed'),
    (['--config.data.shuffle_steps=True'],
     r"--config.data.shuffle_steps=True is set by part 'true order'"),
    (['--model=lstm'], r'--model=lstm: .* --cells'),
])
def test_bad_input_is_one_line(args, message):
  assert_one_line_error(run_script('rnn_sequence', '--smoke', *args), message)
