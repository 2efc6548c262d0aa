"""Seed name of the online classifier: `from ai.online_model import OnlineModel`.

The code lives in ai.online; this module keeps the seed document's imports working.
"""

from ai.online.model import OnlineModel

__all__ = ["OnlineModel"]
