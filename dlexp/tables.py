"""Markdown tables: the one writer every table of dlexp goes through."""
from typing import Optional, Sequence


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]],
             align: Optional[Sequence[str]] = None) -> str:
  """A GitHub markdown table; `align` per column: 'l', 'r' or '' (none)."""
  marks = {'l': ':---', 'r': '---:', '': '---'}
  rule = [marks[a] for a in (align or [''] * len(header))]
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(rule) + '|']
  lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)
