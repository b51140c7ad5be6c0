"""The command line of every experiment script: the common flags and sizes,
the config and Session they resolve to, one-line errors for bad input.

The only module that reads absl flags. A script declares its sizes with
`define_flags` (which returns its `Script`: the same defaults without the
command line, for `run()` from Python), its own flags through that Script,
and a `main` that passes their values and `session()` to its `run()`, which
runs the grid with dlexp.ablation. See experiments/elu_vs_relu.py.
"""
import contextlib
import copy
import dataclasses
import os
import re
import shlex
import sys
import textwrap
import time
from typing import Any, Dict, Optional, Sequence

from absl import app, flags, logging
from ml_collections import config_flags

from dlexp import config as config_lib
from dlexp import distributed
from dlexp.errors import DlexpError, RunFailed
from dlexp.session import Session
from dlexp.train.runner import Interrupted

FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Shortcut flag -> the config field it sets.
SHORTCUTS = (('model', 'model.name'), ('dataset', 'data.name'),
             ('data_dir', 'data.data_dir'), ('epochs', 'epochs'),
             ('seeds', 'num_seeds'))
SHORTCUT_PATHS = dict(SHORTCUTS)


@dataclasses.dataclass
class Script:
  """An experiment's defaults and sizes, as given to define_flags: its
  config and Session at any size without parsing a command line."""
  name: str
  defaults: Dict[str, Any]  # shortcut flag -> the script's default
  config: Dict[str, Any]  # config path -> the script's default
  sizes: Dict[str, Optional[Dict[str, Any]]]  # 'smoke'/'full' -> preset
  question: str = ''
  module: str = ''  # the script's module, whose --help lists the flags
  path: str = ''  # the script's file (the reproduce line names it)
  flag_defaults: Dict[str, Any] = dataclasses.field(default_factory=dict)

  def list_flag(self, name: str, default: Sequence[str], help_: str):
    """Defines the script's own list flag --`name` (an axis) and keeps its
    default for calls from Python."""
    return self.flag('list', name, list(default), help_)

  def flag(self, kind: str, name: str, default, help_: str, **kwargs):
    """Defines the script's own flag --`name` of `kind` ('list', 'integer',
    'float', 'string', 'bool', 'enum' with enum_values=...) and keeps its
    default for calls from Python."""
    self.flag_defaults[name] = default
    holder = getattr(flags, f'DEFINE_{kind}')(name, default, help=help_,
                                              **kwargs)
    self.show_in_help(name)
    return holder

  def show_in_help(self, name: str) -> None:
    """Lists --`name` in the script's --help (absl shows a module's key
    flags there: those it defines itself, and these)."""
    FLAGS.register_key_flag_for_module(self.module, FLAGS[name])

  def preset(self, size: str) -> Dict[str, Any]:
    """{flag or 'config.<path>': value} that `size` sets ({} = default)."""
    if size == 'default':
      return {}
    if size not in self.sizes:
      raise DlexpError(f'size={size!r} not allowed; allowed: default, '
                       'smoke, full')
    if self.sizes[size] is None:
      raise DlexpError(f'--{size}: {self.name} has no {size} size')
    return dict(self.sizes[size])

  def make_config(self, size: str = 'default',
                  overrides: Optional[Dict[str, Any]] = None):
    """The config this script runs at `size`, with `overrides` ({path:
    value}) applied last, validated."""
    config = config_lib.default_config()
    settings = dict(self.config)
    settings.update({SHORTCUT_PATHS[f]: v for f, v in self.defaults.items()
                     if v is not None})
    for key, value in self.preset(size).items():
      if key.startswith('config.'):
        settings[key[len('config.'):]] = value
      elif key in SHORTCUT_PATHS:
        settings[SHORTCUT_PATHS[key]] = value
    settings.update(overrides or {})
    for path, value in settings.items():
      config_lib.set_value(config, path, value)
    config_lib.validate(config)
    return config

  def axis(self, flag: str, size: str = 'default'):
    """The value of the script's own flag `flag` at `size` without a
    command line: the preset's, else the flag's default."""
    preset = self.preset(size)
    return preset[flag] if flag in preset else self.flag_defaults[flag]

  def start(self, config=None, workdir: Optional[str] = None,
            size: str = 'default', session: Optional[Session] = None):
    """(session, config) of a `run()`: the Session given (from the command
    line) or one for this call, and a copy of `config` (the caller's object
    is never changed), else this size's config. From Python, the paths
    where `config` differs from this size's defaults count as given, so an
    axis or part that would overwrite one is refused, as on the command
    line."""
    from_python = session is None
    if from_python:
      session = self.session(workdir, size)
    if config is None:
      return session, self.make_config(session.size)
    config = copy.deepcopy(config)
    if from_python:
      default = config_lib.flatten(self.make_config(session.size))
      session.given = {
          path: f'config {path}={value!r}'
          for path, value in config_lib.flatten(config).items()
          if path not in default or repr(default[path]) != repr(value)}
    return session, config

  def session(self, workdir: Optional[str] = None, size: str = 'default',
              **fields) -> Session:
    """A Session for a call from Python; its command is the equivalent
    command line."""
    workdir = workdir or os.path.join('runs', self.name)
    path = (os.path.relpath(self.path, ROOT) if self.path.startswith(ROOT)
            else self.path or f'experiments/{self.name}.py')
    command = ' '.join(['python', path]
                       + ([f'--{size}'] if size != 'default' else [])
                       + [f'--workdir={shlex.quote(workdir)}'])
    return Session(workdir=workdir, script=self.name, size=size,
                   command=command, question=self.question, **fields)


