r"""Does the chain rule give the gradient of the loss for every weight?

The notes (seed 004, Group 2: "Explain the backpropagation algorithm in the
context of training a neural network. What is the role of the chain rule in
backpropagation?") answer: "The chain rule is a fundamental part of
backpropagation. It allows us to compute the gradients of the loss function
with respect to each weight in the network." (They also call the backward
pass "updating weights using gradients": backpropagation only computes the
gradients; the update is the optimizer's step, a separate piece of dlexp,
dlexp/optim.py.)

This computes the gradient of the mean softmax cross-entropy of dlexp's MLP
(default 3 hidden layers of 16 units) on 32 training images, three ways, in
float64:

- jax.grad through the model dlexp trains (flax, dlexp/models/mlp.py);
- a hand-written backward pass (`chain_rule_grads`): the output error
  delta_L = (softmax(z_L) - onehot(y)) / N, then layer by layer
  dL/dW_l = a_{l-1}^T delta_l, dL/db_l = sum_n delta_l and
  delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1}): the chain rule, written out;
- central finite differences (L(w + h) - L(w - h)) / 2h of a numpy forward
  pass, one weight at a time, h = 1e-6.

Columns, per activation and parameter: max grad, the largest absolute
gradient entry (mean over the initializations); each error (max over the
initializations) is the layer's largest absolute difference over its
largest gradient entry, max_i |a_i - b_i| / max_i max(|a_i|, |b_i|), or
over 1e-3 where every entry is smaller (vanishing gradients: sigmoid).
Each activation's last row, 'all (worst)', is per initialization the worst
parameter: its per-initialization values are the evidence of the verdict
(each initialization one run): for every activation and comparison, the
worst error below its tolerance by a one-sided one-sample t-test over the
initializations, Holm-adjusted over the activations x comparisons; judged
only where at most 10% of the entries were left out at kinks.
For ReLU-like activations, a finite difference whose two evaluations see
different signs of some pre-activation straddles a kink, where the loss has
no derivative: such entries are left out of all three comparisons and
counted (kinks). They are not rare: with zero biases,
an example whose previous layer outputs all zeros has a pre-activation of
exactly 0, where jax.grad of ReLU (jnp.maximum, which splits ties) gives
1/2 and the hand-written pass 0: two conventions, no derivative.

Tolerances (float64, machine epsilon 2.2e-16):
- jax.grad vs chain rule: the same products and sums in another order, so
  only rounding differs, ~1e-16 per term over <= 10^3 terms: tolerance
  1e-10 (float32 anywhere would show as ~1e-7, so this also proves that
  the whole computation ran in float64);
- either vs finite differences: the central difference errs by about
  h^2 |L'''| / 6 (truncation, ~1e-13) plus eps |L| / h (rounding, ~3e-10
  for |L| ~ 2.3): relative to a layer's largest gradient entry, or to 1e-3
  if that is smaller, at most ~3e-7: tolerance 1e-5, a 30x margin (a
  wrong derivative, e.g. a missing factor or transpose, errs by O(1)).

  python experiments/backprop_check.py                 # defaults below
  python experiments/backprop_check.py --activations=sigmoid,elu \
      --config.model.hidden=64,32 --seeds=5
  python experiments/backprop_check.py --smoke         # seconds (CI)

From Python: `run(size='smoke')`, or `run(config, workdir, batch=64)`.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dlexp import ablation, claims, cli, models
from dlexp import data as data_lib
from dlexp.errors import ConfigError

SCRIPT = cli.define_flags(
    'backprop_check', model='mlp', epochs=1, seeds=5,
    config={'model.depth': 3, 'model.width': 16},
    smoke={'seeds': 3, 'dataset': 'synthetic', 'activations': ['relu'],
           'config.model.width': 8, 'config.data.val_size': 500},
    full={'seeds': 10, 'activations': ['relu', 'leaky_relu', 'elu', 'tanh',
                                       'sigmoid']})
_ACTIVATIONS = SCRIPT.list_flag(
    'activations', ['relu', 'tanh'],
    'Hidden activations to check (config.model.activation).')
_BATCH = SCRIPT.flag('integer', 'batch', 32, 'Training examples in the loss.')

STEP = 1e-6  # finite-difference step h
EXACT_TOL = 1e-10  # jax.grad vs hand-written chain rule
FD_TOL = 1e-5  # either vs central finite differences
# Below this a layer's errors are absolute: a finite difference's rounding
# error (~3e-10) does not shrink with the gradient.
SCALE_FLOOR = 1e-3



def numpy_activation(name: str, model_cfg) -> Tuple[Callable, Callable, bool]:
  """(f, f', has a kink) written out in numpy; the same functions as
  dlexp/layers/activations.py, with the model config's slope and alpha."""
  slope, alpha = float(model_cfg.leaky_slope), float(model_cfg.elu_alpha)
  sigmoid = lambda z: 1 / (1 + np.exp(-z))
  table = {
      'relu': (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0, True),
      'leaky_relu': (lambda z: np.where(z >= 0, z, slope * z),
                     lambda z: np.where(z >= 0, 1.0, slope), True),
      'elu': (lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))),
              lambda z: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))),
              alpha != 1.0),  # alpha = 1: the derivative is continuous
      'tanh': (np.tanh, lambda z: 1 - np.tanh(z) ** 2, False),
      'sigmoid': (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z)), False),
  }
  return table[name]


