"""`build_toolset`: the tools as AutoGen FunctionTools, run through their JSON interface and by an agent."""

from __future__ import annotations

import json

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import ToolCallSummaryMessage
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
from autogen_core.tools import FunctionTool
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.config import ModelProvider, SearchBackendName, load_settings

from .toolsite import PDF_SENTENCE

TOOL_MODEL = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=False,
    family=ModelFamily.UNKNOWN,
    structured_output=False,
)
NAMES = [
    "web_search",
    "visit_page",
    "page_down",
    "page_up",
    "find_on_page",
    "find_next",
    "follow_link",
    "history_back",
    "read_file",
    "ask_logic_expert",
]


def settings_for(site, web_settings, tmp_path):
    web = web_settings.model_copy(
        update={"search_backend": SearchBackendName.SEARXNG, "searxng_url": site.url("/searx")}
    )
    return load_settings(data_dir=tmp_path / "data", web=web)


def build(site, web_settings, tmp_path, **kwargs):
    from omne_tools import build_toolset

    return {t.name: t for t in build_toolset(settings_for(site, web_settings, tmp_path), **kwargs)}


async def run(tool, **args) -> str:
    return await tool.run_json(args, CancellationToken())


async def test_all_tools_present_with_json_schemas(local_site, web_settings, tmp_path):
    tools = build(
        local_site,
        web_settings,
        tmp_path,
        logic_client=ReplayChatCompletionClient(["4"]),
        file_roots=[tmp_path],
    )
    assert list(tools) == NAMES
    assert all(isinstance(t, FunctionTool) for t in tools.values())
    assert tools["follow_link"].schema["parameters"]["properties"]["number"]["type"] == "integer"
    read_params = tools["read_file"].schema["parameters"]
    assert read_params["required"] == ["path"] and "cancellation_token" not in read_params["properties"]
    assert all(t.description for t in tools.values())
    without_logic = build(local_site, web_settings, tmp_path)
    assert "ask_logic_expert" not in without_logic


async def test_tools_run_and_errors_are_strings(local_site, web_settings, tmp_path):
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "a.txt").write_text("alpha beta")
    tools = build(
        local_site,
        web_settings,
        tmp_path,
        logic_client=ReplayChatCompletionClient(["FINAL ANSWER: 4"]),
        file_roots=[tmp_path / "task"],
    )
    assert "1. [About omne](https://example.org/a)" in await run(tools["web_search"], query="omne")
    page = await run(tools["visit_page"], url=local_site.url("/"))
    assert "Title: Home page" in page
    assert "Title: Second page" in await run(tools["follow_link"], number=1)
    assert "Title: Home page" in await run(tools["history_back"])
    refused = await run(tools["visit_page"], url="http://169.254.169.254/latest/meta-data/")
    assert refused.startswith("Error: Refused:") and "link-local" in refused
    assert (await run(tools["follow_link"], number=42)).startswith("Error: There is no link [42]")
    assert "alpha beta" in await run(tools["read_file"], path="a.txt")
    assert (await run(tools["read_file"], path="../../etc/passwd")).startswith("Error: Refused:")
    assert await run(tools["ask_logic_expert"], problem="2+2?") == "FINAL ANSWER: 4"


async def test_downloads_are_readable_by_the_file_reader(local_site, web_settings, tmp_path):
    model = ReplayChatCompletionClient(
        ['{"short_answer": "4217 dollars", "detailed_answer": "Page 1 says 4217."}']
    )
    tools = build(local_site, web_settings, tmp_path, model_client=model)
    page = await run(tools["visit_page"], url=local_site.url("/files/report.pdf"))
    saved = next(line for line in page.splitlines() if line.startswith("Downloaded file: ")).removeprefix(
        "Downloaded file: "
    )
    assert saved.startswith(str(tmp_path / "data" / "downloads"))
    answer = await run(tools["read_file"], path=saved, question="What was the quarterly revenue?")
    assert answer.startswith("Short answer: 4217 dollars")
    assert PDF_SENTENCE in " ".join(model.create_calls[0]["messages"][1].content.split())


async def test_assistant_agent_uses_the_browser(local_site, web_settings, tmp_path):
    tools = build(local_site, web_settings, tmp_path)
    call = CreateResult(
        finish_reason="function_calls",
        content=[
            FunctionCall(id="c1", name="visit_page", arguments=json.dumps({"url": local_site.url("/page2")}))
        ],
        usage=RequestUsage(prompt_tokens=1, completion_tokens=1),
        cached=False,
    )
    agent = AssistantAgent(
        "surfer",
        model_client=ReplayChatCompletionClient([call], model_info=TOOL_MODEL),
        tools=list(tools.values()),
    )
    result = await agent.run(task="Open the second page.")
    summary = result.messages[-1]
    assert isinstance(summary, ToolCallSummaryMessage)
    assert "Title: Second page" in summary.content and "[link home][1]" in summary.content


async def test_logic_expert_budget_comes_from_the_role_settings(local_site, web_settings, tmp_path):
    from omne_tools import build_toolset

    settings = settings_for(local_site, web_settings, tmp_path)
    model = ReplayChatCompletionClient(["a", "b", "c"])
    tool = build_toolset(settings, logic_client=model)[-1]
    await run(tool, problem="p?")
    assert model.create_calls[-1]["extra_create_args"] == {"max_tokens": 4000}  # llama.cpp role, no cap set
    capped = settings.model_copy(deep=True)
    capped.models.logic_expert.max_tokens = 100  # the client already carries this cap: no second one
    tool = build_toolset(capped, logic_client=model)[-1]
    await run(tool, problem="p?")
    assert model.create_calls[-1]["extra_create_args"] == {}
    reasoning = settings.model_copy(deep=True)
    reasoning.models.logic_expert.provider = ModelProvider.OPENAI
    reasoning.models.logic_expert.model = "o3-mini"  # rejects max_tokens
    tool = build_toolset(reasoning, logic_client=model)[-1]
    await run(tool, problem="p?")
    assert model.create_calls[-1]["extra_create_args"] == {"max_completion_tokens": 4000}
