r"""Does a network pretrained on one task learn a related one faster and better,
most of all with few labels; can a bad source hurt, and a source from another
domain help less?

The notes' claims, by their labels: 000 Q5, transfer learning "saves alot
of time and boosts performance"; 004 G9 (theory group 9), it "saves
training time and data"; 001 Q8, it "is particularly beneficial when the
amount of labeled data for a new task is limited", "Negative Transfer:
Sometimes, the pre-trained model's knowledge may not align well with the new
task, leading to poor performance" and "Domain Shift: If the source and
target domains are very different, transfer learning may not be as
effective"; 004 K10 (Keras group 10), "fine-tune these models on your
specific task by adjusting the output layer and retraining on your data".

Design (a proxy: no pretrained VGG16/ResNet50 or ImageNet weights can be
downloaded here, dlexp ships none, and CIFAR-10 is not available offline).
As ImageNet's classes overlap CIFAR-10's, the source task is broader than
the target and covers its classes: an MLP (784-256-128, ReLU) trained on
all ten Fashion-MNIST classes, on one half of the training images
(data.train_part=(0, 2)); the target task is four confusable classes,
T-shirt, pullover, coat and shirt (0, 2, 4, 6), on the OTHER half
(data.train_part=(1, 2)), so that no target training or validation image
was seen by the source, with 1 %, 10 % and 100 % of its training labels
(108, 1,080, 10,798 images; batch 32). What differs from the notes'
setting: a small MLP, not a deep CNN; a source of 27,000 images, not 1.3
million; grey 28x28 clothes, not colour photographs; source and target
from one dataset (the same domain by construction). Each target run is one
of: from scratch; the source's base frozen under a new head (init.skip the
logits, train.freeze the rest); full fine-tuning; fine-tuning with a 10x
lower learning rate for the base (train.lr_scale_params, train.lr_scale);
the frozen and fine-tuned runs again from a RANDOM-LABEL source, which
memorised random labels of 1,024 source images over 100 epochs
(data.label_noise=1; its last weights kept, not its best-validation ones):
knowledge that does not align with any task, the negative-transfer case;
and fine-tuning from a source of ANOTHER DOMAIN, trained on synthetic
Gaussian-cluster images (dataset 'synthetic', resized to the target's
size), the domain-shift case. Each target seed starts from its own source
seed; 5 seeds. Smaller label fractions train more epochs, so that every
run takes at least --min_steps steps (capped at --max_epochs): 60 epochs
of 3 steps at 1 %. --model=cnn transfers convolution filters instead
(slower on a CPU).
Columns:

- epochs: epochs trained; test acc, best epoch: of the restored
  best-validation epoch; train acc @end: the training accuracy of the last
  epoch (the random-label source's memorisation);
- steps to T, epochs to T, seconds to T: the training steps (epochs x
  steps per epoch, at the resolution of one epoch), the epochs (evaluations)
  and the training seconds at which the validation accuracy first reaches
  --target (time to accuracy); seeds that never reach it have no value (the
  cell says so).

"Saves time" is decided in epochs to the target (0.6 by default, chosen
on pilot seeds 5-9, not the reported 0-4: from scratch every one reached
it, after 7.8 +- 1.6 epochs) at the smallest label fraction, the only one
where scratch needs several epochs to any target it reaches in every seed
(at 10 % and 100 % it is within the first few epochs). "Saves data" (004
G9) is fine-tuning on the smallest fraction against scratch on the next
larger one (10x the labels), not worse in test accuracy. The rules read the fractions and the target from the table
(trial names, the 'epochs to T' header), never from a flag; each claim's
precondition is checked before its test: scratch learns the task above
chance; every seed reaches the target; scratch needs at least 5
evaluations (epochs) to reach it, so that a saving of an epoch can be seen
(a target reached at the first or second evaluation leaves no room: a
floor, not a finding); the source carries transferable knowledge (at some
fraction a new head on its frozen base beats training from scratch: the
claims about transfer helping assume it); the random-label source
memorised its labels (train accuracy >= 0.9 at its last epoch) and knows
nothing of the real task (test accuracy near chance); the synthetic source
learned its own task.

--source=PATH starts the transfer runs from any saved dlexp model instead
(dlexp.load(...).save(), a run directory, or a bigger network trained on a
GPU), as long as its base fits the target model; a model of several seeds
starts each target seed from its own.

  python experiments/transfer_learning.py                 # MLP, Fashion-MNIST
  python experiments/transfer_learning.py --model=cnn --fractions=0.01,1
  python experiments/transfer_learning.py --source=runs/big/model --fractions=0.01
  python experiments/transfer_learning.py --full --data_dir=~/tensorflow_datasets

From Python: `run(size='smoke')` (keywords as the flags above).
"""
import copy
import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