ACTIVATIONS = ('relu', 'leaky_relu', 'elu', 'tanh', 'sigmoid')
Layers = List[Tuple[str, np.ndarray, np.ndarray]]  # (name, W, b), in order


# -- the numpy network ---------------------------------------------------------
def forward(layers: Layers, x: np.ndarray, act):
  """Pre-activations z_l and activations a_l of every layer (a_0 = x);
  `act` is numpy_activation's triple."""
  f = act[0]
  zs, activations = [], [x]
  for i, (_, w, b) in enumerate(layers):
    z = activations[-1] @ w + b
    zs.append(z)
    activations.append(z if i == len(layers) - 1 else f(z))
  return zs, activations


def loss(logits: np.ndarray, y: np.ndarray) -> float:
  """Mean softmax cross-entropy (log-sum-exp shifted for stability)."""
  shifted = logits - logits.max(axis=1, keepdims=True)
  logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  return float(-logp[np.arange(len(y)), y].mean())


def chain_rule_grads(layers: Layers, x, y, act) -> Dict[str, np.ndarray]:
  """The backward pass: the chain rule applied layer by layer."""
  df = act[1]
  zs, a = forward(layers, x, act)
  p = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  delta = p.copy()
  delta[np.arange(len(y)), y] -= 1.0
  delta /= len(y)  # dL/dz_L for the mean loss
  grads = {}
  for i in range(len(layers) - 1, -1, -1):
    name, w, _ = layers[i]
    grads[f'{name}/kernel'] = a[i].T @ delta  # dz_l/dW_l = a_{l-1}
    grads[f'{name}/bias'] = delta.sum(axis=0)
    if i:  # dL/dz_{l-1} = (dL/dz_l . dz_l/da_{l-1}) * da_{l-1}/dz_{l-1}
      delta = (delta @ w.T) * df(zs[i - 1])
  return grads


def finite_differences(layers: Layers, x, y, act):
  """Central differences of every parameter, and a mask of the entries
  whose two evaluations straddle a kink of the activation."""
  kinked = act[2]
  grads, kinks = {}, {}
  for li, (name, w, b) in enumerate(layers):
    for kind, param in (('kernel', w), ('bias', b)):
      g = np.zeros_like(param)
      k = np.zeros(param.shape, bool)
      for idx in np.ndindex(param.shape):
        old = param[idx]
        evals = []
        for sign in (1.0, -1.0):
          param[idx] = old + sign * STEP
          zs, a = forward(layers, x, act)
          evals.append((loss(a[-1], y), [z > 0 for z in zs[li:-1]]))
        param[idx] = old
        g[idx] = (evals[0][0] - evals[1][0]) / (2 * STEP)
        k[idx] = kinked and any(
            np.any(p != m) for p, m in zip(evals[0][1], evals[1][1]))
      grads[f'{name}/{kind}'], kinks[f'{name}/{kind}'] = g, k
  return grads, kinks


