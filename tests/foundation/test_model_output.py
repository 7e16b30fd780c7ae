"""Reading model replies: the one JSON extraction and the one FINAL ANSWER extraction, with the cases of both
former copies (reflection's and the responders' JSON; the GAIA harness' and the Reactive Responder's answer)."""

from __future__ import annotations

import pytest

from omne_core.models import extract_final_answer, extract_json


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('  {"a": [1, 2]}  ', {"a": [1, 2]}),
        ('```json\n{"a": 1}\n```', {"a": 1}),  # fenced (both former copies)
        ('Here you go:\n```\n{"a": 1}\n```\nAnything else?', {"a": 1}),
        ('Sure! {"a": "b"} Hope it helps.', {"a": "b"}),  # prose around the object
        ('{"a": "a } inside", "b": "\\" {"}', {"a": "a } inside", "b": '" {'}),  # braces and quotes in strings
        ('{"a": 1} and then {"b": 2}', {"a": 1}),  # the first balanced object, not a span over both
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),  # a raw newline (grammar-constrained models)
        ("[1, 2, 3]", [1, 2, 3]),  # any JSON value; the schema decides whether it fits
    ],
)
def test_extract_json(reply: str, value: object) -> None:
    assert extract_json(reply) == value


@pytest.mark.parametrize("reply", ["", "   ", "I think Alice lives in Paris.", '{"a": 1', "{not json}"])
def test_extract_json_refuses_replies_without_json(reply: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json(reply)


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        # the GAIA harness' cases
        ("I think so.\nFINAL ANSWER: 42", "42"),
        ("FINAL ANSWER: 41\nWait, recount.\nFINAL ANSWER: 42", "42"),  # the last marker wins
        ("**FINAL ANSWER:** Paris", "Paris"),
        ("Final answer: red, yellow, blue", "red, yellow, blue"),
        ("FINAL ANSWER:\n\n  seagull  \nThanks!", "seagull"),
        ("FINAL ANSWER: [42]", "42"),  # the template's brackets copied literally
        ("FINAL ANSWER: `3.14`", "3.14"),
        ("The answer is 42.", None),
        ("", None),
        (None, None),
        # the Reactive Responder's cases: where the two copies disagreed, the answer is the first line only
        ("FINAL ANSWER: 391", "391"),
        ("final answer: 391", "391"),
        ("FINAL ANSWER: 391\nI multiplied 17 by 23.", "391"),  # the old responder kept the explanation
        ("FINAL  ANSWER : 391", "391"),  # the old responder missed a doubled space
        ("Done. FINAL ANSWER: \"Lyon\"", "Lyon"),  # and kept the quotes
        ("FINAL ANSWER:", ""),  # a marker with nothing after it: no usable answer ("" here, None there)
        ("FINAL ANSWER:   \n  \n", ""),
    ],
)
def test_extract_final_answer(reply: str | None, answer: str | None) -> None:
    assert extract_final_answer(reply) == answer
