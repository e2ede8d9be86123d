"""popbridge integration harness: a private Dovecot POP3, a message corpus, the daemon runner
and IMAP helpers. Python 3 standard library only.

The fault proxy lives in tests/fakes (the only fake in the integration suite); this package puts
that directory on sys.path so tests can `from fault_proxy import FaultProxy`.
"""

import os
import sys

_FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fakes")
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)
