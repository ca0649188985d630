"""One display rule for every document: how a value is shown, and how precisely a student is asked for it.

**Shown.** A value is shown rounded to the document's decimals (``--digits``,
:data:`~derive.core.numbers.DEFAULT_DIGITS` by default, as the published worked example prints
them), trailing zeros dropped, wherever it appears: a line of working, a boxed answer, a table, a
sentence, the teacher's answer table.  So out_o1 reads 0.75136507 in its box and in every later
line, never 0.751365070 in one place and 0.75136507 in another.  :func:`shown` is that rule;
every document builder calls it.

**Asked.** A student is asked for :data:`ANSWER_FIGURES` significant figures: the worksheet, the
web page's worksheet, the quiz and the exam ask for this many unless told otherwise, state it in
their instructions, and ``derive check`` and the page's check want at least this many figures in an
answer.  Four, because:

- it tells a right answer from a slip: the rule accepts an answer within one unit of its last
  figure, a relative window of at most 1/1000, narrower than any wrong factor, sign or power of
  two, and narrower than a gradient 1 % off (three figures allow up to 1/100);
- it is what a calculator's working by hand carries without copying errors (nine decimals by
  hand, as the sheets asked before, is a test of patience, not of backpropagation);
- a student who rounds each value to four figures and works on from it stays right: each later
  answer is judged against the formula at their own rounded numbers (error carried forward);
- the quiz already asked for four.
"""

from __future__ import annotations

from decimal import Decimal

from derive.core.numbers import Number, format_number

ANSWER_FIGURES = 4


def shown(value: Number | float | Decimal, decimals: int) -> str:
    """A value as every document shows it: ``decimals`` places, trailing zeros dropped (0.75136507)."""
    return format_number(value, decimals)
