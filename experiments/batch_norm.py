r"""What does batch normalization buy: faster training, higher learning rates,
stability against the initial scale, less overfitting, better accuracy?
What does the normalization step do to each batch, and what are the learned
gamma and beta worth?

The notes (seed 002, questions 1-3; seed 004, theory group 7) say batch norm
layers "help improving model overall performance", boost "training
stability", bring "faster convergence during training" and "the ability to
use higher learning rates", "can also act as a form of regularization,
reducing the risk of overfitting", normalize "each batch `mean` to `0` and
`variance` to `1`", and that the learned gamma and beta "enable the model to
decide the optimal scale and shift" and make "the model converge faster".
This trains, with
SGD (momentum 0.9) and 5 seeds each, two models without and with BatchNorm,
the norm layer before the activation (dense/conv -> BN -> ReLU, the paper's
order) or after it (-> ReLU -> BN):

1. deep MLP: the notes' exercise net (20 hidden ReLU layers of 100 units),
   on 4,000 training examples, over a learning-rate sweep (--lrs), and at
   initial weight scales (--init_gains: multiplies He-normal's std) at the
   default rate (0.01, no normalization's best);
2. CNN: the small Keras CNN (conv32-pool-conv64-pool-dense128, width scaled
   by model.width_mult) over --cnn_lrs, on --cnn_train_limit examples.
   In both, with --frozen_affine, batch norm before the activation also
   trains with gamma and beta frozen at 1 and 0 (train.freeze; the running
   statistics still update), over the same rates;
3. overfitting MLP and overfitting CNN: both models where they overfit,
   on --overfit_train_limit (1,000) training examples for --overfit_epochs
   (40) epochs, the LAST epoch's parameters kept (restoring the best epoch
   would early-stop the run, itself a regularizer), without and with batch
   norm before the activation, over --overfit_lrs and --overfit_cnn_lrs.

Columns:
- val acc, test acc (the restored best epoch; in the overfitting parts the
  last epoch), status (diverged runs show it: NaN or Inf);
- train acc, train-test gap (overfitting parts): accuracy on the training
  examples in inference mode (clean_train_accuracy_hook: running averages,
  as at test time), and it minus the test accuracy;
- steps to X: training steps until the validation accuracy first reaches
  --target (evaluated at each epoch's end; the cell counts only the seeds
  that reached it: '(k/n)');
- trains (val >= X): 1 when the run did not diverge and its last validation
  accuracy is at least --trains_above;
- BN gap: validation accuracy with BatchNorm in training mode (each batch of
  the training batch size normalized by its own statistics) minus inference
  mode (running averages) on the same examples, in points;
- x_hat abs batch mean, x_hat batch var: in training mode on those batches,
  each BatchNorm output with its gamma and beta undone (x_hat = (y - beta) /
  gamma), its |mean| and variance over each batch per unit, averaged over
  units, layers and batches: what the normalization step makes of a batch;
- gamma,beta reset cost: inference-mode validation accuracy with the learned
  gamma and beta minus with every gamma 1 and beta 0, in points;
- gamma, beta: mean (± std over seeds) of the learned BatchNorm scale and
  shift over all units; gamma sd: their spread over units (at init gamma 1,
  beta 0, spread 0).

Claims (issue 27's design; each rule reads only these columns, each setting
from its header, and each has a checked precondition):
- 004 G7 "faster convergence": steps to the target, each variant at its
  best swept rate, fewer with batch norm in the MLP and the CNN; only where
  the arms reach the target in most seeds;
- 004 G7 "a form of regularization" (an existence claim, "can"): in a
  model that overfits (no normalization's train-test gap >= 0.05 at its
  best rate), batch norm and none each at its best swept rate by
  validation accuracy (the same tuning budget for both, judged on the test
  set the choice never saw): a gap smaller by 0.01 AND a test accuracy no
  worse by more than 0.01; supported if some model shows both. Confound:
  batch norm also changes the optimization, so a gap can shrink because
  the training set is fitted less; the verdict's note splits the gap's
  change into train and test accuracy;
- 002 A6 Q1 "overall performance": test accuracy, each variant at its best
  swept rate, higher with batch norm by half a point in every model (the
  4-epoch parts and the overfitting parts);
- 004 G7 "higher learning rates": per seed, the largest swept rate at which
  the MLP still trains, higher with batch norm; only where the sweep
  reaches rates at which no normalization fails;
- 002 A6 Q1 "training stability": seeds that fail to train at the other
  initial scales (an all-or-nothing outcome: Fisher's exact test on the
  counts), fewer with batch norm;
- 002 A6 Q2 learnable gamma and beta "make the model converge faster": steps
  to the target, learned against frozen gamma and beta, each at its best
  swept rate, fewer when learned in the MLP and the CNN; only where both
  reach the target in most seeds (read at epoch ends: the runner evaluates
  once per epoch, so a difference under an epoch's steps cannot show);
- 002 A6 Q3 gamma and beta: learned ones give a higher test accuracy than
  ones frozen at 1 and 0, each net trained from scratch at its best rate
  (what resetting them after training costs is shown beside: it measures
  how much the net adapted to them, not whether learning them helps);
- 002 A6 Q2 the normalization step: per batch, mean within 0.05 of 0 and
  variance within 0.05 of 1.

  python experiments/batch_norm.py                        # defaults below
  python experiments/batch_norm.py --lrs=0.01,0.1,1,3 --init_gains=0.25,4
  python experiments/batch_norm.py --cnn_lrs=0.02 --config.model.width_mult=1
  python experiments/batch_norm.py --overfit_train_limit=500 --overfit_epochs=80

From Python: `run(size='smoke')`, or `run(config, workdir, lrs=[0.01, 0.1],
cnn_lrs=[])`.
"""
import math
import re
from typing import Optional, Sequence

