r"""What does batch normalization buy: faster training, higher learning rates,
robustness to the initial scale? Before or after the activation? What do
gamma and beta learn, and how far apart are training and inference mode?

The notes (seed 002, questions 1-3; seed 004, group 7) say batch norm
boosts "training stability", accelerates training ("faster convergence"),
allows "higher learning rates", normalizes each batch to mean 0 and
variance 1, and that the learned gamma and beta "enable the model to decide
the optimal scale and shift". This trains, with SGD (momentum 0.9) and
several seeds each, two models without and with BatchNorm, the norm layer
before the activation (dense/conv -> BN -> ReLU, the paper's order) or
after it (-> ReLU -> BN):

1. deep MLP: the notes' exercise net (20 hidden ReLU layers of 100 units),
   over a learning-rate sweep (--lrs), and at initial weight scales
   (--init_gains: multiplies He-normal's std) at the default rate;
2. CNN: the small Keras CNN (conv32-pool-conv64-pool-dense128, width scaled
   by model.width_mult) over --cnn_lrs, on --cnn_train_limit examples.

Columns:
- val acc, test acc (the restored best epoch), status (diverged runs
  show it: NaN or Inf);
- ep to X: first epoch whose validation accuracy reaches --target (the
  cell counts only the seeds that reached it: '(k/n)');
- val acc train-mode, BN gap: validation accuracy with BatchNorm in training
  mode (each batch of the training batch size normalized by its own
  statistics, as while training; whole batches only) and its difference
  from inference mode (running averages) on the same examples, in points
  of accuracy;
- gamma, beta: mean (± std over seeds) of the learned BatchNorm scale and
  shift over all units; gamma sd: their spread over units (at init gamma 1,
  beta 0, spread 0).

Verdicts: 'still trains' means validation accuracy >= --trains_above and
not diverged; the largest such rate per seed is compared between variants.

  python experiments/batch_norm.py                        # defaults below
  python experiments/batch_norm.py --lrs=0.01,0.1,1,3 --init_gains=0.25,4
  python experiments/batch_norm.py --cnn_lrs=0.02 --config.model.width_mult=1
"""
import math

import numpy as np
from absl import flags

from dlexp import analysis, claims, cli, report

_LRS = flags.DEFINE_list('lrs', ['0.01', '0.03', '0.1', '0.3', '1'],
                         'Learning rates of the MLP sweep.')
_GAINS = flags.DEFINE_list('init_gains', ['0.5', '2'],
                           'Initial weight scales of the MLP besides 1 '
                           '(config.model.init_gain).')
_CNN_LRS = flags.DEFINE_list('cnn_lrs', ['0.1'],
                             'Learning rates of the CNN sweep; empty: no '
                             'CNN part.')
_CNN_TRAIN = flags.DEFINE_integer(
    'cnn_train_limit', 2000, 'Training examples of the CNN part '
    '(config.data.train_limit there); 0 = as the MLP part.')
_TARGET = flags.DEFINE_float('target', 0.65, 'Validation accuracy for the '
                             '"ep to" column.')
_TRAINS_ABOVE = flags.DEFINE_float(
    'trains_above', 0.5, 'A run "still trains" when its validation '
    'accuracy reaches this (and it did not diverge).')

cli.define_flags(
    'batch_norm', model='mlp', epochs=4, seeds=3,
    config={'optimizer.name': 'sgd', 'optimizer.momentum': 0.9,
            'optimizer.learning_rate': 0.03, 'diagnostics.every_epochs': 0,
            'data.train_limit': 4000, 'data.val_size': 2000,
            'model.width_mult': 0.25},
    smoke={'epochs': 2, 'seeds': 2, 'lrs': ['0.03', '1'], 'init_gains': ['2'],
           'cnn_lrs': [], 'config.model.depth': 6,
           'config.model.width': 32, 'config.data.train_limit': 1024,
           'config.data.val_size': 512, 'config.data.test_limit': 1000},
    full={'epochs': 20, 'seeds': 5, 'config.data.train_limit': 0,
          'config.data.val_size': -1,
          'lrs': ['0.003', '0.01', '0.03', '0.1', '0.3', '1', '3'],
          'init_gains': ['0.25', '0.5', '2', '4'],
          'cnn_lrs': ['0.01', '0.03', '0.1', '0.3', '1'],
          'cnn_train_limit': 0, 'config.model.width_mult': 1.0})

_MLP, _CNN = 'deep MLP', 'CNN'
_NONE = {'model.norm': ['none']}
_BN = {'model.norm': ['batch'], 'model.norm_position': ['before', 'after']}


def _gap(run):
  gap = run.final('bn_mode_gap')
  return None if gap is None else 100 * gap


