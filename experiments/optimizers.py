r"""Which optimizer and learning-rate schedule train a network fastest?

A measurement, not a test of the notes: no claim of the notes is decided
here (CLAIMS is empty). The notes name the optimizer as the algorithm that
updates the weights (seed 004, Keras Group 2: a definition) and train with
`SGD(learning_rate=0.001, momentum=.9, nesterov=False)` for 5 epochs (seed
002's practical assignment: hyperparameter lines, not a claim; 002 A6 PA's
claims are vgg_cifar_failure's). This trains one MLP (2 hidden ReLU layers
of 100 units, on 10,000 Fashion-MNIST training images, batch 128) with:

- every optimizer at a constant rate: sgd (plain, lr 0.1), momentum and
  nesterov (0.9, lr 0.01), rmsprop (lr 1e-3), adagrad (lr 0.01), adam and
  nadam (lr 1e-3), adamw (lr 1e-3, decoupled weight decay 0.01). Each rate
  is its family's usual default (Keras / PyTorch / optax), not tuned here:
  rates differ by family because their steps differ in scale (an adaptive
  optimizer's step is ~lr per weight whatever the gradient's size);
- every schedule with one optimizer (--schedule_optimizer, momentum by
  default): constant; step (x0.1 at 1/2 and 3/4 of training); exponential
  (x0.01 over the run, smoothly); cosine (to 0); one-cycle (from 1/25 up to
  the rate at 30% of training, then down to 0, as fastai); reduce-on-plateau
  (x0.1 after 2 epochs without a lower validation loss);
- seed 002's setting, momentum 0.9 at lr 0.001 (batch 128 here, 100 there),
  shown beside the rest (--notes_setting).

--design=cross trains every optimizer with every schedule instead (48
compiled programs: --full, for a GPU). Optimizer and schedule names are
static (each pair is its own compiled program); seeds are vmapped. Change a
family's settings with --hparams (e.g. --hparams=adam:learning_rate=3e-4).
Columns:

- epochs to <target>: first epoch whose validation accuracy reaches
  --target (seeds that never do are left out; the cell says how many did);
- val acc @ep5: after seed 002's 5 epochs (after the last epoch of a
  shorter run); val acc @last: after the last epoch; test acc: of the
  restored best epoch (lowest validation loss);
- train loss @end: mean training loss of the last epoch (how far each
  optimizer gets on the training objective).

  python experiments/optimizers.py                     # defaults below
  python experiments/optimizers.py --optimizers=sgd,adam --schedules=constant
  python experiments/optimizers.py --hparams=sgd:learning_rate=0.05 \
      --schedule_optimizer=adam
  python experiments/optimizers.py --smoke             # seconds (CI)
  python experiments/optimizers.py --full              # GPU: 8 x 6, all data

From Python: `run(size='smoke')` (keywords as the flags above).
"""
from typing import Any, Dict, List, Optional, Sequence

from dlexp import ablation, cli, config as config_lib, optim, report
from dlexp.errors import ConfigError

OPTIMIZERS = ('sgd', 'momentum', 'nesterov', 'rmsprop', 'adagrad', 'adam',
              'nadam', 'adamw')
SCHEDULES = ('constant', 'step', 'exponential', 'cosine', 'onecycle',
             'plateau')
# Each family's usual default rate (and what makes it that family).
PER_OPTIMIZER: Dict[str, Dict[str, Any]] = {
    'sgd': {'learning_rate': 0.1, 'momentum': 0.0},
    'momentum': {'learning_rate': 0.01, 'momentum': 0.9},
    'nesterov': {'learning_rate': 0.01, 'momentum': 0.9},
    'rmsprop': {'learning_rate': 1e-3},
    'adagrad': {'learning_rate': 0.01},
    'adam': {'learning_rate': 1e-3},
    'nadam': {'learning_rate': 1e-3},
    'adamw': {'learning_rate': 1e-3, 'weight_decay': 0.01},
}
NOTES_002 = {'optimizer.name': 'momentum', 'optimizer.learning_rate': 0.001,
             'optimizer.momentum': 0.9}
NOTES_EPOCHS = 5  # seed 002 trains 5 epochs

