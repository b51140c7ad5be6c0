"""Starting a run from a saved model (`config.init`) and freezing parameters
(`config.train.freeze`): transfer learning and fine-tuning as configuration.

Parameter patterns (init.skip, train.freeze) are Python regular expressions
matched with `re.fullmatch` against the '/'-joined path of a parameter
('dense1/kernel', 'logits/bias') or of any layer that contains it ('dense1',
'logits'): 'logits' names the whole output layer, 'dense[12]' two layers,
'.*/bias' every bias. A BatchNorm layer's running statistics are named by the
same layer paths. A pattern that matches nothing is an error.

init.from_path: a model directory (Trained.save, a run's model/) or a run
directory holding model/. init.restore says what is taken from it:
- 'params': parameters and batch statistics (transfer). The optimizer, step,
  data order and dropout keys start fresh from each member's seed; the
  parameters init.skip matches keep their fresh initialization (a new head).
  Every other parameter must exist in the saved model with the same shape.
- 'state': the whole train state (continue training): parameters, optimizer
  state, step, epoch (the data-order position) and rng keys. config.epochs
  then counts the loaded epochs too (it is the schedule's horizon), so a model
  trained N epochs trains epochs N+1..config.epochs, exactly as if the first
  run had been that long. init.skip must be empty.
A saved model with one member starts every seed of the run; a saved model of
several seeds starts each seed from its own saved member.

train.freeze: the matched parameters (and the running statistics of matched
BatchNorm layers) never change: their optimizer updates are zero
(optax.multi_transform with optax.set_to_zero, see dlexp.optim) and the
engine keeps their values bit for bit, so weight decay, max-norm and pruning
leave them alone too. A frozen BatchNorm layer still normalizes with the
batch's statistics while training (Keras' trainable=False would run it in
inference mode).

train.lr_scale_params / train.lr_scale: the matched parameters train with
their learning rate multiplied by lr_scale (fine-tuning a pretrained base
slower than a new head): their optimizer updates are scaled, which equals a
rate of lr_scale x the rate for every optimizer here (the rate multiplies
the finished direction, decoupled weight decay included; see dlexp.optim).
lr_scale is traced, so a grid over it shares one program.
"""
from typing import Any, Callable, Dict, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from dlexp import losses, models, tree_paths
from dlexp.errors import ConfigError
from dlexp.tree_paths import compile_patterns, matches
from dlexp.train import model_io, program


# -- checks before anything compiles -----------------------------------------
def needs_check(config) -> bool:
  return bool(config.init.from_path or config.train.freeze
              or config.train.lr_scale_params)


def check(config, dataset) -> None:
  """Every init/freeze error as one line, before any compile: the source is
  a model, every pattern matches, every loaded shape fits this model."""
  if not needs_check(config):
    return
  variables = _abstract_variables(config, dataset)
  collections = {c: tree_paths.shapes(variables.get(c, {}))
                 for c in ('params', 'batch_stats')}
  for key in ('freeze', 'lr_scale_params'):
    for p in compile_patterns(config.train[key], f'train.{key}'):
      if not any(matches([p], n.split('/')) for c in collections.values()
                 for n in c):
        raise ConfigError(f'train.{key} pattern {p.pattern!r} matches no '
                          f'parameter of this model; parameters: '
                          f'{_listing(collections["params"])}')
  if not config.init.from_path:
    return
  saved = model_io.read(config.init.from_path, 'init.from_path')
  _check_seeds(config, saved)
  if config.init.restore == 'state':
    _check_state(config, dataset, saved)
    return
  have = saved.shapes()
  skip = compile_patterns(config.init.skip, 'init.skip')
  stored = {c: {'/'.join(p[1:]): s for p, s in have.items() if p[0] == c}
            for c in collections}
  for p in skip:
    if not any(matches([p], n.split('/')) for tree in (collections, stored)
               for c in tree.values() for n in c):
      raise ConfigError(f'init.skip pattern {p.pattern!r} matches no '
                        'parameter of this model or of the saved one; '
                        f'parameters: {_listing(collections["params"])}')
  for c, want in collections.items():
    _check_shapes(c, want, stored[c], skip, saved.path)


def _abstract_variables(config, dataset) -> Dict[str, Any]:
  model = models.build_model(
      config.model, losses.output_dim(config.loss, dataset.num_classes,
                                      dataset.target_dim),
      dataset.input_shape)
  sample = jax.ShapeDtypeStruct((1,) + tuple(dataset.input_shape),
                                jnp.float32)
  return jax.eval_shape(
      lambda x: model.init({'params': jax.random.PRNGKey(0),
                            'dropout': jax.random.PRNGKey(1)}, x,
                           train=False), sample)


def _listing(names: Dict[str, Any], most: int = 8) -> str:
  layers = list(dict.fromkeys(n.rsplit('/', 1)[0] for n in names))
  more = f', ... ({len(layers)} layers)' if len(layers) > most else ''
  return ', '.join(layers[:most]) + more


