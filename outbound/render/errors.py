"""Why a message could not be rendered: values the engine records as the reason a send is blocked."""

from __future__ import annotations

from collections.abc import Iterable

from outbound.errors import OutboundError


class RenderError(OutboundError):
    """A message cannot be built; ``reason`` is a sentence fit for the user and the send log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MissingVariables(RenderError):
    """The prospect lacks values the templates use (and no ``default`` filter covers them)."""

    def __init__(self, variables: Iterable[str], where: str = "") -> None:
        self.variables: list[str] = list(dict.fromkeys(variables))
        names = ", ".join(self.variables)
        plural = "s" if len(self.variables) != 1 else ""
        place = f" (in {where})" if where else ""
        super().__init__(f"the prospect has no value for template variable{plural} {names}{place}; "
                         "add the field or use a fallback such as {{ first_name | default('there') }}")