def rel_error(a: np.ndarray, b: np.ndarray, keep=None) -> float:
  """max |a - b| over the layer's largest entry, or SCALE_FLOOR if that is
  smaller (entries in `keep`)."""
  if keep is not None:
    a, b = a[keep], b[keep]
  if not a.size:
    return math.nan
  scale = max(np.abs(a).max(), np.abs(b).max(), SCALE_FLOOR)
  return float(np.abs(a - b).max() / scale)


# -- the library's model, in float64 -------------------------------------------
def _check_supported(session, config, activations) -> None:
  if config.model.name != 'mlp':
    raise ConfigError(f'--model={config.model.name} not allowed; the '
                      'hand-written backward pass is for mlp')
  if config.model.norm not in ('default', 'none'):
    raise ConfigError(f'model.norm={config.model.norm!r} not allowed; the '
                      "hand-written backward pass has no norm layers ('none')")
  if config.loss.name != 'cross_entropy' or config.loss.label_smoothing:
    raise ConfigError(f'loss.name={config.loss.name!r} not allowed; the '
                      'check differentiates cross_entropy without smoothing')
  for act in activations:
    if act not in ACTIVATIONS:
      raise ConfigError(f'--activations: {act!r} not allowed; allowed: '
                        f'{", ".join(ACTIVATIONS)}')
  # '--epochs=3' or '--config.epochs=3': named as given
  meaningless = ([session.given['epochs'].split('=')[0]]
                 if 'epochs' in session.given else [])
  meaningless += [flag for flag, on in (('--plot', session.plot),
                                        ('--rerun_failed',
                                         session.rerun_failed)) if on]
  if meaningless:
    raise ConfigError(f'{meaningless[0]} has no meaning here: the check '
                      'trains nothing')


def one_seed(config, dataset, act: str, seed: int, batch: int) -> Dict:
  """Gradients three ways at initialization `seed`; per-parameter errors."""
  cfg = config.copy_and_resolve_references()
  cfg.model.activation = act
  model = models.build_model(cfg.model, dataset.num_classes,
                             dataset.input_shape)
  rng = np.random.default_rng(seed)
  pick = rng.choice(len(dataset.train_y), size=batch, replace=False)
  x = dataset.train_x[pick].reshape(batch, -1).astype(np.float64)
  y = dataset.train_y[pick].astype(np.int64)
  params = model.init(jax.random.PRNGKey(seed), jnp.asarray(x[:1]),
                      train=False)['params']
  params = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64),
                                  params)

  def model_loss(p):
    # optax's softmax cross-entropy is what dlexp's 'cross_entropy' loss
    # calls; the library casts logits to float32 first, so call it here.
    logits = model.apply({'params': p}, jnp.asarray(x), train=False)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, jnp.asarray(y)).mean()

  auto = jax.grad(model_loss)(params)
  names = [n for n in params if n.startswith('dense')] + ['logits']
  layers = [(n, np.array(params[n]['kernel']), np.array(params[n]['bias']))
            for n in names]
  fn = numpy_activation(act, cfg.model)
  chain = chain_rule_grads(layers, x, y, fn)
  fd, kinks = finite_differences(layers, x, y, fn)
  np_loss = loss(forward(layers, x, fn)[1][-1], y)
  out = {'loss_gap': abs(np_loss - float(model_loss(params)))}
  for name, kind in ((n, k) for n in names for k in ('kernel', 'bias')):
    key = f'{name}/{kind}'
    a = np.asarray(auto[name][kind])
    smooth = ~kinks[key]
    out[key] = dict(size=a.size, grad_max=float(np.abs(a).max()),
                    auto_chain=rel_error(a, chain[key], smooth),
                    auto_fd=rel_error(a, fd[key], smooth),
                    chain_fd=rel_error(chain[key], fd[key], smooth),
                    kinks=int(kinks[key].sum()))
  return out