SCRIPT = cli.define_flags(
    'optimizers', model='mlp', epochs=10, seeds=5,
    config={'model.depth': 2, 'model.width': 100, 'data.train_limit': 10000,
            'diagnostics.every_epochs': 0},
    smoke={'epochs': 2, 'seeds': 2, 'optimizers': ['sgd', 'adam', 'momentum'],
           'schedules': ['constant', 'cosine'], 'config.model.width': 32,
           'config.data.train_limit': 2048, 'config.data.test_limit': 1000},
    full={'epochs': 30, 'seeds': 5, 'design': 'cross',
          'config.data.train_limit': 0})
_OPTIMIZERS = SCRIPT.list_flag('optimizers', list(OPTIMIZERS),
                               'Optimizers (config.optimizer.name).')
_SCHEDULES = SCRIPT.list_flag('schedules', list(SCHEDULES),
                              'Schedules (config.schedule.name).')
# A string checked by axes(), which run() from Python needs anyway (an absl
# enum flag checks only the command line).
_DESIGN = SCRIPT.flag(
    'string', 'design', 'split',
    'split: every optimizer at a constant rate, and every schedule with '
    '--schedule_optimizer; cross: every optimizer x every schedule.')
_SCHEDULE_OPTIMIZER = SCRIPT.flag(
    'string', 'schedule_optimizer', 'momentum',
    'The optimizer the schedules are compared with (design split).')
_HPARAMS = SCRIPT.list_flag(
    'hparams', [], 'Per-optimizer settings over the defaults, as '
    'optimizer:field=value with any config.optimizer field, e.g. '
    'adam:learning_rate=3e-4,sgd:momentum=0.5.')
_NOTES = SCRIPT.flag(
    'bool', 'notes_setting', True, "Also train seed 002's "
    'SGD(learning_rate=0.001, momentum=0.9).')
_TARGET = SCRIPT.flag(
    'float', 'target', 0.84, 'Validation accuracy for the "epochs to" column.')


# -- the grid ------------------------------------------------------------------
def _names(values: List[str], allowed, flag: str) -> List[str]:
  if not values:
    raise ConfigError(f'--{flag} needs at least one value')
  for v in values:
    if v not in allowed:
      raise ConfigError(f'--{flag}: {v!r} not allowed; allowed: '
                        f'{", ".join(allowed)}')
  return list(dict.fromkeys(values))


def per_optimizer(items: List[str]) -> Dict[str, Dict[str, Any]]:
  """PER_OPTIMIZER with the --hparams items applied."""
  out = {k: dict(v) for k, v in PER_OPTIMIZER.items()}
  fields = optim.defaults()
  for item in items:
    name, _, setting = item.partition(':')
    field, eq, value = setting.partition('=')
    if name not in out or not eq or field not in fields or field == 'name':
      raise ConfigError(
          f'--hparams: {item!r} not allowed; need optimizer:field=value with '
          f'an optimizer of {", ".join(OPTIMIZERS)} and a config.optimizer '
          'field other than name')
    out[name][field] = config_lib.coerce(f'optimizer.{field}', fields[field],
                                         value)
  return out


def optimizer_settings(name: str, table) -> Dict[str, Any]:
  return {'optimizer.name': name,
          **{f'optimizer.{k}': v for k, v in table[name].items()}}


