"""Time, injected: the rate budget, the retries and the cursor read it from a Clock, so tests move time instead of
waiting for it (a test's clock jumps ahead when the code sleeps)."""

import time

import pendulum


class Clock:
    # Real seconds per second of a request timeout. Timeouts are waits on the network, which no clock can skip: a test
    # of a server that never answers shrinks them instead, while messages keep naming the nominal seconds.
    timeout_scale = 1.0

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> pendulum.DateTime:
        return pendulum.now("UTC")


SYSTEM_CLOCK = Clock()
