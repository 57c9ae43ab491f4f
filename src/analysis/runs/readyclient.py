"""The kernel client papermill uses for the kit's warm kernels (:class:`analysis.runs.kernels.KernelPool`).

jupyter_client's ``wait_for_ready`` (nbclient calls it before a notebook's first cell) asks the kernel for its
info until the reply comes with a message on IOPub, then reads IOPub until it has been silent for 0.2 s: every
notebook waited 0.2 s or more before its first cell, three of them one after the other on CDNOW's path. This
client asks the same, with short waits: ready once a reply came and IOPub carried a message (IOPub connected),
then IOPub is read until it has been silent for a moment. What it leaves on IOPub are status messages of its own
requests, which papermill's client passes over (it reads only the messages of the cells it runs).
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient

#: How long IOPub may be silent after a reply before the kernel info is asked for again, and the silence that
#: ends the wait; seconds.
IOPUB_WAIT = 0.05
IOPUB_SILENCE = 0.02


class ReadyClient(AsyncKernelClient):
    """An asynchronous kernel client whose :meth:`wait_for_ready` does not wait 0.2 s of IOPub silence."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait until the kernel answers its info request and IOPub is connected; raise RuntimeError if the kernel
        dies or ``timeout`` seconds pass (as jupyter_client's)."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
                except Empty:
                    pass  # IOPub not connected yet: its messages of this request went nowhere; ask again
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=IOPUB_SILENCE)
            except Empty:
                return