import numpy as np

from dlexp import ablation, analysis, claims, cli, report

SCRIPT = cli.define_flags(
    'batch_norm', model='mlp', epochs=4, seeds=5,
    config={'optimizer.name': 'sgd', 'optimizer.momentum': 0.9,
            'optimizer.learning_rate': 0.01, 'diagnostics.every_epochs': 0,
            'data.train_limit': 4000, 'data.val_size': 2000,
            'model.width_mult': 0.25},
    smoke={'epochs': 2, 'seeds': 2, 'lrs': ['0.03', '1'], 'init_gains': ['2'],
           'cnn_lrs': [], 'config.model.depth': 6,
           'config.model.width': 32, 'config.data.train_limit': 1024,
           'config.data.val_size': 512, 'config.data.test_limit': 1000,
           'frozen_affine': False, 'overfit_lrs': ['0.03'],
           'overfit_cnn_lrs': [], 'overfit_train_limit': 256,
           'overfit_epochs': 3},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0,
          'config.data.val_size': -1,
          'lrs': ['0.003', '0.01', '0.03', '0.1', '0.3', '1', '3'],
          'init_gains': ['0.25', '0.5', '2', '4'],
          'cnn_lrs': ['0.01', '0.03', '0.1', '0.3', '1'],
          'cnn_train_limit': 0, 'config.model.width_mult': 1.0,
          'overfit_lrs': ['0.003', '0.01', '0.03', '0.1', '0.3'],
          'overfit_cnn_lrs': ['0.01', '0.03', '0.1', '0.3'],
          'overfit_epochs': 100})
_LRS = SCRIPT.list_flag('lrs', ['0.01', '0.03', '0.1', '0.3', '1'],
                        'Learning rates of the MLP sweep.')
_GAINS = SCRIPT.list_flag('init_gains', ['0.5', '2'],
                          'Initial weight scales of the MLP besides 1 '
                          '(config.model.init_gain).')
_CNN_LRS = SCRIPT.list_flag('cnn_lrs', ['0.1'],
                            'Learning rates of the CNN sweep; empty: no '
                            'CNN part.')
_CNN_TRAIN = SCRIPT.flag(
    'integer', 'cnn_train_limit', 2000, 'Training examples of the CNN part '
    '(config.data.train_limit there); 0 = as the MLP part.')
_OVERFIT_LRS = SCRIPT.list_flag(
    'overfit_lrs', ['0.01', '0.1'], 'Learning rates of the overfitting MLP '
    '(a small training set, trained long); each variant is judged at its '
    'best; empty: no such part.')
_OVERFIT_CNN_LRS = SCRIPT.list_flag(
    'overfit_cnn_lrs', ['0.01', '0.1'], 'Learning rates of the overfitting '
    'CNN (as the MLP); empty: no such part.')
_OVERFIT_TRAIN = SCRIPT.flag(
    'integer', 'overfit_train_limit', 1000, 'Training examples of the '
    'overfitting parts (config.data.train_limit there).')
_OVERFIT_EPOCHS = SCRIPT.flag(
    'integer', 'overfit_epochs', 40, 'Epochs of the overfitting parts '
    '(config.epochs there).')
_FROZEN_AFFINE = SCRIPT.flag(
    'bool', 'frozen_affine', True, 'Also train the batch-norm nets of the '
    'MLP and CNN parts with gamma and beta frozen at 1 and 0 '
    '(train.freeze), over the same rates.')
_TARGET = SCRIPT.flag('float', 'target', 0.65, 'Validation accuracy for the '
                      '"steps to" column.')
_TRAINS_ABOVE = SCRIPT.flag(
    'float', 'trains_above', 0.5, 'A run "still trains" when its last '
    'validation accuracy reaches this (and it did not diverge).')

_MLP, _CNN = 'deep MLP', 'CNN'
_OVERFIT, _OVERFIT_CNN = 'overfitting MLP', 'overfitting CNN'
_NONE = {'model.norm': ['none']}
_BN = {'model.norm': ['batch'], 'model.norm_position': ['before', 'after']}
# gamma and beta never trained (train.freeze), so every BatchNorm output is
# the normalized value itself; the running statistics still update. '.'
# stands for the '/' of a parameter path ('norm1/BatchNorm_0/scale'), which
# a trial's directory name cannot hold.
FROZEN_AFFINE = ('.+.BatchNorm_0.scale', '.+.BatchNorm_0.bias')
_FROZEN = {'model.norm': ['batch'], 'model.norm_position': ['before'],
           'train.freeze': [FROZEN_AFFINE]}


