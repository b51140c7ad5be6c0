"""What a trained network relies on: the test accuracy it loses when units
of its last hidden layer are zeroed at inference (unit ablation), and how
large its weights grew from their initialization.

Unit ablation (as in Morcos et al. 2018, "On the importance of single
directions for generalization") acts on the representation the logits
read: the 'features' that every model's classifier sows, the last hidden
layer's output. With inverted dropout the logits are an affine map of
it, logits = h W + b, so zeroing unit j changes them by exactly -h_j W_j:
every single-unit ablation is one outer product, not one forward pass,
and all of a 512-unit layer's fit in a second. The hook checks that
identity on the model's own logits and stops with a ConfigError where it
does not hold (classic dropout, which scales h by 1 - rate at inference).

Units are ranked on the VALIDATION split (by the accuracy lost when each is
zeroed alone, ties broken by the mean log-probability of the true class it
costs), and every drop is measured on the TEST split: a unit picked and
scored on the same examples would make the drops look larger by selection.
"""
import functools
from typing import Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from dlexp.analysis.common import initial_params, member_keys, model_variables
from dlexp.errors import ConfigError

# |h W + b - logits| allowed, relative to the logits' scale (float32 matmuls
# in another order differ by ~1e-6; a scaled head differs by ~1e-1).
_HEAD_TOLERANCE = 1e-3


@functools.partial(jax.jit, static_argnums=(0,))
def _features(model, variables, rate, xs):
  """(features (B, b, U), logits (B, b, K)) of pre-batched xs, inference
  mode at the member's rate."""

  def batch(x):
    logits, state = model.apply(variables, x, train=False, dropout_rate=rate,
                                mutable=['intermediates'])
    found = [v for k, v in traverse_util.flatten_dict(
        state['intermediates']).items() if k[-1] == 'features']
    if len(found) != 1:
      raise ConfigError('unit ablation needs exactly one sown "features" '
                        f'(the classifier\'s input); this model sows '
                        f'{len(found)}')
    return found[0][0].reshape(x.shape[0], -1), logits

  return jax.lax.map(batch, xs)


def _head(params) -> Tuple[jax.Array, jax.Array]:
  """(W (U, K), b (K,)): the dense layer named 'logits'."""
  flat = traverse_util.flatten_dict(params)
  kernels = [k for k in flat if k[-2:] == ('logits', 'kernel')]
  if len(kernels) != 1:
    raise ConfigError('unit ablation needs one dense layer named "logits" '
                      f'on the features; found {len(kernels)}')
  path = kernels[0][:-1]
  return flat[path + ('kernel',)], flat[path + ('bias',)]


def _check_head(h, logits, w, b) -> None:
  gap = float(jnp.max(jnp.abs(h @ w + b - logits)))
  scale = 1.0 + float(jnp.max(jnp.abs(logits)))
  if not gap <= _HEAD_TOLERANCE * scale:
    raise ConfigError(
        'unit ablation reads the logits as features @ W + b, and this '
        f'model\'s differ from that by {gap:.3g} (classic dropout scales the '
        'features at inference): use inverted dropout')


