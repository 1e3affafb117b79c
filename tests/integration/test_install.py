"""A real, non-editable install works: the container's steps, outside the checkout.

The test builds a wheel from exactly the files the Dockerfile's build stage copies,
installs it with pip into a fresh virtualenv in a temporary directory, and from an
empty directory runs what the image and compose run: ``ledger migrate``, ``ledger
demo``, ``ledger serve`` (until ``/healthz`` answers), then ``ledger checkpoint``,
``ledger export`` and ``ledger verify``. The rest of the suite runs on the editable
install, so it passes even when the installed package lacks a file (the migrations
were missing); only this test catches that.

Nothing is downloaded: the wheel is built without build isolation (the dev extra
brings the build backend), and the new virtualenv borrows this environment's
dependencies through a ``.pth`` file written after the wheel is installed, so pip
never sees, let alone uninstalls, the editable install of this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def build_stage_sources() -> list[str]:
    """What the Dockerfile's first (build) stage copies from the checkout."""
    sources: list[str] = []
    stages = 0
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "FROM":
            stages += 1
        elif stages == 1 and words[0] == "COPY" and not any(w.startswith("--") for w in words):
            sources += words[1:-1]
    assert sources, "the Dockerfile's build stage copies nothing"
    return sources


def copy_sources(dest: Path) -> None:
    """Copy the build stage's files, without caches: the wheel is built as in the image,
    and nothing is written into the checkout (no ``build/``, no ``*.egg-info``)."""
    # As .dockerignore leaves out: caches, and what `make compile` built in place.
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.egg-info", "build", "*.so", "_compiled.json"
    )
    for name in build_stage_sources():
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def run(
    cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {done.returncode}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    return done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(proc: subprocess.Popen[str], url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, _ = proc.communicate()
            pytest.fail(f"ledger serve exited {proc.returncode} before answering:\n{out[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                status: int = resp.status
                return status
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds} s")


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_runs_the_containers_steps(tmp_path: Path) -> None:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel  # noqa: F401  (>= 70.1)
    except ImportError:
        pytest.fail("setuptools >= 70.1 is missing: run `make` (pip install -e '.[dev]')")

    # 1. The Dockerfile's build stage: copy its files, build a wheel (no download).
    src, wheels = tmp_path / "src", tmp_path / "wheels"
    src.mkdir()
    copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, "."], src)
    (wheel,) = wheels.glob("custody_ledger-*.whl")

    # 2. A fresh virtualenv outside the checkout; pip installs the wheel into it.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python, ledger = venv / "bin" / "python", venv / "bin" / "ledger"
    run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], tmp_path)
    # Only now borrow this environment's dependencies. A .pth path line adds just that
    # directory: the .pth files in it, such as the checkout's editable finder, are not run.
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    new_site = Path(run([python, "-c", purelib], tmp_path).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (new_site / "zz_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")

    # 3. From an empty directory, as in the image (WORKDIR /app), with no PYTHONPATH.
    work, data = tmp_path / "empty", tmp_path / "data"
    work.mkdir()
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PYTHON"))}
    env.update(
        LEDGER_DATABASE_URL=f"sqlite:///{data / 'l.db'}",
        LEDGER_SIGNING_KEY_FILE=str(data / "signing-key.pem"),
        LEDGER_HOST="127.0.0.1",
        LEDGER_ACCESS_LOG="false",
    )
    probe = "import json, sys, api, domain, ledger; print(json.dumps([sys.path, ledger.__file__]))"
    path, ledger_file = json.loads(run([python, "-c", probe], work, env).stdout)
    # This environment's site-packages may be the checkout's .venv; the checkout itself,
    # whose top-level folders are importable packages, must not be on the path.
    assert ROOT not in {(work / p).resolve() for p in path}, path
    assert Path(ledger_file).is_relative_to(new_site), ledger_file

    assert "to head" in run([ledger, "migrate"], work, env).stdout
    run([ledger, "demo"], work, env)

    port = free_port()
    serve = subprocess.Popen(
        [str(ledger), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_healthy(serve, f"http://127.0.0.1:{port}/healthz", 30) == 200
    finally:
        serve.terminate()
        try:
            serve.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.communicate()

    made = run([ledger, "checkpoint"], work, env)
    (work / "cp.json").write_text(made.stdout)
    (public_key,) = [
        line.split(":", 1)[1].strip()
        for line in made.stderr.splitlines()
        if line.startswith("public key (base64):")
    ]
    run([ledger, "export", "--quiet", "-o", "bundle.ndjson"], work, env)
    pinned = ["--public-key", public_key, "--checkpoint", "cp.json"]
    verdict = run([ledger, "verify", "bundle.ndjson", "--quiet", *pinned], work, env)
    assert "verdict: clean" in verdict.stdout
