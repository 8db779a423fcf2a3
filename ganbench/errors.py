"""Moved: the errors a plugin raises are in ``ganbench.api``. ``from ganbench.errors import DataError`` still
works, with a DeprecationWarning, until ganbench 0.3.0."""

from ganbench._moved import moved

__getattr__ = moved(__name__)