def _points(key):
  def value(run):
    v = run.final(key)
    return None if v is None else 100 * v
  return value


def steps_to(key: str, target: float, header: str) -> report.Column:
  """Training steps until `key` first reaches `target` at an epoch's end
  (the epoch's last step); no value where it never does."""
  def first(run):
    for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
      v = row.get(key)
      if (row.get('epoch', 0) >= 1 and v is not None and math.isfinite(v)
          and v >= target):
        return float(row['step'])
    return None
  return report.Column(header, first, '.0f')


def trains(threshold: float, header: str) -> report.Column:
  """1 when the run did not diverge and its last validation accuracy is
  at least `threshold`, else 0 (a run with no finite value did not)."""
  def value(run):
    if report.status_of(run) == 'diverged':
      return 0.0
    acc = report.last_value(run, 'val_accuracy')
    return float(acc is not None and math.isfinite(acc) and acc >= threshold)
  return report.Column(header, value, '.2f')


VAL = report.final('val_accuracy', 'val acc')
TEST = report.final('test_accuracy', 'test acc')
BN_GAP = report.Column('BN gap', _points('bn_mode_gap'), '+.2f')
BATCH_MEAN = report.final('bn_batch_abs_mean', 'x_hat abs batch mean', '.1e')
BATCH_VAR = report.final('bn_batch_var', 'x_hat batch var', '.5f')
AFFINE = report.Column('gamma,beta reset cost', _points('bn_affine_cost'),
                       '+.2f')


def _train_test_gap(run):
  train, test = run.final('clean_train_accuracy'), run.final('test_accuracy')
  return None if train is None or test is None else train - test


# The overfitting part keeps the last epoch (restore_best off), so these are
# the last epoch's values.
TRAIN = report.final('clean_train_accuracy', 'train acc')
GAP = report.Column('train-test gap', _train_test_gap, '.4f')
OVERFIT_COLUMNS = (TRAIN, VAL, TEST, GAP, report.default_column('wall s'))
STEPS_HEADER = re.compile(r'steps to (\S+)$')
TRAINS_HEADER = re.compile(r'trains \(val >= (\S+)\)$')


def columns(target: float, threshold: float):
  return (
      VAL, TEST,
      steps_to('val_accuracy', target, f'steps to {target:g}'),
      trains(threshold, f'trains (val >= {threshold:g})'),
      BN_GAP, BATCH_MEAN, BATCH_VAR, AFFINE,
      report.final('bn_gamma_mean', 'gamma', '.3f'),
      report.final('bn_gamma_std', 'gamma sd', '.3f'),
      report.final('bn_beta_mean', 'beta', '.3f'),
      report.default_column('wall s'))


# The script's own settings (its flags): run()'s keywords.
OPTIONS = ('lrs', 'init_gains', 'cnn_lrs', 'cnn_train_limit', 'overfit_lrs',
           'overfit_cnn_lrs', 'overfit_train_limit', 'overfit_epochs',
           'frozen_affine', 'target', 'trains_above')


def parts(lrs: Sequence, init_gains: Sequence, cnn_lrs: Sequence,
          cnn_train_limit: int, overfit_lrs: Sequence,
          overfit_cnn_lrs: Sequence, overfit_train_limit: int,
          overfit_epochs: int, frozen_affine: bool, target: float,
          trains_above: float):
  """The sweeps, from the script's settings (OPTIONS); an empty list of
  CNN or overfitting rates leaves that part out."""
  lr = {'optimizer.learning_rate': cli.list_flag(lrs, float, 'lrs')}
  gains = [g for g in cli.list_flag(init_gains, float, 'init_gains')
           if g != 1.0]
  mlp = [dict(_NONE, **lr), dict(_BN, **lr)] + (
      [dict(_FROZEN, **lr)] if frozen_affine else [])
  if gains:
    mlp += [dict(_NONE, **{'model.init_gain': gains}),
            {'model.norm': ['batch'], 'model.norm_position': ['before'],
             'model.init_gain': gains}]
  hooks = [analysis.batch_norm_hook]
  cols = columns(target, trains_above)
  out = [ablation.Part(_MLP, mlp, cols, settings={'model.name': 'mlp'},
                       final_hooks=hooks)]
  if cnn_lrs:
    cnn_lr = {'optimizer.learning_rate': cli.list_flag(cnn_lrs, float,
                                                       'cnn_lrs')}
    # Conv nets are slow on a CPU: a smaller training subset by default,
    # --cnn_train_limit standing in for data.train_limit in this part.
    limit = ({'data.train_limit': cnn_train_limit} if cnn_train_limit
             else {})
    cnn = [dict(_NONE, **cnn_lr), dict(_BN, **cnn_lr)] + (
        [dict(_FROZEN, **cnn_lr)] if frozen_affine else [])
    out.append(ablation.Part(_CNN, cnn, cols, settings={'model.name': 'cnn'},
                             final_hooks=hooks, flag_settings=limit))
  for name, model, rates, flag in (
      (_OVERFIT, 'mlp', overfit_lrs, 'overfit_lrs'),
      (_OVERFIT_CNN, 'cnn', overfit_cnn_lrs, 'overfit_cnn_lrs')):
    if rates:
      out.append(_overfit_part(name, model, cli.list_flag(rates, float, flag),
                               overfit_train_limit, overfit_epochs))
  return out


