r"""Does a network pretrained on one task learn a related one faster and better,
most of all with few labels, and can a bad source hurt?

Seed 000, question 5: transfer learning "saves alot of time and boosts
performance". Seed 001, question 8: it "is particularly beneficial when the
amount of labeled data for a new task is limited", and "Negative Transfer:
Sometimes, the pre-trained model's knowledge may not align well with the new
task, leading to poor performance". Seed 004, groups 9-10: it "saves
training time and data and often results in better performance"; a
pre-trained model is fine-tuned "by adjusting the output layer and
retraining".

A source network is trained on Fashion-MNIST classes 0-4 (T-shirt, trouser,
pullover, dress, coat); the target task is classes 5-9 (sandal, shirt,
sneaker, bag, ankle boot) with 1 %, 10 % and 100 % of its training labels.
Each target run is one of: from scratch; the source's base frozen under a
new head (init.skip the logits, train.freeze the rest); full fine-tuning;
fine-tuning with a 10x lower learning rate for the base
(train.lr_scale_params, train.lr_scale); and the frozen and fine-tuned runs
again from a CORRUPTED source, trained on the same images with random labels
(data.label_noise=1), the negative-transfer case. Each target seed starts
from its own source seed. Smaller label fractions train more epochs, so that
every run takes at least --min_steps steps (capped at --max_epochs). The
default network is an MLP (784-256-128, ReLU): its first layer learns
pixel templates of the source's classes; --model=cnn transfers convolution
filters instead (slower on a CPU). Columns:

- epochs: epochs trained; test acc, best epoch: of the restored
  best-validation epoch;
- epochs to T, seconds to T: the first epoch (and the training seconds) at
  which the validation accuracy reaches --target (time to accuracy);
  seeds that never reach it are left out of the mean (the cell says so).

No ImageNet weights can be downloaded here (no network, and dlexp ships
none): the source is trained by this script. --source=PATH starts the
transfer runs from any saved dlexp model instead (dlexp.load(...).save(),
a run directory, or a bigger network trained on a GPU), as long as its base
fits the target model; a model of several seeds starts each target seed
from its own.

  python experiments/transfer_learning.py                 # MLP, Fashion-MNIST
  python experiments/transfer_learning.py --model=cnn --fractions=0.01,1
  python experiments/transfer_learning.py --source=runs/big/model --fractions=0.01
  python experiments/transfer_learning.py --full --data_dir=~/tensorflow_datasets
"""
import copy
import math
import os

from absl import flags

import dlexp
from dlexp import claims, cli, report
from dlexp import data as data_lib
from dlexp.errors import ConfigError

_SOURCE_CLASSES = flags.DEFINE_list('source_classes', ['0', '1', '2', '3', '4'],
                                    'Classes of the source task.')
_TARGET_CLASSES = flags.DEFINE_list('target_classes', ['5', '6', '7', '8', '9'],
                                    'Classes of the target task.')
_FRACTIONS = flags.DEFINE_list('fractions', ['0.01', '0.1', '1'],
                               'Fractions of the target training labels.')
_TARGET = flags.DEFINE_float('target', 0.95, 'Validation accuracy for the '
                             'time-to-accuracy columns.')
_MIN_STEPS = flags.DEFINE_integer('min_steps', 400, 'Each target run trains '
                                  'at least this many steps ...')
_MAX_EPOCHS = flags.DEFINE_integer('max_epochs', 60, '... in at most this '
                                   'many epochs.')
_SLOW = flags.DEFINE_float('base_lr_scale', 0.1, 'Learning-rate multiplier '
                           'of the base in the slow fine-tuning runs.')
_SOURCE = flags.DEFINE_string('source', '', 'A saved dlexp model to transfer '
                              'from instead of training the source here.')

BASE = '(?!logits).*'  # every layer but the head

cli.define_flags(
    'transfer_learning', model='mlp', epochs=5, seeds=3,
    config={'model.hidden': (256, 128), 'diagnostics.every_epochs': 0},
    smoke={'epochs': 1, 'seeds': 2, 'fractions': ['0.05', '1'],
           'min_steps': 8, 'max_epochs': 3, 'config.model.hidden': (32,),
           'config.data.train_limit': 1024, 'config.data.val_size': 500,
           'config.data.test_limit': 500},
    full={'dataset': 'cifar10', 'model': 'resnet', 'epochs': 30,
          'config.model.variant': 'resnet20', 'min_steps': 3000,
          'max_epochs': 200})


def _pct(fraction: float) -> str:
  return f'{100 * fraction:g}%'


def name(fraction: float, condition: str) -> str:
  return f'{_pct(fraction)},{condition}'


CONDITIONS = ('scratch', 'frozen base', 'fine-tune,lr_scale=1',
              'fine-tune,lr_scale={slow:g}', 'random-label source,frozen base',
              'random-label source,fine-tune')

# -- columns -----------------------------------------------------------------
EPOCHS = report.Column('epochs', lambda r: r.final('epochs_run'), '.0f',
                       spread=False)
