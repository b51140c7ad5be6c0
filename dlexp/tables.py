"""Markdown tables: the one writer that reports, benchmarks and the reference
use.

    markdown(['model', 'examples/s'], [['cnn', '2,061']], align='lr')
    | model | examples/s |
    |---|---:|
    | cnn | 2,061 |
"""
from typing import Any, Iterable, Optional, Sequence

_RULES = {'l': '---', 'r': '---:', 'c': ':---:', '': '---'}


def cell(value: Any) -> str:
  """`value` as one table cell: str(), whitespace (newlines too) collapsed to
  single spaces and '|' escaped, so a cell never breaks the row."""
  return ' '.join(str(value).split()).replace('|', '\\|')


def markdown(header: Sequence[Any], rows: Iterable[Sequence[Any]],
             align: Optional[Sequence[str]] = None) -> str:
  """A GitHub-flavoured markdown table, one line per row, no trailing newline.

  Cells go through `cell` (any value; str() of it). `align` has one letter
  per column: 'l' (default), 'r' (numbers) or 'c'; a string such as 'llr'
  works. A row with fewer cells than the header is padded with empty cells;
  one with more is an error.
  """
  width = len(header)
  align = list(align) if align is not None else [''] * width
  if len(align) != width or any(a not in _RULES for a in align):
    raise ValueError(f'align={"".join(align)!r} needs one of l, r, c per '
                     f'column ({width} columns)')
  lines = [_row(header), '|' + '|'.join(_RULES[a] for a in align) + '|']
  for i, row in enumerate(rows):
    row = list(row)
    if len(row) > width:
      raise ValueError(f'table row {i} has {len(row)} cells for {width} '
                       f'columns: {row!r}')
    lines.append(_row(row + [''] * (width - len(row))))
  return '\n'.join(lines)


def _row(cells: Sequence[Any]) -> str:
  return '| ' + ' | '.join(cell(c) for c in cells) + ' |'