# -- table, evidence and claim -------------------------------------------------
ERRORS = (('auto_chain', 'jax.grad vs chain rule', EXACT_TOL),
          ('auto_fd', 'jax.grad vs finite diff', FD_TOL),
          ('chain_fd', 'chain rule vs finite diff', FD_TOL))
ALL = 'all (worst)'  # each activation's summary row: the worst parameter
# The check must cover the weights: at most this share of the entries may be
# left out for straddling a kink.
MAX_KINK_SHARE = 0.1


def _per_seed(seeds: List[Dict], key: str) -> Dict[str, List[float]]:
  """One parameter's (or, key ALL, the worst parameter's) per-seed values
  of the table's columns."""
  params = [k for k in seeds[0] if k != 'loss_gap']
  rows = lambda s: [s[k] for k in params] if key == ALL else [s[key]]
  worst = lambda vals: (math.nan if all(math.isnan(v) for v in vals)
                        else float(np.nanmax(vals)))
  out = {'entries': [float(sum(r['size'] for r in rows(s))) for s in seeds],
         'max grad': [max(r['grad_max'] for r in rows(s)) for s in seeds]}
  for k, title, _ in ERRORS:
    out[title] = [worst([r[k] for r in rows(s)]) for s in seeds]
  out['kinks'] = [float(sum(r['kinks'] for r in rows(s))) for s in seeds]
  return out


def evidence(results: Dict[str, List[Dict]], seeds: Sequence[int]
             ) -> claims.Evidence:
  """The table's per-seed values (one seed: one initialization), one trial
  per activation and parameter, and per activation the worst parameter;
  a non-finite error (every entry at a kink) has no value."""
  table = {}
  for act, per_seed in results.items():
    params = [k for k in per_seed[0] if k != 'loss_gap'] + [ALL]
    for key in params:
      columns = {h: [v if math.isfinite(v) else None for v in vals]
                 for h, vals in _per_seed(per_seed, key).items()}
      n = len(per_seed)
      table[f'{act} {key}'] = dict(
          overrides={'model.activation': act, 'parameter': key},
          seeds=list(seeds), status=[claims.DONE] * n,
          collapsed=[False] * n, restored=[False] * n, columns=columns)
  return claims.Evidence(table)


def table(ev: claims.Evidence) -> str:
  """Per activation and parameter: entries, max grad (mean over the
  initializations), each error (max over them), kinks (their sum)."""
  header = (['activation', 'parameter', 'entries', 'max grad']
            + [title for _, title, _ in ERRORS] + ['kinks'])
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join(['---'] * len(header)) + '|']
  for trial in ev.trials:
    axes = ev.table[trial]['overrides']
    col = lambda h, trial=trial: [v for v in ev.column(trial, h)
                                  if v is not None]
    errs = [f'{max(col(title)):.1e}' if col(title) else 'n/a'
            for _, title, _ in ERRORS]
    lines.append('| ' + ' | '.join(
        [axes['model.activation'], axes['parameter'],
         f'{col("entries")[0]:.0f}', f'{np.mean(col("max grad")):.2e}']
        + errs + [f'{sum(col("kinks")):.0f}']) + ' |')
  return '\n'.join(lines)


def _worst_rows(ev: claims.Evidence) -> List[str]:
  rows = [t for t in ev.trials
          if ev.table[t]['overrides'].get('parameter') == ALL]
  if not rows:
    raise claims.MissingTrial('no activation was checked')
  return rows


def _all_agree(ev: claims.Evidence) -> claims.Verdict:
  """Per activation and comparison: the worst parameter's error, per
  initialization, below its tolerance (one-sample t over the
  initializations; Holm over activations x comparisons)."""
  cases = []
  for trial in _worst_rows(ev):
    act = ev.table[trial]['overrides']['model.activation']
    for _, title, tol in ERRORS:
      cases.append((f'{act}: {title}', claims.below(
          ev.sample(trial, title, act), tol,
          f'{title}, worst parameter per initialization', fmt='.1e')))
  return claims.across(cases, 'all')


