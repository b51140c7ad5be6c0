"""Markdown reference of everything selectable by config name, generated from
the code so that it cannot drift from it.

    python -m dlexp.reference                      # print the reference
    python -m dlexp.reference --write docs/REFERENCE.md
    python -m dlexp.reference --check docs/REFERENCE.md

Names come from the registries (and the few choice tuples that are not
registries); their descriptions from the entry itself (a `description` field
or the docstring), else `ENTRY_DESCRIPTIONS`, else the docstring of the module
that defines the entry. Config fields come from `config.default_config()`;
their descriptions, from one place only: the `# comment` beside the default in
the owning module's defaults() (continued on the comment-only lines below it
that start in the same column).
"""
import argparse
import ast
import dataclasses
import functools
import inspect
import io
import math
import os
import sys
import textwrap
import tokenize
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import ml_collections

from dlexp import config as config_lib
from dlexp import data, losses, models, optim, regularizers, tables
from dlexp.errors import ConfigError
from dlexp.layers import ACTIVATIONS, DROPOUTS, INITIALIZERS, conv
from dlexp.models import config as model_config
from dlexp.registry import Registry

START = '<!-- reference:start -->'
END = '<!-- reference:end -->'
HEADER = ('# dlexp reference\n\nEvery name and config field an experiment '
          'can select, generated from the code; `tests/test_reference.py` '
          'fails when this file is out of date.\n')
COMMAND = 'python -m dlexp.reference --write docs/REFERENCE.md'