def _overfit_part(name: str, model: str, rates, train_limit: int,
                  epochs: int) -> ablation.Part:
  """A model where it overfits: a small training set trained long, the
  last epoch kept (restoring the best epoch would early-stop it, itself a
  regularizer), without and with batch norm over `rates`."""
  lr = {'optimizer.learning_rate': rates}
  bn = {'model.norm': ['batch'], 'model.norm_position': ['before']}
  # --overfit_train_limit and --overfit_epochs (`train_limit`, `epochs`)
  # stand in for data.train_limit and --epochs in this part.
  return ablation.Part(
      name, [dict(_NONE, **lr), dict(bn, **lr)], OVERFIT_COLUMNS,
      settings={'model.name': model, 'early_stopping.restore_best': False},
      final_hooks=[analysis.clean_train_accuracy_hook()],
      flag_settings={'data.train_limit': train_limit, 'epochs': epochs})


# -- verdicts -----------------------------------------------------------------
def _header(ev: claims.Evidence, pattern) -> tuple:
  """(header, its number): the setting a column was made with, read from
  the table (rules never read flags)."""
  for h in ev.headers():
    m = pattern.match(h)
    if m:
      return h, float(m.group(1))
  raise claims.MissingTrial(f'no column matching {pattern.pattern!r}')


def _axes(ev: claims.Evidence, trial: str):
  return {k.split('.')[-1]: v for k, v in ev.table[trial]['overrides'].items()}


def _sweep(ev: claims.Evidence, variant: str, position: str = 'before'):
  """[(learning rate, trial)] of a variant's learning-rate sweep, by rate:
  'none', 'batch' (learned gamma and beta) or 'frozen' (batch norm with
  gamma and beta frozen)."""
  norm = 'batch' if variant == 'frozen' else variant
  out = []
  for t in ev.trials:
    o = _axes(ev, t)
    if ('learning_rate' in o and o.get('norm') == norm
        and bool(o.get('freeze')) == (variant == 'frozen')
        and (norm == 'none' or o.get('norm_position') == position)):
      out.append((float(o['learning_rate']), t))
  if not out:
    raise claims.MissingTrial(f'no learning-rate sweep for {variant}')
  return sorted(out)


def best_rate_trial(ev: claims.Evidence, norm: str):
  """(rate, trial) of the variant's sweep with the best mean validation
  accuracy, every seed counted (each variant at its own tuned rate)."""
  def score(item):
    v = ev.sample(item[1], VAL, keep_collapsed=True).values
    return v.mean() if v.size else -1.0
  return max(_sweep(ev, norm), key=score)


_VARIANT = {'batch': 'batch norm', 'none': 'no normalization',
            'frozen': 'batch norm, gamma and beta frozen'}


def _name(norm: str, lr: float) -> str:
  return f'{_VARIANT[norm]} (lr {lr:g})'


def _share(ev: claims.Evidence, trial: str, header: str, where) -> float:
  c = ev.count(trial, key=header, where=where)
  return c.k / c.n if c.n else math.nan


def _reached(v) -> bool:
  return v is not None and math.isfinite(v)


def _parts(pev: claims.PartEvidence):
  return [(p, pev.part(p)) for p in (_MLP, _CNN) if p in pev.parts]


# 004 G7: faster convergence
# The smallest difference in steps that matters: 10, a third of an MLP epoch
# (31 steps) and under a CNN epoch (15); time is read at epoch ends, so no
# smaller difference can be seen.
STEP_MARGIN = 10
# Test accuracy learned gamma and beta must add over frozen ones to count as
# helping (half a point, as the other accuracy margins here).
GAMMA_MARGIN = 0.005


def _arms_reach_target(variants):
  """The lowest share, over the models and `variants` (each at its best
  rate), of seeds that reach the target."""
  def share(pev: claims.PartEvidence) -> float:
    shares = []
    for _, ev in _parts(pev):
      header, _ = _header(ev, STEPS_HEADER)
      for variant in variants:
        _, trial = best_rate_trial(ev, variant)
        shares.append(_share(ev, trial, header, _reached))
    return min(shares)
  return share


def _faster(pev: claims.PartEvidence) -> claims.Verdict:
  """Steps to the target validation accuracy, each variant at its best
  swept rate, per model: all models required."""
  cases = []
  for part, ev in _parts(pev):
    header, target = _header(ev, STEPS_HEADER)
    (lr_bn, bn), (lr_none, none) = (best_rate_trial(ev, 'batch'),
                                    best_rate_trial(ev, 'none'))
    cases.append((part, claims.less(
        ev.sample(bn, header, _name('batch', lr_bn)),
        ev.sample(none, header, _name('none', lr_none)), margin=STEP_MARGIN,
        what=f'training steps until validation accuracy {target:g}',
        fmt='.1f')))
  return claims.across(cases, 'all')