def _kink_share(ev: claims.Evidence) -> float:
  rows = _worst_rows(ev)
  kinks = sum(sum(v for v in ev.column(t, 'kinks') if v is not None)
              for t in rows)
  entries = sum(sum(v for v in ev.column(t, 'entries') if v is not None)
                for t in rows)
  return kinks / entries if entries else math.nan


CLAIMS = (
    claims.Claim(
        '004 G2', 'The chain rule ... allows us to compute the gradients of '
        'the loss function with respect to each weight in the network',
        tested_as='implementation (numerical) check: only a bug could fail '
        'it; gradients of the mean cross-entropy of dlexp\'s MLP (3 '
        'hidden layers of 16, 32 Fashion-MNIST images, float64) by jax.grad '
        'and by a hand-written layer-by-layer chain rule, against each other '
        '(tolerance 1e-10) and against central finite differences of every '
        'weight and bias (1e-5, relative to the layer\'s largest entry); per '
        'activation and comparison, the worst parameter\'s error of each '
        'initialization below the tolerance (one-sample t, Holm); '
        'finite differences straddling a ReLU kink left out',
        rule=_all_agree,
        regime=(claims.requires(
            'the finite differences cover the weights: share of entries left '
            'out at kinks', _kink_share, '<=', MAX_KINK_SHARE),)),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, activations: Optional[Sequence[str]] = None,
        batch: Optional[int] = None, session=None) -> ablation.Result:
  """Checks the gradients of every activation and decides the claim. From
  Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  activations=['elu'])`; the command line's flags give the same arguments.
  The check computes in float64 and leaves JAX's x64 setting as it was."""
  session, config = SCRIPT.start(config, workdir, size, session)
  activations = (SCRIPT.axis('activations', session.size)
                 if activations is None else activations)
  batch = SCRIPT.axis('batch', session.size) if batch is None else batch
  activations = cli.list_flag(activations, str, 'activations')
  if batch < 1:
    raise ConfigError(f'--batch={batch} not allowed; need >= 1')
  _check_supported(session, config, activations)
  ablation.check_axes(session, {'model.activation': activations},
                      {'model.activation': 'activations'})
  x64 = jax.config.jax_enable_x64
  jax.config.update('jax_enable_x64', True)  # this check only
  try:
    return _check(session, config, activations, batch)
  finally:  # a caller's later work in this process keeps its precision
    jax.config.update('jax_enable_x64', x64)


def _check(session, config, activations: List[str], batch: int
           ) -> ablation.Result:
  """The gradients three ways, the table, the verdict and the record."""
  dataset = data_lib.load(config.data)
  if batch > len(dataset.train_y):
    raise ConfigError(f'--batch={batch} is larger than the training '
                      f'set ({len(dataset.train_y)})')
  seeds = range(config.seed, config.seed + config.num_seeds)
  results = {act: [one_seed(config, dataset, act, s, batch)
                   for s in seeds] for act in activations}
  ev = evidence(results, seeds)
  text = table(ev)
  gap = max(s['loss_gap'] for v in results.values() for s in v)
  hidden = (tuple(config.model.hidden)
            or (config.model.width,) * config.model.depth)
  preamble = (f'{dataset.name}, mlp {"-".join(map(str, hidden))}, '
              f'{batch} training examples, float64, initializations '
              f'{seeds[0]}..{seeds[-1]} (errors: max over them; max grad: '
              f'mean; "{ALL}": the worst parameter of each initialization); '
              f'finite-difference step {STEP:g}; numpy and flax '
              f'losses agree to {gap:.1e}')
  print(f'\n## Backpropagation check\n{preamble}\n{text}')
  verdicts, path = ablation.publish(
      session, 'Backpropagation: three gradients', text, CLAIMS, ev,
      directories=[], preamble=preamble, alpha=config.claims.alpha)
  return ablation.Result(text, ev, verdicts, path, None)


def main(_):
  run(cli.resolved_config(), activations=_ACTIVATIONS.value,
      batch=_BATCH.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
