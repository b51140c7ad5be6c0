"""Tests for dlexp.optim: optimizer steps, traced hyperparameters, schedules."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from dlexp import optim
from dlexp.errors import ConfigError


def make_config(epochs=10, **overrides):
  """Top-level config; overrides are 'optimizer.x' / 'schedule.x' keys."""
  cfg = ml_collections.ConfigDict(dict(
      optimizer=optim.defaults(), schedule=optim.schedule_defaults(),
      epochs=epochs))
  for path, value in overrides.items():
    section, key = path.split('.')
    cfg[section][key] = value
  return cfg


def run_steps(opt, params, grads_seq, hp):
  state = opt.init(params)
  for step, grads in enumerate(grads_seq):
    updates, state = opt.update(grads, state, params, hp, step)
    params = optax.apply_updates(params, updates)
  return params, state


# ---------------------------------------------------------------------------
# Hand-computed steps. optax convention: v <- g + m * v; the step is -lr * v,
# or -lr * (g + m * v) with Nesterov.

def test_sgd_momentum_two_steps_by_hand():
  # lr 0.1, m 0.9, w0 = 1, grads 1.0 then 0.5:
  # v1 = 1.0,             w1 = 1 - 0.1 * 1.0 = 0.9
  # v2 = 0.5 + 0.9 * 1.0 = 1.4, w2 = 0.9 - 0.1 * 1.4 = 0.76
  cfg = make_config(**{'optimizer.learning_rate': 0.1,
                       'optimizer.momentum': 0.9})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  params = {'w': jnp.array(1.0)}
  grads = [{'w': jnp.array(1.0)}, {'w': jnp.array(0.5)}]
  p1, _ = run_steps(opt, params, grads[:1], {})
  p2, _ = run_steps(opt, params, grads, {})
  np.testing.assert_allclose(p1['w'], 0.9, rtol=1e-6)
  np.testing.assert_allclose(p2['w'], 0.76, rtol=1e-6)


def test_nesterov_two_steps_by_hand():
  # v1 = 1.0, step1 = 1.0 + 0.9 * 1.0 = 1.9, w1 = 1 - 0.19 = 0.81
  # v2 = 0.5 + 0.9 * 1.0 = 1.4, step2 = 0.5 + 0.9 * 1.4 = 1.76,
  # w2 = 0.81 - 0.176 = 0.634
  for overrides in ({'optimizer.nesterov': True},
                    {'optimizer.name': 'nesterov'}):
    cfg = make_config(**{'optimizer.learning_rate': 0.1,
                         'optimizer.momentum': 0.9}, **overrides)
    opt = optim.make_optimizer(cfg, steps_per_epoch=10)
    params = {'w': jnp.array(1.0)}
    grads = [{'w': jnp.array(1.0)}, {'w': jnp.array(0.5)}]
    p1, _ = run_steps(opt, params, grads[:1], {})
    p2, _ = run_steps(opt, params, grads, {})
    np.testing.assert_allclose(p1['w'], 0.81, rtol=1e-6)
    np.testing.assert_allclose(p2['w'], 0.634, rtol=1e-6)


def test_momentum_zero_is_plain_sgd():
  cfg = make_config(**{'optimizer.learning_rate': 0.3})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  rng = np.random.default_rng(0)
  params = {'w': jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)}
  grads = [{'w': jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)}
           for _ in range(4)]
  got, _ = run_steps(opt, params, grads, {'optimizer.momentum': 0.0})
  want = params['w']
  for g in grads:
    want = want - 0.3 * g['w']
  np.testing.assert_array_equal(got['w'], want)
  # Same as optax.sgd without momentum, step by step.
  ref, ref_state = params, optax.sgd(0.3).init(params)
  for g in grads:
    u, ref_state = optax.sgd(0.3).update(g, ref_state, ref)
    ref = optax.apply_updates(ref, u)
  np.testing.assert_array_equal(got['w'], ref['w'])


# ---------------------------------------------------------------------------
# Traced hyperparameters: vmap over members and no recompilation.

def _quadratic_problem():
  rng = np.random.default_rng(1)
  a = jnp.asarray(rng.normal(size=(8, 5)), jnp.float32)
  b = jnp.asarray(rng.normal(size=(8,)), jnp.float32)
  params = {'Dense': {'kernel': jnp.zeros((5,)), 'bias': jnp.zeros(())}}

  def loss(p):
    return jnp.mean((a @ p['Dense']['kernel'] + p['Dense']['bias'] - b) ** 2)

  return params, loss


def _train(opt, loss, params, hp, steps=6):
  state = opt.init(params)

  def body(carry, step):
    p, s = carry
    g = jax.grad(loss)(p)
    u, s = opt.update(g, s, p, hp, step)
    return (optax.apply_updates(p, u), s), None

  (params, _), _ = jax.lax.scan(body, (params, state), jnp.arange(steps))
  return params


@pytest.mark.parametrize('name', ['sgd', 'adam', 'rmsprop'])
def test_vmap_over_members_equals_separate_runs(name):
  cfg = make_config(**{'optimizer.name': name, 'optimizer.weight_decay': 0.01,
                       'schedule.name': 'cosine'})
  opt = optim.make_optimizer(cfg, steps_per_epoch=1)
  params, loss = _quadratic_problem()
  lrs = jnp.array([0.01, 0.05, 0.1])
  moms = jnp.array([0.0, 0.5, 0.99999])
  hp = {'optimizer.learning_rate': lrs, 'optimizer.momentum': moms,
        'optimizer.b1': jnp.array([0.8, 0.9, 0.95])}
  batched = jax.jit(jax.vmap(lambda h: _train(opt, loss, params, h)))(hp)
  for i in range(3):
    one = jax.jit(lambda h: _train(opt, loss, params, h))(
        {k: v[i] for k, v in hp.items()})
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(one)):
      np.testing.assert_allclose(a[i], b, rtol=2e-5, atol=1e-6)


def test_new_hyperparameter_values_do_not_recompile():
  cfg = make_config(**{'schedule.name': 'onecycle'})
  opt = optim.make_optimizer(cfg, steps_per_epoch=5)
  params, loss = _quadratic_problem()
  traces = []

  @jax.jit
  def step(p, s, hp, t):
    traces.append(1)  # Runs only while tracing.
    u, s = opt.update(jax.grad(loss)(p), s, p, hp, t)
    return optax.apply_updates(p, u), s

  state = opt.init(params)
  for t, (lr, mom) in enumerate([(0.1, 0.9), (0.01, 0.0), (0.5, 0.99999)]):
    hp = {'optimizer.learning_rate': jnp.float32(lr),
          'optimizer.momentum': jnp.float32(mom),
          'schedule.peak_fraction': jnp.float32(0.1 * (t + 1))}
    params, state = step(params, state, hp, jnp.int32(t))
  assert len(traces) == 1


def test_state_structure_is_stable_and_checkpointable():
  cfg = make_config(**{'optimizer.name': 'adamw',
                       'schedule.name': 'plateau'})
  opt = optim.make_optimizer(cfg, steps_per_epoch=3)
  params, loss = _quadratic_problem()
  s0 = opt.init(params)
  _, s1 = opt.update(jax.grad(loss)(params), s0, params, {}, 0)
  s2 = opt.end_epoch(s1, 1.0)
  assert jax.tree.structure(s0) == jax.tree.structure(s1)
  assert jax.tree.structure(s0) == jax.tree.structure(s2)
  for leaf in jax.tree.leaves(s2):
    assert isinstance(leaf, jax.Array)



def test_each_member_steps_with_its_own_hyperparameters():
  # Under vmap each member's update uses its own rate (the full scheduled
  # rate of the step) and momentum: two SGD steps on one gradient g give
  # -lr_2 g, then -lr_3 (1 + m) g, with lr_t = lr 0.5^(t/2).
  cfg = make_config(**{'schedule.name': 'exponential',
                       'schedule.decay_rate': 0.5})
  opt = optim.make_optimizer(cfg, steps_per_epoch=2)
  params, loss = _quadratic_problem()
  g = jax.grad(loss)(params)
  hp = {'optimizer.learning_rate': jnp.array([0.1, 0.4]),
        'optimizer.momentum': jnp.array([0.0, 0.7])}

  def two(h):
    s = opt.init(params)
    u2, s = opt.update(g, s, params, h, 2)
    u3, _ = opt.update(g, s, params, h, 3)
    return u2, u3

  u2, u3 = jax.jit(jax.vmap(two))(hp)
  kernel = np.asarray(g['Dense']['kernel'])
  for i, (lr, m) in enumerate([(0.1, 0.0), (0.4, 0.7)]):
    np.testing.assert_allclose(u2['Dense']['kernel'][i], -lr * 0.5 * kernel,
                               rtol=1e-6)
    np.testing.assert_allclose(u3['Dense']['kernel'][i],
                               -lr * 0.5 ** 1.5 * (1 + m) * kernel, rtol=1e-5)


# ---------------------------------------------------------------------------
# Other optimizers, weight decay and clipping.

@pytest.mark.parametrize('name,ref', [
    ('adam', lambda: optax.adam(0.01, b1=0.8, b2=0.99, eps=1e-6)),
    ('nadam', lambda: optax.nadam(0.01, b1=0.8, b2=0.99, eps=1e-6)),
    ('adagrad', lambda: optax.adagrad(0.01, eps=1e-6)),
    ('rmsprop', lambda: optax.rmsprop(0.01, decay=0.8, eps=1e-6)),
])
def test_optimizers_match_optax(name, ref):
  cfg = make_config(**{'optimizer.name': name, 'optimizer.learning_rate': 0.01,
                       'optimizer.b1': 0.8, 'optimizer.b2': 0.99,
                       'optimizer.eps': 1e-6, 'optimizer.rms_decay': 0.8})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  params, loss = _quadratic_problem()
  got = _train(opt, loss, params, {}, steps=5)
  tx = ref()
  p, s = params, tx.init(params)
  for _ in range(5):
    u, s = tx.update(jax.grad(loss)(p), s, p)
    p = optax.apply_updates(p, u)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(p)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_adamw_matches_optax_on_kernels():
  cfg = make_config(**{'optimizer.name': 'adamw', 'optimizer.learning_rate':
                       0.01, 'optimizer.weight_decay': 0.1})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  params, loss = _quadratic_problem()
  got = _train(opt, loss, params, {}, steps=5)
  mask = {'Dense': {'kernel': True, 'bias': False}}
  tx = optax.adamw(0.01, weight_decay=0.1, mask=mask)
  p, s = params, tx.init(params)
  for _ in range(5):
    u, s = tx.update(jax.grad(loss)(p), s, p)
    p = optax.apply_updates(p, u)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(p)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_weight_decay_is_decoupled_and_kernel_only():
  # Zero gradient: the whole step is -lr * wd * w on kernels, 0 on biases.
  cfg = make_config(**{'optimizer.learning_rate': 0.5,
                       'optimizer.weight_decay': 0.1})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  params = {'kernel': jnp.array([2.0, -4.0]), 'bias': jnp.array([3.0])}
  zeros = jax.tree.map(jnp.zeros_like, params)
  u, state = opt.update(zeros, opt.init(params), params, {}, 0)
  np.testing.assert_allclose(u['kernel'], [-0.1, 0.2], rtol=1e-6)
  np.testing.assert_array_equal(u['bias'], [0.0])
  # Decay never enters the momentum buffer.
  trace = state.inner[2]  # clip, clip, direction, decay, lr.
  np.testing.assert_array_equal(trace.trace['kernel'], [0.0, 0.0])
  cfg.optimizer.decay_all_params = True
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  u, _ = opt.update(zeros, opt.init(params), params, {}, 0)
  np.testing.assert_allclose(u['bias'], [-0.15], rtol=1e-6)


def test_clipping_by_global_norm_and_value():
  cfg = make_config(**{'optimizer.learning_rate': 1.0,
                       'optimizer.momentum': 0.0})
  opt = optim.make_optimizer(cfg, steps_per_epoch=10)
  params = {'a': jnp.zeros(2)}
  grads = {'a': jnp.array([3.0, 4.0])}  # Global norm 5.
  state = opt.init(params)
  u, _ = opt.update(grads, state, params, {'optimizer.clip_global_norm': 1.0},
                    0)
  np.testing.assert_allclose(u['a'], [-0.6, -0.8], rtol=1e-6)
  u, _ = opt.update(grads, state, params, {'optimizer.clip_global_norm': 10.0},
                    0)
  np.testing.assert_allclose(u['a'], [-3.0, -4.0], rtol=1e-6)
  u, _ = opt.update(grads, state, params, {'optimizer.clip_value': 3.5}, 0)
  np.testing.assert_allclose(u['a'], [-3.0, -3.5], rtol=1e-6)
  u, _ = opt.update(grads, state, params, {}, 0)  # Both off by default.
  np.testing.assert_allclose(u['a'], [-3.0, -4.0], rtol=1e-6)


# ---------------------------------------------------------------------------
# Schedules (learning_rate(step, hp, state) = base lr * multiplier).

def lr_curve(steps_per_epoch=10, epochs=10, hp=None, **overrides):
  cfg = make_config(epochs=epochs, **{'optimizer.learning_rate': 1.0},
                    **overrides)
  opt = optim.make_optimizer(cfg, steps_per_epoch)
  state = opt.init({'w': jnp.zeros(())})
  total = epochs * steps_per_epoch
  fn = jax.jit(jax.vmap(lambda t: opt.learning_rate(t, hp or {}, state)))
  return np.asarray(fn(jnp.arange(total + 1)))


def test_constant_schedule():
  np.testing.assert_allclose(lr_curve(), 1.0)


def test_cosine_ends_at_floor():
  lr = lr_curve(**{'schedule.name': 'cosine', 'schedule.min_lr_ratio': 0.1})
  np.testing.assert_allclose(lr[0], 1.0, rtol=1e-6)
  np.testing.assert_allclose(lr[50], 0.55, rtol=1e-5)  # (1 + 0.1) / 2.
  np.testing.assert_allclose(lr[-1], 0.1, rtol=1e-5)
  assert np.all(np.diff(lr) <= 1e-7)


def test_warmup_is_linear_then_cosine():
  lr = lr_curve(**{'schedule.name': 'warmup_cosine',
                   'schedule.warmup_epochs': 2.0})
  # 20 warm-up steps from 0 to 1: lr(t) = t / 20.
  np.testing.assert_allclose(lr[:21], np.arange(21) / 20, atol=1e-6)
  np.testing.assert_allclose(lr[60], 0.5, atol=1e-6)  # Cosine mid-point.
  np.testing.assert_allclose(lr[-1], 0.0, atol=1e-6)
  # Warm-up also ramps other schedules, starting at warmup_init.
  lr = lr_curve(**{'schedule.warmup_epochs': 1.0, 'schedule.warmup_init': 0.5})
  np.testing.assert_allclose(lr[:11], 0.5 + 0.05 * np.arange(11), atol=1e-6)
  np.testing.assert_allclose(lr[11:], 1.0)


def test_onecycle_shape():
  lr = lr_curve(**{'schedule.name': 'onecycle', 'schedule.peak_fraction': 0.25,
                   'schedule.initial_lr_ratio': 0.04,
                   'schedule.min_lr_ratio': 0.001})
  assert int(np.argmax(lr)) == 25  # 0.25 of 100 steps.
  np.testing.assert_allclose(lr[25], 1.0, rtol=1e-6)
  np.testing.assert_allclose(lr[0], 0.04, rtol=1e-5)
  np.testing.assert_allclose(lr[-1], 0.001, rtol=1e-4)
  assert np.all(np.diff(lr[:26]) > 0) and np.all(np.diff(lr[25:]) < 0)
  # Traced peak position moves the peak without a new config.
  lr = lr_curve(hp={'schedule.peak_fraction': jnp.float32(0.5)},
                **{'schedule.name': 'onecycle'})
  assert int(np.argmax(lr)) == 50


def test_step_and_exponential_schedules():
  lr = lr_curve(**{'schedule.name': 'step', 'schedule.boundaries': (3, 6),
                   'schedule.decay_factor': 0.1})
  np.testing.assert_allclose(lr[[0, 29, 30, 59, 60, 100]],
                             [1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-5)
  lr = lr_curve(**{'schedule.name': 'exponential', 'schedule.decay_rate': 0.5})
  np.testing.assert_allclose(lr[[0, 10, 20, 15]],
                             [1, 0.5, 0.25, 0.5 ** 1.5], rtol=1e-5)


def test_reduce_on_plateau_halves_after_patience():
  cfg = make_config(**{'schedule.name': 'plateau',
                       'schedule.plateau_patience': 3,
                       'schedule.plateau_factor': 0.5,
                       'optimizer.learning_rate': 0.2})
  opt = optim.make_optimizer(cfg, steps_per_epoch=4)
  state = opt.init({'w': jnp.zeros(())})
  end_epoch = jax.jit(opt.end_epoch)
  scales = []
  # Improves, then 3 epochs without improvement -> halve; then 3 more.
  for value in [1.0, 0.8, 0.9, 0.85, 0.8, 0.95, 0.9, 0.81, 0.7]:
    state = end_epoch(state, jnp.float32(value))
    scales.append(float(state.plateau.scale))
  assert scales == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
  np.testing.assert_allclose(opt.learning_rate(0, {}, state), 0.05, rtol=1e-6)


def test_reduce_on_plateau_per_member_under_vmap():
  cfg = make_config(**{'schedule.name': 'plateau',
                       'schedule.plateau_patience': 2,
                       'schedule.plateau_cooldown': 1})
  opt = optim.make_optimizer(cfg, steps_per_epoch=4)
  states = jax.vmap(lambda _: opt.init({'w': jnp.zeros(())}))(jnp.arange(2))
  step = jax.jit(jax.vmap(opt.end_epoch))
  # Member 0 keeps improving; member 1 stalls (and is in cooldown after).
  for vals in [(3.0, 3.0), (2.0, 3.0), (1.0, 3.0), (0.5, 3.0), (0.4, 3.0),
               (0.3, 3.0)]:
    states = step(states, jnp.array(vals))
  # Member 1: bad epochs 2, 3 -> reduce; 4 is cooldown; 5, 6 -> reduce.
  np.testing.assert_allclose(states.plateau.scale, [1.0, 0.25])


def test_end_epoch_is_identity_without_plateau():
  opt = optim.make_optimizer(make_config(), steps_per_epoch=4)
  state = opt.init({'w': jnp.zeros(())})
  for value in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]:
    state = opt.end_epoch(state, value)
  assert float(state.plateau.scale) == 1.0


# ---------------------------------------------------------------------------
# Validation.

def test_defaults_validate():
  optim.validate(optim.defaults())
  optim.validate_schedule(optim.schedule_defaults())
  assert set(optim.SECTIONS) == {'optimizer', 'schedule'}
  for path in optim.TRACED:
    section, key = path.split('.')
    cfg = optim.defaults() if section == 'optimizer' else (
        optim.schedule_defaults())
    assert isinstance(cfg[key], (int, float)), path


def test_validation_errors_are_one_line():
  cfg = make_config(**{'optimizer.learning_rate': -0.1})
  with pytest.raises(ConfigError, match=r'optimizer.learning_rate=-0.1 must'):
    optim.make_optimizer(cfg, 10)
  cfg = make_config(**{'optimizer.name': 'adamm'})
  with pytest.raises(ConfigError, match=r"did you mean 'adam'"):
    optim.make_optimizer(cfg, 10)
  cfg = make_config(**{'schedule.name': 'cosin'})
  with pytest.raises(ConfigError, match=r"did you mean 'cosine'"):
    optim.make_optimizer(cfg, 10)
  cfg = make_config(**{'optimizer.momentum': 1.0})
  with pytest.raises(ConfigError, match=r'momentum=1.0 must be in \[0, 1\)'):
    optim.make_optimizer(cfg, 10)
  cfg = make_config(**{'schedule.name': 'step'})
  with pytest.raises(ConfigError, match='boundaries'):
    optim.make_optimizer(cfg, 10)
  cfg = make_config(**{'schedule.name': 'onecycle',
                       'schedule.warmup_epochs': 1.0})
  with pytest.raises(ConfigError) as err:
    optim.make_optimizer(cfg, 10)
  assert '\n' not in str(err.value)


# ---------------------------------------------------------------------------
# Transformations left out of a group whose members all have them at 0.

# XLA's defaults, which users' runs compile with (the tests' XLA_FLAGS compile
# at O0, where LLVM contracts floating-point operations differently).
_USER_COMPILE = {'xla_backend_optimization_level': 3,
                 'xla_cpu_use_fusion_emitters': True,
                 'xla_cpu_parallel_codegen_split_count': 32}


@pytest.mark.parametrize('name', ['sgd', 'adamw', 'rmsprop'])
def test_optimizer_without_its_zero_knobs_is_bitwise_the_same(name):
  cfg = make_config(**{'optimizer.name': name,
                       'optimizer.learning_rate': 0.05})
  rng = np.random.default_rng(1)
  params = {'Dense_0': {
      'kernel': jnp.asarray(rng.normal(size=(5, 4)), jnp.float32),
      'bias': jnp.asarray(rng.normal(size=4), jnp.float32)}}
  grads = [jax.tree_util.tree_map(
      lambda p: jnp.asarray(3 * rng.normal(size=p.shape), jnp.float32),
      params) for _ in range(5)]

  def train(opt):
    fn = lambda p, g: run_steps(opt, p, g, {})
    return jax.jit(fn).lower(params, grads).compile(_USER_COMPILE)(
        params, grads)
  full = optim.make_optimizer(cfg, steps_per_epoch=10)
  lean = optim.make_optimizer(cfg, steps_per_epoch=10, off=optim.OFF_AT_ZERO)
  (want, want_state), (got, got_state) = train(full), train(lean)
  # Same state structure: a checkpoint of one restores into the other.
  assert (jax.tree_util.tree_structure(got_state)
          == jax.tree_util.tree_structure(want_state))
  for a, b in zip(jax.tree_util.tree_leaves((got, got_state)),
                  jax.tree_util.tree_leaves((want, want_state))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # The left-out transformations are really out of the traced step: no
  # global norm (sqrt) and no decay (the only multiply by a parameter).
  ops = lambda opt: str(jax.make_jaxpr(
      lambda p, g: run_steps(opt, p, g[:1], {}))(params, grads))
  assert ops(lean).count('sqrt') < ops(full).count('sqrt')


def test_off_knobs_needs_every_member_at_zero():
  zero = make_config()
  clipped = make_config(**{'optimizer.clip_global_norm': 1.0})
  decayed = make_config(**{'optimizer.weight_decay': 1e-4})
  assert optim.off_knobs([zero, zero]) == set(optim.OFF_AT_ZERO)
  assert optim.off_knobs([zero, clipped]) == {'optimizer.weight_decay'}
  assert optim.off_knobs([decayed, zero]) == {'optimizer.clip_global_norm'}
  with pytest.raises(ConfigError, match='clip_value'):
    optim.make_optimizer(zero, steps_per_epoch=1,
                         off=['optimizer.clip_value'])


def test_a_member_at_nonzero_keeps_the_transformation_for_the_group():
  # A grid {0, 1} over clip_global_norm: the group's program clips, and the
  # member at 0 is unclipped (bound +inf) inside it.
  cfg = make_config(**{'optimizer.learning_rate': 1.0,
                       'optimizer.momentum': 0.0})
  off = optim.off_knobs(
      [cfg, make_config(**{'optimizer.clip_global_norm': 1.0})])
  opt = optim.make_optimizer(cfg, steps_per_epoch=10, off=off)
  params, grads = {'w': jnp.array(0.0)}, [{'w': jnp.array(2.0)}]
  clipped, _ = run_steps(opt, params, grads,
                         {'optimizer.clip_global_norm': 1.0})
  free, _ = run_steps(opt, params, grads, {'optimizer.clip_global_norm': 0.0})
  np.testing.assert_allclose(clipped['w'], -1.0)
  np.testing.assert_allclose(free['w'], -2.0)