# 002 A6 Q2: learnable gamma and beta make the model converge faster
def _learnable_faster(pev: claims.PartEvidence) -> claims.Verdict:
  """Steps to the target validation accuracy, batch norm with learned
  gamma and beta against frozen ones (1 and 0), each at its best swept
  rate, per model: all models required (the margin as for 004 G7)."""
  cases = []
  for part, ev in _parts(pev):
    header, target = _header(ev, STEPS_HEADER)
    (lr_l, learned), (lr_f, frozen) = (best_rate_trial(ev, 'batch'),
                                       best_rate_trial(ev, 'frozen'))
    cases.append((part, claims.less(
        ev.sample(learned, header, _name('batch', lr_l)),
        ev.sample(frozen, header, _name('frozen', lr_f)), margin=STEP_MARGIN,
        what=f'training steps until validation accuracy {target:g}',
        fmt='.1f')))
  return claims.across(cases, 'all')


# 004 G7: higher learning rates
def largest_rates(ev: claims.Evidence, norm: str) -> claims.Sample:
  """Per seed, log10 of the largest swept learning rate at which the
  variant still trains (the table's 'trains' column); log10 of half the
  smallest rate where it trains at none."""
  header, _ = _header(ev, TRAINS_HEADER)
  sweep = _sweep(ev, norm)
  columns = [(lr, ev.column(t, header)) for lr, t in sweep]
  seeds = len(columns[0][1])
  floor = sweep[0][0] / 2
  best = [max([lr for lr, col in columns if col[s] == 1.0] or [floor])
          for s in range(seeds)]
  return claims.Sample(np.log10(best), _VARIANT[norm], seeds=seeds)


def _higher_rates(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_MLP)
  a, b = largest_rates(ev, 'batch'), largest_rates(ev, 'none')
  return claims.greater(
      a, b, margin=0.25, what='log10 of the largest swept learning rate at '
      'which the deep MLP still trains (margin 0.25: under half a step of '
      'the ~3x sweep)', fmt='.2f').with_note(
          f'geometric means {10 ** a.values.mean():.3g} vs '
          f'{10 ** b.values.mean():.3g}')


def _sweep_edges(pev: claims.PartEvidence, end: int) -> float:
  """The share of seeds in which no normalization still trains at the
  sweep's smallest (end 0) or largest (end -1) rate."""
  ev = pev.part(_MLP)
  header, _ = _header(ev, TRAINS_HEADER)
  _, trial = _sweep(ev, 'none')[end]
  return _share(ev, trial, header, lambda v: v == 1.0)


# 002 A6 Q1: stability
def _gain_trials(ev: claims.Evidence, norm: str):
  out = [t for t in ev.trials if 'init_gain' in _axes(ev, t)
         and _axes(ev, t).get('norm') == norm]
  if not out:
    raise claims.MissingTrial('no --init_gains in this grid')
  return out


def _failures(ev: claims.Evidence, norm: str, name: str) -> claims.Count:
  """Seeds that failed to train (diverged or below the threshold), pooled
  over the initial scales."""
  header, threshold = _header(ev, TRAINS_HEADER)
  counts = [ev.count(t, key=header, where=lambda v: v != 1.0)
            for t in _gain_trials(ev, norm)]
  return claims.Count(sum(c.k for c in counts), sum(c.n for c in counts),
                      name, f'failed to train (diverged, or val < '
                      f'{threshold:g}), over the initial scales')


def _stability(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_MLP)
  gains = sorted({_axes(ev, t)['init_gain'] for t in _gain_trials(ev, 'none')})
  return claims.rate_greater(
      _failures(ev, 'none', 'no normalization'),
      _failures(ev, 'batch', 'batch norm'),
      'seeds that failed to train at initial weight scales '
      f'{", ".join(f"{g:g}" for g in gains)} x He').with_note(
          'pooled: each scale is a run of its own')


def _baseline_trains(pev: claims.PartEvidence) -> float:
  ev = pev.part(_MLP)
  header, _ = _header(ev, TRAINS_HEADER)
  _, trial = best_rate_trial(ev, 'none')
  return _share(ev, trial, header, lambda v: v == 1.0)


# 002 A6 Q3 and 002 A6 Q2: the batch-norm net at its best rate
def _bn_trains(pev: claims.PartEvidence) -> float:
  """The lower, over the models, of the batch-norm net's mean validation
  accuracy at its best rate (every seed counted)."""
  means = []
  for _, ev in _parts(pev):
    _, trial = best_rate_trial(ev, 'batch')
    v = ev.sample(trial, VAL, keep_collapsed=True).values
    means.append(v.mean() if v.size else math.nan)
  return min(means)


