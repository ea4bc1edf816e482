"""Password hashing: correct, bounded in how many hashes run at once, nothing paid at import."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agents_core.users import passwords


def test_hash_and_verify() -> None:
    hashed = passwords.hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse battery staple")
    assert not passwords.verify_password(hashed, "Correct horse battery staple")
    assert not passwords.verify_password("not a hash", "anything")
    passwords.verify_against_nothing("anything")  # returns, never matches, never raises


class _RecordingHasher:
    """Stands in for argon2 to observe how many hashes overlap (argon2 itself is opaque)."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        return f"hashed:{password}"


def test_at_most_one_hash_per_core_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _RecordingHasher()
    monkeypatch.setattr(passwords, "_hasher", recorder)
    calls = 4 * passwords.MAX_CONCURRENT_HASHES + 2
    with ThreadPoolExecutor(max_workers=calls) as pool:
        results = list(pool.map(passwords.hash_password, [str(i) for i in range(calls)]))
    assert results == [f"hashed:{i}" for i in range(calls)]
    assert recorder.most == passwords.MAX_CONCURRENT_HASHES


def test_importing_computes_no_hash() -> None:
    """The dummy hash for unknown emails is made at the first such login, not at start-up."""
    script = (
        "from agents_core.users import passwords as p\n"
        "print(p._dummy_hash.cache_info().currsize)\n"
        "p.verify_against_nothing('x')\n"
        "print(p._dummy_hash.cache_info().currsize)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["0", "1"]