import dlexp
from dlexp import ablation, claims, cli, report
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp.errors import ConfigError

BASE = '(?!logits).*'  # every layer but the head

SCRIPT = cli.define_flags(
    'transfer_learning', model='mlp', epochs=5, seeds=5,
    config={'model.hidden': (256, 128), 'diagnostics.every_epochs': 0,
            'batch_size': 32},
    smoke={'epochs': 1, 'seeds': 2, 'fractions': ['0.1', '1'],
           'min_steps': 8, 'max_epochs': 3, 'random_source_size': 256,
           'random_source_epochs': 2, 'target': 0.9,
           'config.model.hidden': (32,), 'config.batch_size': 128,
           'config.data.train_limit': 1024, 'config.data.val_size': 500,
           'config.data.test_limit': 500},
    full={'dataset': 'cifar10', 'model': 'resnet', 'epochs': 30,
          'config.model.variant': 'resnet20', 'config.batch_size': 128,
          'target_classes': ['2', '3', '4', '5'], 'min_steps': 3000,
          'max_epochs': 200, 'random_source_size': 5000,
          'random_source_epochs': 200})
_SOURCE_CLASSES = SCRIPT.list_flag(
    'source_classes', [str(c) for c in range(10)],
    'Classes of the source task (trained on part 0 of 2 of the training '
    'split: no image of the target task).')
_TARGET_CLASSES = SCRIPT.list_flag(
    'target_classes', ['0', '2', '4', '6'], 'Classes of the target task '
    '(part 1 of 2 of the training split); the default: T-shirt, pullover, '
    'coat, shirt.')
_FRACTIONS = SCRIPT.list_flag('fractions', ['0.01', '0.1', '1'],
                              'Fractions of the target training labels.')
_TARGET = SCRIPT.flag('float', 'target', 0.6, 'Validation accuracy for the '
                      'time-to-accuracy columns (steps to T, seconds to T).')
_MIN_STEPS = SCRIPT.flag('integer', 'min_steps', 400, 'Each target run '
                         'trains at least this many steps ...')
_MAX_EPOCHS = SCRIPT.flag('integer', 'max_epochs', 60, '... in at most this '
                          'many epochs.')
_SLOW = SCRIPT.flag('float', 'base_lr_scale', 0.1, 'Learning-rate multiplier '
                    'of the base in the slow fine-tuning runs.')
_SOURCE = SCRIPT.flag('string', 'source', '', 'A saved dlexp model to '
                      'transfer from instead of training the source here.')
_RANDOM_SIZE = SCRIPT.flag('integer', 'random_source_size', 1024,
                           'Training images of the random-label source ...')
_RANDOM_EPOCHS = SCRIPT.flag('integer', 'random_source_epochs', 100,
                             '... and its epochs: enough to memorise their '
                             'random labels.')


def _pct(fraction: float) -> str:
  return f'{100 * fraction:g}%'


def name(fraction: float, condition: str) -> str:
  return f'{_pct(fraction)},{condition}'


CONDITIONS = ('scratch', 'frozen base', 'fine-tune,lr_scale=1',
              'fine-tune,lr_scale={slow:g}', 'random-label source,frozen base',
              'random-label source,fine-tune',
              'synthetic-domain source,fine-tune')

# -- columns -----------------------------------------------------------------
EPOCHS = report.Column('epochs', lambda r: r.final('epochs_run'), '.0f',
                       spread=False)
TEST = report.final('test_accuracy', 'test acc')
TRAIN_END = report.last('train_accuracy', 'train acc @end')
STEPS = 'steps to '  # the header's start; the target accuracy follows
EPOCHS_TO = 'epochs to '  # likewise


def steps_to(target: float) -> report.Column:
  """Training steps (epochs x steps per epoch) until the validation accuracy
  first reaches `target`, at the resolution of one epoch; seeds that never
  reach it have no value."""
  def first(run: report.Run) -> Optional[float]:
    for row in sorted(run.metrics, key=lambda r: r.get('epoch', 0)):
      v = row.get('val_accuracy')
      if (row.get('epoch', 0) >= 1 and v is not None and math.isfinite(v)
          and v >= target):
        return float(row.get('step', row['epoch']))
    return None
  return report.Column(f'{STEPS}{target:g}', first, '.0f')


