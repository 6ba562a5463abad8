"""Run a command against a two-node Ray cluster on this machine, inside a network namespace of its own.

    unshare -rn python tests/sweep_cluster.py TEMP_DIR COMMAND... ({address} in COMMAND is the head's)

Ray binds its servers to every interface whatever --node-ip-address says (it swaps 127.0.0.1
for the machine's address), so the cluster runs where the only interface is loopback: nothing
it opens can be reached from outside. Both nodes (`ray start --block`, each its own process
group) are stopped here, whatever the command did. Exits with the command's code.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
NODE_OPTIONS = ["--block", "--num-cpus", "1", "--object-store-memory", "80000000", "--disable-usage-stats"]


def loopback_up() -> None:
    """A new network namespace starts with `lo` down; bring it up (what `ip link set lo up` does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the Ray head did not listen on port {port} within {seconds:.0f} s")


def wait_for_nodes(address: str, count: int, env: dict[str, str], seconds: float) -> None:
    check = ("import logging, sys, ray; ray.init(address=sys.argv[1], logging_level=logging.ERROR); "
             "sys.exit(0 if sum(n['Alive'] for n in ray.nodes()) >= int(sys.argv[2]) else 1)")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if subprocess.run([sys.executable, "-c", check, address, str(count)], env=env,
                          capture_output=True).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit(f"the Ray cluster did not reach {count} nodes within {seconds:.0f} s")


def stop(node: subprocess.Popen) -> None:
    """SIGTERM to the node's process group (raylet, GCS, workers), SIGKILL what is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(node.pid, sig)
        except ProcessLookupError:
            return
        try:
            node.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:  # `ray start --block` is gone; its children may linger a moment
            try:
                os.killpg(node.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


def main(temp_dir: Path, command: list[str]) -> int:
    loopback_up()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Token authentication with a token of this run's own: nothing is written to ~/.ray. No drain on SIGTERM:
    # Ray 2.60 otherwise waits up to 30 s for leases a stopped test cluster will never return, and stop()
    # would SIGKILL each node after its 10 s.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    nodes = []
    try:
        with open(temp_dir / "head.log", "w") as log:
            nodes.append(subprocess.Popen(
                [ray_bin, "start", "--head", "--port", str(port), "--temp-dir", str(temp_dir / "r"),
                 "--include-dashboard", "false", *NODE_OPTIONS], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        wait_for_port(port, 120)
        with open(temp_dir / "worker.log", "w") as log:
            nodes.append(subprocess.Popen([ray_bin, "start", "--address", address, *NODE_OPTIONS], env=env,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for_nodes(address, 2, env, 120)
        return subprocess.run([part.replace("{address}", address) for part in command], env=env).returncode
    finally:
        for node in reversed(nodes):
            stop(node)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
