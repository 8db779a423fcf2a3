"""The core every other part stands on: the plugin contract (hook specs, the registry that loads plugins, the
types plugins implement), run configuration (recipes, run settings, TOML files), budgets and the errors a user
reads. It knows no concrete plugin."""