# Descriptions of entries whose code has none (lambdas, aliases, factories).
# Keyed by Choices.key; a docstring added to the entry takes precedence.
ENTRY_DESCRIPTIONS: Dict[str, Dict[str, str]] = {
    'activations': {
        'relu': 'max(x, 0).',
        'leaky_relu': 'x for x >= 0, else model.leaky_slope * x.',
        'elu': 'x for x > 0, else model.elu_alpha * (exp(x) - 1).',
        'selu': 'Scaled ELU with the self-normalizing constants '
                '(Klambauer et al. 2017).',
        'prelu': 'Leaky ReLU with one learned slope per channel, initialized '
                 'to model.prelu_init (He et al. 2015).',
        'rrelu': 'Randomized leaky ReLU: slope ~ U(model.rrelu_lower, '
                 'model.rrelu_upper) per element in training, their mean at '
                 'evaluation (Xu et al. 2015).',
        'tanh': 'Hyperbolic tangent.',
        'sigmoid': 'Logistic sigmoid 1 / (1 + exp(-x)).',
        'softplus': 'log(1 + exp(x)).',
        'linear': 'Identity (no nonlinearity).',
    },
    'initializers': {
        'he_normal': 'He et al. 2015: normal, variance 2 gain^2 / fan_in.',
        'he_uniform': 'He et al. 2015: uniform, variance 2 gain^2 / fan_in.',
        'he_truncated_normal': 'He et al. 2015: normal truncated at 2 std, '
                               'variance 2 gain^2 / fan_in.',
        'glorot_normal': 'Glorot & Bengio 2010: normal, variance '
                         '2 gain^2 / (fan_in + fan_out).',
        'glorot_uniform': 'Glorot & Bengio 2010: uniform, variance '
                          '2 gain^2 / (fan_in + fan_out).',
        'glorot_truncated_normal': 'Glorot & Bengio 2010: truncated normal, '
                                   'variance 2 gain^2 / (fan_in + fan_out).',
        'lecun_normal': 'LeCun et al. 1998: normal, variance gain^2 / fan_in.',
        'lecun_uniform': 'LeCun et al. 1998: uniform, variance '
                         'gain^2 / fan_in.',
        'lecun_truncated_normal': 'LeCun et al. 1998: truncated normal, '
                                  'variance gain^2 / fan_in.',
        'orthogonal': 'Orthogonal matrix times gain (Saxe et al. 2014); '
                      'kernels flattened to (prod(shape[:-1]), out).',
        'zeros': 'All weights 0.',
    },
    'dropouts': {
        'none': 'No dropout.',
        'dropconnect': 'DropConnect (Wan et al. 2013): drops kernel entries '
                       'of the dense layers instead of units.',
    },
    'models': {
        'rnn': 'Recurrent classifier whose cell is model.cell (lstm or gru).',
        'lstm': 'Recurrent classifier with LSTM cells.',
        'gru': 'Recurrent classifier with GRU cells.',
    },
    'losses': {
        'cross_entropy': 'Softmax cross-entropy; loss.label_smoothing mixes '
                         'in the uniform distribution.',
        'binary_cross_entropy': 'Sigmoid cross-entropy: one logit for two '
                                'classes, else one-vs-rest per class.',
        'focal': 'Focal loss (Lin et al. 2017) with exponent '
                 'loss.focal_gamma; 0 is cross-entropy.',
        'mse': 'Mean squared error of the raw logits against one-hot '
               'targets.',
        'mae': 'Mean absolute error of the raw logits against one-hot '
               'targets.',
        'huber': 'Huber loss of the raw logits against one-hot targets, '
                 'threshold loss.huber_delta.',
    },
    'optimizers': {
        'sgd': 'SGD with heavy-ball momentum optimizer.momentum (0 = plain '
               'SGD); optimizer.nesterov for Nesterov.',
        'nesterov': 'SGD with Nesterov momentum optimizer.momentum.',
        'adagrad': 'Adagrad (accumulator starts at '
                   'optimizer.initial_accumulator).',
        'rmsprop': 'RMSProp (optimizer.rms_decay) with optional momentum '
                   '(optimizer.rms_momentum).',
        'adam': 'Adam (optimizer.b1, b2, eps).',
        'adamw': 'Adam with decoupled optimizer.weight_decay (AdamW).',
        'nadam': 'Adam with Nesterov momentum (NAdam).',
    },
    'schedules': {
        'constant': 'Constant learning rate (after the optional warm-up).',
        'plateau': 'Reduce on plateau: multiply by schedule.plateau_factor '
                   'after schedule.plateau_patience epochs without '
                   'improvement of val_loss.',
        'step': 'Multiply by schedule.decay_factor at each epoch in '
                'schedule.boundaries.',
        'exponential': 'Multiply by schedule.decay_rate per epoch, smoothly.',
        'cosine': 'Half-cosine from 1 to schedule.min_lr_ratio over training.',
        'warmup_cosine': 'Cosine after a linear warm-up of '
                         'schedule.warmup_epochs (> 0).',
        'onecycle': 'One-cycle (Smith & Topin 2017): cosine up to the peak at '
                    'schedule.peak_fraction, then down to '
                    'schedule.min_lr_ratio.',
    },
    'norms': {
        'default': "The model family's default ('batch' for resnet and "
                   "inception, 'none' elsewhere).",
        'none': 'No normalization layer.',
        'batch': 'BatchNorm (model.bn_momentum, model.bn_epsilon).',
    },
    'prune_methods': {
        'none': 'No pruning.',
        'one_shot': 'Magnitude pruning to reg.prune_sparsity once, at '
                    'reg.prune_start_epoch.',
        'gradual': 'Cubic sparsity schedule (Zhu & Gupta 2017) from '
                   'reg.prune_start_epoch to reg.prune_end_epoch.',
    },
    'prune_scopes': {
        'layer': 'Each kernel pruned to the target sparsity.',
        'global': 'All kernels ranked together.',
    },
    'cells': {
        'lstm': 'Long short-term memory cell.',
        'gru': 'Gated recurrent unit cell.',
    },
    'conv_impls': {
        'auto': 'The fastest implementation for the backend.',
        'xla': "XLA's own convolution and max pooling.",
        'im2col': 'Convolution as patches x matrix; pooling without '
                  'select_and_scatter (fast backward on XLA-CPU).',
    },
    'member_modes': {
        'auto': 'On a GPU/TPU vmap; on CPU loop for conv nets, else vmap '
                '(measured: benchmarks/README.md).',
        'vmap': 'All members of a group in one vmapped program.',
        'loop': 'One member at a time through the same compiled program.',
    },
    'es_modes': {
        'auto': "min when the monitored name contains 'loss', else max.",
        'min': 'Lower is better.',
        'max': 'Higher is better.',
    },
}

@dataclasses.dataclass(frozen=True)
class Choices:
  """A set of names selectable by one config field."""
  key: str  # id in ENTRY_DESCRIPTIONS
  title: str
  field: str  # the config path that selects a name
  entries: Dict[str, Any]  # name -> registered object (None for tuples)
  registry: Optional[Registry] = None  # None for a tuple of allowed names


def _reg(key: str, title: str, field: str, registry: Registry) -> Choices:
  return Choices(key, title, field,
                 {name: registry.get(name) for name in registry.names()},
                 registry)


def _tuple(key: str, title: str, field: str,
           names: Sequence[str]) -> Choices:
  return Choices(key, title, field, {name: None for name in names})


