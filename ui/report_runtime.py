"""The one place the report reaches into Streamlit's runtime (not public API): is a session still connected?

A report thread outlives the script run that started it; it stops by itself once its session has been gone
for a while (:class:`ui.report_job.ReportJob`). Streamlit has no public call for "is this session still
there", so this module asks its runtime, and falls back to "always there" (the run then ends only when
done or cancelled) when a Streamlit release moves those names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["SessionWatch", "session_alive"]

_LOG = logging.getLogger(__name__)


def session_alive() -> Callable[[], bool] | None:
    """Whether this session is still connected, callable from another thread (None: cannot tell).

    None outside a running server (AppTest, scripts) and when the private runtime API is missing.
    """
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not Runtime.exists():
            return None
        runtime, session = Runtime.instance(), ctx.session_id
        runtime.is_active_session  # noqa: B018 - fail here, in the page, not later in the report thread
    except (ImportError, AttributeError) as err:
        _LOG.warning("Streamlit runtime API moved (%s): report runs go on when a session leaves", err)
        return None
    return lambda: runtime.is_active_session(session)


class SessionWatch:
    """Whether a session has been gone for longer than ``grace`` seconds: a reload or a brief network
    drop is not a departure. Asked by the work the session started (a report thread, a training run).

    Example:
        >>> SessionWatch(lambda: False, grace=0.0).gone(), SessionWatch(None).gone()
        (False, False)
    """

    def __init__(self, alive: Callable[[], bool] | None, grace: float = 30.0) -> None:
        self._alive, self._grace = alive, grace
        self._gone_since: float | None = None

    def gone(self) -> bool:
        """False while the session is there (or cannot be told); True once it has been away ``grace`` s."""
        if self._alive is None or self._alive():
            self._gone_since = None
            return False
        now = time.monotonic()
        self._gone_since = self._gone_since or now
        return now - self._gone_since > self._grace