def _gamma_beta(pev: claims.PartEvidence) -> claims.Verdict:
  """Test accuracy with gamma and beta learned against the same batch norm
  with them frozen at 1 and 0, each trained from scratch at its best swept
  rate, per model (all required): learning them helps by more than the
  margin. The post-hoc reset (learned values replaced by 1 and 0 after
  training) measures how much the net adapted to them, not whether
  learning them helps: it is a note."""
  cases, resets = [], []
  for part, ev in _parts(pev):
    (lr_l, learned), (lr_f, frozen) = (best_rate_trial(ev, 'batch'),
                                       best_rate_trial(ev, 'frozen'))
    cases.append((part, claims.greater(
        ev.sample(learned, TEST, _name('batch', lr_l)),
        ev.sample(frozen, TEST, _name('frozen', lr_f)), GAMMA_MARGIN,
        'test accuracy')))
    resets.append(f'{part} ' + claims.describe(
        ev.sample(learned, AFFINE, '').values, '.2f'))
  return claims.across(cases, 'all').with_note(
      'validation accuracy lost, in points, when the learned gamma and beta '
      'are reset to 1 and 0 after training (dependence, not optimality): '
      + '; '.join(resets))


def _batch_statistics(pev: claims.PartEvidence) -> claims.Verdict:
  """Training mode, per batch and unit, after the normalization step:
  |mean| within 0.05 of 0 and variance within 0.05 of 1, per model."""
  cases = []
  for part, ev in _parts(pev):
    lr, trial = best_rate_trial(ev, 'batch')
    name = f'batch norm (lr {lr:g})'
    cases += [
        (f'{part}: mean', claims.within(
            ev.sample(trial, BATCH_MEAN, name, keep_collapsed=True), 0.0,
            0.05,
            '|batch mean| of the normalized values (margin 0.05: a '
            'twentieth of the unit scale)', fmt='.2e')),
        (f'{part}: variance', claims.within(
            ev.sample(trial, BATCH_VAR, name, keep_collapsed=True), 1.0,
            0.05,
            'batch variance of the normalized values (margin 0.05: a '
            'twentieth of the unit scale)', fmt='.5f')),
    ]
  return claims.across(cases, 'and')  # mean 0 and variance 1, everywhere


# 004 G7: a form of regularization
# A point of train - test accuracy gap removed is the least that counts as
# less overfitting; the test accuracy may not fall by more than a point (a
# gap shrunk by losing test accuracy is underfitting, not regularization).
GAP_MARGIN = 0.01
KEEP_MARGIN = 0.01
# The baseline overfits: its train - test gap at least 5 points (a small
# training set trained long gives 0.1-0.2 here; under 0.05 there is little
# overfitting for a regularizer to remove).
OVERFITS = 0.05


def _overfit_parts(pev: claims.PartEvidence):
  out = [(p, pev.part(p)) for p in (_OVERFIT, _OVERFIT_CNN)
         if p in pev.parts]
  if not out:
    raise claims.MissingTrial('no overfitting part (--overfit_lrs, '
                              '--overfit_cnn_lrs) in this grid')
  return out


def _baseline_gap(pev: claims.PartEvidence) -> float:
  """The lower, over the overfitting models, of no normalization's mean
  train - test gap at its best rate."""
  gaps = []
  for _, ev in _overfit_parts(pev):
    _, trial = best_rate_trial(ev, 'none')
    v = ev.sample(trial, GAP).values
    gaps.append(v.mean() if v.size else math.nan)
  return min(gaps)


def _arms_train(models):
  """The lowest mean validation accuracy (every seed counted) of no
  normalization and batch norm, each at its best rate, over `models(pev)`:
  a net at chance has no gap and no accuracy to compare, it learns nothing."""
  def lowest(pev: claims.PartEvidence) -> float:
    means = []
    for _, ev in models(pev):
      for norm in ('none', 'batch'):
        _, trial = best_rate_trial(ev, norm)
        v = ev.sample(trial, VAL, keep_collapsed=True).values
        means.append(v.mean() if v.size else math.nan)
    return min(means)
  return lowest


def _mean(ev: claims.Evidence, trial: str, key) -> float:
  v = ev.sample(trial, key).values
  return v.mean() if v.size else math.nan


def _regularizes_case(part: str, ev: claims.Evidence):
  """One model: batch norm and none each at its best swept rate; a
  smaller train - test gap AND a test accuracy no worse (Holm over the
  two); the note says where the gap moved, train or test accuracy."""
  (lr_bn, bn), (lr_none, none) = (best_rate_trial(ev, 'batch'),
                                  best_rate_trial(ev, 'none'))
  a, b = _name('batch', lr_bn), _name('none', lr_none)
  verdict = claims.across([
      ('train-test gap', claims.less(
          ev.sample(bn, GAP, a), ev.sample(none, GAP, b), GAP_MARGIN,
          'train - test accuracy gap (train accuracy in inference mode, '
          'last epoch)')),
      ('test accuracy', claims.not_worse(
          ev.sample(bn, TEST, a), ev.sample(none, TEST, b), KEEP_MARGIN,
          'test accuracy (last epoch)')),
  ], 'and')
  d_train = _mean(ev, bn, TRAIN) - _mean(ev, none, TRAIN)
  d_test = _mean(ev, bn, TEST) - _mean(ev, none, TEST)
  # The confound: a gap can shrink because batch norm fits the training set
  # less (another optimization), not because it generalizes better.
  why = ('the gap does not shrink' if d_train - d_test >= 0 else
         'it shrinks mostly because train accuracy falls' if -d_train > d_test
         else 'it shrinks mostly because test accuracy rises')
  return (part, verdict.with_note(
      f'{part}, batch norm minus none: gap {d_train - d_test:+.4f} = train '
      f'accuracy {d_train:+.4f} - test accuracy {d_test:+.4f} ({why})'))


