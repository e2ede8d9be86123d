"""The daemon's worker pool: libuv's thread pool runs every store read and write, and a durable
write holds its thread through its fsyncs. With libuv's default of 4 threads, four commits in
flight made every other user's reads wait behind them (bench/imap_bench.py's mixed load ran at
about half the rate it reaches with 32). `serve` sizes the pool unless UV_THREADPOOL_SIZE is
set, which the operator may still do."""

import os
import unittest
from unittest import mock

from harness import imap
from harness.case import PopbridgeCase

WORKER_THREADS = 32  # proxy/core/worker.h kWorkerThreads


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads: line")


class WorkerPoolTest(PopbridgeCase):
    def threads_after_store_work(self):
        """Starts the daemon, makes it read its store (which starts the pool with all its
        threads) and returns its thread count."""
        pb = self.new_popbridge()
        conn = self.imap_login(pb)
        typ, _ = conn.select("INBOX")
        self.assertEqual(typ, "OK")
        imap.safe_logout(conn)
        return thread_count(pb.process.pid)

    def test_pool_is_sized_for_many_users(self):
        env = {k: v for k, v in os.environ.items() if k != "UV_THREADPOOL_SIZE"}
        with mock.patch.dict(os.environ, env, clear=True):
            threads = self.threads_after_store_work()
        # The loop thread, the pool, and a few of the daemon's own (e.g. the POP scheduler's).
        self.assertGreaterEqual(threads, WORKER_THREADS + 1)
        self.assertLess(threads, WORKER_THREADS + 16)

    def test_operator_setting_wins(self):
        with mock.patch.dict(os.environ, {"UV_THREADPOOL_SIZE": "6"}):
            threads = self.threads_after_store_work()
        self.assertGreaterEqual(threads, 7)
        self.assertLess(threads, WORKER_THREADS)


if __name__ == "__main__":
    unittest.main()
