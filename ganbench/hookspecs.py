"""Moved: the hook marker is ``ganbench.api.hookimpl`` (the hook specifications live in ganbench.core.hookspecs).
``from ganbench.hookspecs import hookimpl`` still works, with a DeprecationWarning, until ganbench 0.3.0."""

from ganbench._moved import moved

__getattr__ = moved(__name__)
