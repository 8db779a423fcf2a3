"""ganbench's built-in plugins.

Each module here is registered through the ``ganbench`` entry-point group in pyproject.toml, exactly as
a third-party package registers its own; the core (``ganbench``) never imports this package.
"""