def define_flags(name: str, model: str = 'mlp', epochs: int = 10,
                 seeds: int = 3, smoke: Optional[Dict[str, Any]] = None,
                 full: Optional[Dict[str, Any]] = None,
                 config: Optional[Dict[str, Any]] = None,
                 dataset: str = 'fashion_mnist') -> Script:
  """Flags common to every ablation; `--config.<field>=value` reaches any
  config field. Returns the script's Script.

  `smoke` and `full` are the script's other sizes, selected with --smoke (a
  few seconds, run in CI) and --full (GPU/TPU): {flag name or
  'config.<path>': value}. A preset fills only what the command line leaves
  unset: an explicit flag or --config value always wins.
  `config` ({path: value}) is the script's own default for config fields
  (e.g. a small model): it replaces the library default, and presets and the
  command line override it as they override any default.
  """
  # The calling script: its question (the docstring's first line), and the
  # module whose --help lists the flags (absl names __main__ by its path).
  caller = sys._getframe(1).f_globals  # pylint: disable=protected-access
  doc = (caller.get('__doc__') or '').strip()
  module = caller.get('__name__', '')
  script = Script(name, dict(model=model, dataset=dataset, epochs=epochs,
                             seeds=seeds), dict(config or {}),
                  {'smoke': smoke, 'full': full},
                  (doc.splitlines() or [''])[0],
                  sys.argv[0] if module == '__main__' else module,
                  _abspath(caller.get('__file__')))
  _STATE['script'] = script
  flags.DEFINE_bool('smoke', False, 'The smoke size: seconds, for CI, never '
                    'evidence.' + _preset_help(smoke))
  flags.DEFINE_bool('full', False, 'The full size, meant for a GPU/TPU.'
                    + _preset_help(full))
  flags.DEFINE_string('model', model, 'Model family (config.model.name).')
  flags.DEFINE_string('dataset', dataset, 'Dataset (config.data.name).')
  flags.DEFINE_string('data_dir', None, 'Where the dataset files are '
                      '(config.data.data_dir; also $DLEXP_DATA_DIR).')
  flags.DEFINE_integer('epochs', epochs, 'Epochs per trial (config.epochs).')
  flags.DEFINE_integer('seeds', seeds, 'Seeds per trial, trained as one '
                       'vmapped program (config.num_seeds).')
  _define_session_flags(name)
  try:  # config_flags parses overrides right here, with a traceback on typos
    _check_config_overrides(sys.argv)
    defaults = config_lib.default_config()
    for path, value in (config or {}).items():
      config_lib.set_value(defaults, path, value)
  except DlexpError as e:
    _die(str(e))
  config_flags.DEFINE_config_dict('config', defaults,
                                  'Any config field: --config.<field>=value.',
                                  lock_config=True)
  # absl's help re-wraps the YAML dump and drops its indentation
  # ('checkpoint:' then 'every_epochs: 1' at one level); dotted paths keep
  # the nesting on any wrapping.
  FLAGS['config'].default_as_str = '\n' + '\n'.join(
      f'{path}={value!r}'
      for path, value in config_lib.flatten(defaults).items())
  for flag in SHARED_FLAGS:
    script.show_in_help(flag)
  return script


def _abspath(path: Optional[str]) -> str:
  return os.path.abspath(path) if path else ''


