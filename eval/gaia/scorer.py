"""GAIA answer scoring with the official leaderboard's `question_scorer` semantics.

Written from the rules of the official scorer (gaia-benchmark/leaderboard `scorer.py`):

- ground truth that parses as a float: strip `$`, `%` and `,` from the answer, then exact float equality;
- ground truth containing `,` or `;`: split both on `,`/`;`, the lengths must match, and each element is
  compared as a number (when the ground-truth element parses as a float) or as a string with whitespace
  removed and lower-cased — punctuation is kept inside list elements, as the official scorer does;
- any other ground truth: remove all whitespace, lowercase, remove punctuation, then string equality.

A `None` answer, or one that does not parse as the number the ground truth asks for, scores False.
`lenient_question_scorer` is a separate, more forgiving view reported beside the official one, never instead.
"""

from __future__ import annotations

import math
import re
import string

__all__ = [
    "is_float",
    "lenient_question_scorer",
    "normalize_number_str",
    "normalize_str",
    "question_scorer",
    "split_string",
]

_NUMBER_NOISE = ("$", "%", ",")
_LIST_SEPARATORS = re.compile(r"[,;]")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_WHITESPACE = re.compile(r"\s")


def is_float(value: str) -> bool:
    """True when Python's `float()` accepts `value` (the official scorer's number test)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def normalize_number_str(number_str: str) -> float | None:
    """`number_str` without `$`, `%` and `,` as a float, or None when it is not a number."""
    for char in _NUMBER_NOISE:
        number_str = number_str.replace(char, "")
    try:
        return float(number_str)
    except ValueError:
        return None


def split_string(s: str) -> list[str]:
    """Split on `,` and `;` (the official list separators); elements are not stripped."""
    return _LIST_SEPARATORS.split(s)


def normalize_str(input_str: str, remove_punct: bool = True) -> str:
    """Remove all whitespace, lowercase, and optionally remove ASCII punctuation."""
    no_spaces = _WHITESPACE.sub("", input_str).lower()
    return no_spaces.translate(_PUNCTUATION) if remove_punct else no_spaces


def _numbers_equal(model_answer: str, ground_truth: str) -> bool:
    answer = normalize_number_str(model_answer)
    return answer is not None and answer == float(ground_truth)


def question_scorer(model_answer: str | None, ground_truth: str) -> bool:
    """True when `model_answer` matches `ground_truth` under the official GAIA rules."""
    if model_answer is None:
        return False
    model_answer = str(model_answer)
    if is_float(ground_truth):
        return _numbers_equal(model_answer, ground_truth)
    if any(sep in ground_truth for sep in ",;"):
        gt_elems = split_string(ground_truth)
        ma_elems = split_string(model_answer)
        if len(gt_elems) != len(ma_elems):
            return False
        for ma_elem, gt_elem in zip(ma_elems, gt_elems, strict=True):
            if is_float(gt_elem):
                if not _numbers_equal(ma_elem, gt_elem):
                    return False
            elif normalize_str(ma_elem, remove_punct=False) != normalize_str(gt_elem, remove_punct=False):
                return False
        return True
    return normalize_str(model_answer) == normalize_str(ground_truth)


# -- lenient view (reported beside the official score, never instead) ------------------------------

_NUMBER_IN_TEXT = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
# U+2212 MINUS SIGN (typeset text), U+FE63 SMALL HYPHEN-MINUS and U+FF0D FULLWIDTH HYPHEN-MINUS read as "-".
_MINUS_SIGNS = str.maketrans(dict.fromkeys("\u2212\ufe63\uff0d", "-"))


def _lenient_number(model_answer: str, ground_truth: str) -> bool:
    """Equal as numbers once units and words around a single number are ignored (`17 km` == `17`)."""
    target = float(ground_truth)
    found = _NUMBER_IN_TEXT.findall(model_answer)
    if len(found) != 1:
        return False
    value = normalize_number_str(found[0])
    return value is not None and math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-12)


def _lenient_text(model_answer: str, ground_truth: str) -> bool:
    """Equal as strings once articles, whitespace, case and punctuation are ignored."""
    return normalize_str(_ARTICLES.sub("", model_answer)) == normalize_str(_ARTICLES.sub("", ground_truth))


def lenient_question_scorer(model_answer: str | None, ground_truth: str) -> bool:
    """A forgiving score: official match, or a match ignoring units, articles, list punctuation and the
    typographic minus sign (`−5` = `-5`)."""
    if model_answer is None:
        return False
    model_answer = str(model_answer).translate(_MINUS_SIGNS)
    ground_truth = ground_truth.translate(_MINUS_SIGNS)
    if question_scorer(model_answer, ground_truth):
        return True
    if is_float(ground_truth):
        return _lenient_number(model_answer, ground_truth)
    if any(sep in ground_truth for sep in ",;"):
        gt_elems = split_string(ground_truth)
        ma_elems = split_string(model_answer)
        if len(gt_elems) != len(ma_elems):
            return False
        return all(
            _lenient_number(ma, gt) if is_float(gt) else _lenient_text(ma, gt)
            for ma, gt in zip(ma_elems, gt_elems, strict=True)
        )
    return _lenient_text(model_answer, ground_truth)
