"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class CnnccError(Exception):
    """Base of every error cnncc reports to a user (as opposed to a bug in cnncc)."""

    exit_code = 1


class ModelLoadError(CnnccError):
    """The model file is missing, unreadable, or not a valid ONNX model."""

    exit_code = 2


class UnsupportedOpError(CnnccError):
    """The model uses ops (or op variants) that cnncc or the chosen backend cannot compile."""

    exit_code = 3


class UnsupportedDtypeError(CnnccError):
    """A tensor has an element type cnncc does not compute in."""

    exit_code = 3


class ShapeError(CnnccError):
    """Shapes do not fit: a dynamic dimension without a value, or inputs that mismatch."""

    exit_code = 4


class BackendError(CnnccError):
    """A backend failed to generate, build or run code for a valid graph."""

    exit_code = 5


class UsageError(CnnccError):
    """The command line or API was called with arguments that make no sense together."""

    exit_code = 2


class RunError(CnnccError):
    """The inputs of a run are invalid in a way only their values show (an index out of
    range): the compiled code refused them instead of reading outside a tensor."""

    exit_code = 4


class LoweringNotApplicable(Exception):
    """A lowering or algorithm has no kernel for this variant; the selector tries the next."""
