r"""Which of the notes' three ways to a sparse model (L1, dropout, pruning)
actually gives one, and at what cost in accuracy?

The notes (seed 003, question 6) name three ways to produce a sparse model:
L1 regularization "adds a penalty term to the loss function that encourages
the weights to be set to zero", dropout results "in a sparse network", and
pruning, "iteratively removing the least important connections ... based
on ... the magnitude of the weights", gives "a model with fewer parameters
and a smaller memory footprint". A sparse model is taken in the question's
sense: one with fewer weights to store (exact zeros). This trains one MLP
(784-300-100-10, ReLU, plain SGD without momentum, 6,000 Fashion-MNIST
examples, 8 epochs, the last epoch's parameters kept) with each, 5 seeds
each:

- l1=...: the L1 penalty in the loss, trained by SGD on its subgradient
  (what the notes describe);
- l1_method=proximal,l1=...: the same strength applied as the proximal
  step after each update (soft-thresholding by lr * l1, ISTA): how L1 is
  optimized when exact zeros are wanted;
- dropout_rate=...: dropout after every hidden layer, no penalty;
- prune_method=gradual,prune_sparsity=...: magnitude pruning of every
  kernel along Zhu & Gupta's cubic schedule from reg.prune_start_epoch to
  reg.prune_end_epoch (3 to 6), then fine-tuned to the end;
- prune_method=one_shot,prune_start_epoch=6,prune_sparsity=...: all at
  once at reg.prune_end_epoch, where the gradual schedule reaches its
  target, so both are fine-tuned equally long after it (the contrast for
  "iteratively").

Each claim is judged at the grid's largest setting (l1, rate, sparsity),
the pruning footprint at every sparsity (an existence claim: "can result"
in a smaller model, supported where some sparsity does), and only where that model trains
above chance (a checked precondition).

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

From Python: `run(size='smoke')` (keywords as the flags above).

The l1, rate and sparsity values are traced, so each method is one compiled,
vmapped program. Every run keeps its LAST epoch's parameters
(early_stopping.restore_best=False): the epoch of the lowest validation loss
can come before pruning has reached its target, and restoring it would
report an unpruned model.
"""
from typing import Optional, Sequence

from dlexp import ablation, analysis, claims, cli, report