TEST = report.final('test_accuracy', 'test acc')


def columns(target: float):
  return (EPOCHS, TEST, report.DEFAULT_COLUMNS[2],
          report.epochs_to('val_accuracy', target, f'epochs to {target:g}'),
          report.seconds_to('val_accuracy', target, f'seconds to {target:g}'),
          report.DEFAULT_COLUMNS[3])


# -- claims ------------------------------------------------------------------
def _fractions(ev: claims.Evidence):
  found = sorted({float(t.split('%')[0]) / 100 for t in ev.trials
                  if '%' in t})
  if not found:
    raise KeyError('no target runs in the grid')
  return found


def _values(ev, fraction, condition, key=TEST):
  trial = name(fraction, condition)
  if trial not in ev.groups:
    raise KeyError(f'{trial} is not in the grid')
  return ev.values(trial, key)


def _finetune(ev):
  return next(c for c in (t.split(',', 1)[1] for t in ev.trials if '%' in t)
              if c == 'fine-tune,lr_scale=1')


def _boosts(ev: claims.Evidence) -> claims.Verdict:
  low = _fractions(ev)[0]
  return claims.compare(_values(ev, low, _finetune(ev)),
                        _values(ev, low, 'scratch'), 'test accuracy',
                        f'fine-tuned ({_pct(low)} labels)', 'from scratch')


def _saves_time(ev: claims.Evidence) -> claims.Verdict:
  """Fewer epochs to the target accuracy with all the labels; a seed that
  never reaches it counts as the epochs it trained plus one."""
  high = _fractions(ev)[-1]
  key = next(c for c in columns(_TARGET.value) if c.header.startswith('epochs to'))
  def epochs(condition):
    trial = name(high, condition)
    runs = ev.groups.get(trial, [])
    out = [key.value(r) or (r.final('epochs_run') or 0) + 1 for r in runs]
    import numpy as np  # pylint: disable=g-import-not-at-top
    return np.array(out, np.float64)
  return claims.compare(epochs('scratch'), epochs(_finetune(ev)),
                        f'epochs to validation accuracy {_TARGET.value:g} '
                        f'({_pct(high)} labels)', 'from scratch', 'fine-tuned',
                        fmt='.1f')


def _gains(ev, fraction):
  """Per-seed test-accuracy gain of fine-tuning over scratch (seeds pair:
  the same seed's data order and head initialization)."""
  ft, sc = _values(ev, fraction, _finetune(ev)), _values(ev, fraction,
                                                         'scratch')
  n = min(len(ft), len(sc))
  return ft[:n] - sc[:n]


def _limited_data(ev: claims.Evidence) -> claims.Verdict:
  fractions = _fractions(ev)
  if len(fractions) < 2:
    raise KeyError('needs two label fractions')
  low, high = fractions[0], fractions[-1]
  return claims.compare(_gains(ev, low), _gains(ev, high),
                        'test-accuracy gain of fine-tuning over scratch',
                        f'{_pct(low)} labels', f'{_pct(high)} labels')


def _negative(ev: claims.Evidence) -> claims.Verdict:
  """Supported when fine-tuning from a source (the real one or the
  random-label one) is significantly worse than training from scratch on
  the same labels somewhere; contradicted when it never is and is
  significantly better somewhere. Frozen bases are left out: they train
  fewer parameters than scratch, which is a confound, not transfer."""
  texts, signs = [], []
  for fraction in _fractions(ev):
    for condition in (_finetune(ev), CONDITIONS[5]):
      c = claims.difference(_values(ev, fraction, condition),
                            _values(ev, fraction, 'scratch'))
      signs.append(c.sign)
      source = 'random-label' if condition == CONDITIONS[5] else 'real'
      texts.append(f'{_pct(fraction)} from the {source} source: '
                   f'{c.diff:+.4f} (2 SE {2 * c.se:.4f})')
  text = ('test accuracy fine-tuned minus from scratch: ' + '; '.join(texts))
  if -1 in signs:
    return claims.Verdict(claims.SUPPORTED, text)
  if 1 in signs:
    return claims.Verdict(claims.CONTRADICTED, text)
  return claims.Verdict(claims.INCONCLUSIVE, text)


def _output_layer_enough(ev: claims.Evidence) -> claims.Verdict:
  """'Adjusting the output layer' alone (frozen base) against retraining
  everything, at the smallest fraction."""
  low = _fractions(ev)[0]
  c = claims.compare(_values(ev, low, 'frozen base'),
                     _values(ev, low, _finetune(ev)), 'test accuracy',
                     f'frozen base + new head ({_pct(low)} labels)',
                     'full fine-tuning')
  verdict = {claims.CONTRADICTED: claims.DEPENDS}.get(c.verdict, c.verdict)
  if c.verdict == claims.INCONCLUSIVE:
    verdict = claims.SUPPORTED  # as good as retraining everything
  return claims.Verdict(verdict, c.evidence)