def columns(target: float):
  return (
      report.final('val_accuracy', 'val acc'),
      report.final('test_accuracy', 'test acc'),
      report.epochs_to('val_accuracy', target, f'ep to {target:g}'),
      report.final('val_accuracy_train_mode', 'val acc train-mode'),
      report.Column('BN gap', _gap, '+.2f'),
      report.final('bn_gamma_mean', 'gamma', '.3f'),
      report.final('bn_gamma_std', 'gamma sd', '.3f'),
      report.final('bn_beta_mean', 'beta', '.3f'),
      report.DEFAULT_COLUMNS[3])


def parts():
  lrs = cli.list_flag(_LRS.value, float, 'lrs')
  gains = [g for g in cli.list_flag(_GAINS.value, float, 'init_gains')
           if g != 1.0]
  lr = {'optimizer.learning_rate': lrs}
  mlp = [dict(_NONE, **lr), dict(_BN, **lr)]
  if gains:
    mlp += [dict(_NONE, **{'model.init_gain': gains}),
            {'model.norm': ['batch'], 'model.norm_position': ['before'],
             'model.init_gain': gains}]
  hooks = [analysis.batch_norm_hook]
  cols = columns(_TARGET.value)
  out = [cli.Part(_MLP, mlp, cols, settings={'model.name': 'mlp'},
                  final_hooks=hooks)]
  if _CNN_LRS.value:
    cnn_lr = {'optimizer.learning_rate': cli.list_flag(_CNN_LRS.value, float,
                                                       'cnn_lrs')}
    # Conv nets are slow on a CPU: a smaller training subset by default,
    # --cnn_train_limit standing in for data.train_limit in this part.
    limit = ({'data.train_limit': _CNN_TRAIN.value} if _CNN_TRAIN.value
             else {})
    out.append(cli.Part(_CNN, [dict(_NONE, **cnn_lr), dict(_BN, **cnn_lr)],
                        cols, settings={'model.name': 'cnn'},
                        final_hooks=hooks, flag_settings=limit))
  return out


# -- verdicts --------------------------------------------------------------------
def _overrides(ev, trial):
  return {k.split('.')[-1]: v for k, v in
          (ev.groups[trial][0].config.get('overrides') or {}).items()}


def _variant(o) -> str:
  return 'none' if o.get('norm') == 'none' else o.get('norm_position', '')


def _trains(run) -> bool:
  acc = run.final('val_accuracy')
  return (run.status.get('status') == 'done' and acc is not None
          and math.isfinite(acc) and acc >= _TRAINS_ABOVE.value)


def largest_rates(ev: claims.Evidence, variant: str):
  """Per seed, log10 of the largest swept learning rate at which `variant`
  still trains (log10 of half the smallest rate when none does)."""
  by_seed = {}
  rates = []
  for name in ev.trials:
    o = _overrides(ev, name)
    if _variant(o) != variant or 'learning_rate' not in o:
      continue
    rates.append(o['learning_rate'])
    for run in ev.groups[name]:
      if _trains(run):
        by_seed[run.seed] = max(by_seed.get(run.seed, 0.0),
                                o['learning_rate'])
  if not rates:
    raise KeyError(f'no learning-rate sweep for variant {variant!r}')
  seeds = sorted({r.seed for n in ev.trials for r in ev.groups[n]})
  floor = min(rates) / 2
  return np.log10([by_seed.get(s, floor) for s in seeds])


def _higher_rates(pev: claims.PartEvidence) -> claims.Verdict:
  ev = pev.part(_MLP)
  a, b = largest_rates(ev, 'before'), largest_rates(ev, 'none')
  verdict = claims.compare(a, b, 'log10 of the largest learning rate that '
                           'still trains (deep MLP)', 'batch norm',
                           'no normalization', fmt='.2f')
  text = (f'{verdict.evidence}; that is {10 ** a.mean():.3g} vs '
          f'{10 ** b.mean():.3g} (geometric means)')
  if _CNN in pev.parts:
    c = pev.part(_CNN)
    try:
      text += (f'; CNN: {10 ** largest_rates(c, "before").mean():.3g} vs '
               f'{10 ** largest_rates(c, "none").mean():.3g}')
    except KeyError:
      pass
  return claims.Verdict(verdict.verdict, text)


def _epochs_to_target(ev, trial, epochs: int):
  """Per seed, the first epoch reaching --target (epochs + 1 if never)."""
  column = report.epochs_to('val_accuracy', _TARGET.value, '')
  return np.array([column.value(r) or epochs + 1 for r in ev.groups[trial]],
                  float)


def best_rate_trial(ev: claims.Evidence, norm: str, **fixed):
  """The trial of the learning-rate sweep with the best mean validation
  accuracy for this variant (each variant at its own tuned rate)."""
  best = None
  for name in ev.trials:
    o = _overrides(ev, name)
    if ('learning_rate' not in o or o.get('norm') != norm
        or any(o.get(k) != v for k, v in fixed.items())):
      continue
    acc = ev.values(name, 'val_accuracy')
    score = acc.mean() if acc.size else -1.0
    if best is None or score > best[0]:
      best = (score, o['learning_rate'], name)
  if best is None:
    raise KeyError(f'no learning-rate sweep for norm={norm} {fixed}')
  return best[1], best[2]


