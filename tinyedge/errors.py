"""The one exception family a user can cause; the CLI prints it as one line."""


class TinyEdgeError(Exception):
    """A failure with a cause the user can fix. str() is the one line the CLI prints."""


class UnsupportedOpError(TinyEdgeError):
    """The model uses an operator (or option) the code generator has no kernel for."""