def _regularizes(pev: claims.PartEvidence) -> claims.Verdict:
  """An existence claim ("can"): supported where batch norm, in some
  model that overfits, shrinks the gap without costing test accuracy."""
  return claims.across([_regularizes_case(p, ev)
                        for p, ev in _overfit_parts(pev)], 'any')


# 002 A6 Q1: overall performance
# Half a point of test accuracy: the smallest gain that matters.
PERFORMANCE_MARGIN = 0.005


def _all_parts(pev: claims.PartEvidence):
  return _parts(pev) + [(p, pev.part(p)) for p in (_OVERFIT, _OVERFIT_CNN)
                        if p in pev.parts]


def _performance(pev: claims.PartEvidence) -> claims.Verdict:
  """Test accuracy, each variant at its best swept rate, higher with
  batch norm in every model ('all': a general claim): the 4-epoch parts
  (the restored best epoch) and the long-trained small-data parts (the
  last epoch)."""
  cases = []
  for part, ev in _all_parts(pev):
    (lr_bn, bn), (lr_none, none) = (best_rate_trial(ev, 'batch'),
                                    best_rate_trial(ev, 'none'))
    cases.append((part, claims.greater(
        ev.sample(bn, TEST, _name('batch', lr_bn)),
        ev.sample(none, TEST, _name('none', lr_none)),
        margin=PERFORMANCE_MARGIN, what='test accuracy')))
  return claims.across(cases, 'all')


_PROXY = ('proxy: Fashion-MNIST (4,000 and 2,000 training images), the '
          'notes\' 20x100 ReLU MLP and a quarter-width small CNN, 4 epochs of '
          'SGD with momentum 0.9')

