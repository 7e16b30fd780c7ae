"""The file reader tool: root-confined paths, document conversion, question-focused reading."""

from .ask import DocumentAnswer, DocumentQuestionAnswerer, parse_answer, split_tokens
from .reader import FileReader
from .roots import FileRoots

__all__ = [
    "DocumentAnswer",
    "DocumentQuestionAnswerer",
    "FileReader",
    "FileRoots",
    "parse_answer",
    "split_tokens",
]
