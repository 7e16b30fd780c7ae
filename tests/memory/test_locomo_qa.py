"""`bench/locomo_qa.py` end to end: a real process, a real store and embeddings, and a scripted model behind a
local OpenAI-compatible HTTP server (the answerer and the judge), on a tiny LoCoMo-format file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.servers import free_port, json_server
from tests.support.tree import tree_pythonpath

REPO = Path(__file__).resolve().parents[2]

CONVERSATION = {
    "sample_id": "tiny",
    "conversation": {
        "speaker_a": "Alice",
        "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Alice", "dia_id": "D1:1", "text": "We finally brought our puppy Rex home from the shelter!"},
            {"speaker": "Bob", "dia_id": "D1:2", "text": "Congrats! I spent the weekend cooking lasagna for my family."},
        ],
        "session_2_date_time": "10:00 am on 20 June, 2023",
        "session_2": [
            {"speaker": "Alice", "dia_id": "D2:1", "text": "Rex loves the beach, we went there on Sunday."},
            {"speaker": "Bob", "dia_id": "D2:2", "text": "I am training for a marathon in the autumn."},
        ],
    },
    "observation": {
        "session_1_observation": {"Alice": [["Alice adopted a puppy named Rex.", "D1:1"]], "Bob": []},
        "session_2_observation": {"Bob": [["Bob trains for an autumn marathon.", "D2:2"]]},
    },
    "session_summary": {"session_1_summary": "Alice adopted Rex; Bob cooked lasagna."},
    "qa": [
        {"question": "What pet does Alice have?", "answer": "a puppy named Rex", "evidence": ["D1:1"], "category": 4},
        {"question": "When did Alice go to the beach?", "answer": "18 June 2023", "evidence": ["D2:1"], "category": 2},
        {"question": "What does Bob cook?", "answer": "lasagna", "evidence": ["D1:2"], "category": 4},
        {"question": "Skipped: adversarial", "adversarial_answer": "x", "evidence": ["D1:1"], "category": 5},
    ],
}


def scripted_model(method: str, path: str, body: bytes) -> tuple[int, dict]:
    """Answers from the context it is given (the puppy's name when it is there), and judges by the gold answer;
    the judge of the lasagna question answers nonsense (an ERROR, not a crash)."""
    if method != "POST" or not path.endswith("/chat/completions"):
        return 404, {"error": {"message": f"no route {method} {path}"}}
    messages = json.loads(body)["messages"]
    system, user = messages[0]["content"], messages[-1]["content"]
    if system.startswith("You answer a question"):
        question = user.rsplit("Question:", 1)[1]
        context = user.rsplit("Question:", 1)[0]
        reply = "a puppy named Rex" if "pet" in question and "Rex" in context else "unknown"
    elif "lasagna" in user:
        reply = "I cannot decide."
    else:
        gold = user.split("Gold answer:")[1].split("\n")[0].strip()
        generated = user.split("Generated answer:")[1].strip()
        label = "CORRECT" if gold.lower() in generated.lower() else "WRONG"
        reply = json.dumps({"reason": "compared", "label": label})
    return 200, {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "scripted-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


def test_locomo_qa_answers_judges_and_prices(tmp_path):
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps([CONVERSATION]), encoding="utf-8")
    out = tmp_path / "graded.jsonl"
    with json_server(scripted_model) as (url, seen):
        env = {
            **os.environ,
            "PYTHONPATH": tree_pythonpath(),
            "OMNE_MODELS__MAIN__PROVIDER": "openai_compatible",
            "OMNE_MODELS__MAIN__BASE_URL": f"{url}/v1",
            "OMNE_MODELS__MAIN__MODEL": "scripted-model",
            "OMNE_PRICES": json.dumps({"scripted-model": {"input_per_mtok": 1.0, "output_per_mtok": 10.0}}),
        }
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "locomo_qa.py"), str(data), "--l1", "observations", "--k", "3",
             "--max-tokens", "400", "--out", str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line[:16].strip(): line[16:].split() for line in done.stdout.splitlines()}  # name: n, J, errors, tokens
    # 3 scored questions (the adversarial one is left out): 1 correct, 1 wrong, 1 whose judge answered nonsense
    assert rows["all"][:3] == ["3", "0.500", "1"]
    assert rows["4 single-hop"][:3] == ["2", "1.000", "1"]
    assert rows["2 temporal"][:3] == ["1", "0.000", "0"]
    # 3 answers + 3 judgements at 100 + 10 tokens each, priced at $1 / $10 per million
    assert "model calls 6 (failed 0); tokens 600 prompt + 60 completion; cost $0.0012" in done.stdout
    assert len([s for s in seen if s[1].endswith("/chat/completions")]) == 6
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    pet = next(g for g in graded if g["question"].startswith("What pet"))
    assert pet["label"] == "CORRECT" and pet["answer"] == "a puppy named Rex" and 0 < pet["context_tokens"] <= 400
    lasagna = next(g for g in graded if "cook" in g["question"])
    assert lasagna["label"] == "ERROR" and "no single label" in lasagna["error"]


def test_locomo_qa_without_a_reachable_model_fails_each_question_clearly(tmp_path):
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps([CONVERSATION]), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": tree_pythonpath(),
        "OMNE_MODELS__MAIN__PROVIDER": "openai_compatible",
        "OMNE_MODELS__MAIN__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
        "OMNE_MODELS__MAIN__MODEL": "scripted-model",
        "OMNE_MODELS__MAIN__MAX_RETRIES": "0",
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "locomo_qa.py"), str(data), "--out", str(tmp_path / "o.jsonl")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    graded = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(graded) == 3 and all(g["label"] == "ERROR" and "Connection" in g["error"] for g in graded)