def _check_shapes(collection: str, want: Dict[str, tuple],
                  have: Dict[str, tuple], skip, where: str) -> None:
  label = '' if collection == 'params' else f'{collection} '
  for name, shape in want.items():
    if matches(skip, name.split('/')):
      continue
    if name not in have:
      raise ConfigError(f'init.from_path: {label}{name} {shape} of this model '
                        f'is not in the saved model {where}; add it to '
                        'init.skip to initialize it fresh')
    if have[name] != shape:
      raise ConfigError(f'init.from_path: {label}{name} has shape '
                        f'{have[name]} in the saved model {where} and {shape} '
                        'in this model; add it to init.skip to re-initialize '
                        'it')
  for name, shape in have.items():
    if name not in want and not matches(skip, name.split('/')):
      raise ConfigError(f'init.from_path: {label}{name} {shape} of the saved '
                        f'model {where} is not in this model; add it to '
                        'init.skip to leave it out')


def member_seeds(config) -> List[int]:
  return [config.seed + i for i in range(config.num_seeds)]


def source_index(saved_seeds: Sequence[int], seed: int, where: str) -> int:
  """Which saved member starts the member of `seed` (see module docstring)."""
  if len(saved_seeds) == 1:
    return 0
  if seed not in saved_seeds:
    raise ConfigError(f'init.from_path: {where} holds seeds '
                      f'{list(saved_seeds)}, not seed {seed}; train the seeds '
                      'it holds or save a model of one seed')
  return list(saved_seeds).index(seed)


def _check_seeds(config, saved) -> None:
  for seed in member_seeds(config):
    source_index(saved.seeds, seed, saved.path)


def _check_state(config, dataset, saved) -> None:
  """restore='state': the same state tree (model, optimizer) and epochs left
  to train."""
  epochs = {int(m['epochs']) for m in saved.meta['members']}
  if len(epochs) > 1:
    raise ConfigError(f"init.restore='state': the seeds of {saved.path} "
                      f'stopped at different epochs {sorted(epochs)}; '
                      'continue them one seed at a time')
  done = epochs.pop()
  if config.epochs <= done:
    raise ConfigError(f'epochs={config.epochs} must be > {done}, the epochs '
                      f"{saved.path} has trained (with init.restore='state' "
                      'epochs counts them too)')
  want = {p: tuple(s.shape) for p, s in _abstract_state(config, dataset).items()}
  have = saved.shapes()
  for path, shape in want.items():
    if have.get(path) != shape:
      there = (f'shape {have[path]}' if path in have else 'nothing')
      raise ConfigError(f"init.restore='state': {'/'.join(path)} has {there} "
                        f'in {saved.path} and shape {shape} in this run (an '
                        "other model or optimizer); use init.restore='params'")
  extra = sorted(set(have) - set(want))
  if extra:
    raise ConfigError(f"init.restore='state': {'/'.join(extra[0])} of "
                      f'{saved.path} is not in this run (an other model or '
                      "optimizer); use init.restore='params'")


def _abstract_state(config, dataset) -> Dict[Tuple[str, ...], Any]:
  """{named path: ShapeDtypeStruct} of one member's fresh TrainState."""
  mesh = Mesh(np.array(jax.devices()), ('data',))
  steps = program.build(config, dataset, mesh).steps
  sample = jax.ShapeDtypeStruct((1,) + tuple(dataset.input_shape),
                                jnp.float32)
  state = jax.eval_shape(steps.init, jnp.int32(0), sample)
  return tree_paths.flat(tree_paths.nested(state))


# -- the starting states -------------------------------------------------------
def start_states(config, chunks, states, trackers):
  """(states, trackers, start epoch) of a group whose config names
  init.from_path: each chunk's fresh states (stacked over its members, as
  `Program.init` made them) with the saved values put in; on the host."""
  saved = model_io.read(config.init.from_path, 'init.from_path')
  skip = compile_patterns(config.init.skip, 'init.skip')
  whole = config.init.restore == 'state'
  source = tree_paths.flat(saved.state())
  new_states, new_trackers = [], []
  for c, st, tr in zip(chunks, jax.device_get(states),
                       jax.device_get(trackers)):
    rows = [source_index(saved.seeds, m.seed, saved.path) for m in c]
    pick = lambda path, rows=rows, source=source: source[path][rows]
    if whole:
      st = _put(st, (), pick, lambda names: False)
    else:
      st = st.replace(
          params=_put(st.params, ('params',), pick,
                      lambda names: matches(skip, names)),
          batch_stats=_put(st.batch_stats, ('batch_stats',), pick,
                           lambda names: matches(skip, names)))
    new_states.append(st)
    new_trackers.append(tr.replace(best_params=st.params,
                                   best_batch_stats=st.batch_stats))
  start = int(saved.meta['members'][0]['epochs']) if whole else 0
  return new_states, new_trackers, start


def _put(tree, prefix: Tuple[str, ...], pick: Callable, keep: Callable):
  """`tree` with every leaf not kept replaced by the saved leaf of the same
  name (cast to the leaf's dtype)."""

  def leaf(path, x):
    names = tree_paths.names(path)
    if keep(names):
      return x
    return np.asarray(pick(prefix + tuple(names)), dtype=np.asarray(x).dtype)
  return jax.tree_util.tree_map_with_path(leaf, tree)
