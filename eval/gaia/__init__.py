"""GAIA evaluation harness: load tasks, run any AutoGen agent on them, score like the leaderboard, report.

```python
from pathlib import Path
from omne_eval.gaia import GaiaRunConfig, GaiaRunner, load_agent_factory, load_gaia_dataset, write_report
from omne_core.config import load_settings

out = Path("gaia-runs/level1")
dataset = load_gaia_dataset("~/GAIA", "validation", levels=[1], limit=10)
factory = load_agent_factory("my_pkg.agents:make_agent")  # (task, settings) -> AutoGen ChatAgent
outcome = await GaiaRunner(factory, load_settings(), GaiaRunConfig(output_dir=out)).run(dataset.tasks)
write_report(out, out)  # report.md, report.html, charts
```
"""

from .errors import (
    AgentFactoryError,
    GaiaAccessDeniedError,
    GaiaDatasetError,
    GaiaError,
    GaiaHubError,
    GaiaHubUnreachableError,
    GaiaResultsError,
    GaiaRunMismatchError,
    GaiaTokenMissingError,
)
from .factory import (
    DEFAULT_AGENT_FACTORY,
    AgentFactory,
    LimitedAgentFactory,
    MeteredAgent,
    PlainAgentFactory,
    RunLimits,
    load_agent_factory,
)
from .grading import GradedAnswers, grade_answers, rescore
from .loader import GAIA_REPO_ID, download_gaia, load_gaia_dataset
from .prompt import GAIA_SYSTEM_PROMPT, build_task_message, extract_final_answer
from .report import ReportFiles, RunSummary, summarize, write_report
from .results import AnswerSource, ErrorClass, GaiaResult, read_answers, read_results, write_submission
from .run_info import RUN_FILE, RunInfo
from .runner import GaiaRunConfig, GaiaRunner, RunOutcome, run_gaia
from .scorer import lenient_question_scorer, question_scorer
from .task import AttachmentStatus, GaiaAgentTask, GaiaDataset, GaiaSplit, GaiaTask

__all__ = [
    "DEFAULT_AGENT_FACTORY",
    "GAIA_REPO_ID",
    "GAIA_SYSTEM_PROMPT",
    "RUN_FILE",
    "AgentFactory",
    "AgentFactoryError",
    "AnswerSource",
    "AttachmentStatus",
    "ErrorClass",
    "GaiaAccessDeniedError",
    "GaiaAgentTask",
    "GaiaDataset",
    "GaiaDatasetError",
    "GaiaError",
    "GaiaHubError",
    "GaiaHubUnreachableError",
    "GaiaResult",
    "GaiaResultsError",
    "GaiaRunConfig",
    "GaiaRunMismatchError",
    "GaiaRunner",
    "GaiaSplit",
    "GaiaTask",
    "GaiaTokenMissingError",
    "GradedAnswers",
    "LimitedAgentFactory",
    "MeteredAgent",
    "PlainAgentFactory",
    "ReportFiles",
    "RunInfo",
    "RunLimits",
    "RunOutcome",
    "RunSummary",
    "build_task_message",
    "download_gaia",
    "extract_final_answer",
    "grade_answers",
    "lenient_question_scorer",
    "load_agent_factory",
    "load_gaia_dataset",
    "question_scorer",
    "read_answers",
    "read_results",
    "rescore",
    "run_gaia",
    "summarize",
    "write_report",
    "write_submission",
]
