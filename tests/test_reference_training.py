"""dlexp's training loop against an independent flax.linen + optax loop
(issue 28: every other equality test compares the engine with itself, so a
mistake shared by all its paths, in momentum, loss averaging, weight decay,
the schedule or the step count, would pass them all).

Design. The reference below uses nothing of dlexp's training code: its own
MLP module, optax's own optimizers and schedules (optax.sgd, optax.adamw with
a kernel mask, optax.warmup_cosine_decay_schedule), optax's cross-entropy and
a plain jitted loop. What the two runs share is only what is not training
math:
- the data: the standardized training split of the Dataset that
  dlexp.data.from_arrays builds (its validation split never enters
  training, so the reference trains on exactly `ds.train_x`, `ds.train_y`);
- the initial parameters: a first dlexp run (one epoch, any optimizer) gives
  known parameters P0, saved; the run under test starts from them with
  init.from_path and init.restore='params' (fresh optimizer state, step 0),
  and the reference loads the same P0 into its own module;
- the batches: full batch (batch_size = the training examples), so each
  epoch is one step on every example; dlexp permutes them, which changes
  only the order of float sums.
Early stopping never stops (patience 0) and restore_best is off, so dlexp's
final parameters are those after the last step. Not covered here: the order
of mini-batches within an epoch (full batch by design).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dlexp
from dlexp import data as data_lib

NUM_TRAIN, NUM_VAL, FEATURES, CLASSES = 64, 8, 6, 3
HIDDEN = (16, 16)  # model.depth 2, model.width 16: dense1, dense2, logits
STEPS = 24  # full-batch epochs = steps: enough for momentum and Adam's
            # moments to build up and for the schedule to warm up and decay.
# Float tolerance. The two runs differ only in float summation order (dlexp
# permutes the batch and compiles its step inside a scan, with other
# fusions). Measured on CPU after 24 steps: SGD 2.4e-7, AdamW 7.5e-8 largest
# absolute difference, the same size as the reference against itself on a
# permuted batch (2.4e-7, 1.2e-7); parameters are O(0.01-1). atol 1e-6 and
# rtol 1e-5 leave 4x room for other CPUs and XLA versions, and stay two
# orders of magnitude below what a wrong momentum, schedule, decay mask or
# loss reduction changes (WRONG_BY, asserted for each case below).
RTOL, ATOL = 1e-5, 1e-6
WRONG_BY = 100 * ATOL

SGD_LR, MOMENTUM = 0.1, 0.9
ADAM_LR, WEIGHT_DECAY = 0.01, 0.5
# Adam's decays as float32 scalars. dlexp traces its hyperparameters as
# float32 (as optax.inject_hyperparams does), so its 1 - b2 is
# 1 - float32(0.999) = 0.00099998713; optax given the Python float 0.999
# computes 1 - b2 in float64 and rounds it to float32(0.001), while its bias
# correction 1 - b2**t uses float32(0.999): v is then 1.3e-5 too large
# relative, and after 24 steps the parameters differ by 1.4e-6 (measured),
# which is a rounding convention, not a difference of algorithm.
B1, B2 = np.float32(0.9), np.float32(0.999)
WARMUP, WARMUP_INIT, MIN_LR_RATIO = 4, 0.1, 0.1


def _arrays():
  """72 examples of 6 features in 3 classes, the class a noisy linear
  function of x (so the loss falls and gradients stay informative)."""
  rng = np.random.default_rng(7)
  x = rng.normal(size=(NUM_TRAIN + NUM_VAL, FEATURES)).astype(np.float32)
  w = rng.normal(size=(FEATURES, CLASSES))
  y = np.argmax(x @ w + 0.5 * rng.normal(size=(len(x), CLASSES)), axis=1)
  return x, y.astype(np.int64)


def _config(**overrides):
  cfg = {'model.name': 'mlp', 'model.depth': len(HIDDEN),
         'model.width': HIDDEN[0], 'model.activation': 'relu',
         'model.dropout_rate': 0.0, 'model.norm': 'none',
         'batch_size': NUM_TRAIN, 'seed': 0, 'num_seeds': 1,
         'early_stopping.patience': 0,
         'early_stopping.restore_best': False,
         'diagnostics.every_epochs': 0, 'checkpoint.every_epochs': 0}
  cfg.update(overrides)
  return cfg


@pytest.fixture(scope='module')
def start(tmp_path_factory):
  """(dataset, P0 as numpy, path of the saved model holding P0)."""
  x, y = _arrays()
  ds = data_lib.from_arrays(x, y, val_size=NUM_VAL)
  assert ds.num_train == NUM_TRAIN and ds.input_shape == (FEATURES,)
  first = dlexp.fit(_config(epochs=1), data=ds, out=False)
  path = first.save(str(tmp_path_factory.mktemp('p0') / 'model'))
  return ds, jax.tree_util.tree_map(np.asarray, first.params()), path


# -- the reference: flax + optax only ------------------------------------------
class ReferenceMLP(nn.Module):
  """dense1 -> relu -> dense2 -> relu -> logits, dlexp's layer names."""
  hidden: tuple
  classes: int

  @nn.compact
  def __call__(self, x):
    for i, width in enumerate(self.hidden, 1):
      x = nn.relu(nn.Dense(width, name=f'dense{i}')(x))
    return nn.Dense(self.classes, name='logits')(x)