CLAIMS = (
    claims.Claim('000 Q5', 'It\'s obviously very beneficial because it saves '
                 'alot of time and boosts performance', _boosts),
    claims.Claim('004 G9', 'Transfer learning saves training time and data',
                 _saves_time),
    claims.Claim('001 Q8', 'Transfer learning is particularly beneficial when '
                 'the amount of labeled data for a new task is limited',
                 _limited_data),
    claims.Claim('001 Q8', 'Negative Transfer: Sometimes, the pre-trained '
                 'model\'s knowledge may not align well with the new task, '
                 'leading to poor performance', _negative),
    claims.Claim('004 G10', 'fine-tune these models on your specific task by '
                 'adjusting the output layer and retraining [the output layer '
                 'alone is enough]', _output_layer_enough),
)


# -- the runs ------------------------------------------------------------------
def _classes(values, flag):
  return tuple(cli.list_flag(values, int, flag))


def _source(base, classes, label, noise):
  """Trains the source task; returns (grid, path of its seeds saved as one
  model, named by its settings so a changed source is a new path)."""
  config = copy.deepcopy(base)
  config.data.classes, config.data.label_noise = classes, noise
  config.init.from_path = ''
  grid = cli.run_grid({}, config)
  runs = sorted(grid.runs, key=lambda r: r.seed)
  path = os.path.join(os.path.abspath(cli.FLAGS.workdir), 'sources',
                      f'{label}-{runs[0].config_id}')
  dlexp.load([r.directory for r in runs]).save(path)
  return grid, path


def _target_size(config) -> int:
  """Training examples of the target task at 100 %."""
  return data_lib.load(config.data).num_train


def _epochs(limit: int, batch: int, epochs: int) -> int:
  steps = max(limit // batch, 1)
  return min(_MAX_EPOCHS.value, max(epochs, math.ceil(_MIN_STEPS.value / steps)))


def _transfers(config, source: str, prefix: str, slow: float):
  """(label, axes, config) of the runs that start from `source`."""
  start = copy.deepcopy(config)
  start.init.from_path, start.init.skip = source, ('logits',)
  frozen = copy.deepcopy(start)
  frozen.train.freeze = (BASE,)
  tune = copy.deepcopy(start)
  axes = {}
  if not prefix:  # the slow-base runs only from the real source
    tune.train.lr_scale_params = (BASE,)
    axes = {'train.lr_scale': [1.0, slow]}
  return [(f'{prefix}frozen base', {}, frozen),
          (f'{prefix}fine-tune', axes, tune)]


def main(_):
  base = cli.resolved_config()
  for path in ('data.classes', 'init.from_path'):
    if path in cli.config_overrides():
      raise ConfigError(f'--config.{path} is set by this script; use '
                        '--source_classes/--target_classes and --source')
  source_classes = _classes(_SOURCE_CLASSES.value, 'source_classes')
  target_classes = _classes(_TARGET_CLASSES.value, 'target_classes')
  fractions = cli.list_flag(_FRACTIONS.value, float, 'fractions')
  if any(not 0 < f <= 1 for f in fractions):
    raise ConfigError(f'--fractions={_FRACTIONS.value} must be in (0, 1]')
  slow = _SLOW.value
  if not 0 < slow < 1:
    raise ConfigError(f'--base_lr_scale={slow} must be in (0, 1)')
  parts = []
  if _SOURCE.value:
    source = os.path.abspath(_SOURCE.value)
  else:
    grid, source = _source(base, source_classes, 'source', 0.0)
    parts.append(('source', grid))
  noise_grid, noisy = _source(base, source_classes, 'random_labels', 1.0)
  parts.append(('random-label source', noise_grid))
  target = copy.deepcopy(base)
  target.data.classes = target_classes
  limit = base.data.train_limit
  n = _target_size(target)
  n = min(n, limit) if limit else n
  for fraction in fractions:
    config = copy.deepcopy(target)
    config.data.train_limit = max(base.batch_size, round(fraction * n))
    config.epochs = _epochs(config.data.train_limit, base.batch_size,
                            base.epochs)
    parts.append((name(fraction, 'scratch'), cli.run_grid({}, config)))
    runs = _transfers(config, source, '', slow) + _transfers(
        config, noisy, 'random-label source,', slow)
    for label, axes, run_config in runs:
      parts.append((name(fraction, label), cli.run_grid(axes, run_config)))
  grid = cli.combine(parts)
  text = grid.table(columns(_TARGET.value))
  title = 'Transfer learning by label fraction'
  line = (f'{base.data.name} classes {source_classes} -> {target_classes}, '
          f'model {base.model.name}, source {base.epochs} epochs, target '
          f'{n} labels at 100 %, seeds {base.seed}..'
          f'{base.seed + base.num_seeds - 1} (mean ± std over seeds)')
  cli.conclude(grid, title, line, text, CLAIMS, plots=('val_accuracy',))


if __name__ == '__main__':
  cli.run_main(main)
