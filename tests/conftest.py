"""Session-wide settings for the test suite."""

import os

# pytest-xdist runs two workers on a 2-core machine and each JIT'ed model uses every core:
# threads that spin while waiting (the runtime's short default spin) would hold cores their
# oversubscribed teammates need. Tests measure no speed, so idle threads sleep.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
