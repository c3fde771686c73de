"""``async with`` for the SDK's context managers, whose enter and exit do no I/O."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

_T = TypeVar("_T", bound="AsyncWith")


class AsyncWith:
    """``async with x`` does what ``with x`` does (nothing to await); the class defines
    ``__enter__`` and ``__exit__``."""

    __slots__ = ()
    __enter__: Callable[[], Any]
    __exit__: Callable[..., None]

    async def __aenter__(self: _T) -> _T:
        return cast(_T, self.__enter__())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