def _faster(pev: claims.PartEvidence) -> claims.Verdict:
  """Epochs to the target, each variant at its best swept rate, per model:
  both faster supports, one of them depends."""
  verdicts = []
  for part in (_MLP, _CNN):
    if part not in pev.parts:
      continue
    ev = pev.part(part)
    lr_bn, bn = best_rate_trial(ev, 'batch', norm_position='before')
    lr_none, none = best_rate_trial(ev, 'none')
    epochs = (ev.groups[bn][0].config.get('config') or {}).get('epochs', 0)
    v = claims.compare(_epochs_to_target(ev, none, epochs),
                       _epochs_to_target(ev, bn, epochs),
                       f'{part}: epochs to val accuracy {_TARGET.value:g} '
                       f'({epochs + 1} = not within {epochs})',
                       f'no normalization (lr {lr_none:g})',
                       f'batch norm (lr {lr_bn:g})', fmt='.1f')
    verdicts.append(v)
  return claims.across(verdicts, 'model')


def _stability(pev: claims.PartEvidence) -> claims.Verdict:
  """Validation accuracy at the worst of the initial scales: with batch norm
  against without."""
  ev = pev.part(_MLP)
  gains = sorted({_overrides(ev, t).get('init_gain') for t in ev.trials}
                 - {None})
  if not gains:
    raise KeyError('no --init_gains in this grid')
  worst = {}
  for norm, kw in (('none', {}), ('batch', {'norm_position': 'before'})):
    means = [(ev.values(ev.trial(norm=norm, init_gain=g, **kw),
                        'val_accuracy').mean(), g) for g in gains]
    worst[norm] = min(means)[1]
  pick = lambda norm, **kw: ev.values(
      ev.trial(norm=norm, init_gain=worst[norm], **kw), 'val_accuracy')
  return claims.compare(pick('batch', norm_position='before'), pick('none'),
                        'deep MLP validation accuracy at the worst initial '
                        f'scale ({", ".join(f"{g:g}" for g in gains)})',
                        f'batch norm (gain {worst["batch"]:g})',
                        f'no normalization (gain {worst["none"]:g})')


def _gamma_beta(pev: claims.PartEvidence) -> claims.Verdict:
  """Learned: the units' gammas and betas spread away from their common
  initial values (1 and 0)."""
  ev = pev.part(_MLP)
  _, trial = best_rate_trial(ev, 'batch', norm_position='before')
  g_sd, g = ev.values(trial, 'bn_gamma_std'), ev.values(trial, 'bn_gamma_mean')
  b_sd, b = ev.values(trial, 'bn_beta_std'), ev.values(trial, 'bn_beta_mean')
  text = (f'gamma {claims.describe(g, ".3f")} (sd over units '
          f'{claims.describe(g_sd, ".3f")}), beta {claims.describe(b, ".3f")} '
          f'(sd {claims.describe(b_sd, ".3f")}), from 1 and 0 at init ({trial})')
  if not g_sd.size:
    return claims.Verdict(claims.INCONCLUSIVE, text)
  if g_sd.min() > 0.01 and b_sd.min() > 0.01:
    return claims.Verdict(claims.SUPPORTED, text)
  return claims.Verdict(claims.CONTRADICTED, text + ' (barely moved)')


def _batch_statistics(pev: claims.PartEvidence) -> claims.Verdict:
  """The notes describe only the batch statistics; inference uses running
  averages. Within 1 point of accuracy, the description is enough."""
  ev = pev.part(_MLP)
  _, trial = best_rate_trial(ev, 'batch', norm_position='before')
  gap = ev.values(trial, report.Column('', _gap))
  return claims.near(gap, 0.0, 1.0, 'validation accuracy in training mode '
                     f'(batch statistics) minus inference mode (running '
                     f'averages), points, {trial}', '+.2f')


CLAIMS = (
    claims.Claim('004 G7', 'faster convergence during training', _faster),
    claims.Claim('004 G7', 'the ability to use higher learning rates',
                 _higher_rates),
    claims.Claim('002 Q1', 'boosting training stability', _stability),
    claims.Claim('002 Q3', 'Gamma and beta ... enable the model to decide the '
                 'optimal scale and shift', _gamma_beta),
    claims.Claim('002 Q2', 'normalization: trying to get each batch mean to 0 '
                 'and variance to 1 by subtracting the mean from the batch '
                 'and dividing by STD', _batch_statistics),
)


def main(_):
  cli.run_parts(parts(), title='Batch normalization',
                axis_flags={'optimizer.learning_rate': 'lrs',
                            'model.init_gain': 'init_gains'},
                claims=CLAIMS)


if __name__ == '__main__':
  cli.run_main(main)