def schedule_settings(name: str, epochs: int) -> Dict[str, Any]:
  """A schedule and the knobs it needs for a run of `epochs`."""
  out = {'schedule.name': name}
  if name == 'step':
    out['schedule.boundaries'] = tuple(sorted({max(1, epochs // 2),
                                               max(1, 3 * epochs // 4)}))
  elif name == 'exponential':  # x0.01 at the end, like step's two x0.1
    out['schedule.decay_rate'] = round(0.01 ** (1.0 / epochs), 4)
  elif name == 'plateau':
    out.update({'schedule.plateau_patience': 2,
                'schedule.plateau_factor': 0.1})
  return out


def axes(config, optimizers: Sequence[str], schedules: Sequence[str],
         design: str, schedule_optimizer: str, hparams: Sequence[str],
         notes_setting: bool) -> Dict[str, List[Dict[str, Any]]]:
  """The grid: one joint axis whose values set an optimizer, its settings
  and a schedule (split or cross design), plus seed 002's setting."""
  opts = _names(list(optimizers), OPTIMIZERS, 'optimizers')
  scheds = _names(list(schedules), SCHEDULES, 'schedules')
  table = per_optimizer(list(hparams))
  epochs = config.epochs
  if design not in ('split', 'cross'):
    raise ConfigError(f'--design: {design!r} not allowed; allowed: split, '
                      'cross')
  if design == 'cross':
    trials = [{**optimizer_settings(o, table), **schedule_settings(s, epochs)}
              for o in opts for s in scheds]
  else:
    base = _names([schedule_optimizer], OPTIMIZERS,
                  'schedule_optimizer')[0]
    first = 'constant' if 'constant' in scheds else scheds[0]
    trials = [{**optimizer_settings(o, table),
               **schedule_settings(first, epochs)} for o in opts]
    trials += [{**optimizer_settings(base, table),
                **schedule_settings(s, epochs)} for s in scheds if s != first]
  trained = {t['optimizer.name'] for t in trials}
  for item in hparams:
    if item.partition(':')[0] not in trained:
      raise ConfigError(f'--hparams: {item!r} sets an optimizer this grid '
                        'does not train (see --optimizers, '
                        '--schedule_optimizer)')
  notes = {**NOTES_002, **schedule_settings('constant', epochs)}
  if notes_setting and notes not in trials:
    trials.append(notes)
  return {'setting': trials}


# -- columns ------------------------------------------------------------------
def _notes_epoch(epochs: int) -> int:
  """Seed 002's 5 epochs, or all of a shorter run (the smoke size)."""
  return min(NOTES_EPOCHS, int(epochs))


def _val_at(epoch: int) -> report.Column:
  return report.at_epoch('val_accuracy', epoch, f'val acc @ep{epoch}', '.4f')


def _epochs_to(target: float) -> report.Column:
  return report.epochs_to('val_accuracy', target, f'epochs to {target:g}')


def columns(target: float, epochs: int):
  return (_epochs_to(target), _val_at(_notes_epoch(epochs)),
          report.LAST_VAL, report.final('test_accuracy', 'test acc'),
          _LOSS_END, report.default_column('best epoch'),
          report.default_column('wall s'))


_LOSS_END = report.last('train_loss', 'train loss @end')

# No claim of the notes is tested here: 004 K2 is a definition and 002 A6 PA's
# training setting is hyperparameter lines (its claims are
# vgg_cifar_failure's). The script measures; it decides nothing.
CLAIMS = ()


def run(config=None, workdir: Optional[str] = None, size: str = 'default',
        *, optimizers: Optional[Sequence[str]] = None,
        schedules: Optional[Sequence[str]] = None,
        design: Optional[str] = None,
        schedule_optimizer: Optional[str] = None,
        hparams: Optional[Sequence[str]] = None,
        notes_setting: Optional[bool] = None,
        target: Optional[float] = None, session=None) -> ablation.Result:
  """Trains every optimizer and schedule of the design and prints the
  table. From Python: `run(size='smoke')`, or `run(config, 'runs/mine',
  optimizers=['sgd', 'adam'], schedules=['constant'])`; each keyword is
  the flag of that name."""
  session, config = SCRIPT.start(config, workdir, size, session)
  arguments = dict(optimizers=optimizers, schedules=schedules, design=design,
                   schedule_optimizer=schedule_optimizer, hparams=hparams,
                   notes_setting=notes_setting, target=target)
  # An argument left None takes the size preset's value, else the flag's.
  value = {k: SCRIPT.axis(k, session.size) if v is None else v
           for k, v in arguments.items()}
  target = value.pop('target')
  grid = axes(config, **value)
  fields = {p for values in grid.values() for v in values for p in v}
  return ablation.run_ablation(
      session, grid, config, columns(target, config.epochs),
      title='Optimizers and learning-rate schedules',
      axis_flags={p: ('schedules' if p.startswith('schedule.')
                      else 'hparams') for p in fields},
      claims=CLAIMS)


def main(_):
  run(cli.resolved_config(), optimizers=_OPTIMIZERS.value,
      schedules=_SCHEDULES.value, design=_DESIGN.value,
      schedule_optimizer=_SCHEDULE_OPTIMIZER.value, hparams=_HPARAMS.value,
      notes_setting=_NOTES.value, target=_TARGET.value,
      session=cli.session())


if __name__ == '__main__':
  cli.run_main(main)
