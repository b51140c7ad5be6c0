"""What dropout costs in time: a compiled train step and a compiled
inference pass with the model's dropout layers vs the same model rebuilt
without any, and the cost of Monte-Carlo dropout. Timed with dlexp.timing,
one member at a time."""
import copy
import functools
from typing import Callable, Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from dlexp import timing
from dlexp.analysis.common import member_hp, member_keys
from dlexp.analysis.dropout import dropout_apply, without_dropout
from dlexp.errors import ConfigError
from dlexp.layers import dropout as dropout_lib


def _steps_program(steps, num_steps: int):
  """jit(state, hp, xs, ys) -> state after `num_steps` train steps."""

  def run(state, hp, xs, ys):
    def body(st, batch):
      st, _ = steps.train_step(st, hp, *batch)
      return st, None
    return jax.lax.scan(body, state, (xs, ys))[0]

  return jax.jit(run)


def _fastest_seconds(programs: Dict[str, Tuple[Callable, tuple]],
                     repeats: int, budget_s: float) -> Dict[str, float]:
  """Fastest wall time of each compiled program (name -> (fn, args)), the
  programs alternating round by round; no new round once `budget_s` is
  spent. No warm-up call: the programs are compiled ahead of time."""
  timings = timing.interleave(
      {name: functools.partial(fn, *args)
       for name, (fn, args) in programs.items()},
      repeats=repeats, warmup=0, budget_s=budget_s)
  return {name: t.best_s for name, t in timings.items()}


def step_time_hook(num_steps: int = 20, repeats: int = 5,
                   budget_s: float = 10.0):
  """Hook: 'step_ms' (one compiled train step of the model as configured, at
  the member's dropout rate), 'step_ms_nodrop' (the same model rebuilt with
  no dropout layers, same batches and optimizer) and 'step_time_ratio'.

  Each is the fastest of up to `repeats` timed runs of `num_steps` steps (the
  fastest is the least disturbed by other processes), the two programs
  alternating; no new round starts once a member has used `budget_s`. One
  member at a time, not vmapped: an ordinary training run.
  """
  cache = {}  # Steps -> compiled programs: looped members reuse them

  def programs_of(steps, sample, hp, xs, ys):
    if steps not in cache:
      nodrop = copy.copy(steps)
      nodrop.model = without_dropout(steps.model)
      cache[steps] = {}
      for name, s in (('drop', steps), ('nodrop', nodrop)):
        init = jax.jit(s.init)
        state = init(jnp.int32(0), sample)
        # Compiled ahead of time: every timed call is a run, none a compile.
        run = _steps_program(s, num_steps).lower(state, hp, xs, ys).compile()
        cache[steps][name] = (init, run)
    return cache[steps]

  def hook(ctx) -> Dict[str, jax.Array]:
    b = ctx.steps.batch_size
    n = ctx.data.train_x.shape[0]
    idx = jnp.arange(num_steps * b).reshape(num_steps, b) % n
    xs, ys = ctx.data.train_x[idx], ctx.data.train_y[idx]
    sample = ctx.data.train_x[:1]
    programs = programs_of(ctx.steps, sample, member_hp(ctx.hp, 0), xs, ys)
    out = {'step_ms': [], 'step_ms_nodrop': []}
    for i, m in enumerate(ctx.members):
      hp = member_hp(ctx.hp, i)
      states = {name: init(jnp.int32(m.seed), sample)
                for name, (init, _) in programs.items()}
      best = _fastest_seconds(
          {name: (run, (states[name], hp, xs, ys))
           for name, (_, run) in programs.items()}, repeats, budget_s)
      out['step_ms'].append(1e3 * best['drop'] / num_steps)
      out['step_ms_nodrop'].append(1e3 * best['nodrop'] / num_steps)
    out = {k: np.asarray(v) for k, v in out.items()}
    out['step_time_ratio'] = out['step_ms'] / out['step_ms_nodrop']
    return out

  return hook


def predict_time_hook(mc_samples: int = 10, batch_size: int = 1000,
                      repeats: int = 5, budget_s: float = 10.0):
  """Hook: 'predict_ms' (one compiled inference pass, train=False, over
  `batch_size` test examples with the model as configured),
  'predict_ms_nodrop' (the same model rebuilt without dropout layers),
  'predict_time_ratio', 'mc_predict_ms' (MC dropout: `mc_samples`
  stochastic passes averaged) and 'mc_cost_ratio' (over 'predict_ms'), and
  'predict_same_program': 1 when the traced inference program (its jaxpr)
  with dropout layers equals the one without, so the timing difference is
  noise by construction (inverted dropout is the identity at inference;
  'classic' multiplies by 1 - rate).

  Fastest of up to `repeats` runs per program, the programs alternating
  (see step_time_hook); one member at a time.
  """
  if mc_samples < 1:
    raise ConfigError(f'mc_samples={mc_samples} not allowed; need an int >= 1')
  cache, same = {}, {}  # model -> compiled programs, jaxprs equal

  def programs_of(model, variables, x, rate, key):
    if model not in cache:
      nodrop = without_dropout(model)
      fns = {
          'drop': lambda v, x, r, k: model.apply(v, x, train=False,
                                                 dropout_rate=r),
          'nodrop': lambda v, x, r, k: nodrop.apply(v, x, train=False,
                                                    dropout_rate=r),
          'mc': lambda v, x, r, k: dropout_lib.mc_dropout_predict(
              lambda xx, kk: dropout_apply(model, v, xx, r, kk), x,
              mc_samples, k)[0]}
      cache[model] = {n: jax.jit(f).lower(variables, x, rate, key).compile()
                      for n, f in fns.items()}
      jaxpr = lambda f: str(jax.make_jaxpr(f)(variables, x, rate, key))
      same[model] = float(jaxpr(fns['drop']) == jaxpr(fns['nodrop']))
    return cache[model]

  def hook(ctx) -> Dict[str, np.ndarray]:
    x = ctx.data.test[0] if ctx.data.test is not None else ctx.data.val[0]
    x = x.reshape((-1,) + x.shape[2:])[:batch_size]
    keys = member_keys(ctx.members)
    out = {'predict_ms': [], 'predict_ms_nodrop': [], 'mc_predict_ms': []}
    for i in range(len(ctx.members)):
      take = lambda t: jax.tree_util.tree_map(lambda a: a[i], t)
      variables = ctx.steps.variables(take(ctx.params),
                                      take(ctx.batch_stats))
      rate = ctx.hp['model.dropout_rate'][i]
      programs = programs_of(ctx.model, variables, x, rate, keys[i])
      args = (variables, x, rate, keys[i])
      best = _fastest_seconds({n: (f, args) for n, f in programs.items()},
                              repeats, budget_s)
      out['predict_ms'].append(1e3 * best['drop'])
      out['predict_ms_nodrop'].append(1e3 * best['nodrop'])
      out['mc_predict_ms'].append(1e3 * best['mc'])
    out = {k: np.asarray(v) for k, v in out.items()}
    out['predict_time_ratio'] = out['predict_ms'] / out['predict_ms_nodrop']
    out['mc_cost_ratio'] = out['mc_predict_ms'] / out['predict_ms']
    out['predict_same_program'] = np.full(len(ctx.members), same[ctx.model])
    return out

  return hook
