"""The Apache Kafka broker's jars, from Maven Central, cached once per version.

``fetch_jars`` runs ``mvn dependency:copy-dependencies`` on a packaging POM shipped with Driftwatch
(``kafka-pom.xml``) into a per-version cache; a marker file holding the POM's hash says the folder
is complete, so a changed POM re-fetches. The logging jars are checked after the download: exactly
one SLF4J binding, and the right one (design note §9).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from monitor.services import _process
from monitor.services.errors import ServiceError

logger = logging.getLogger(__name__)

#: kafka-python 3.0.x is CI-tested against broker 4.3.0; 4.3.1 is that line's bug-fix release.
KAFKA_VERSION = "4.3.1"

_POM_RESOURCE = "kafka-pom.xml"
_MARKER = ".driftwatch-complete"
#: A cold download is ~45 MB in ~50 jars; this bounds a hung mvn (proxy black hole), not a slow
#: link.
_MVN_TIMEOUT_SECONDS = 900.0
#: Jars that bind SLF4J to a backend. Exactly one (log4j-slf4j-impl) may be on the class path:
#: with none, or with log4j-slf4j2-impl, SLF4J 1.7 falls back to NOP and the broker logs nothing.
_SLF4J_BINDINGS = (
    "log4j-slf4j-impl",
    "log4j-slf4j2-impl",
    "slf4j-simple",
    "slf4j-reload4j",
    "slf4j-log4j12",
    "slf4j-jdk14",
    "slf4j-nop",
    "logback-classic",
)


def default_cache_dir() -> Path:
    """Where downloaded jars live: ``$DW_CACHE_DIR`` or ``~/.cache/driftwatch``.

    Outside the work tree and the state dir, so ``down``/``git clean`` never force a re-download.
    """
    env = os.environ.get("DW_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "driftwatch"


def _is_complete(libs: Path, digest: str) -> bool:
    """True when ``libs`` holds a finished download of exactly this POM."""
    try:
        marker = json.loads((libs / _MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    if marker.get("pom_sha256") != digest:
        return False
    return all((libs / jar).is_file() for jar in marker.get("jars", ()))


def _check_jars(jars: list[str]) -> None:
    """Refuse a class path that would start a silent or broken broker."""
    if not any(jar.startswith("kafka_2.13-") for jar in jars):
        raise ServiceError(
            f"mvn finished but kafka_2.13-{KAFKA_VERSION}.jar is missing from the download; "
            "delete the cache folder and retry."
        )
    bindings = [jar for jar in jars if jar.startswith(_SLF4J_BINDINGS)]
    if len(bindings) != 1 or not bindings[0].startswith("log4j-slf4j-impl-"):
        raise ServiceError(
            f"expected exactly one SLF4J binding (log4j-slf4j-impl) among Kafka's jars, found "
            f"{bindings or 'none'}; fix monitor/services/kafka-pom.xml (see design note section 9)."
        )


def _jar_root(cache_dir: Path | None) -> Path:
    """``<cache>/kafka-<version>``: one folder per Kafka version, so versions never mix."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / f"kafka-{KAFKA_VERSION}"


def _pom() -> tuple[bytes, str]:
    """The packaging POM's bytes and the digest that names a complete download of it."""
    pom_bytes = (resources.files("monitor.services") / _POM_RESOURCE).read_bytes()
    return pom_bytes, hashlib.sha256(pom_bytes + KAFKA_VERSION.encode()).hexdigest()


def jars_cached(cache_dir: Path | None = None) -> bool:
    """True when :func:`fetch_jars` would return at once (lets callers announce a download)."""
    return _is_complete(_jar_root(cache_dir) / "libs", _pom()[1])


def fetch_jars(cache_dir: Path | None = None) -> Path:
    """Download Kafka's runtime jars from Maven Central once; return the folder holding them.

    The folder is ``<cache>/kafka-<version>/libs``. It is filled in a temporary sibling and renamed
    into place, so an interrupted download never looks complete. Raises :class:`ServiceError` when
    Maven is missing or fails: there is no fallback, a fake broker would hide real failures.
    """
    root = _jar_root(cache_dir)
    libs = root / "libs"
    pom_bytes, digest = _pom()
    if _is_complete(libs, digest):
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with _process.file_lock(root / ".lock"):
        if _is_complete(libs, digest):  # another process finished while we waited for the lock
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError(
                "Maven ('mvn') is not on PATH; Driftwatch needs it once to download Kafka "
                f"{KAFKA_VERSION} from Maven Central. Install it (Debian/Ubuntu: "
                "'sudo apt-get install -y maven'; macOS: 'brew install maven') and retry."
            )
        pom = root / "pom.xml"
        pom.write_bytes(pom_bytes)
        staging = Path(tempfile.mkdtemp(prefix="libs.partial.", dir=root))
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ]
        logger.info("downloading Kafka %s jars with Maven into %s", KAFKA_VERSION, libs)
        started = time.monotonic()
        try:
            result = subprocess.run(
                command,
                cwd=root,
                capture_output=True,
                text=True,
                timeout=_MVN_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceError(
                f"mvn did not finish downloading Kafka {KAFKA_VERSION} within "
                f"{_MVN_TIMEOUT_SECONDS:.0f}s; check network access to Maven Central "
                "(https://repo.maven.apache.org, proxies go in ~/.m2/settings.xml) and retry."
            ) from exc
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise ServiceError(
                f"mvn failed (exit {result.returncode}) downloading Kafka {KAFKA_VERSION}; check "
                "network access to Maven Central (https://repo.maven.apache.org, proxies go in "
                "~/.m2/settings.xml) and retry. Command: "
                f"{' '.join(command)}\nmvn output:\n" + "\n".join(output)
            )
        jars = sorted(path.name for path in staging.glob("*.jar"))
        try:
            _check_jars(jars)
        except ServiceError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        (staging / _MARKER).write_text(
            json.dumps({"pom_sha256": digest, "jars": jars}, indent=1), encoding="utf-8"
        )
        if libs.exists():  # stale or from an older POM: swap it out whole, never mix versions
            old = root / f"libs.old.{os.getpid()}"
            libs.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(libs)
        logger.info(
            "downloaded %d Kafka jars in %.1fs into %s", len(jars), time.monotonic() - started, libs
        )
    return libs
