"""Errors a user can act on (CnnccError and its subclasses), and the two that are not a
user's: LoweringNotApplicable (a lowering has no kernel for a variant; its caller handles it)
and InternalError (a bug in cnncc). The CLI prints each as one line and exits non-zero."""


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
    """A lowering (or one of its algorithms) has no kernel for this variant of its op: a
    layout, rank, dtype or attribute combination it does not handle. Not an error by itself:
    the algorithm selector catches it and tries the next algorithm. One that reaches code
    generation becomes an UnsupportedOpError naming the node and the op."""


class InternalError(Exception):
    """A bug in cnncc: an unexpected exception (KeyError, ValueError, AssertionError, ...) in a
    pass or a lowering. ``where`` names the pass or the node; the original exception is kept as
    ``__cause__`` (``raise InternalError(where, exc) from exc``). Deliberately not a CnnccError:
    nothing that handles user errors should swallow it."""

    exit_code = 70  # EX_SOFTWARE, as for any other uncaught exception in the CLI

    def __init__(self, where: str, error: BaseException):
        self.where = where
        self.error = error
        super().__init__(f"internal error in {where}: {type(error).__name__}: {error}")

    def __reduce__(self):  # picklable (a child process may report one)
        return type(self), (self.where, self.error)


class CnnccNote(UserWarning):
    """Something a user should know that is not an error (tuning records that were ignored):
    ``warnings.warn(text, CnnccNote)``. The CLI prints it as one ``note:`` line on stderr."""