def _define_session_flags(name: str) -> None:
  """The flags a Session is built from (besides the size)."""
  flags.DEFINE_string('workdir', os.path.join('runs', name),
                      'Directory for one subdirectory per trial and seed.')
  flags.DEFINE_bool('plot', False, 'Also write PNG learning curves.')
  flags.DEFINE_bool('summary', False, 'Print each distinct model\'s summary '
                    '(layers, output shapes, parameters) once.')
  flags.DEFINE_bool('rerun_failed', False, 'Rerun members whose status is '
                    'failed (done ones are always skipped on relaunch).')
  flags.DEFINE_string('trial_shard', '', 'i/n: run the i-th of n contiguous '
                      'blocks of the grid\'s members (default: a SLURM array '
                      "task's, else all); see dlexp.distributed.shard.")


SHARED_FLAGS = ('epochs', 'seeds', 'model', 'dataset', 'data_dir', 'workdir',
                'smoke', 'full', 'plot', 'summary', 'rerun_failed',
                'trial_shard')


def _preset_help(preset: Optional[Dict[str, Any]]) -> str:
  """What a size sets, as the flags that would set it."""
  if preset is None:
    return ' This script has none.'
  shown = ' '.join(
      f'--{k}={",".join(map(str, v)) if isinstance(v, (list, tuple)) else v}'
      for k, v in preset.items())
  return f' Sets (unless given): {shown}.'


# The script define_flags declared, and the Session built once from the
# parsed flags (session()).
_STATE: Dict[str, Any] = {'script': None, 'session': None,
                          'start': time.time()}


@contextlib.contextmanager
def flags_removed_after():
  """Removes again the flags defined inside the block (a script imported
  for its claims or its run(), so that every script loads into one
  process)."""
  before = set(FLAGS)
  try:
    yield
  finally:
    for flag in set(FLAGS) - before:
      delattr(FLAGS, flag)


def config_overrides():
  """{path: value} of the --config.<path> flags given on the command line."""
  return dict(config_flags.get_override_values(FLAGS['config']))


def apply_shortcut(config, flag: str, path: str) -> None:
  """Sets config[path] from the shortcut flag --`flag`.

  Given explicitly, the flag wins; given only as --config.<path>, that value
  stays; given neither way, the flag's default (the script's) applies. Both
  given with different values is an error: neither may silently lose.
  """
  flag_given = FLAGS[flag].present
  overrides = config_overrides()
  value = FLAGS[flag].value
  if path in overrides and flag_given:
    if config_lib.get(config, path) != value:
      raise DlexpError(f'--{flag}={value} and --config.{path}='
                       f'{config_lib.get(config, path)} disagree; give one')
  elif path in overrides or value is None:
    return
  config_lib.set_value(config, path, value)


def resolved_config():
  """FLAGS.config with the shortcut flags applied (see apply_shortcut)."""
  config = FLAGS.config
  for flag, path in SHORTCUTS:
    apply_shortcut(config, flag, path)
  config_lib.validate(config)
  return config


def given() -> Dict[str, str]:
  """Config paths set on the command line -> the flag that set them."""
  out = {path: f'--{flag}={FLAGS[flag].value}' for flag, path in SHORTCUTS
         if FLAGS[flag].present}
  out.update({path: f'--config.{path}={v}'
              for path, v in config_overrides().items()})
  return out


def session() -> Session:
  """The Session of this invocation, built once from the parsed flags."""
  if _STATE['session'] is None:
    script = _STATE['script']
    _STATE['session'] = Session(
        workdir=FLAGS.workdir, script=script.name if script else 'script',
        size=size(), rerun_failed=FLAGS.rerun_failed,
        shard=distributed.trial_shard(FLAGS.trial_shard), plot=FLAGS.plot,
        summary=FLAGS.summary,
        command=command_line(), question=script.question if script else '',
        given=given(), start=_STATE['start'])
  return _STATE['session']


def command_line() -> str:
  """This invocation as a command to paste (script path relative to the
  repository when it is inside it)."""
  script = os.path.abspath(sys.argv[0])
  if script.startswith(ROOT + os.sep):
    script = os.path.relpath(script, ROOT)
  return ' '.join(['python', shlex.quote(script)]
                  + [shlex.quote(a) for a in sys.argv[1:]])


def _die(message: str, code: int = 2) -> None:
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def _check_config_overrides(argv: Sequence[str]) -> None:
  """Unknown --config.<key>: name it and suggest the closest key, before absl
  turns it into a traceback."""
  defaults = config_lib.default_config()
  for arg in argv[1:]:
    m = re.match(r'^--?(?:no)?config\.([^=]+)', arg)
    if m:
      config_lib.check_key(defaults, m.group(1))


def size() -> str:
  """'smoke', 'full' or 'default': the size this invocation runs at."""
  return 'smoke' if FLAGS.smoke else 'full' if FLAGS.full else 'default'


