"""Tests for dlexp.regularizers: penalties, max-norm and magnitude pruning."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from dlexp import optim
from dlexp import regularizers as reg
from dlexp.errors import ConfigError


def small_params():
  return {
      'Dense_0': {'kernel': jnp.array([[1.0, -2.0], [3.0, 0.0]]),
                  'bias': jnp.array([5.0, 5.0])},
      'BatchNorm_0': {'scale': jnp.array([2.0]), 'bias': jnp.array([1.0])},
      'Conv_0': {'kernel': jnp.array([1.0, -1.0]).reshape(1, 1, 1, 2)},
  }


def random_params(seed=0):
  rng = np.random.default_rng(seed)
  f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
  return {'Dense_0': {'kernel': f(10, 10), 'bias': f(10)},
          'Conv_0': {'kernel': 3 * f(2, 2, 1, 5), 'bias': f(5)},
          'BatchNorm_0': {'scale': f(5), 'bias': f(5)}}


def reg_cfg(**overrides):
  cfg = reg.defaults()
  for key, value in overrides.items():
    cfg[key] = value
  return cfg


def test_penalty_by_hand():
  params = small_params()
  # Kernel weights: 1, -2, 3, 0, 1, -1 -> sum|w| = 8, sum w^2 = 16.
  np.testing.assert_allclose(reg.penalty(params, {'reg.l1': 0.1}), 0.8,
                             rtol=1e-6)
  np.testing.assert_allclose(reg.penalty(params, {'reg.l2': 0.5}), 4.0,
                             rtol=1e-6)  # 0.5 / 2 * 16.
  np.testing.assert_allclose(
      reg.penalty(params, {'reg.l1': 0.1, 'reg.l2': 0.5}), 4.8, rtol=1e-6)
  # Missing keys fall back to the config, then to 0.
  np.testing.assert_allclose(reg.penalty(params, {}, reg_cfg(l1=1.0)), 8.0)
  assert float(reg.penalty(params, {})) == 0.0


def test_penalty_ignores_biases_and_batchnorm():
  params = small_params()
  hp = {'reg.l1': jnp.float32(0.3), 'reg.l2': jnp.float32(0.7)}
  grads = jax.grad(lambda p: reg.penalty(p, hp))(params)
  for path in [('Dense_0', 'bias'), ('BatchNorm_0', 'scale'),
               ('BatchNorm_0', 'bias')]:
    np.testing.assert_array_equal(grads[path[0]][path[1]], 0.0)
  # d/dw = l1 * sign(w) + l2 * w on kernels.
  np.testing.assert_allclose(grads['Dense_0']['kernel'],
                             [[1.0, -1.7], [2.4, 0.0]], rtol=1e-6)


def test_penalty_under_vmap_over_coefficients():
  params = small_params()
  l2 = jnp.array([0.0, 0.5, 1.0])
  got = jax.vmap(lambda c: reg.penalty(params, {'reg.l2': c}))(l2)
  np.testing.assert_allclose(got, [0.0, 4.0, 8.0], rtol=1e-6)


def test_max_norm_clips_long_vectors_only():
  # Incoming vectors are columns: norms 5, 1, 0.
  kernel = jnp.array([[3.0, 0.6, 0.0], [4.0, 0.8, 0.0]])
  conv = jnp.ones((2, 2, 1, 2))  # Each unit has norm 2.
  params = {'Dense_0': {'kernel': kernel, 'bias': jnp.array([10.0, 0, 0])},
            'Conv_0': {'kernel': conv}}
  out = reg.apply_constraints(params, reg_cfg(max_norm=2.0))
  np.testing.assert_allclose(out['Dense_0']['kernel'],
                             [[1.2, 0.6, 0.0], [1.6, 0.8, 0.0]], rtol=1e-6)
  np.testing.assert_array_equal(out['Dense_0']['kernel'][:, 1:], kernel[:, 1:])
  np.testing.assert_array_equal(out['Dense_0']['bias'], [10.0, 0, 0])
  np.testing.assert_allclose(out['Conv_0']['kernel'], conv)  # Exactly at 2.
  out = reg.apply_constraints(params, reg_cfg(max_norm=1.0))
  np.testing.assert_allclose(out['Conv_0']['kernel'], 0.5 * conv, rtol=1e-6)
  assert reg.apply_constraints(params, reg_cfg()) is params  # Off.


def tree_equal(a, b):
  return all(np.array_equal(x, y) for x, y in
             zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _count_zeros(x):
  return int(np.sum(np.asarray(x) == 0))


def test_one_shot_layerwise_hits_target_exactly():
  params = random_params()
  cfg = reg_cfg(prune_method='one_shot', prune_sparsity=0.75,
                prune_start_epoch=2)
  masks = reg.init_masks(params)
  update = jax.jit(lambda p, m, t: reg.update_masks(p, m, t, 10, cfg))
  # Nothing happens before the start step (epoch 2 = step 20).
  assert tree_equal(update(params, masks, 19), masks)
  masks = update(params, masks, 20)
  pruned = reg.apply_masks(params, masks)
  assert _count_zeros(pruned['Dense_0']['kernel']) == 75
  assert _count_zeros(pruned['Conv_0']['kernel']) == 15
  assert _count_zeros(pruned['Dense_0']['bias']) == 0
  np.testing.assert_array_equal(pruned['BatchNorm_0']['scale'],
                                params['BatchNorm_0']['scale'])
  # The smallest magnitudes went: every pruned |w| <= every kept |w|.
  for layer in ('Dense_0', 'Conv_0'):
    w = np.abs(np.asarray(params[layer]['kernel']))
    m = np.asarray(masks[layer]['kernel'])
    assert w[~m].max() <= w[m].min()
  s = reg.sparsity(pruned)
  np.testing.assert_allclose(s['Dense_0'], 0.75)
  np.testing.assert_allclose(s['Conv_0'], 0.75)
  np.testing.assert_allclose(s['total'], 0.75)
  # One-shot: masks stay as they are after the start step.
  later = update(jax.tree.map(lambda x: x + 1.0, params), masks, 21)
  assert tree_equal(later, masks)


def test_one_shot_global_hits_target_exactly():
  params = random_params()
  cfg = reg_cfg(prune_method='one_shot', prune_scope='global',
                prune_sparsity=0.5, prune_start_epoch=0)
  # Epoch 0 prunes after the first update (step counts applied updates).
  assert tree_equal(reg.update_masks(params, reg.init_masks(params), 0, 10,
                                     cfg), reg.init_masks(params))
  masks = reg.update_masks(params, reg.init_masks(params), 1, 10, cfg)
  pruned = reg.apply_masks(params, masks)
  s = reg.sparsity(pruned)
  np.testing.assert_allclose(s['total'], 0.5)  # 60 of 120 kernel weights.
  # A single threshold across layers; the larger conv kernel loses fewer.
  w = np.concatenate([np.abs(np.asarray(params[k]['kernel'])).ravel()
                      for k in ('Dense_0', 'Conv_0')])
  m = np.concatenate([np.asarray(masks[k]['kernel']).ravel()
                      for k in ('Dense_0', 'Conv_0')])
  assert w[~m].max() <= w[m].min()
  assert float(s['Conv_0']) < float(s['Dense_0'])


def test_gradual_schedule_matches_zhu_gupta():
  cfg = reg_cfg(prune_method='gradual', prune_sparsity=0.8,
                prune_start_epoch=2, prune_end_epoch=6)
  # t0 = 20, t1 = 60: s_t = 0.8 * (1 - (1 - (t - 20) / 40)^3).
  steps = jnp.array([0, 19, 20, 30, 40, 60, 100])
  got = jax.vmap(lambda t: reg.target_sparsity(t, 10, cfg))(steps)
  want = [0.0, 0.0, 0.0, 0.8 * (1 - 0.75 ** 3), 0.8 * (1 - 0.5 ** 3), 0.8,
          0.8]
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(got[4], 0.7, rtol=1e-6)


def test_gradual_pruning_in_a_scan_with_sgd():
  params = random_params(1)
  cfg = reg_cfg(prune_method='gradual', prune_sparsity=0.8,
                prune_start_epoch=1, prune_end_epoch=5, prune_every_steps=3)
  top = ml_collections.ConfigDict(dict(
      optimizer=optim.defaults(), schedule=optim.schedule_defaults(),
      epochs=7))
  opt = optim.make_optimizer(top, steps_per_epoch=4)
  # Gradients that push every weight away from zero.
  loss = lambda p: -sum(jnp.sum(x) for x in jax.tree.leaves(p))

  def body(carry, t):
    p, s, m = carry
    u, s = opt.update(jax.grad(loss)(p), s, p, {}, t)
    p = optax.apply_updates(p, u)
    m = reg.update_masks(p, m, t + 1, 4, cfg)  # Count after this update.
    p = reg.apply_masks(p, m)
    return (p, s, m), reg.sparsity(p)['total']

  init = (params, opt.init(params), reg.init_masks(params))
  (p, _, m), totals = jax.jit(
      lambda c: jax.lax.scan(body, c, jnp.arange(28)))(init)
  totals = np.asarray(totals)
  assert totals[3] == 0.0  # Step 4 = t0, where s_t0 = 0.
  assert totals[6] > 0.0  # Step 7 = t0 + 3, the next pruning step.
  assert np.all(np.diff(totals) >= 0)  # Pruned weights never come back.
  np.testing.assert_allclose(totals[-1], 0.8)
  s = reg.sparsity(p)
  np.testing.assert_allclose(s['Dense_0'], 0.8)
  np.testing.assert_allclose(s['Conv_0'], 0.8)
  # Masked weights are exactly zero after each update + apply_masks.
  for k in ('Dense_0', 'Conv_0'):
    kernel, mask = np.asarray(p[k]['kernel']), np.asarray(m[k]['kernel'])
    assert np.all(kernel[~mask] == 0) and np.all(kernel[mask] != 0)


def test_masked_weights_stay_zero_after_sgd_update():
  params = random_params(2)
  cfg = reg_cfg(prune_method='one_shot', prune_sparsity=0.5)
  masks = reg.update_masks(params, reg.init_masks(params), 1, 10, cfg)
  params = reg.apply_masks(params, masks)
  grads = jax.tree.map(jnp.ones_like, params)  # Nonzero everywhere.
  updates = jax.tree.map(lambda g: -0.1 * g, grads)
  stepped = optax.apply_updates(params, updates)
  assert float(reg.sparsity(stepped)['total']) == 0.0  # The update revives...
  stepped = reg.apply_masks(stepped, masks)  # ...and the masks re-zero them.
  np.testing.assert_allclose(reg.sparsity(stepped)['total'], 0.5)


def test_update_masks_under_vmap():
  members = jax.vmap(lambda s: random_params())(jnp.arange(2))
  members = jax.tree.map(lambda x: x * jnp.array([1.0, -1.0]).reshape(
      (2,) + (1,) * (x.ndim - 1)), members)
  cfg = reg_cfg(prune_method='one_shot', prune_sparsity=0.3)
  masks = jax.vmap(reg.init_masks)(members)
  masks = jax.vmap(lambda p, m: reg.update_masks(p, m, 1, 10, cfg))(
      members, masks)
  totals = jax.vmap(lambda p, m: reg.sparsity(reg.apply_masks(p, m)))(
      members, masks)['total']
  np.testing.assert_allclose(totals, [0.3, 0.3])


def test_no_pruning_is_identity():
  params = random_params()
  masks = reg.init_masks(params)
  assert reg.update_masks(params, masks, 0, 10, reg_cfg()) is masks


def test_validation():
  reg.validate(reg.defaults())
  for path in reg.TRACED:
    assert isinstance(reg.defaults()[path.split('.')[1]], float)
  with pytest.raises(ConfigError, match=r'reg.l2=-1.0 must be >= 0'):
    reg.validate(reg_cfg(l2=-1.0))
  with pytest.raises(ConfigError, match="did you mean 'one_shot'"):
    reg.validate(reg_cfg(prune_method='oneshot'))
  with pytest.raises(ConfigError, match='prune_sparsity=1.0'):
    reg.validate(reg_cfg(prune_sparsity=1.0))
  with pytest.raises(ConfigError, match='prune_end_epoch') as err:
    reg.validate(reg_cfg(prune_method='gradual', prune_start_epoch=5,
                         prune_end_epoch=5))
  assert '\n' not in str(err.value)


# ---------------------------------------------------------------------------
# Proximal L1 and a traced pruning target.

def test_soft_threshold_closed_form():
  w = jnp.array([-3.0, -0.5, 0.0, 0.2, 1.0])
  np.testing.assert_allclose(reg.soft_threshold(w, 0.5),
                             [-2.5, 0.0, 0.0, 0.0, 0.5])
  params = small_params()
  out = reg.proximal_l1(params, {'reg.l1': jnp.float32(2.0)}, 0.5,
                        reg_cfg(l1_method='proximal'))
  np.testing.assert_allclose(out['Dense_0']['kernel'], [[0.0, -1.0],
                                                        [2.0, 0.0]])
  np.testing.assert_array_equal(out['Dense_0']['bias'], [5.0, 5.0])
  np.testing.assert_array_equal(out['BatchNorm_0']['scale'], [2.0])
  # 'penalty' (the default) leaves the update alone; the penalty then has
  # the L1 term, 'proximal' leaves it out of the loss.
  assert reg.proximal_l1(params, {'reg.l1': 2.0}, 0.5, reg_cfg()) is params
  assert float(reg.penalty(params, {'reg.l1': 0.1},
                           reg_cfg(l1_method='proximal'))) == 0.0
  with pytest.raises(ConfigError, match="reg.l1_method 'lasso'"):
    reg.validate(reg_cfg(l1_method='lasso'))


def _steps_and_batch(**overrides):
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
  from dlexp import data  # pylint: disable=g-import-not-at-top
  from dlexp.train import program  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  x = rng.normal(size=(72, 6)).astype(np.float32)
  ds = data.from_arrays(x, rng.integers(0, 3, 72), val_size=8)
  cfg = config_lib.default_config()
  for path, value in dict({'model.depth': 1, 'model.width': 8,
                           'optimizer.momentum': 0.0,
                           'optimizer.learning_rate': 0.1, 'batch_size': 64},
                          **overrides).items():
    config_lib.set_value(cfg, path, value)
  steps = program.build(cfg, ds, Mesh(np.array(jax.devices()[:1]),
                                      ('data',))).steps
  hp = {p: jnp.float32(config_lib.get(cfg, p))
        for p in config_lib.traced_fields()}
  return steps, hp, ds.train_x[:64], ds.train_y[:64]


def test_proximal_l1_step_is_sgd_then_soft_threshold():
  """One engine step with plain SGD: the data-loss gradient step, then
  sign(w) max(|w| - lr l1, 0) on kernels; biases take the plain step."""
  steps, hp, x, y = _steps_and_batch(**{'reg.l1': 0.05,
                                        'reg.l1_method': 'proximal'})
  state = steps.init(jnp.int32(0), x[:1])
  grads, _ = jax.grad(steps._loss, has_aux=True)(  # pylint: disable=protected-access
      state.params, state.batch_stats, hp, x, y, jax.random.key(0))
  new, _ = jax.jit(steps.train_step)(state, hp, x, y)
  for layer in ('dense1', 'logits'):
    w, g = state.params[layer]['kernel'], grads[layer]['kernel']
    np.testing.assert_allclose(new.params[layer]['kernel'],
                               reg.soft_threshold(w - 0.1 * g, 0.1 * 0.05),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        new.params[layer]['bias'],
        state.params[layer]['bias'] - 0.1 * grads[layer]['bias'], rtol=1e-5,
        atol=1e-7)


@pytest.mark.parametrize('method', ['penalty', 'proximal'])
def test_only_proximal_l1_makes_exact_zeros(method):
  steps, hp, x, y = _steps_and_batch(**{'reg.l1': 0.05,
                                        'reg.l1_method': method})
  state = steps.init(jnp.int32(0), x[:1])

  @jax.jit
  def train(state):
    return jax.lax.fori_loop(
        0, 100, lambda i, s: steps.train_step(s, hp, x, y)[0], state)

  kernel = np.asarray(train(state).params['dense1']['kernel'])
  zeros, small = np.mean(kernel == 0), np.mean(np.abs(kernel) < 1e-2)
  if method == 'proximal':
    assert zeros > 0.5
  else:  # hovering within lr * l1 = 0.005 of 0, but not on it
    assert zeros == 0 and small > 0.5


def test_pruning_target_is_traced_per_member():
  """Two members of one vmapped program prune to their own sparsity."""
  cfg = reg_cfg(prune_method='one_shot', prune_start_epoch=1)
  params = {'Dense_0': {'kernel': jnp.asarray(
      np.random.default_rng(0).normal(size=(20, 10)), jnp.float32)}}
  masks = reg.init_masks(params)

  def prune(sparsity):
    return reg.update_masks(params, masks, 5, 5, cfg,
                            hp={'reg.prune_sparsity': sparsity})

  out = jax.vmap(prune)(jnp.array([0.5, 0.9]))
  kept = np.asarray(out['Dense_0']['kernel']).reshape(2, -1).sum(axis=1)
  np.testing.assert_array_equal(kept, [100, 20])
  # Without hp, the config's target.
  alone = reg.update_masks(params, masks, 5, 5, cfg)
  assert int(np.sum(alone['Dense_0']['kernel'])) == 100


def test_vmapped_pruning_branches_on_any_member_being_due():
  """Under vmap the step is batched; with the member axis named, the sort
  sits in a real lax.cond branch (taken only when some member is due), not
  in a select computed at every step, and each member keeps its own masks
  unless it is due itself."""
  cfg = reg_cfg(prune_method='one_shot', prune_start_epoch=1)
  params = {'Dense_0': {'kernel': jnp.asarray(
      np.random.default_rng(1).normal(size=(3, 20, 10)), jnp.float32)}}
  masks = jax.vmap(reg.init_masks)(params)

  def update(p, m, step):
    return reg.update_masks(p, m, step, 5, cfg,
                            hp={'reg.prune_sparsity': jnp.float32(0.5)},
                            member_axis='members')

  vmapped = jax.vmap(update, axis_name='members')
  eqns = jax.make_jaxpr(vmapped)(params, masks, jnp.array([5, 5, 4])).eqns
  # The sort (the expensive part) only inside a branch of the cond.
  assert 'sort' not in str([e.primitive for e in eqns])
  conds = [e for e in eqns if e.primitive.name == 'cond']
  assert len(conds) == 1
  assert 'sort' in str(conds[0].params['branches'][1])
  out = vmapped(params, masks, jnp.array([5, 5, 4]))  # member 2 not due
  kept = np.asarray(out['Dense_0']['kernel']).reshape(3, -1).sum(axis=1)
  np.testing.assert_array_equal(kept, [100, 100, 200])
  for i in range(2):
    alone = reg.update_masks(jax.tree.map(lambda a: a[i], params),
                             reg.init_masks(jax.tree.map(lambda a: a[i],
                                                         params)), 5, 5, cfg,
                             hp={'reg.prune_sparsity': jnp.float32(0.5)})
    np.testing.assert_array_equal(out['Dense_0']['kernel'][i],
                                  alone['Dense_0']['kernel'])
