"""`make test-pg15`: the same suite on Debian's PostgreSQL 15, started as an unprivileged user.

initdb refuses to run as root, so the cluster belongs to the `postgres` system user that Debian's
package creates; the server listens on a private port of 127.0.0.1 and is stopped afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(pytest_cmd: list[str]) -> int:
    if not (BIN / "initdb").exists():
        print("PostgreSQL 15 binaries not found under /usr/lib/postgresql/15/bin", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="kezek-pg15-"))
    data = tmp / "data"
    port = _free_port()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--lc-collate=C",
                    "--lc-ctype=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            _as_postgres(
                [
                    str(BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(tmp / "log"),
                    "-w",
                    "-o",
                    f"-p {port} -h 127.0.0.1 -k {tmp} -c fsync=off -c max_connections=200",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env = dict(os.environ, KEZEK_TEST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/postgres")
        return subprocess.run(pytest_cmd, env=env, check=False).returncode
    finally:
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["pytest"]))