def _apply_size() -> None:
  """Fills the flags and config fields the command line left unset from the
  chosen size's preset."""
  if FLAGS.smoke and FLAGS.full:
    raise DlexpError('--smoke and --full exclude each other; give one')
  overrides = config_overrides()
  for key, value in _STATE['script'].preset(size()).items():
    if key.startswith('config.'):
      if key[len('config.'):] not in overrides:
        config_lib.set_value(FLAGS.config, key[len('config.'):], value)
    elif not FLAGS[key].present:
      setattr(FLAGS, key, value)


HELP_ARGS = ('--help', '-help', '-h', '-?', '--helpshort')


def _flag_help(name: str) -> str:
  """One flag as absl lays it out: name and help, then its default."""
  flag = FLAGS[name]
  shown = f'--[no]{name}' if flag.boolean else f'--{name}'
  text = textwrap.fill(f'{shown}: {flag.help}', width=80, initial_indent='  ',
                       subsequent_indent='    ')
  default = flag.default_as_str if flag.default_as_str else "''"
  return f'{text}\n    (default: {default})'


def manual(script: 'Script') -> str:
  """A script's --help: its docstring, its own flags (the axes), then the
  flags every script shares with this script's defaults and presets.
  absl's --help lists both sorted together; --helpfull keeps absl's."""
  doc = (sys.modules['__main__'].__doc__ or '').rstrip()
  path = script.path or script.name
  if path.startswith(ROOT + os.sep):
    path = os.path.relpath(path, ROOT)
  own = [_flag_help(n) for n in script.flag_defaults]
  shared = [_flag_help(n) for n in SHARED_FLAGS]
  parts = [doc, f'Flags of {path}:', *own] if own else [
      doc]
  parts += ['Flags every script shares (defaults are this script\'s):',
            *shared, 'Try --helpfull to get a list of all flags.']
  return '\n'.join(p if p.startswith('  ') else f'\n{p}'
                   for p in parts).lstrip('\n') + '\n'


def _parse_flags(argv):
  if _STATE['script'] is not None and set(argv[1:]) & set(HELP_ARGS):
    print(manual(_STATE['script']), end='')
    sys.exit(0)
  try:
    _check_config_overrides(argv)
    rest = FLAGS(argv)
    if _STATE['script'] is not None:
      _apply_size()
    return rest
  except flags.Error as e:
    _die(str(e).splitlines()[0])
  except DlexpError as e:
    _die(str(e))


def run_main(main) -> None:
  """app.run with user errors as one line on stderr and exit status 2."""

  def guarded(argv):
    # Orbax and TFDS log through absl (every checkpoint step at INFO, TFDS
    # folder probes at WARNING); dlexp reports what matters in its own lines.
    logging.set_verbosity(logging.ERROR)
    if len(argv) > 1:
      _die(f'unexpected arguments {argv[1:]}; flags look like --name=value')
    try:  # first: JAX's multi-process runtime starts before any device use
      distributed.initialize(FLAGS.config)
      if not distributed.is_primary():
        sys.stdout = open(os.devnull, 'w')  # process 0 prints the results
    except DlexpError as e:
      _die(str(e))
    try:
      main(argv)
    except RunFailed as e:  # what could be written is written
      _die(str(e), code=e.exit_code)
    except DlexpError as e:
      _die(str(e))
    except Interrupted as e:
      print(str(e), file=sys.stderr)
      sys.exit(128 + e.signum)

  # --help prints __main__'s docstring, then the flags: say there how to
  # reach and list the config fields (the config flag's own help would dump
  # all of them).
  main_module = sys.modules['__main__']
  main_module.__doc__ = (main_module.__doc__ or '').rstrip() + CONFIG_HELP
  app.run(guarded, flags_parser=_parse_flags)


CONFIG_HELP = """

Any config field: --config.<field>=value, e.g.
--config.optimizer.learning_rate=0.1. Every field with its default and
meaning: python -m dlexp.reference, or docs/REFERENCE.md.
"""


def list_flag(values: Optional[Sequence[str]], kind: type, name: str):
  """Parses a list flag's items, naming the bad one. From Python, one string
  is refused, not read as a list of its characters."""
  if isinstance(values, str):
    raise DlexpError(f'{name}={values!r} must be a list of values, e.g. '
                     f'[{values!r}]')
  out = []
  for v in values or []:
    try:
      out.append(kind(v))
    except ValueError:
      raise DlexpError(f'--{name}: {v!r} is not a {kind.__name__}') from None
  if not out:
    raise DlexpError(f'--{name} needs at least one value')
  return out