def _kernels(params):
  """adamw's mask: decay kernels only (dlexp's decay_all_params=False)."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: path[-1].key == 'kernel', params)


def reference_train(params, x, y, tx, steps=STEPS, reduce=jnp.mean):
  """`steps` full-batch updates of `tx` on the loss `reduce`d over the batch;
  (final params, loss before each step)."""
  model = ReferenceMLP(HIDDEN, CLASSES)

  def loss_fn(p):
    logits = model.apply({'params': p}, x)
    return reduce(optax.softmax_cross_entropy_with_integer_labels(logits, y))

  @jax.jit
  def step(p, opt_state):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, opt_state = tx.update(grads, opt_state, p)
    return optax.apply_updates(p, updates), opt_state, loss

  params = jax.tree_util.tree_map(jnp.asarray, params)
  opt_state = tx.init(params)
  losses = []
  for _ in range(steps):
    params, opt_state, loss = step(params, opt_state)
    losses.append(float(loss))
  return jax.tree_util.tree_map(np.asarray, params), np.array(losses)


# -- the cases ----------------------------------------------------------------
def _adam_schedule():
  # dlexp's warmup_cosine: linear from warmup_init x lr to lr over the warm-up
  # epochs, then a half cosine to min_lr_ratio x lr at the last step;
  # optax's decay_steps counts the warm-up too.
  return optax.warmup_cosine_decay_schedule(
      init_value=ADAM_LR * WARMUP_INIT, peak_value=ADAM_LR,
      warmup_steps=WARMUP, decay_steps=STEPS,
      end_value=ADAM_LR * MIN_LR_RATIO)


def _adamw(rate=None, mask=_kernels):
  return optax.adamw(_adam_schedule() if rate is None else rate, b1=B1,
                     b2=B2, weight_decay=WEIGHT_DECAY, mask=mask)


def _coupled_adam():
  """Weight decay added to the gradient before Adam (L2, not AdamW)."""
  return optax.chain(optax.add_decayed_weights(WEIGHT_DECAY, mask=_kernels),
                     optax.scale_by_adam(b1=B1, b2=B2),
                     optax.scale_by_learning_rate(_adam_schedule()))


# Each case: dlexp's config, the rate it should log at steps 0.., the
# reference optimizer, and plausible shared mistakes, as reference_train
# keyword arguments, that the comparison must catch.
CASES = {
    'sgd_momentum': dict(
        overrides={'optimizer.name': 'sgd',
                   'optimizer.learning_rate': SGD_LR,
                   'optimizer.momentum': MOMENTUM,
                   'schedule.name': 'constant'},
        schedule=lambda t: np.full(len(t), SGD_LR),
        reference=lambda: optax.sgd(SGD_LR, momentum=MOMENTUM),
        wrong={'momentum 0': dict(tx=optax.sgd(SGD_LR)),
               'nesterov': dict(tx=optax.sgd(SGD_LR, momentum=MOMENTUM,
                                             nesterov=True)),
               'loss summed': dict(tx=optax.sgd(SGD_LR, momentum=MOMENTUM),
                                   reduce=jnp.sum)}),
    'adamw_warmup_cosine': dict(
        overrides={'optimizer.name': 'adamw',
                   'optimizer.learning_rate': ADAM_LR,
                   'optimizer.weight_decay': WEIGHT_DECAY,
                   'schedule.name': 'warmup_cosine',
                   'schedule.warmup_epochs': float(WARMUP),
                   'schedule.warmup_init': WARMUP_INIT,
                   'schedule.min_lr_ratio': MIN_LR_RATIO},
        schedule=lambda t: np.asarray(_adam_schedule()(t)),
        reference=_adamw,
        wrong={'constant rate': dict(tx=_adamw(ADAM_LR)),
               'no warm-up': dict(tx=_adamw(optax.cosine_decay_schedule(
                   ADAM_LR, STEPS, alpha=MIN_LR_RATIO))),
               'decay on biases too': dict(tx=_adamw(mask=None)),
               'coupled decay': dict(tx=_coupled_adam())}),
}


def _max_diff(a, b):
  return max(float(np.max(np.abs(u - v))) for u, v in zip(
      jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.parametrize('case', sorted(CASES))
def test_dlexp_matches_a_plain_flax_optax_loop(start, case):
  ds, p0, path = start
  spec = CASES[case]
  trained = dlexp.fit(_config(epochs=STEPS, **{
      'init.from_path': path, 'init.restore': 'params'}, **spec['overrides']),
      data=ds, out=False)
  assert trained.epochs == [STEPS]
  got = jax.tree_util.tree_map(np.asarray, trained.params())
  want, losses = reference_train(p0, ds.train_x, ds.train_y,
                                 spec['reference']())

  # Same layers, same shapes; the run moved the parameters far beyond the
  # tolerance (a run that did nothing cannot pass).
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(
      want)
  assert _max_diff(want, p0) > 1000 * ATOL
  for (key, g), w in zip(jax.tree_util.tree_leaves_with_path(got),
                         jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL,
                               err_msg=f'{case}: {jax.tree_util.keystr(key)}')

  # The history agrees step by step: the full-batch loss before each update
  # and the rate each update used (epoch 0 is the untrained evaluation).
  rows = [r for r in trained.history[0] if r['epoch'] >= 1]
  assert len(rows) == STEPS
  np.testing.assert_allclose([r['train_loss'] for r in rows], losses,
                             rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose([r['learning_rate'] for r in rows],
                             spec['schedule'](np.arange(STEPS)), rtol=1e-6)
  assert losses[-1] < 0.7 * losses[0]

  # The comparison can fail: each plausible shared mistake moves the final
  # parameters far beyond the tolerance.
  for name, mistake in spec['wrong'].items():
    other, _ = reference_train(p0, ds.train_x, ds.train_y, **mistake)
    assert _max_diff(other, got) > WRONG_BY, name
