r"""Which of the notes' three ways to a sparse model (L1, dropout, pruning)
actually gives one, and at what cost in accuracy?

The notes (seed 003, question 6) name three ways to produce a sparse model:
L1 regularization "encourages the weights to be set to zero", dropout
results "in a sparse network", and pruning "iteratively remov[es] the least
important connections ... based on ... the magnitude of the weights",
giving "fewer parameters and a smaller memory footprint". This trains one
MLP (784-300-100-10, ReLU, plain SGD without momentum) with each, several
seeds each:

- l1=...: the L1 penalty in the loss, trained by SGD on its subgradient;
- l1_method=proximal,l1=...: the same strength applied as the proximal
  step after each update (soft-thresholding by lr * l1, ISTA);
- dropout_rate=...: dropout after every hidden layer, no penalty;
- prune_method=one_shot|gradual,prune_sparsity=...: magnitude pruning of
  every kernel to that fraction of zeros, all at once at the start epoch
  (then fine-tuned) or along Zhu & Gupta's cubic schedule from the start
  to the end epoch (reg.prune_start_epoch, reg.prune_end_epoch).

Columns (all kernels of the final model together; biases are not counted):
- test acc;
- zero %: kernel weights exactly 0; abs<1e-3 %: weights with |w| < 1e-3;
- dense KB / sparse KB: every parameter stored as float32, and the kernels
  stored as scipy CSR matrices instead (a nonzero costs its value and its
  column index, 8 bytes, so CSR only pays below 50% nonzeros); size ratio =
  sparse / dense;
- act zero % train / inference: the hidden units' outputs (after each
  dropout layer) that are exactly 0 on 512 validation images, in one
  training-mode pass and in inference mode: what dropout makes sparse.

  python experiments/sparsity.py                          # defaults below
  python experiments/sparsity.py --l1s=1e-4,3e-4,1e-3 --sparsities=0.9 \
      --rates=0.5
  python experiments/sparsity.py --config.optimizer.momentum=0.9
      # proximal L1 with momentum: the usual heuristic, no longer exact

The l1, rate and sparsity values are traced, so each method is one compiled,
vmapped program. Every run keeps its LAST epoch's parameters
(early_stopping.restore_best=False): the epoch of the lowest validation loss
can come before pruning has reached its target, and restoring it would
report an unpruned model.
"""
from absl import flags

from dlexp import analysis, claims, cli, report

_L1S = flags.DEFINE_list('l1s', ['1e-4', '1e-3'],
                         'L1 strengths (config.reg.l1), as a penalty and as '
                         'a proximal step.')
_RATES = flags.DEFINE_list('rates', ['0.3', '0.5'],
                           'Dropout rates (config.model.dropout_rate).')
_SPARSITIES = flags.DEFINE_list(
    'sparsities', ['0.5', '0.8', '0.9', '0.95'],
    'Pruning targets (config.reg.prune_sparsity), one-shot and gradual.')

cli.define_flags(
    'sparsity', model='mlp', epochs=8, seeds=3,
    config={'model.hidden': (300, 100), 'optimizer.name': 'sgd',
            'optimizer.momentum': 0.0, 'optimizer.learning_rate': 0.1,
            'early_stopping.restore_best': False,
            'diagnostics.every_epochs': 0, 'data.train_limit': 6000,
            'data.val_size': 2000, 'reg.prune_start_epoch': 3,
            'reg.prune_end_epoch': 6},
    smoke={'epochs': 3, 'seeds': 2, 'l1s': ['1e-3'], 'rates': ['0.5'],
           'sparsities': ['0.9'], 'config.model.hidden': (64, 32),
           'config.data.train_limit': 1024, 'config.data.val_size': 500,
           'config.data.test_limit': 1000, 'config.reg.prune_start_epoch': 1,
           'config.reg.prune_end_epoch': 2,
           'config.reg.prune_every_steps': 2},
    full={'epochs': 30, 'seeds': 5, 'config.data.train_limit': 0,
          'config.data.val_size': -1, 'config.reg.prune_start_epoch': 10,
          'config.reg.prune_end_epoch': 25})


def _percent(key, header):
  return report.Column(
      header, lambda r: None if r.final(key) is None else 100 * r.final(key),
      '.1f')


_ZERO = _percent('kernel_zero_fraction', 'zero %')
_SMALL = _percent('kernel_small_fraction', 'abs<1e-3 %')
COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    _ZERO, _SMALL,
    report.final('dense_kb', 'dense KB', '.0f'),
    report.final('sparse_kb', 'sparse KB', '.0f'),
    report.final('size_ratio', 'size ratio', '.2f'),
    _percent('act_zero_train', 'act zero % train'),
    _percent('act_zero_inference', 'act zero % inference'),
    report.DEFAULT_COLUMNS[3],
)


def _trial(ev, **overrides) -> str:
  trial = ev.trial(**overrides)
  if trial is None:
    raise KeyError(f'no trial with {overrides} in this grid')
  return trial


def _values(ev, axis: str, **fixed):
  """Sorted values of `axis` among the trials matching `fixed`."""
  out = set()
  for name in ev.trials:
    o = {k.split('.')[-1]: v for k, v in
         (ev.groups[name][0].config.get('overrides') or {}).items()}
    if axis in o and all(o.get(k) == v for k, v in fixed.items()):
      out.add(o[axis])
  if not out:
    raise KeyError(f'no {axis} values with {fixed} in this grid')
  return sorted(out)


def _pct(ev, trial, key) -> str:
  return claims.describe(100 * ev.values(trial, key), '.1f') + ' %'


