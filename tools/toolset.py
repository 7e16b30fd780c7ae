"""The four tools as AutoGen `FunctionTool`s, and `build_toolset` that assembles them from settings."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool, FunctionTool

from omne_core.config import OmneSettings
from omne_core.models import output_limit_arg

from .errors import ToolError, ToolErrorText
from .files import FileReader
from .logic_expert import LogicExpert
from .search import SearchBackend, WebSearch
from .web import TextBrowser, document_converter


def agent_tool(function: Callable[..., Awaitable[str]], *, name: str, description: str) -> FunctionTool:
    """`function` as a `FunctionTool` whose expected failures (`ToolError`) reach the agent as text.

    The one place where a tool's error becomes what the model reads (`ToolError.agent_text`, as a `ToolErrorText`
    so Omne's agents mark the call failed); anything else propagates, and AutoGen reports it as a failed call.
    """

    @functools.wraps(function)
    async def run(*args: object, **kwargs: object) -> str:
        try:
            return await function(*args, **kwargs)
        except ToolError as exc:
            return ToolErrorText(exc.agent_text())

    return FunctionTool(run, name=name, description=description)


def web_search_tool(search: WebSearch) -> FunctionTool:
    async def web_search(
        query: Annotated[str, "What to search for, like a query typed into a search engine."],
    ) -> str:
        return await search.run(query)

    return agent_tool(
        web_search,
        name="web_search",
        description=(
            f"Search the web ({search.backend.name}) and get the title, URL and snippet of the top results. "
            "Open a result with visit_page to read it."
        ),
    )


def browser_tools(browser: TextBrowser) -> list[FunctionTool]:
    """visit_page, page_down, page_up, find_on_page, find_next, follow_link and history_back."""

    async def visit_page(
        url: Annotated[str, "The full URL to open, e.g. https://en.wikipedia.org/wiki/Moon."],
    ) -> str:
        return await browser.visit(url)

    async def page_down() -> str:
        return await browser.page_down()

    async def page_up() -> str:
        return await browser.page_up()

    async def find_on_page(
        query: Annotated[str, "Words to look for (case-insensitive; * matches anything between words)."],
    ) -> str:
        return await browser.find(query)

    async def find_next() -> str:
        return await browser.find_next()

    async def follow_link(
        number: Annotated[int, "The number n of a link shown as [text][n] on the current page."],
    ) -> str:
        return await browser.follow_link(number)

    async def history_back() -> str:
        return await browser.back()

    return [
        agent_tool(
            visit_page,
            name="visit_page",
            description=(
                "Open a URL in the text browser and show the first viewport of the page as markdown, under a "
                "header with the address, title, viewport position and whether you saw the page before. PDF, "
                "Excel, Word and other files are downloaded and shown as text. Links appear as [text][n]."
            ),
        ),
        agent_tool(
            page_down, name="page_down", description="Scroll the current page down by one viewport."
        ),
        agent_tool(page_up, name="page_up", description="Scroll the current page up by one viewport."),
        agent_tool(
            find_on_page,
            name="find_on_page",
            description="Scroll the current page to the first viewport, from the current one on, containing the words (like Ctrl+F).",
        ),
        agent_tool(
            find_next,
            name="find_next",
            description="Scroll to the next viewport containing the words of the last find_on_page.",
        ),
        agent_tool(
            follow_link,
            name="follow_link",
            description="Open the link numbered n on the current page (links are shown as [text][n]).",
        ),
        agent_tool(
            history_back, name="history_back", description="Go back to the previous page, where you left it."
        ),
    ]


def file_reader_tool(reader: FileReader) -> FunctionTool:
    async def read_file(
        path: Annotated[
            str, "The file (or folder) to read: relative to the task's files, or an absolute path."
        ],
        question: Annotated[
            str | None, "Optional: a question about the file; a model reads the whole file and answers it."
        ] = None,
        offset: Annotated[
            int, "Character position to start reading at (0: the start); a long file's part ends by naming the next offset."
        ] = 0,
        find: Annotated[
            str | None, "Optional: text to look for (case-insensitive) at or after `offset`; shows the part around the first match."
        ] = None,
        cancellation_token: CancellationToken | None = None,
    ) -> str:
        return await reader.read(path, question, cancellation_token, offset=offset, find=find)

    ask = " With a question, a model reads the whole document and gives a short and a detailed answer."
    return agent_tool(
        read_file,
        name="read_file",
        description=(
            "Read a local file as markdown (PDF, Word, Excel, PowerPoint, CSV, JSON, XML, HTML, text, images, "
            "audio, ZIP) or list a folder. Only the task's files and downloads can be read. A long file is shown "
            "one part at a time with its character positions: read the next part with `offset`, or jump to text "
            "with `find`." + (ask if reader.answerer is not None else "")
        ),
    )


def logic_expert_tool(expert: LogicExpert) -> FunctionTool:
    async def ask_logic_expert(
        problem: Annotated[
            str, "The complete problem statement, with every fact, number and constraint needed."
        ],
        cancellation_token: CancellationToken | None = None,
    ) -> str:
        return await expert.solve(problem, cancellation_token)

    return agent_tool(
        ask_logic_expert,
        name="ask_logic_expert",
        description=(
            "Send a self-contained logic, math or puzzle problem to an expert reasoning model and get its worked "
            "answer. The expert sees only the problem text, so include every fact it needs."
        ),
    )


def build_toolset(
    settings: OmneSettings,
    *,
    model_client: ChatCompletionClient | None = None,
    logic_client: ChatCompletionClient | None = None,
    file_roots: Iterable[str | Path] = (),
    vision_client: ChatCompletionClient | None = None,
    search_backend: SearchBackend | None = None,
) -> list[BaseTool]:
    """Web search, the browser tools, the file reader and (given `logic_client`) the logic expert.

    `model_client` powers the file reader's question mode; downloads land in `web.download_dir`
    (default `<data_dir>/downloads`), which the file reader may also read.
    """
    web = settings.web
    download_dir = web.download_dir or settings.data_dir / "downloads"
    browser = TextBrowser(
        web, download_dir=download_dir, converter=document_converter(settings, vision_client=vision_client)
    )
    reader = FileReader(
        [*file_roots, download_dir], settings=settings, model_client=model_client, vision_client=vision_client
    )
    tools: list[BaseTool] = [
        web_search_tool(WebSearch.from_settings(web, search_backend)),
        *browser_tools(browser),
    ]
    tools.append(file_reader_tool(reader))
    if logic_client is not None:
        role = settings.models.logic_expert
        tools.append(
            logic_expert_tool(
                LogicExpert(
                    logic_client,
                    max_answer_tokens=role.max_tokens or 4000,
                    timeout_s=role.timeout_s,
                    # A role with max_tokens already caps every call of its client; don't send a second cap.
                    output_limit_arg=None if role.max_tokens is not None else output_limit_arg(role),
                )
            )
        )
    return tools