SCRIPT = cli.define_flags(
    'sparsity', model='mlp', epochs=8, seeds=5,
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
_L1S = SCRIPT.list_flag('l1s', ['1e-4', '1e-3'],
                        'L1 strengths (config.reg.l1), as a penalty and as '
                        'a proximal step.')
_RATES = SCRIPT.list_flag('rates', ['0.3', '0.5'],
                          'Dropout rates (config.model.dropout_rate).')
_SPARSITIES = SCRIPT.list_flag(
    'sparsities', ['0.5', '0.8', '0.9', '0.95'],
    'Pruning targets (config.reg.prune_sparsity), one-shot and gradual.')


def _percent(key, header):
  return report.Column(
      header, lambda r: None if r.final(key) is None else 100 * r.final(key),
      '.1f')


ZERO = _percent('kernel_zero_fraction', 'zero %')
SMALL = _percent('kernel_small_fraction', 'abs<1e-3 %')
COLUMNS = (
    report.final('test_accuracy', 'test acc'),
    ZERO, SMALL,
    report.final('dense_kb', 'dense KB', '.0f', exact=True),
    report.final('sparse_kb', 'sparse KB', '.0f', exact=True),
    report.final('size_ratio', 'size ratio', '.2f', exact=True),
    _percent('act_zero_train', 'act zero % train'),
    _percent('act_zero_inference', 'act zero % inference'),
    report.default_column('wall s'),
)


# -- rules (they read the table, never the flags) ------------------------------
CHANCE = 0.1  # Fashion-MNIST's 10 classes
TEST = COLUMNS[0]
SIZE_RATIO = COLUMNS[5]
ACT_TRAIN, ACT_INFERENCE = COLUMNS[6], COLUMNS[7]


def _axes(ev: claims.Evidence, trial: str):
  return {k.split('.')[-1]: v
          for k, v in ev.table[trial].get('overrides', {}).items()}


def _values(ev: claims.Evidence, axis: str, **fixed):
  """Sorted values of `axis` among the trials whose axes include `fixed`."""
  out = set()
  for t in ev.trials:
    a = _axes(ev, t)
    if axis in a and all(k in a and a[k] == v for k, v in fixed.items()):
      out.add(a[axis])
  if not out:
    raise claims.MissingTrial(f'no {axis} values with {fixed} in this grid')
  return sorted(out)


def _none(ev: claims.Evidence) -> str:
  """The unregularized baseline (l1=0, no method, no dropout, no pruning)."""
  return ev.exact_trial(l1=0.0)


def _arm(ev, trial, column, name) -> claims.Sample:
  return ev.sample(trial, column, name)


def _pct(ev, trial, column) -> str:
  return claims.describe(ev.values(trial, column), '.1f') + ' %'


def _penalty_l1(ev) -> float:
  return max(v for v in _values(ev, 'l1') if v > 0)


def _l1(ev: claims.Evidence) -> claims.Verdict:
  """Exact zeros with the L1 penalty in the loss (SGD on its subgradient),
  and with the same strength as a proximal step, against none."""
  l1 = _penalty_l1(ev)
  none = _none(ev)
  cases = []
  for name, trial in (
      (f'penalty in the loss, l1={l1:g}', ev.exact_trial(l1=l1)),
      (f'proximal step, l1={l1:g}', ev.trial(l1_method='proximal', l1=l1))):
    cases.append((name, claims.greater(
        _arm(ev, trial, ZERO, name), _arm(ev, none, ZERO, 'no penalty'),
        margin=1.0, what='percent of kernel weights exactly 0',
        fmt='.2f').with_note(
            f'|w| < 1e-3: {_pct(ev, trial, SMALL)} vs '
            f'{_pct(ev, none, SMALL)}')))
  return claims.across(cases, 'all')


def _dropout(ev: claims.Evidence) -> claims.Verdict:
  rate = max(_values(ev, 'dropout_rate'))
  trial, none = ev.trial(dropout_rate=rate), _none(ev)
  return claims.greater(
      _arm(ev, trial, ZERO, f'dropout {rate:g}'),
      _arm(ev, none, ZERO, 'no regularization'), margin=1.0,
      what='percent of kernel weights exactly 0', fmt='.2f').with_note(
          f'|w| < 1e-3: {_pct(ev, trial, SMALL)} vs {_pct(ev, none, SMALL)}; '
          'zero activations (after each dropout layer, 512 validation '
          f'images) in a training pass {_pct(ev, trial, ACT_TRAIN)}, in '
          f'inference {_pct(ev, trial, ACT_INFERENCE)} vs '
          f'{_pct(ev, none, ACT_INFERENCE)} without dropout')


_SMALLER = 0.95  # stored at least 5% smaller than dense


def _footprint(ev: claims.Evidence) -> claims.Verdict:
  """Each pruned trial's stored size (CSR kernels) against dense; "can
  result": an existence claim, supported where some sparsity and method
  gives a smaller model (the verdict names which)."""
  cases = []
  for method in ('one_shot', 'gradual'):
    for s in _values(ev, 'prune_sparsity', prune_method=method):
      trial = ev.trial(prune_method=method, prune_sparsity=s)
      cases.append((f'{method} to {s:g}', claims.below(
          _arm(ev, trial, SIZE_RATIO, f'{method} to {s:g}'), _SMALLER,
          'stored size (kernels as CSR) over dense', fmt='.3f').with_note(
              f'{_pct(ev, trial, ZERO)} of the weights exactly 0, test '
              f'accuracy {claims.describe(ev.values(trial, TEST))}')))
  return claims.across(cases, 'any')


def _gradual(ev: claims.Evidence) -> claims.Verdict:
  s = max(_values(ev, 'prune_sparsity', prune_method='gradual'))
  name = f'{100 * s:g}% sparsity'
  return claims.greater(
      _arm(ev, ev.trial(prune_method='gradual', prune_sparsity=s), TEST,
           f'gradual (iterative) to {name}'),
      _arm(ev, ev.trial(prune_method='one_shot', prune_sparsity=s), TEST,
           f'one-shot to {name}'),
      margin=0.005, what='test accuracy').with_note(
          f'unpruned {claims.describe(ev.values(_none(ev), TEST))}')


def _trains(what: str, find) -> claims.Requirement:
  return claims.requires(f'{what} trains above chance (test acc)',
                         lambda ev: ev.sample(find(ev), TEST), '>=',
                         CHANCE + 0.1)


def _top_pruned(method):
  return lambda ev: ev.trial(prune_method=method, prune_sparsity=max(
      _values(ev, 'prune_sparsity', prune_method=method)))


CLAIMS = (
    claims.Claim(
        '003 Q6', 'L1 regularization ... adds a penalty term to the loss '
        'function that encourages the weights to be set to zero',
        tested_as='percent of kernel weights exactly 0 after training '
        '(784-300-100-10 MLP, plain SGD, Fashion-MNIST) at the grid\'s '
        'largest l1, with the penalty in the loss (SGD on its subgradient, '
        'as the notes say) and as a proximal step (soft-thresholding), '
        'each against no penalty, margin 1 point; |w| < 1e-3 beside',
        rule=_l1,
        regime=(_trains('the largest L1 penalty', lambda ev: ev.exact_trial(
            l1=_penalty_l1(ev))),)),
    claims.Claim(
        '003 Q6', 'Dropout: Dropout is a technique that randomly drops out '
        'some of the neurons in the network during training. This can force '
        'the remaining neurons to take on more responsibility, resulting in '
        'a sparse network',
        tested_as='the answer names dropout as one of "three ways you can '
        'produce a sparse model", so the claim is that it produces one, not '
        'an existence claim about "can force"; a sparse model in the '
        'question\'s sense (fewer stored '
        'weights): percent of kernel weights exactly 0 after training with '
        'dropout at the grid\'s largest rate against none, margin 1 point; '
        'the zero activations dropout leaves are shown beside',
        rule=_dropout,
        regime=(_trains('the largest dropout rate', lambda ev: ev.trial(
            dropout_rate=max(_values(ev, 'dropout_rate')))),)),
    claims.Claim(
        '003 Q6', 'Pruning ... This can result in a model with fewer '
        'parameters and a smaller memory footprint',
        tested_as='stored size of the magnitude-pruned model (kernels as '
        'scipy CSR, float32) over the dense model, below 0.95, for one-shot '
        'and gradual pruning at the grid\'s sparsities (Holm); an existence '
        'claim ("can"): supported where some sparsity and method shows it',
        rule=_footprint, existence=True,
        regime=(_trains('one-shot pruning to the largest sparsity',
                        _top_pruned('one_shot')),
                _trains('gradual pruning to the largest sparsity',
                        _top_pruned('gradual')))),
    claims.Claim(
        '003 Q6', 'Pruning is a technique that involves iteratively '
        'removing the least important connections ... based on ... the '
        'magnitude of the weights',
        tested_as='proxy: that the iterative form matters: gradual '
        '(iterative, Zhu & Gupta) against one-shot magnitude pruning to the '
        'grid\'s largest sparsity, both reaching it at the same epoch and '
        'fine-tuned as long after, test accuracy, margin 0.005',
        rule=_gradual,
        regime=(_trains('one-shot pruning to the largest sparsity',
                        _top_pruned('one_shot')),
                _trains('gradual pruning to the largest sparsity',
                        _top_pruned('gradual')))),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, l1s: Optional[Sequence[float]] = None,
        rates: Optional[Sequence[float]] = None,
        sparsities: Optional[Sequence[float]] = None,
        session=None) -> ablation.Result:
  """Trains L1 (penalty and proximal), dropout and pruning (gradual and
  one-shot) and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', l1s=[1e-3], sparsities=[0.9])`; the keywords
  are the flags of those names."""
  session, config = SCRIPT.start(config, workdir, size, session)
  l1s = cli.list_flag(SCRIPT.axis('l1s', session.size) if l1s is None
                      else l1s, float, 'l1s')
  rates = cli.list_flag(SCRIPT.axis('rates', session.size) if rates is None
                        else rates, float, 'rates')
  sparsities = cli.list_flag(
      SCRIPT.axis('sparsities', session.size) if sparsities is None
      else sparsities, float, 'sparsities')
  # One-shot pruning at the epoch where the gradual schedule reaches its
  # target: both are fine-tuned as long after it.
  end = config.reg.prune_end_epoch
  grids = [{'reg.l1': [0.0] + [v for v in l1s if v != 0]},
           {'reg.l1_method': ['proximal'], 'reg.l1': l1s},
           {'model.dropout_rate': rates},
           {'reg.prune_method': ['gradual'],
            'reg.prune_sparsity': sparsities},
           {'reg.prune_method': ['one_shot'], 'reg.prune_start_epoch': [end],
            'reg.prune_sparsity': sparsities}]
  return ablation.run_ablation(
      session, grids, config, COLUMNS,
      title='Sparse models: L1, dropout, pruning',
      final_hooks=[analysis.weight_sparsity_hook(),
                   analysis.activation_zeros_hook],
      axis_flags={'reg.l1': 'l1s', 'reg.l1_method': 'l1s',
                  'model.dropout_rate': 'rates',
                  'reg.prune_method': 'sparsities',
                  'reg.prune_sparsity': 'sparsities',
                  'reg.prune_start_epoch': 'config.reg.prune_end_epoch '
                                           '(one-shot pruning happens there)'},
      claims=CLAIMS, plots=('val_accuracy',))


def main(_):
  run(cli.resolved_config(), l1s=_L1S.value, rates=_RATES.value,
      sparsities=_SPARSITIES.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
