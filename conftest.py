"""Pytest setup for the whole repository: how notebook kernels talk to the test process.

`make test` runs the notebooks in parallel, one Jupyter kernel per worker. Over TCP, each kernel
is handed five ports that were free a moment before it binds them, and with several kernels
starting at once another process can take one first: the kernel then fails with "Address already
in use" and the test waits a minute for it ("Kernel didn't respond in 60 seconds"). Kernels here
talk over Unix sockets instead, each under its own path, so there is no port to collide on.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbval.kernel
import pytest
from jupyter_client.manager import KernelManager
from traitlets import default

pytest_plugins = ["pytester"]  # tests/test_notebooks.py runs this file in a pytest of its own


class UnixSocketKernelManager(KernelManager):
    """A kernel manager whose kernel listens on Unix sockets named by a fresh, absolute path."""

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        # For the ipc transport "ip" is the sockets' path prefix. jupyter_client's default is the
        # relative "kernel-ipc", which the kernel (started in the notebook's folder) and the test
        # process (in the repository root) would resolve to different files.
        return str(Path(tempfile.gettempdir()) / f"kbook-kernel-{uuid.uuid4().hex[:12]}")


KernelManagerForTests = UnixSocketKernelManager if os.name == "posix" else KernelManager  # Windows: TCP
nbval.kernel.KernelManager = KernelManagerForTests  # the manager nbval starts each notebook's kernel with


@pytest.fixture
def notebook_kernel() -> Iterator[KernelManager]:
    """A manager for a kernel of this environment, as nbval starts one (not yet started).

    The kernel is shut down when the test ends. nbclient leaves a kernel it was handed running
    (until the worker exits), so without this every test that uses the fixture would keep an idle
    kernel, with PyTorch loaded, for the rest of the run, and leave its sockets behind.
    """
    km = KernelManagerForTests(
        kernel_name=nbval.kernel.CURRENT_ENV_KERNEL_NAME,
        kernel_spec_manager=nbval.kernel.NbvalKernelspecManager(),
    )
    yield km
    if km.has_kernel:
        km.shutdown_kernel(now=True)  # also removes the socket files
