"""A local simulator of the Google Health API v4 and Google OAuth 2.0.

See `simulator.server` for how to run it and `simulator.synth` for its data.
"""

from simulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "Simulator", "SimulatorConfig"]
