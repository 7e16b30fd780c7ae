"""`omne demo`: the offline demo on the embedded defaults."""

from __future__ import annotations


def demo() -> None:
    """Run the offline memory demo (filled in by the Omne Assistant issue; until then: `omne doctor`)."""
    from .doctor_cmd import doctor

    doctor()