def columns(target: float):
  return (EPOCHS, TEST, TRAIN_END, report.default_column('best epoch'),
          steps_to(target),
          report.epochs_to('val_accuracy', target, f'{EPOCHS_TO}{target:g}'),
          report.seconds_to('val_accuracy', target, f'seconds to {target:g}'),
          report.default_column('wall s'))


# -- claims ------------------------------------------------------------------
# Rules read the label fractions and the target accuracy from the table (its
# trial names and its 'epochs to T' header), never from a flag.
CHANCE = 0.25  # four target classes
SOURCE_CHANCE = 0.1  # the random-label source's ten classes
EPOCH_MARGIN = 1.0  # epochs (evaluations) to the target: the resolution;
# a saving of less than one evaluation cannot be seen
ACC_MARGIN = 0.005  # test accuracy: half a point, the smallest gain that
# would change a practitioner's choice
MIN_EVALS = 5  # epochs (evaluations) scratch must need to reach the
# target, so that a saving of one epoch (the margin) is resolved and not
# cut off by the first evaluation (a floor effect)
HEAD_MARGIN = 0.01  # test accuracy fine-tuning with a new output layer may
# lose against training from scratch and still count as a working recipe:
# one point
MEMORISED = 0.9  # train accuracy on its random labels at its last epoch
FT = 'fine-tune,lr_scale=1'
FROZEN = 'frozen base'
RANDOM_FT = 'random-label source,fine-tune'
DOMAIN_FT = 'synthetic-domain source,fine-tune'
RANDOM_SOURCE, DOMAIN_SOURCE = 'random-label source', 'synthetic-domain source'


def _levels(ev: claims.Evidence) -> List[str]:
  """The label fractions in the grid ('1%', '10%', ...), smallest first."""
  found = {m.group(1) for m in (re.match(r'([\d.]+%),', t)
                                for t in ev.trials) if m}
  if not found:
    raise claims.MissingTrial('no target runs in this grid')
  return sorted(found, key=lambda p: float(p[:-1]))


def _arm(ev: claims.Evidence, level: str, condition: str, column=TEST,
         label: Optional[str] = None) -> claims.Sample:
  return ev.sample(ev.need(f'{level},{condition}'), column,
                   label or f'{condition} ({level} labels)')


def _header(ev: claims.Evidence, start: str = EPOCHS_TO) -> str:
  headers = [h for h in ev.headers() if h.startswith(start)]
  if not headers:
    raise claims.RuleError(f"no '{start}T' column in the table")
  return headers[0]


def _learns(condition: str, name: str) -> claims.Requirement:
  return claims.requires(
      f'{name} learns the target task above chance (test acc at the '
      'smallest label fraction)',
      lambda ev: _arm(ev, _levels(ev)[0], condition), '>=', CHANCE + 0.2)


def _reached(ev: claims.Evidence) -> np.ndarray:
  """Per seed of scratch and fine-tuning at the smallest label fraction: 1
  where it reached the target accuracy."""
  header, low = _header(ev), _levels(ev)[0]
  out = []
  for condition in ('scratch', FT):
    out += [float(v is not None and math.isfinite(v)) for v in
            ev.column(ev.need(f'{low},{condition}'), header)]
  return np.array(out)


REACHED = claims.requires(
    'every seed of scratch and fine-tuning reaches the target validation '
    'accuracy at the smallest label fraction (share of seeds)', _reached,
    '>=', 1.0)
RESOLVED = claims.requires(
    f'scratch needs at least {MIN_EVALS} evaluations (epochs) to reach the '
    'target at the smallest label fraction, so that a saving of an epoch '
    'can be seen (epochs to T, mean over seeds)',
    lambda ev: _arm(ev, _levels(ev)[0], 'scratch', _header(ev)), '>=',
    MIN_EVALS)


def _knowledge(ev: claims.Evidence) -> float:
  """The largest gain, over the label fractions, of a new head on the
  source's FROZEN base over the whole network trained from scratch: what
  the source's features alone carry for the target task (nothing of the
  base is trained on target labels). Not the random-label source: it is
  built to hurt (memorised), so a gain over it could be its harm; not the
  fine-tuned arm: the claims judge that one."""
  return max(float(_arm(ev, level, FROZEN).values.mean()
                   - _arm(ev, level, 'scratch').values.mean())
             for level in _levels(ev))


