"""``rediss://`` with an ACL user, against a real ``redis-server`` listening only on a TLS port.

The CA, the server's certificate and a client certificate are made for the module with the
``openssl`` command (Debian's ``openssl`` package); the server requires client certificates
(``tls-auth-clients yes``) and knows one user with the daemon's rights (docs/operations.md,
Redis rights). A CA that did not sign the server's certificate, or no client certificate, must be
one line naming the key to fix, not a retry loop.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from monitor.config import RedisSettings
from monitor.errors import AccessRefusedError
from monitor.services import ensure_redis_installed
from monitor.store.client import check_access, check_rights, connect

PASSWORD = "tls-" + uuid.uuid4().hex
USER = "driftwatch"
PREFIX = "dw"


def openssl(*args: str, cwd: Path) -> None:
    """Run ``openssl``; fail the test with its output (or the package to install) if it fails."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("openssl is not on PATH: install it ('sudo apt-get install -y openssl')")
    result = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"openssl {' '.join(args)}: {result.stderr}"


def make_ca(folder: Path, name: str) -> None:
    """A self-signed CA: ``{name}.key`` and ``{name}.crt`` in ``folder``."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN=driftwatch test {name}", "-keyout", f"{name}.key", "-out", f"{name}.crt",
            cwd=folder)  # fmt: skip


def make_cert(folder: Path, name: str, ca: str) -> None:
    """``{name}.key`` and ``{name}.crt`` signed by ``ca``, valid for 127.0.0.1 and localhost."""
    (folder / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", cwd=folder)  # fmt: skip
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
            cwd=folder)  # fmt: skip


@dataclass(frozen=True)
class TlsRedis:
    """The TLS-only server: its port and the folder of certificates and the password file."""

    port: int
    certs: Path

    def settings(self, **changes: str) -> RedisSettings:
        """Settings as a deployment would write them, with ``changes`` applied."""
        values = {
            "url": f"rediss://{USER}@127.0.0.1:{self.port}/0",
            "password_file": str(self.certs / "password"),
            "key_prefix": PREFIX,
            "ssl_cafile": str(self.certs / "ca.crt"),
            "ssl_certfile": str(self.certs / "client.crt"),
            "ssl_keyfile": str(self.certs / "client.key"),
        }
        return RedisSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def tls_redis(
    tmp_path_factory: pytest.TempPathFactory, free_port_factory: Callable[[int], list[int]]
) -> Iterator[TlsRedis]:
    folder = tmp_path_factory.mktemp("tls-redis")
    make_ca(folder, "ca")
    make_cert(folder, "server", "ca")
    make_cert(folder, "client", "ca")
    make_ca(folder, "other-ca")
    (folder / "password").write_text(PASSWORD + "\n")
    port = free_port_factory(1)[0]
    (folder / "redis.conf").write_text(
        f"""bind 127.0.0.1
port 0
tls-port {port}
tls-cert-file {folder / "server.crt"}
tls-key-file {folder / "server.key"}
tls-ca-cert-file {folder / "ca.crt"}
tls-auth-clients yes
dir {folder}
save ""
appendonly no
user default off
user {USER} on >{PASSWORD} resetkeys ~{PREFIX}:* resetchannels -@all +@read +@write +@scripting +@connection +time -@dangerous
"""  # noqa: E501 - the rights line as docs/operations.md writes it
    )
    server = subprocess.Popen(
        [ensure_redis_installed(), str(folder / "redis.conf")],
        stdout=(folder / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        tls = TlsRedis(port, folder)
        while True:
            assert server.poll() is None, (folder / "redis.log").read_text()
            try:
                connect(tls.settings()).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, (folder / "redis.log").read_text()
                time.sleep(0.05)
        yield tls
    finally:
        server.terminate()
        server.wait(10)


def test_an_acl_user_over_tls_writes_and_reads(tls_redis: TlsRedis) -> None:
    settings = tls_redis.settings()
    client = connect(settings)
    check_access(client, settings)
    check_rights(client, settings, f"{PREFIX}:probe")
    client.hset(f"{PREFIX}:tls", "count", 41)
    assert client.hincrby(f"{PREFIX}:tls", "count", 1) == 42
    with pytest.raises(redis.exceptions.NoPermissionError):  # the user's rights, not default's
        client.set("outside-the-prefix", 1)
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_a_certificate_from_another_ca_is_one_line_naming_the_ca_key(
    tls_redis: TlsRedis,
) -> None:
    settings = tls_redis.settings(ssl_cafile=str(tls_redis.certs / "other-ca.crt"))
    with pytest.raises(AccessRefusedError) as raised:
        check_access(connect(settings), settings)
    message = str(raised.value)
    assert message.startswith(f"Redis at rediss://{USER}@127.0.0.1:{tls_redis.port}/0: ")
    assert "certificate verify failed" in message
    assert "name the CA that signed it in redis.ssl_cafile" in message
    assert "\n" not in message and PASSWORD not in message


def test_no_client_certificate_names_the_client_certificate_keys(tls_redis: TlsRedis) -> None:
    settings = tls_redis.settings(ssl_certfile="", ssl_keyfile="")
    with pytest.raises(AccessRefusedError) as raised:
        check_access(connect(settings), settings)
    assert "set redis.ssl_certfile and redis.ssl_keyfile" in str(raised.value)


def test_tls_files_without_rediss_are_refused_by_config_check(tls_redis: TlsRedis) -> None:
    settings = tls_redis.settings(url=f"redis://127.0.0.1:{tls_redis.port}/0")
    errors: list = []
    settings.validate("redis", errors)
    assert [e.key for e in errors] == [
        "redis.ssl_cafile",
        "redis.ssl_certfile",
        "redis.ssl_keyfile",
    ]
    assert "write the URL as rediss://" in str(errors[0])