def _l1(ev: claims.Evidence) -> claims.Verdict:
  """Exact zeros under the L1 penalty (SGD) vs under the proximal step."""
  l1 = max(v for v in _values(ev, 'l1') if v > 0)
  penalty = _trial(ev, l1=l1)
  text = (f'at l1={l1:g}, SGD on the penalty leaves '
          f'{_pct(ev, penalty, "kernel_zero_fraction")} of the weights '
          f'exactly 0 and {_pct(ev, penalty, "kernel_small_fraction")} below '
          '1e-3')
  zeros = ev.values(penalty, 'kernel_zero_fraction')
  proximal = ev.trial(l1_method='proximal', l1=l1)
  if proximal is not None:
    text += (f'; the proximal step makes '
             f'{_pct(ev, proximal, "kernel_zero_fraction")} exactly 0 '
             f'(test accuracy {claims.describe(ev.values(penalty, "test_accuracy"))}'
             f' vs {claims.describe(ev.values(proximal, "test_accuracy"))})')
  if zeros.size and zeros.mean() > 0.1:
    return claims.Verdict(claims.SUPPORTED, text)
  prox = ev.values(proximal, 'kernel_zero_fraction') if proximal else zeros[:0]
  if prox.size and prox.mean() > 0.1:
    return claims.Verdict(claims.DEPENDS, text + ': zero only with the '
                          'proximal step')
  return claims.Verdict(claims.CONTRADICTED if zeros.size else
                        claims.INCONCLUSIVE, text)


def _dropout(ev: claims.Evidence) -> claims.Verdict:
  rate = max(_values(ev, 'dropout_rate'))
  trial, base = _trial(ev, dropout_rate=rate), _trial(ev, l1=0.0)
  zeros = ev.values(trial, 'kernel_zero_fraction')
  verdict = claims.compare(zeros, ev.values(base, 'kernel_zero_fraction'),
                           'fraction of kernel weights exactly 0',
                           f'dropout {rate:g}', 'no regularization')
  text = (f'{verdict.evidence}; |w|<1e-3: '
          f'{_pct(ev, trial, "kernel_small_fraction")} vs '
          f'{_pct(ev, base, "kernel_small_fraction")}; zero activations in '
          f'training {_pct(ev, trial, "act_zero_train")} vs in inference '
          f'{_pct(ev, trial, "act_zero_inference")}')
  if verdict.verdict == claims.SUPPORTED and zeros.mean() > 0.01:
    return claims.Verdict(claims.SUPPORTED, text)
  if zeros.size >= 2 and zeros.max() <= 0.01:
    return claims.Verdict(claims.CONTRADICTED, text + ': sparse activations '
                          'while training, dense weights')
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _footprint(ev: claims.Evidence) -> claims.Verdict:
  """At the largest pruning target: exact zeros and the stored size."""
  s = max(_values(ev, 'prune_sparsity'))
  parts, ratios = [], []
  for method in ('one_shot', 'gradual'):
    trial = ev.trial(prune_method=method, prune_sparsity=s)
    if trial is None:
      continue
    ratios.append(ev.values(trial, 'size_ratio'))
    parts.append(f'{method} to {s:g}: {_pct(ev, trial, "kernel_zero_fraction")}'
                 f' zeros, size ratio '
                 f'{claims.describe(ev.values(trial, "size_ratio"), ".2f")}, '
                 f'test accuracy '
                 f'{claims.describe(ev.values(trial, "test_accuracy"))}')
  base = _trial(ev, l1=0.0)
  text = '; '.join(parts) + (
      f'; unpruned test accuracy '
      f'{claims.describe(ev.values(base, "test_accuracy"))}')
  if not ratios or not all(r.size for r in ratios):
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if all(r.max() < 1 for r in ratios):
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(claims.CONTRADICTED, text)


def _gradual(ev: claims.Evidence) -> claims.Verdict:
  s = max(_values(ev, 'prune_sparsity'))
  return claims.compare(
      ev.values(_trial(ev, prune_method='gradual', prune_sparsity=s),
                'test_accuracy'),
      ev.values(_trial(ev, prune_method='one_shot', prune_sparsity=s),
                'test_accuracy'),
      f'test accuracy at {100 * s:g}% sparsity', 'gradual (iterative)',
      'one-shot')


CLAIMS = (
    claims.Claim('003 Q6', 'L1 regularization ... encourages the weights to '
                 'be set to zero', _l1),
    claims.Claim('003 Q6', 'Dropout ... resulting in a sparse network',
                 _dropout),
    claims.Claim('003 Q6', 'Pruning ... a model with fewer parameters and a '
                 'smaller memory footprint', _footprint),
    claims.Claim('003 Q6', 'iteratively removing the least important '
                 'connections ... based on ... the magnitude of the weights',
                 _gradual),
)


def main(_):
  l1s = cli.list_flag(_L1S.value, float, 'l1s')
  rates = cli.list_flag(_RATES.value, float, 'rates')
  sparsities = cli.list_flag(_SPARSITIES.value, float, 'sparsities')
  grids = [{'reg.l1': [0.0] + [v for v in l1s if v != 0]},
           {'reg.l1_method': ['proximal'], 'reg.l1': l1s},
           {'model.dropout_rate': rates},
           {'reg.prune_method': ['one_shot', 'gradual'],
            'reg.prune_sparsity': sparsities}]
  cli.run_ablation(grids, COLUMNS, title='Sparse models: L1, dropout, pruning',
                   final_hooks=[analysis.weight_sparsity_hook(),
                                analysis.activation_zeros_hook],
                   axis_flags={'reg.l1': 'l1s', 'reg.l1_method': 'l1s',
                               'model.dropout_rate': 'rates',
                               'reg.prune_method': 'sparsities',
                               'reg.prune_sparsity': 'sparsities'},
                   claims=CLAIMS, plots=('val_accuracy',))


if __name__ == '__main__':
  cli.run_main(main)