def choices() -> List[Choices]:
  """Every set of selectable names, in the order of the reference."""
  return [
      _reg('datasets', 'Datasets', 'data.name', data.DATASETS),
      _reg('models', 'Models', 'model.name', models.MODELS),
      _reg('activations', 'Activations', 'model.activation', ACTIVATIONS),
      _reg('initializers', 'Initializers', 'model.kernel_init', INITIALIZERS),
      _reg('dropouts', 'Dropout variants', 'model.dropout', DROPOUTS),
      _tuple('norms', 'Normalizations', 'model.norm', model_config.NORMS),
      _tuple('cells', 'Recurrent cells', 'model.cell', model_config.CELLS),
      _tuple('conv_impls', 'Convolution implementations', 'model.conv_impl',
             conv.CONV_IMPLS),
      _reg('optimizers', 'Optimizers', 'optimizer.name', optim.OPTIMIZERS),
      _reg('schedules', 'Learning-rate schedules', 'schedule.name',
           optim.SCHEDULES),
      _reg('losses', 'Losses', 'loss.name', losses.LOSSES),
      _tuple('prune_methods', 'Pruning methods', 'reg.prune_method',
             regularizers.PRUNE_METHODS),
      _tuple('prune_scopes', 'Pruning scopes', 'reg.prune_scope',
             regularizers.PRUNE_SCOPES),
      _tuple('member_modes', 'Member modes', 'members',
             config_lib.MEMBER_MODES),
      _tuple('es_modes', 'Early-stopping modes', 'early_stopping.mode',
             config_lib.ES_MODES),
  ]


# -- entry descriptions -------------------------------------------------------
def _first_line(doc: Optional[str]) -> str:
  """The first sentence-line of a docstring, whitespace collapsed."""
  if not doc:
    return ''
  paragraph = inspect.cleandoc(doc).split('\n\n')[0]
  return ' '.join(paragraph.split())


def _unwrap(obj: Any) -> Any:
  """The function behind a partial or a one-function closure (the stateless
  activation wrappers), whose docstring describes the entry."""
  while isinstance(obj, functools.partial):
    obj = obj.func
  if inspect.isfunction(obj) and not obj.__doc__ and obj.__closure__:
    inner = [f for f in map(_cell, obj.__closure__) if inspect.isfunction(f)]
    if len(inner) == 1:
      return inner[0]
  return obj


def _cell(cell) -> Any:
  try:
    return cell.cell_contents
  except ValueError:  # an empty cell
    return None


def _own_doc(obj: Any) -> str:
  """A description the entry carries itself: a `description` field or the
  docstring of the function (or model builder) behind it."""
  description = getattr(obj, 'description', None)
  if isinstance(description, str) and description:
    return description
  if isinstance(obj, models.ModelSpec):
    obj = obj.builder
  obj = _unwrap(obj)
  if inspect.isfunction(obj):
    return _first_line(obj.__doc__)
  return ''


def _module_doc(obj: Any) -> str:
  if isinstance(obj, models.ModelSpec):
    module = inspect.getmodule(obj.builder)
    return _first_line(module.__doc__) if module else ''
  return ''


def _aliases(entries: Dict[str, Any], name: str) -> List[str]:
  obj = entries[name]
  if obj is None:
    return []
  return [n for n, o in entries.items() if o is obj and n != name]


def describe_entry(group: Choices, name: str) -> str:
  """One-line description of a selectable name (see the module docstring).

  An alias registered to the same object without a description of its own
  borrows the other name's ('momentum' is 'sgd'). Aliases are not marked as
  such: some share an object yet differ elsewhere ('plateau' is 'constant'
  for the schedule, but make_optimizer treats it apart).
  """
  table = ENTRY_DESCRIPTIONS.get(group.key, {})
  obj = group.entries[name]
  text = _own_doc(obj) or table.get(name) or _module_doc(obj)
  for alias in _aliases(group.entries, name):
    text = text or table.get(alias, '')
  return text.strip()


def model_variants(spec: models.ModelSpec) -> str:
  """The variants a model family allows, as its own error message says."""
  no_variants = {f.name: f.default
                 for f in dataclasses.fields(models.ModelSpec)}['check_variant']
  if spec.check_variant is no_variants:
    return ''
  try:
    spec.check_variant('\x00')  # no family has this variant
  except ConfigError as e:
    return str(e).split('allowed: ', 1)[-1]
  return ''


