"""Values made on first use: an instance's (:class:`cached_property`) and a package's exported names
(:func:`lazy_exports`).

:class:`cached_property` is :func:`functools.cached_property` without its lock.

Python 3.11's ``cached_property`` takes one lock, shared by every instance of the class, on each first access
(Python 3.12 dropped it: it serialised unrelated instances and guarded nothing for pure values). The loader and
the matrix make tens of thousands of statements, patterns and compiled policies whose cached values are each
read for the first time once: at 10,000 identities the lock was about 137,000 acquisitions, a tenth of a
second or more. The values cached here are pure functions of frozen instances, so two threads computing one
at once get equal values, and either may be kept.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class cached_property(Generic[T]):  # noqa: N801 (the name of the functools decorator it stands for)
    """``@cached_property``: the method's value, computed on first access and stored in the instance's ``__dict__``
    (so later reads never reach this descriptor)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.attrname = func.__name__  # the name it is bound to, set again by __set_name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.attrname = name

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> T | cached_property[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.attrname] = value
        return value


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` (PEP 562) of ``package`` that imports each of its ``exports`` (name -> module)
    on first use and keeps it in the package's namespace, so that importing the package loads none of them."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = namespace[name] = getattr(import_module(module), name)
        return value

    return __getattr__