KNOWLEDGE = claims.requires(
    'the source carries transferable knowledge: at some label fraction, a '
    'new head on its frozen base beats the whole network trained from '
    'scratch (largest difference in mean test acc over the fractions)',
    _knowledge, '>=', ACC_MARGIN)


def _saves_time(ev: claims.Evidence) -> claims.Verdict:
  header, low = _header(ev), _levels(ev)[0]
  return claims.less(
      _arm(ev, low, FT, header, 'fine-tuned'),
      _arm(ev, low, 'scratch', header, 'from scratch'), EPOCH_MARGIN,
      f'epochs (evaluations, a fixed number of steps each) to validation '
      f'accuracy {header[len(EPOCHS_TO):]} ({low} labels)', fmt='.1f')


def _better(ev: claims.Evidence) -> claims.Verdict:
  """Fine-tuned against from scratch on the same labels, at the smallest
  fraction (the notes' setting: a small labelled set for the new task)."""
  low = _levels(ev)[0]
  return claims.greater(_arm(ev, low, FT, label='fine-tuned'),
                        _arm(ev, low, 'scratch', label='from scratch'),
                        ACC_MARGIN, f'test accuracy ({low} labels)')


def _boosts(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([('saves time', _saves_time(ev)),
                        ('boosts performance', _better(ev))], 'all')


def _saves_time_and_data(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([('saves training time', _saves_time(ev)),
                        ('saves data', _saves_data(ev))], 'all')


def _saves_data(ev: claims.Evidence) -> claims.Verdict:
  """Data saved: fine-tuned on the smallest label fraction, not worse than
  from scratch on the next larger one (10x the labels by default)."""
  levels = _levels(ev)
  if len(levels) < 2:
    raise claims.MissingTrial('"saves data" needs two label fractions')
  low, more = levels[0], levels[1]
  return claims.not_worse(
      _arm(ev, low, FT, label=f'fine-tuned on {low} labels'),
      _arm(ev, more, 'scratch', label=f'from scratch on {more} labels'),
      ACC_MARGIN, 'test accuracy')


def _limited_data(ev: claims.Evidence) -> claims.Verdict:
  levels = _levels(ev)
  if len(levels) < 2:
    raise claims.MissingTrial('needs two label fractions')
  low, high = levels[0], levels[-1]
  gain = lambda level: ev.paired((f'{level},{FT}', TEST),
                                 (f'{level},scratch', TEST),
                                 f'gain at {level} labels')
  return claims.greater(gain(low), gain(high), ACC_MARGIN,
                        'test-accuracy gain of fine-tuning over scratch')


def _negative(ev: claims.Evidence) -> claims.Verdict:
  """Fine-tuning from a source (the real one, or the one trained on random
  labels: knowledge that does not align with the task) against training
  from scratch on the same labels, at every fraction; frozen bases are left
  out (they train fewer parameters than scratch: a confound, not
  transfer)."""
  cases = []
  for level in _levels(ev):
    for source, condition in (('real source', FT),
                              ('random-label source', RANDOM_FT)):
      cases.append((f'{level}, {source}', claims.less(
          _arm(ev, level, condition, label='fine-tuned'),
          _arm(ev, level, 'scratch', label='from scratch'), ACC_MARGIN,
          'test accuracy')))
  return claims.across(cases, 'any')


def _output_layer(ev: claims.Evidence) -> claims.Verdict:
  """An existence claim ("you can"): the recipe (a new output layer, the
  whole network retrained) works, i.e. is not worse than training from
  scratch on the same labels, at some fraction (Holm over the fractions).
  The frozen-base runs (the head alone trained) are not compared: they
  train fewer parameters and need more epochs to converge."""
  return claims.across([(level, claims.not_worse(
      _arm(ev, level, FT, label='new output layer, retrained throughout'),
      _arm(ev, level, 'scratch', label='from scratch'), HEAD_MARGIN,
      'test accuracy')) for level in _levels(ev)], 'any')


def _domain_shift(ev: claims.Evidence) -> claims.Verdict:
  return claims.across([(level, claims.less(
      _arm(ev, level, DOMAIN_FT, label='from the synthetic-domain source'),
      _arm(ev, level, FT, label='from the same-domain source'), ACC_MARGIN,
      'fine-tuned test accuracy')) for level in _levels(ev)], 'any')


PROXY = ('proxy: no pretrained ImageNet weights and no VGG16/ResNet50 on '
         'CIFAR-10 here; an MLP (784-256-128) source trained here on all ten '
         'Fashion-MNIST classes, on one half of the training images, and a '
         'target task of four confusable classes (T-shirt, pullover, coat, '
         'shirt) on the other half, its source classes overlapping the '
         "target's as ImageNet's overlap CIFAR-10's")
SHORT = ('proxy: Fashion-MNIST, a ten-class MLP source -> the four tops '
         '(T-shirt, pullover, coat, shirt) on disjoint images')
_REGIME_TIME = (_learns('scratch', 'training from scratch'), KNOWLEDGE,
                REACHED, RESOLVED)


def _memorised(ev: claims.Evidence) -> claims.Sample:
  return ev.sample(ev.need(RANDOM_SOURCE), TRAIN_END, keep_collapsed=True)


CLAIMS = (
    claims.Claim(
        '000 Q5', 'It\'s obviously very beneficial because it saves alot of '
        'time and boosts performance',
        tested_as=f'{PROXY}; full fine-tuning (a new head, every layer '
        'trained) against training from scratch at the smallest label '
        'fraction: fewer epochs (evaluations, a fixed number of steps each) '
        'to the target validation accuracy (margin '
        f'{EPOCH_MARGIN:g} epoch, the resolution; "a lot" is not given a '
        f'size) and a higher test accuracy (margin {ACC_MARGIN}); both must '
        'hold',
        rule=_boosts, regime=_REGIME_TIME),
    claims.Claim(
        '004 G9', 'Transfer learning saves training time and data',
        tested_as=f'{SHORT}; fewer epochs (evaluations) to the target '
        'validation accuracy at the smallest label fraction (margin '
        f'{EPOCH_MARGIN:g} epoch), and, as the data saved, fine-tuning on '
        'the smallest label fraction not worse in test accuracy than '
        'training from scratch on the next larger one (10x the labels by '
        f'default; non-inferiority, margin {ACC_MARGIN}); both must hold',
        rule=_saves_time_and_data, regime=_REGIME_TIME),
    claims.Claim(
        '001 Q8', 'Transfer learning is particularly beneficial when the '
        'amount of labeled data for a new task is limited',
        tested_as=f'{SHORT}; the per-seed test-accuracy gain of full '
        'fine-tuning over scratch at the smallest label fraction is larger '
        f'than at the largest (margin {ACC_MARGIN})',
        rule=_limited_data,
        regime=(_learns('scratch', 'training from scratch'), KNOWLEDGE)),
    claims.Claim(
        '001 Q8', 'Negative Transfer: Sometimes, the pre-trained model\'s '
        'knowledge may not align well with the new task, leading to poor '
        'performance',
        tested_as=f'{SHORT}; as knowledge that does not align, a source '
        'that memorised random labels (a subset of the source images, '
        'trained until it fits them, its last weights kept): fine-tuning '
        'from it, or from the real source, gives a lower test accuracy than '
        f'training from scratch at some label fraction (margin {ACC_MARGIN}, '
        'Holm over the cases); an existence claim ("sometimes"), so absence '
        'here does not refute it',
        rule=_negative, existence=True,
        regime=(_learns('scratch', 'training from scratch'),
                claims.requires(
                    'the random-label source memorised its random labels '
                    '(train acc at its last epoch)', _memorised, '>=',
                    MEMORISED),
                claims.requires(
                    'the random-label source learned nothing of the real '
                    'source task (its test acc)', lambda ev: ev.sample(
                        ev.need(RANDOM_SOURCE), TEST, keep_collapsed=True),
                    '<=', SOURCE_CHANCE + 0.15))),
    claims.Claim(
        '001 Q8', 'Domain Shift: If the source and target domains are very '
        'different, transfer learning may not be as effective',
        tested_as=f'{SHORT}; for a very different domain, a source trained '
        'on synthetic Gaussian-cluster images (resized to the target\'s '
        'size) against the Fashion-MNIST source; fine-tuned on the target, '
        'its test accuracy is lower at some label fraction (margin '
        f'{ACC_MARGIN}, Holm over the fractions); an existence claim ("may")',
        rule=_domain_shift, existence=True,
        regime=(_learns(FT, 'fine-tuning from the same-domain source'),
                KNOWLEDGE, claims.requires(
                    'the synthetic-domain source learned its own task (its '
                    'test acc)', lambda ev: ev.sample(
                        ev.need(DOMAIN_SOURCE), TEST), '>=', 0.5))),
    claims.Claim(
        '004 K10', 'You can fine-tune these models on your specific task by '
        'adjusting the output layer and retraining on your data',
        tested_as=f'{PROXY}; not a keras.applications model; the recipe as '
        'written (a new output layer, then the whole network retrained on '
        'the target labels) is not worse than training from scratch, by '
        f'more than {HEAD_MARGIN} test accuracy, at some label fraction '
        '(Holm over the fractions); an existence claim ("you can")',
        rule=_output_layer, existence=True,
        regime=(_learns(FT, 'full fine-tuning'), KNOWLEDGE)),
)


# -- the runs ------------------------------------------------------------------
def _classes(values, flag):
  return tuple(cli.list_flag(values, int, flag))


SOURCE_PART, TARGET_PART = (0, 2), (1, 2)  # data.train_part: disjoint


def _source(session, base, classes, label, noise, domain=None, limit=0,
            epochs=0):
  """Trains the source task; returns (grid, path of its seeds saved as one
  model, named by its settings so a changed source is a new path).
  `domain`: other data.* settings (another dataset: the domain-shift
  source); `limit`, `epochs`: a smaller training set trained longer, with
  the last epoch's weights kept (the random-label source memorises)."""
  config = copy.deepcopy(base)
  config.data.classes, config.data.label_noise = classes, noise
  config.data.train_part = SOURCE_PART
  if limit:
    config.data.train_limit = min(limit, base.data.train_limit or limit)
  if epochs:
    config.epochs = epochs
    config.early_stopping.restore_best = False  # the memorised weights
  for path, value in (domain or {}).items():
    config_lib.set_value(config, path, value)
  config.init.from_path = ''
  grid = ablation.run_grid(session, {}, config)
  runs = sorted(grid.runs, key=lambda r: r.seed)
  path = os.path.join(os.path.abspath(session.workdir), 'sources',
                      f'{label}-{runs[0].config_id}')
  dlexp.load([r.directory for r in runs]).save(path)
  return grid, path


def _other_domain(target) -> Dict[str, Any]:
  """The domain-shift source's data: the synthetic Gaussian-cluster images
  (8x8x1), resized to the target's image size and channels so that the
  base fits the target model."""
  height, _, channels = data_lib.input_shape(target.data)
  return {'data.name': 'synthetic', 'data.data_dir': '',
          'data.resize': int(height),
          'data.channels': 3 if channels == 3 else 0}


def _target_size(config) -> int:
  """Training examples of the target task at 100 %."""
  return data_lib.load(config.data).num_train


def _epochs(limit: int, batch: int, epochs: int, min_steps: int,
            max_epochs: int) -> int:
  steps = max(limit // batch, 1)
  return min(max_epochs, max(epochs, math.ceil(min_steps / steps)))


def _transfers(config, source: str, prefix: str, slow: float,
               frozen_base: bool = True):
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
  return ([(f'{prefix}frozen base', {}, frozen)] if frozen_base else []) + [
      (f'{prefix}fine-tune', axes, tune)]


def _train(session, base, args: Dict[str, Any]):
  """Every source, then per label fraction the scratch and transfer runs:
  (the grids combined, the target's training examples at 100 %)."""
  source_classes, slow = args['source_classes'], args['base_lr_scale']
  parts = []
  if args['source']:
    source = os.path.abspath(args['source'])
  else:
    grid, source = _source(session, base, source_classes, 'source', 0.0)
    parts.append(('source', grid))
  noise_grid, noisy = _source(session, base, source_classes, 'random_labels',
                              1.0, limit=args['random_source_size'],
                              epochs=args['random_source_epochs'])
  parts.append((RANDOM_SOURCE, noise_grid))
  target = copy.deepcopy(base)
  target.data.classes = args['target_classes']
  target.data.train_part = TARGET_PART
  domain_grid, other = _source(session, base, source_classes,
                               'synthetic_domain', 0.0, _other_domain(target))
  parts.append((DOMAIN_SOURCE, domain_grid))
  limit = base.data.train_limit
  n = _target_size(target)
  n = min(n, limit) if limit else n
  for fraction in args['fractions']:
    config = copy.deepcopy(target)
    config.data.train_limit = max(base.batch_size, round(fraction * n))
    config.epochs = _epochs(config.data.train_limit, base.batch_size,
                            base.epochs, args['min_steps'],
                            args['max_epochs'])
    parts.append((name(fraction, 'scratch'),
                  ablation.run_grid(session, {}, config)))
    runs = (_transfers(config, source, '', slow)
            + _transfers(config, noisy, f'{RANDOM_SOURCE},', slow)
            + _transfers(config, other, f'{DOMAIN_SOURCE},', slow,
                         frozen_base=False))
    for label, axes, run_config in runs:
      parts.append((name(fraction, label),
                    ablation.run_grid(session, axes, run_config)))
  return ablation.combine(parts), n


def _arguments(session, keywords: Dict[str, Any]) -> Dict[str, Any]:
  """run()'s keywords, each None taking the size preset's value (else the
  flag's), parsed and checked as the flags are."""
  args = {k: SCRIPT.axis(k, session.size) if v is None else v
          for k, v in keywords.items()}
  args['source_classes'] = _classes(args['source_classes'], 'source_classes')
  args['target_classes'] = _classes(args['target_classes'], 'target_classes')
  fractions = cli.list_flag(args['fractions'], float, 'fractions')
  if any(not 0 < f <= 1 for f in fractions):
    raise ConfigError(f'--fractions={args["fractions"]} must be in (0, 1]')
  args['fractions'] = fractions
  slow = args['base_lr_scale']
  if not 0 < slow < 1:
    raise ConfigError(f'--base_lr_scale={slow} must be in (0, 1)')
  for key in ('random_source_size', 'random_source_epochs'):
    if args[key] < 1:
      raise ConfigError(f'--{key}={args[key]} must be >= 1')
  return args


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, source_classes: Optional[Sequence[int]] = None,
        target_classes: Optional[Sequence[int]] = None,
        fractions: Optional[Sequence[float]] = None,
        target: Optional[float] = None, min_steps: Optional[int] = None,
        max_epochs: Optional[int] = None,
        base_lr_scale: Optional[float] = None,
        source: Optional[str] = None,
        random_source_size: Optional[int] = None,
        random_source_epochs: Optional[int] = None,
        session=None) -> ablation.Result:
  """Trains the sources, then scratch and transfer runs per label fraction,
  and decides the claims. From Python: `run(size='smoke')`, or
  `run(config, 'runs/mine', fractions=[0.01, 1], source='runs/big/model')`;
  the keywords are the flags of those names."""
  session, base = SCRIPT.start(config, workdir, size, session)
  for path in ('data.classes', 'data.train_part', 'init.from_path'):
    if path in session.given:
      raise ConfigError(f'--config.{path} is set by this script; use '
                        '--source_classes/--target_classes and --source')
  args = _arguments(session, dict(
      source_classes=source_classes, target_classes=target_classes,
      fractions=fractions, target=target, min_steps=min_steps,
      max_epochs=max_epochs, base_lr_scale=base_lr_scale, source=source,
      random_source_size=random_source_size,
      random_source_epochs=random_source_epochs))
  grid, n = _train(session, base, args)
  table_columns = columns(args['target'])
  text = grid.table(table_columns)
  title = 'Transfer learning by label fraction'
  line = (f'{base.data.name} classes {args["source_classes"]} -> '
          f'{args["target_classes"]} (disjoint halves of the training '
          f'split), model {base.model.name}, source {base.epochs} epochs, '
          f'random-label source {args["random_source_size"]} images x '
          f'{args["random_source_epochs"]} epochs, target {n} labels at 100 '
          '%, seeds '
          f'{base.seed}..{base.seed + base.num_seeds - 1} (mean ± std over '
          'seeds)')
  return ablation.conclude(session, grid, title, line, text, CLAIMS,
                           plots=('val_accuracy',), columns=table_columns)


def main(_):
  run(cli.resolved_config(), source_classes=_SOURCE_CLASSES.value,
      target_classes=_TARGET_CLASSES.value, fractions=_FRACTIONS.value,
      target=_TARGET.value, min_steps=_MIN_STEPS.value,
      max_epochs=_MAX_EPOCHS.value, base_lr_scale=_SLOW.value,
      source=_SOURCE.value, random_source_size=_RANDOM_SIZE.value,
      random_source_epochs=_RANDOM_EPOCHS.value, session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
