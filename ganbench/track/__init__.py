"""Experiment trackers (hook ``register_trackers``): the contract is ``ganbench.api.Tracker``; ``session.py`` runs a
run's trackers in a background thread, ``feed.py`` says what a run sends them, ``replay.py`` sends a stored run."""

from ganbench.track.feed import RunFeed
from ganbench.track.session import TrackerSession, TrackerUnavailable, require

__all__ = ["RunFeed", "TrackerSession", "TrackerUnavailable", "require"]
