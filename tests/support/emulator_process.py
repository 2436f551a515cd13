"""A BotAPIEmulator in a child process, driven through a pipe.

Why: in-process, the emulator's thread and the bot share one GIL, so every HTTP round trip waits for
the interpreter to switch threads (``sys.getswitchinterval()``, 5 ms) and the emulator's work is charged
to the bot. Benchmarks of the bot should talk to a server on its own interpreter, as the real bot talks
to Telegram's servers on other machines.

    with EmulatorProcess(token="123:ABC") as emu:
        app = build_application(..., base_url=emu.base_url)
        emu.push_message("hi")                        # any BotAPIEmulator method, run in the child
        emu.batch("push_message", [{"text": "a"}, {"text": "b", "user_id": 7}])   # many in one trip
        calls = emu.get("calls")                      # any attribute, copied back (Call objects)

Arguments and results cross the pipe pickled, so callables (``inject_fault(when=...)``, predicates for
``wait_for``) cannot be passed: the method name form (``wait_for("sendMessage", count=3)``) works.
Calls are serialised by a lock; a blocking call (``wait_for``) blocks the proxy, not the child's server.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parents[2]


class EmulatorProcess:
    """Proxy to a ``BotAPIEmulator(**kwargs)`` running in ``python -m tests.support.emulator_process``."""

    def __init__(self, **emulator_kwargs: Any) -> None:
        self._kwargs = emulator_kwargs
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.base_url = ""
        self.base_file_url = ""
        self.port = 0
        self.pid = 0

    def start(self) -> EmulatorProcess:
        if self._proc is not None:
            return self
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.emulator_process"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self._proc.pid
        info = self._request("__start__", (), self._kwargs)
        self.base_url, self.base_file_url, self.port = info["base_url"], info["base_file_url"], info["port"]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            self._send(proc, ("__stop__", (), {}))
            proc.wait(timeout=10)
        except (OSError, EOFError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # calls -----------------------------------------------------------------------------------------
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``emulator.method(*args, **kwargs)`` in the child; its result, or its exception raised here."""
        return self._request(method, args, kwargs)

    def batch(self, method: str, kwargs_list: list[dict[str, Any]]) -> list[Any]:
        """Run ``method(**kwargs)`` for each item, in order, in one round trip."""
        return self._request("__batch__", (method, kwargs_list), {})  # type: ignore[no-any-return]

    def get(self, attribute: str) -> Any:
        """A copy of ``emulator.attribute`` (e.g. "calls", "aborted_requests", "pending_updates")."""
        return self._request("__get__", (attribute,), {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._request(name, args, kwargs)

    def _request(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        proc = self._proc
        if proc is None:
            raise RuntimeError("emulator process is not started")
        with self._lock:
            self._send(proc, (method, args, kwargs))
            assert proc.stdout is not None
            try:
                ok, value = pickle.load(proc.stdout)
            except EOFError:
                raise RuntimeError(f"emulator process exited (code {proc.poll()})") from None
        if not ok:
            raise value
        return value

    @staticmethod
    def _send(proc: subprocess.Popen[bytes], message: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
        assert proc.stdin is not None
        pickle.dump(message, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.flush()


def _serve(requests: BinaryIO, responses: BinaryIO) -> None:
    from tests.support.botapi_emulator import BotAPIEmulator

    emulator: BotAPIEmulator | None = None
    while True:
        try:
            method, args, kwargs = pickle.load(requests)
        except EOFError:
            method, args, kwargs = "__stop__", (), {}
        try:
            if method == "__start__":
                emulator = BotAPIEmulator(*args, **kwargs).start()
                value: Any = {"base_url": emulator.base_url, "base_file_url": emulator.base_file_url,
                              "port": emulator.port}
            elif method == "__stop__":
                if emulator is not None:
                    emulator.stop()
                return
            elif emulator is None:
                raise RuntimeError("emulator not started")
            elif method == "__get__":
                with emulator._lock:
                    value = getattr(emulator, args[0])
                    value = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            elif method == "__batch__":
                function = getattr(emulator, args[0])
                value = [function(**item) for item in args[1]]
            else:
                value = getattr(emulator, method)(*args, **kwargs)
            reply: tuple[bool, Any] = (True, value)
        except Exception as exc:  # noqa: BLE001 - re-raised in the parent
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            data = pickle.dumps((False, RuntimeError(f"cannot send {method} result: {exc!r}")))
        responses.write(data)
        responses.flush()


if __name__ == "__main__":
    # The pipe protocol owns the real stdout; anything printed goes to stderr instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, protocol_out)
