"""Omne Core: unified long-term memory (L0 raw data + L1 conclusions) for AutoGen agents.

Heavy modules (torch, chromadb, llama.cpp) are imported only by the submodules that need them.
"""

from .version import __version__

__all__ = ["__version__"]