CLAIMS = (
    claims.Claim(
        '004 G7', 'faster convergence during training',
        tested_as=f'{_PROXY}: training steps until the validation accuracy '
        'first reaches the target (evaluated at each epoch\'s end), batch '
        'norm (before the activation) against none, each at its best swept '
        'rate; the MLP and the CNN both required (Welch, margin 10 steps)',
        rule=_faster,
        regime=(claims.requires(
            'every arm compared reaches the target in most seeds (the '
            'lowest share of seeds)', _arms_reach_target(('none', 'batch')),
            '>=', 0.8),)),
    claims.Claim(
        '004 G7', 'the ability to use higher learning rates',
        tested_as=f'{_PROXY}: per seed, log10 of the largest swept rate at '
        'which the MLP still trains (last validation accuracy >= 0.5, not '
        'diverged), batch norm before the activation against none (Welch, '
        'margin 0.25)',
        rule=_higher_rates,
        regime=(claims.requires(
            'no normalization trains at the smallest swept rate (share of '
            'seeds)', lambda pev: _sweep_edges(pev, 0), '>=', 0.8),
                claims.requires(
                    'the sweep reaches a rate where no normalization fails '
                    '(share of seeds that still train at the largest rate)',
                    lambda pev: _sweep_edges(pev, -1), '<=', 0.2))),
    claims.Claim(
        '004 G7', 'It can also act as a form of regularization, reducing '
        'the risk of overfitting',
        tested_as='proxy: Fashion-MNIST, 1,000 training images trained 40 '
        'epochs with SGD (momentum 0.9), the last epoch kept (no early '
        'stopping), the notes\' 20x100 ReLU MLP and a quarter-width small '
        'CNN; batch norm (before the activation) against none, each at its '
        'best swept rate by validation accuracy; per model, a train - test '
        'accuracy gap smaller by 0.01 (train accuracy in inference mode on '
        'the training examples; Welch) AND a test accuracy no worse by more '
        'than 0.01 (non-inferiority), Holm; supported if some model shows '
        'both. Confound: batch norm also changes the optimization (the '
        'note says whether the gap moved with train or test accuracy)',
        rule=_regularizes, existence=True,
        regime=(claims.requires(
            'no normalization overfits at its best rate: train - test gap '
            '(the lower mean over the models)', _baseline_gap, '>=',
            OVERFITS),
                claims.requires(
                    'every arm compared trains (the lowest mean validation '
                    'accuracy)', _arms_train(_overfit_parts), '>=', 0.5))),
    claims.Claim(
        '002 A6 Q1', 'Batch norm. layers help improving model overall '
        'performance',
        tested_as='proxy: Fashion-MNIST; test accuracy, batch norm (before '
        'the activation) against none, each at its best swept rate by '
        'validation accuracy, in every model: the 20x100 MLP (4,000 images) '
        'and the small CNN (2,000 images) after 4 epochs (the best epoch '
        'restored), and both on 1,000 images after 40 epochs (the last '
        'epoch); higher by half a point (Welch, margin 0.005), all models '
        'required (Holm)',
        rule=_performance,
        regime=(claims.requires(
            'every arm compared trains (the lowest mean validation '
            'accuracy)', _arms_train(_all_parts), '>=', 0.5),)),
    claims.Claim(
        '002 A6 Q1', 'boosting training stability',
        tested_as=f'{_PROXY}: seeds of the MLP that fail to train (diverge '
        'or end below 0.5 validation accuracy) at initial weight scales '
        'other than He\'s, pooled over the scales, without against with '
        'batch norm (Fisher)',
        rule=_stability,
        regime=(claims.requires(
            'no normalization trains at its best rate with He\'s scale '
            '(share of seeds)', _baseline_trains, '>=', 0.8),)),
    claims.Claim(
        '002 A6 Q2', 'learnable hyperparameters `gamma` and `beta` that finds '
        'the optimal scale and shift value of the normalized batch which '
        'makes the model converge faster',
        tested_as=f'{_PROXY}: training steps until the validation accuracy '
        'first reaches the target (evaluated at each epoch\'s end: 31 steps '
        'in the MLP, 15 in the CNN), batch norm before the activation with '
        'gamma and beta learned against frozen at 1 and 0 (train.freeze), '
        'each at its best swept rate; the MLP and the CNN both required '
        '(Welch, margin 10 steps)',
        rule=_learnable_faster,
        regime=(claims.requires(
            'both arms reach the target in most seeds (the lowest share of '
            'seeds)', _arms_reach_target(('batch', 'frozen')), '>=', 0.8),)),
    claims.Claim(
        '002 A6 Q3', 'Gamma ... and beta ... enable the model to decide the '
        'optimal scale and shift',
        tested_as=f'{_PROXY}: test accuracy with gamma and beta learned '
        'against frozen at 1 and 0 (train.freeze), each trained from '
        'scratch at its best swept rate, batch norm before the activation; '
        'greater by a margin of 0.005 (Welch), the MLP and the CNN both '
        'required; the accuracy lost when the learned values are reset to '
        '1 and 0 after training (how much the net adapted to them, not '
        'whether learning them helps) is stated beside',
        rule=_gamma_beta,
        regime=(claims.requires(
            'the batch-norm nets train (the lower mean validation accuracy)',
            _bn_trains, '>=', 0.5),)),
    claims.Claim(
        '002 A6 Q2', 'normalization: trying to get each batch `mean` to `0` and '
        '`variance` to `1` by subtracting the mean from the batch and '
        'deviding by `STD`',
        tested_as='implementation check (the sentence describes what the '
        f'layer computes, so only a bug could fail it); {_PROXY}: in training '
        'mode, on validation batches of '
        'the training batch size, each batch\'s per-unit mean and variance of '
        'the normalized values (each BatchNorm output with its gamma and '
        'beta undone), averaged over units and layers: |mean| within 0.05 '
        'of 0 and variance within 0.05 of 1, MLP and CNN (batch norm before '
        'the activation, best rate)',
        rule=_batch_statistics,
        regime=(claims.requires(
            'the batch-norm nets train (the lower mean validation accuracy)',
            _bn_trains, '>=', 0.5),)),
)


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, lrs: Optional[Sequence] = None,
        init_gains: Optional[Sequence] = None,
        cnn_lrs: Optional[Sequence] = None,
        cnn_train_limit: Optional[int] = None,
        overfit_lrs: Optional[Sequence] = None,
        overfit_cnn_lrs: Optional[Sequence] = None,
        overfit_train_limit: Optional[int] = None,
        overfit_epochs: Optional[int] = None,
        frozen_affine: Optional[bool] = None, target: Optional[float] = None,
        trains_above: Optional[float] = None,
        session=None) -> ablation.Result:
  """Trains the parts and decides the claims. From Python:
  `run(size='smoke')`, or `run(config, 'runs/mine', lrs=[0.01, 0.1],
  cnn_lrs=[])`; the command line's flags give the same arguments."""
  session, config = SCRIPT.start(config, workdir, size, session)
  args = dict(lrs=lrs, init_gains=init_gains, cnn_lrs=cnn_lrs,
              cnn_train_limit=cnn_train_limit, overfit_lrs=overfit_lrs,
              overfit_cnn_lrs=overfit_cnn_lrs,
              overfit_train_limit=overfit_train_limit,
              overfit_epochs=overfit_epochs, frozen_affine=frozen_affine,
              target=target, trains_above=trains_above)
  settings = {k: SCRIPT.axis(k, session.size) if args[k] is None else args[k]
              for k in OPTIONS}
  return ablation.run_parts(
      session, parts(**settings), config, title='Batch normalization',
      axis_flags={'optimizer.learning_rate': 'lrs',
                  'model.init_gain': 'init_gains'},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), lrs=_LRS.value, init_gains=_GAINS.value,
      cnn_lrs=_CNN_LRS.value, cnn_train_limit=_CNN_TRAIN.value,
      overfit_lrs=_OVERFIT_LRS.value, overfit_cnn_lrs=_OVERFIT_CNN_LRS.value,
      overfit_train_limit=_OVERFIT_TRAIN.value,
      overfit_epochs=_OVERFIT_EPOCHS.value,
      frozen_affine=_FROZEN_AFFINE.value, target=_TARGET.value,
      trains_above=_TRAINS_ABOVE.value, session=cli.session())

if __name__ == '__main__':
  cli.run_main(main)
