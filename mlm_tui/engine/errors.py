"""The one exception type the engine raises for things a user can fix."""


class EngineError(Exception):
    """A problem with the user's input or model, described in one line."""