# -- config fields ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Field:
  path: str
  default: Any
  traced: bool
  description: str
  source: str  # the file that sets the default, relative to the package root


def _comments(source: str) -> Dict[int, str]:
  """Line number -> the comment that ends that line, joined with the
  comment-only lines below it that start in the same column."""
  found = {}  # line -> (column, text, comment only)
  lines = source.splitlines()
  for tok in tokenize.generate_tokens(io.StringIO(source).readline):
    if tok.type == tokenize.COMMENT:
      line, column = tok.start
      alone = not lines[line - 1][:column].strip()
      found[line] = (column, tok.string.lstrip('#').strip(), alone)
  out = {}
  for line, (column, text, _) in found.items():
    more = line + 1
    while more in found and found[more][2] and found[more][0] == column:
      text += ' ' + found[more][1]
      more += 1
    out[line] = text
  return out


def _resolve(node: ast.AST, namespace: Dict[str, Any]) -> Any:
  """The object a dotted-name expression refers to, or None."""
  if isinstance(node, ast.Name):
    return namespace.get(node.id)
  if isinstance(node, ast.Attribute):
    base = _resolve(node.value, namespace)
    return getattr(base, node.attr, None) if base is not None else None
  return None


def _attr_path(node: ast.AST, root: str) -> Optional[List[str]]:
  """['early_stopping', 'monitor'] for `c.early_stopping.monitor`."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.append(node.attr)
    node = node.value
  if isinstance(node, ast.Name) and node.id == root:
    return parts[::-1]
  return None


def _package_path(fn: Callable) -> str:
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return os.path.relpath(inspect.getsourcefile(fn), root)


def defaults_sources(fn: Callable, prefix: str,
                      out: Dict[str, Tuple[str, str]]) -> None:
  """Fills out[path] = (comment, file) for every default `fn` sets.

  Follows the section functions that `fn` calls (`c.model = ...defaults()`),
  so a new section or knob is picked up without touching this module.
  """
  source = textwrap.dedent(inspect.getsource(fn))
  comments = _comments(source)
  tree = ast.parse(source)
  func = tree.body[0]
  namespace = fn.__globals__
  where = _package_path(fn)

  def keywords(call: ast.Call, base: str) -> None:
    """Fields of `ConfigDict(dict(k=v, ...))` or `ConfigDict(k=v, ...)`."""
    inner = call
    if call.args and isinstance(call.args[0], ast.Call):
      inner = call.args[0]
    for kw in inner.keywords:
      if kw.arg is None:  # **part(): the fields a helper function returns
        if isinstance(kw.value, ast.Call):
          part = _resolve(kw.value.func, namespace)
          if inspect.isfunction(part):
            defaults_sources(part, base, out)
        continue
      path = base + kw.arg
      if not (isinstance(kw.value, ast.Call) and value(kw.value, path)):
        out[path] = (comments.get(kw.value.end_lineno, ''), where)

  def value(node: ast.Call, path: str) -> bool:
    """Follows a nested section; False for a plain value."""
    target = _resolve(node.func, namespace)
    if inspect.isfunction(target):  # a section's defaults()
      defaults_sources(target, path + '.', out)
      return True
    if target is ml_collections.ConfigDict:  # fields set below or inline
      keywords(node, path + '.')
      return True
    return False

  root = None
  for stmt in func.body:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
      target = stmt.targets[0]
      if root is None and isinstance(target, ast.Name):
        root = target.id  # `c = ml_collections.ConfigDict()`
        if isinstance(stmt.value, ast.Call):
          keywords(stmt.value, prefix)
        continue
      parts = _attr_path(target, root) if root else None
      if parts is None:
        continue
      path = prefix + '.'.join(parts)
      if isinstance(stmt.value, ast.Call) and value(stmt.value, path):
        continue
      out[path] = (comments.get(stmt.value.end_lineno, ''), where)
    elif isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call):
      keywords(stmt.value, prefix)


def field_sources() -> Dict[str, Tuple[str, str]]:
  """path -> (description comment, defining file), in source order."""
  out: Dict[str, Tuple[str, str]] = {}
  defaults_sources(config_lib.default_config, '', out)
  return out


def fields() -> List[Field]:
  """Every config field, in the order the defaults are written."""
  flat = config_lib.flatten(config_lib.default_config())
  traced = set(config_lib.traced_fields())
  sources = field_sources()
  selectors = {group.field: group.title for group in choices()}
  # Fields the parser missed (a default set in an unusual way) still appear.
  order = [p for p in sources if p in flat] + sorted(
      p for p in flat if p not in sources)
  result = []
  for path in order:
    text, where = sources.get(path, ('', ''))
    if text and not text.endswith(('.', ';', ':', ')')):
      text += '.'  # comments are often bare phrases
    if path in selectors:
      text += f' One of the *{selectors[path]}* names above.'
    result.append(Field(path, flat[path], path in traced, text.strip(),
                        where))
  return result


# -- markdown -----------------------------------------------------------------
def format_default(value: Any) -> str:
  if isinstance(value, float) and math.isnan(value):
    return 'nan'
  return repr(value)


def generate() -> str:
  """The reference (the text between the markers), ending in a newline."""
  lines = [
      f'Generated by `{COMMAND}` from the code; do not edit by hand.',
      '',
      '## Selectable names',
      '',
  ]
  for group in choices():
    lines += [f'### {group.title} (`{group.field}`)', '']
    is_models = group.key == 'models'
    header = ['name', 'description'] + (
        ['variants (`model.variant`)'] if is_models else [])
    rows = [[f'`{name}`', describe_entry(group, name)] + (
        [model_variants(group.entries[name])] if is_models else [])
            for name in group.entries]
    lines += [tables.markdown(header, rows), '']
  lines += [
      '## Config fields',
      '',
      'Set any field with `--config.<field>=value`. *traced* fields are '
      'inputs of the compiled program: a grid over them (and over seeds) '
      'shares one compile; any other field gives a separate program.',
      '',
  ]
  by_section: Dict[str, List[Field]] = {}
  for field in fields():
    head = field.path.split('.')[0] if '.' in field.path else ''
    by_section.setdefault(head, []).append(field)
  for head, group_fields in by_section.items():
    title = f'`{head}.*`' if head else 'Top level'
    lines += ([''] if lines[-1] else []) + [
        f'### {title} ({group_fields[0].source or "?"})', '',
        tables.markdown(['field', 'default', 'traced', 'description'], [
            [f'`{f.path}`', f'`{format_default(f.default)}`',
             'traced' if f.traced else '', f.description]
            for f in group_fields])]
  return '\n'.join(lines).rstrip('\n') + '\n'


def _region(text: str) -> Optional[Tuple[int, int]]:
  """(start, end) offsets of the text between the markers, or None."""
  start = text.find(START)
  end = text.find(END)
  if start < 0 or end < start:
    return None
  return start + len(START), end


def embedded(text: str) -> Optional[str]:
  region = _region(text)
  if region is None:
    return None
  return text[region[0]:region[1]].strip('\n') + '\n'


def check(path: str) -> Optional[str]:
  """None if `path` holds the current reference, else a one-line message."""
  fix = f'run: python -m dlexp.reference --write {path}'
  try:
    with open(path) as f:
      text = f.read()
  except OSError as e:
    return f'{path}: cannot read ({e.strerror}); {fix}'
  current = embedded(text)
  if current is None:
    return (f'{path}: no {START} ... {END} markers; add them where the '
            f'reference belongs, then {fix}')
  if current != generate():
    return f'{path} is out of date with the code; {fix}'
  return None


def write(path: str) -> None:
  """Rewrites the marked region of `path` (creates the file if missing)."""
  body = f'{START}\n{generate()}{END}'
  if os.path.exists(path):
    with open(path) as f:
      text = f.read()
    region = _region(text)
    if region is None:
      raise ConfigError(f'{path} has no {START} ... {END} markers; add them '
                        'where the reference belongs')
    start = text.find(START)
    text = text[:start] + body + text[region[1] + len(END):]
  else:
    text = f'{HEADER}\n{body}\n'
  with open(path, 'w') as f:
    f.write(text)


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m dlexp.reference', description=__doc__.split('\n')[0])
  mode = parser.add_mutually_exclusive_group()
  mode.add_argument('--check', metavar='FILE',
                    help='exit 1 unless FILE holds the current reference')
  mode.add_argument('--write', metavar='FILE',
                    help='rewrite the marked region of FILE')
  args = parser.parse_args(argv)
  if args.check:
    message = check(args.check)
    if message:
      print(message, file=sys.stderr)
      return 1
    return 0
  if args.write:
    try:
      write(args.write)
    except ConfigError as e:
      print(e, file=sys.stderr)
      return 1
    return 0
  sys.stdout.write(generate())
  return 0


if __name__ == '__main__':
  sys.exit(main())