@jax.jit
def single_unit_scores(h, logits, w, labels, weights):
  """Per unit j, zeroing j alone: (accuracy (U,), mean log-probability of
  the true class (U,)), weighted by `weights` (0 = padding). h (N, U),
  logits (N, K), w (U, K), labels (N,) int. Batched over examples so that
  (batch, U, K) stays small."""
  total = jnp.sum(weights)

  def batch(args):
    hb, zb, yb, wb = args
    z = zb[:, None, :] - hb[:, :, None] * w[None]  # (b, U, K)
    right = (jnp.argmax(z, -1) == yb[:, None]).astype(jnp.float32)
    logp = jnp.take_along_axis(jax.nn.log_softmax(z, -1),
                               yb[:, None, None], -1)[..., 0]
    return wb @ right, wb @ logp

  n = h.shape[0]
  b = next(s for s in (500, 250, 200, 100, 50, 25, 10, 5, 2, 1)
           if n % s == 0)
  shaped = lambda a: a.reshape((n // b, b) + a.shape[1:])
  right, logp = jax.lax.map(batch, (shaped(h), shaped(logits),
                                    shaped(labels), shaped(weights)))
  return right.sum(0) / total, logp.sum(0) / total


@jax.jit
def ablated_accuracy(h, logits, w, labels, weights, masks):
  """Accuracy with the units where `masks` (S, U) is 1 zeroed together, one
  value per row of `masks`."""
  z = logits[None] - jnp.einsum('nu,su,uk->snk', h, masks, w)
  right = (jnp.argmax(z, -1) == labels[None]).astype(jnp.float32)
  return right @ weights / jnp.sum(weights)


def _flat(split, h, logits):
  _, ys, ws = split
  return (h.reshape(-1, h.shape[-1]), logits.reshape(-1, logits.shape[-1]),
          jnp.asarray(ys).reshape(-1).astype(jnp.int32),
          jnp.asarray(ws).reshape(-1).astype(jnp.float32))


def _ranking(val) -> np.ndarray:
  """Unit indices, most important first: the largest validation accuracy
  lost when zeroed alone, then the largest log-probability lost."""
  acc, logp = (np.asarray(a) for a in single_unit_scores(*val))
  return np.lexsort((logp, acc))  # ascending accuracy, then log-prob


def _member(ctx, i, fraction, draws, key, random_fraction
            ) -> Dict[str, float]:
  take = lambda t: jax.tree_util.tree_map(lambda a: a[i], t)
  params = take(ctx.params)
  variables = model_variables(params, take(ctx.batch_stats))
  rate = ctx.hp.get('model.dropout_rate', jnp.zeros(len(ctx.members)))[i]
  w, b = _head(params)
  if w.shape[-1] < 2:
    raise ConfigError('unit ablation scores class predictions (argmax of '
                      f'the logits); this head has {w.shape[-1]} output')
  splits = {}
  for name, split in (('val', ctx.data.val), ('test', ctx.data.test)):
    h, logits = _features(ctx.model, variables, rate, split[0])
    splits[name] = _flat(split, h, logits)
  _check_head(*splits['test'][:2], w, b)
  val, test = (s[:2] + (w,) + s[2:] for s in (splits['val'], splits['test']))
  units = w.shape[0]
  k = max(1, int(round(fraction * units)))
  k_rand = max(1, int(round(random_fraction * units)))
  order = _ranking(val)
  clean = float(ablated_accuracy(*test, jnp.zeros((1, units)))[0])
  single, _ = single_unit_scores(*test)
  top = np.zeros((2, units), np.float32)
  top[0, order[:1]] = 1.0
  top[1, order[:k]] = 1.0
  top1_acc, topk_acc = np.asarray(ablated_accuracy(*test, jnp.asarray(top)))
  picks = jax.vmap(lambda kk: jax.random.permutation(kk, units)[:k_rand])(
      jax.random.split(key, draws))
  rand = jnp.zeros((draws, units)).at[
      jnp.arange(draws)[:, None], picks].set(1.0)
  drops = clean - np.asarray(single)
  return {'ablation_units': float(units), 'ablation_k': float(k),
          'ablation_random_k': float(k_rand),
          'ablation_clean_accuracy': clean,
          'ablation_top1_drop': clean - float(top1_acc),
          'ablation_top_drop': clean - float(topk_acc),
          'ablation_random_drop': clean - float(np.mean(
              ablated_accuracy(*test, rand))),
          'ablation_unit_mean_drop': float(drops.mean()),
          'ablation_unit_max_drop': float(drops.max())}


def unit_ablation_hook(fraction: float = 0.1, draws: int = 10,
                       random_fraction: Optional[float] = None):
  """Hook: test accuracy lost when units of the last hidden layer are zeroed
  at inference (see the module docstring), per member:

  - 'ablation_clean_accuracy': test accuracy with nothing zeroed;
  - 'ablation_top1_drop': lost by zeroing the one unit ranked most important
    on validation; 'ablation_top_drop': by zeroing the k = round(`fraction`
    x units) top-ranked units together ('ablation_k' = k);
  - 'ablation_random_drop': by zeroing round(`random_fraction` x units)
    random units ('ablation_random_k'; `random_fraction` defaults to
    `fraction`), the mean over `draws` draws (the member's analysis key);
  - 'ablation_unit_mean_drop' / 'ablation_unit_max_drop': the mean and the
    largest over units of the test accuracy lost by zeroing each alone (the
    max is picked on the test split itself: shown, not for tests).
  """
  random_fraction = fraction if random_fraction is None else random_fraction
  for name, value in (('fraction', fraction),
                      ('random_fraction', random_fraction)):
    if not 0.0 < value < 1.0:
      raise ConfigError(f'unit ablation {name}={value!r}: need 0 < '
                        f'{name} < 1')
  if not (isinstance(draws, int) and draws >= 1):
    raise ConfigError(f'unit ablation draws={draws!r}: need an int >= 1')

  def hook(ctx) -> Dict[str, np.ndarray]:
    if ctx.data.test is None:
      raise ConfigError('unit ablation measures on the test split; this '
                        'data has none')
    keys = member_keys(ctx.members)
    rows = [_member(ctx, i, fraction, draws, keys[i], random_fraction)
            for i in range(len(ctx.members))]
    return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}

  return hook


def weight_size_hook(layer: str = 'dense1'):
  """Hook: 'weight_rms_ratio' and 'weight_max_ratio', the RMS and the
  largest |w| of the `layer` kernel (default the first hidden layer's, the
  weights on the input features) over the same at the member's
  initialization (re-initialized from its seed): dimensionless, so a
  comparison of two regularizers reads the same whatever the init scale."""

  def kernel(params):
    flat = traverse_util.flatten_dict(params)
    if (layer, 'kernel') not in flat:
      raise ConfigError(f'weight size: no kernel of layer {layer!r} (has '
                        f'{sorted({"/".join(k[:-1]) for k in flat})})')
    return np.asarray(flat[(layer, 'kernel')], np.float64)

  def hook(ctx) -> Dict[str, np.ndarray]:
    final = jax.device_get(ctx.params)
    out = {'weight_rms_ratio': [], 'weight_max_ratio': []}
    for i, start in enumerate(initial_params(ctx)):
      w = kernel(jax.tree_util.tree_map(lambda a: a[i], final))
      w0 = kernel(start)
      rms = lambda a: np.sqrt(np.mean(np.square(a)))
      out['weight_rms_ratio'].append(rms(w) / rms(w0))
      out['weight_max_ratio'].append(np.abs(w).max() / np.abs(w0).max())
    return {k: np.asarray(v) for k, v in out.items()}

  return hook
