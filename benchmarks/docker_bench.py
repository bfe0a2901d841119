"""Publishing a one-file code change as a new image, and pulling code out of images.

Same run, same registry (Debian's docker-registry on 127.0.0.1, no auth), same base image (static
busybox plus a 20 MB runtime layer standing in for a Python base image), same project (300 files
of 1-8 KB). A counting TCP proxy in front of the registry measures the bytes each client sends.

Publish, after one file of the project changed (rounds alternate):

- daemonless: ``build_code_layer`` (one reproducible layer, pushed through the distribution API);
- engine: ``build_docker_image`` + ``push_docker_image`` through Podman's Docker-compatible
  service (``FROM base`` + ``COPY . /opt/flows/``), the way Prefect's steps work;
- Prefect: ``prefect_docker.deployments.steps.build_docker_image`` + ``push_docker_image``
  through the same engine, run in the Prefect venv ``prefect_env.py`` makes and timed inside that
  process. It builds its own copy of the project (its changed file differs from the others', so no
  build cache is shared) and pushes to its own repository.

Pull the code onto a plain worker (no engine), cold (new checkout) and warm (after a one-file
change), from the daemonless image and from the engine-built image, against a full image copy
(``skopeo copy`` to an OCI layout: what a worker must fetch to run the image).

Run: ``python benchmarks/docker_bench.py [rounds]`` (needs docker-registry, podman, skopeo).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from codeferry_docker.steps import build_code_layer, build_docker_image, push_docker_image  # noqa: E402
from codeferry_docker.storage import OciImage  # noqa: E402
from tests.servers.podman import running_podman  # noqa: E402
from tests.servers.registry import running_registry  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from prefect_env import prefect_python  # noqa: E402
from recording import case, recorded, series, write_family  # noqa: E402
from timing import Samples  # noqa: E402


class CountingProxy:
    """A TCP proxy that counts the bytes clients send upstream."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.sent = 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if count:
                    with self.lock:
                        self.sent += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, target):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)

    def measure(self, action: Callable[[], object]) -> tuple[float, int]:
        before = self.sent
        start = time.perf_counter()
        action()
        return time.perf_counter() - start, self.sent - before


def make_project(root: Path) -> None:
    rng = random.Random(7)
    for i in range(300):
        path = root / f"pkg{i % 10}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        words = " ".join(
            rng.choice(["flow", "task", "data", "x", "y", "return"])
            for _ in range(rng.randint(150, 1200))
        )
        path.write_text(f"# module {i}\nTEXT = '''{words}'''\n")
    (root / "flow.py").write_text("def main():\n    return 0\n")


def build_base(engine_host: str, registry: str, workspace: Path) -> str:
    context = workspace / "base"
    (context / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", context / "bin" / "busybox")
    (context / "bin" / "sh").symlink_to("busybox")
    (context / "runtime").mkdir()
    (context / "runtime" / "lib.bin").write_bytes(random.Random(1).randbytes(20 << 20))
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY bin /bin\nCOPY runtime /usr/lib/runtime\nENV PATH=/bin\n"
    )
    client = docker.DockerClient(base_url=engine_host)
    base = f"{registry}/bench/base"
    list(client.api.build(path=str(context), tag=f"{base}:1", decode=True, rm=True))
    for chunk in client.api.push(base, tag="1", stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
    return f"{base}:1"


# Run as `python -c PREFECT_PUBLISH IMAGE TAG DIRECTORY` in the Prefect venv: build and push
# with Prefect's docker steps, print the time they took (the process's imports excluded).
PREFECT_PUBLISH = (
    "import os, sys, time\n"
    "from prefect_docker.deployments.steps import build_docker_image, push_docker_image\n"
    "image, tag, directory = sys.argv[1:4]\n"
    "os.chdir(directory)\n"
    "start = time.perf_counter()\n"
    "build_docker_image(image_name=image, tag=tag)\n"
    "push_docker_image(image_name=image, tag=tag)\n"
    "print(time.perf_counter() - start)\n"
)


def publish_with_prefect(python: Path, image: str, tag: str, directory: Path) -> float:
    """Prefect's build + push in a fresh process of its venv; the steps' own time."""
    done = subprocess.run(
        [str(python), "-c", PREFECT_PUBLISH, image, tag, str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Prefect's docker steps failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def main(rounds: int) -> None:
    prefect = prefect_python()
    workspace = Path(tempfile.mkdtemp(prefix="codeferry-docker-bench-"))
    try:
        with running_registry(authenticated=False) as registry:
            proxy = CountingProxy(registry.port)
            host = f"127.0.0.1:{proxy.port}"
            with running_podman([host, registry.host]) as engine:
                os.environ["DOCKER_HOST"] = engine.docker_host
                base = build_base(engine.docker_host, host, workspace)
                project = workspace / "project"
                make_project(project)
                (project / "Dockerfile").write_text(
                    f"FROM {base}\nCOPY . /opt/flows/\nWORKDIR /opt/flows\n"
                )
                (project / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
                theirs = workspace / "prefect-project"
                shutil.copytree(project, theirs)
                # First publication of each (pushes to a new repository) is not measured.
                build_code_layer(
                    base_image=base,
                    image_name=f"{host}/bench/daemonless",
                    tag="v0",
                    directory=str(project),
                )
                build_docker_image(image_name=f"{host}/bench/engine", tag="v0", path=str(project))
                push_docker_image(image_name=f"{host}/bench/engine", tag="v0")
                publish_with_prefect(prefect, f"{host}/bench/prefect", "v0", theirs)
                daemonless: list[tuple[float, int]] = []
                engine_runs: list[tuple[float, int]] = []
                prefect_runs: list[tuple[float, int]] = []
                for n in range(1, rounds + 1):
                    (project / "flow.py").write_text(f"def main():\n    return {n}\n")
                    (theirs / "flow.py").write_text(f"def main():\n    return -{n}\n")

                    def publish_daemonless(n: int = n) -> object:
                        return build_code_layer(
                            base_image=base,
                            image_name=f"{host}/bench/daemonless",
                            tag=f"v{n}",
                            directory=str(project),
                        )

                    def publish_engine(n: int = n) -> object:
                        build_docker_image(
                            image_name=f"{host}/bench/engine", tag=f"v{n}", path=str(project)
                        )
                        return push_docker_image(image_name=f"{host}/bench/engine", tag=f"v{n}")

                    order = [(daemonless, publish_daemonless), (engine_runs, publish_engine)]
                    for samples, action in order if n % 2 else reversed(order):
                        samples.append(proxy.measure(action))
                    inside: list[float] = []  # the steps' own time, imports excluded

                    def publish_prefect(n: int = n, inside: list[float] = inside) -> object:
                        image = f"{host}/bench/prefect"
                        inside.append(publish_with_prefect(prefect, image, f"v{n}", theirs))
                        return None

                    _, sent = proxy.measure(publish_prefect)
                    prefect_runs.append((inside[0], sent))
                d_time, d_bytes = (
                    median([t for t, _ in daemonless]),
                    median([b for _, b in daemonless]),
                )
                e_time, e_bytes = (
                    median([t for t, _ in engine_runs]),
                    median([b for _, b in engine_runs]),
                )
                print(f"publish a one-file change ({rounds} rounds, medians):")
                kib_d, kib_e = d_bytes / 1024, e_bytes / 1024
                print(f"  daemonless build_code_layer : {d_time:7.3f} s  {kib_d:9.1f} KiB sent")
                print(f"  engine build + push (podman): {e_time:7.3f} s  {kib_e:9.1f} KiB sent")
                p_time = median([t for t, _ in prefect_runs])
                kib_p = median([b for _, b in prefect_runs]) / 1024
                print(f"  prefect-docker build + push : {p_time:7.3f} s  {kib_p:9.1f} KiB sent")
                ratio_t, ratio_b = e_time / d_time, e_bytes / max(d_bytes, 1)
                print(
                    f"  ratio engine/daemonless     : time {ratio_t:5.1f}x  bytes {ratio_b:5.1f}x"
                )

                last = f"v{rounds}"
                pulls: dict[str, tuple[list[float], list[float], float, float]] = {}
                print("pull code onto a plain worker (bytes received, median time):")
                for label, image in (
                    ("daemonless image", f"{registry.host}/bench/daemonless"),
                    ("engine image", f"{registry.host}/bench/engine"),
                ):
                    cold_times: list[float] = []
                    warm_times: list[float] = []
                    cold_bytes: list[float] = []
                    warm_bytes: list[float] = []
                    for r in range(rounds):
                        destination = workspace / f"pull-{label[0]}-{r}"
                        storage = OciImage(image=f"{image}:v{rounds - 1}", path="/opt/flows")
                        start = time.perf_counter()
                        cold = storage.pull_code(destination)
                        cold_times.append(time.perf_counter() - start)
                        cold_bytes.append(cold.bytes)
                        storage = OciImage(image=f"{image}:{last}", path="/opt/flows")
                        start = time.perf_counter()
                        warm = storage.pull_code(destination)  # next version: one file changed
                        warm_times.append(time.perf_counter() - start)
                        warm_bytes.append(warm.bytes)
                    cold_kib, warm_kib = median(cold_bytes) / 1024, median(warm_bytes) / 1024
                    pulls[label] = (cold_times, warm_times, cold_kib, warm_kib)
                    print(
                        f"  {label:17s} cold {median(cold_times):6.3f} s {cold_kib:9.1f} KiB | "
                        f"warm (1 file changed) {median(warm_times):6.3f} s {warm_kib:9.1f} KiB"
                    )
                copies = []
                for r in range(rounds):
                    layout = workspace / f"layout-{r}"
                    start = time.perf_counter()
                    subprocess.run(
                        [
                            "skopeo",
                            "copy",
                            "--src-tls-verify=false",
                            f"docker://{registry.host}/bench/engine:{last}",
                            f"oci:{layout}:x",
                        ],
                        check=True,
                        capture_output=True,
                    )
                    copies.append(time.perf_counter() - start)
                size = sum(
                    p.stat().st_size for p in (workspace / "layout-0").rglob("*") if p.is_file()
                )
                print(f"  full image copy (skopeo)  {median(copies):6.3f} s {size / 1024:9.1f} KiB")
                copy = series(Samples("skopeo copy of the whole image", copies))
                own, built = pulls["daemonless image"], pulls["engine image"]
                cases = [
                    case(
                        "publish",
                        "publish a one-file change",
                        series(Samples("build_code_layer", [t for t, _ in daemonless])),
                        raw=series(Samples("engine build + push", [t for t, _ in engine_runs])),
                        prefect=series(
                            Samples("prefect-docker build + push", [t for t, _ in prefect_runs])
                        ),
                        note=(
                            f"bytes sent to the registry: {kib_d:.0f} KiB (build_code_layer), "
                            f"{kib_e:.0f} KiB (engine), {kib_p:.0f} KiB (Prefect)"
                        ),
                    ),
                    *(
                        case(
                            f"pull-{temperature}",
                            title,
                            series(Samples("OciImage pull, daemonless image", own_times)),
                            raw=copy,
                            others=[series(Samples("OciImage pull, engine-built image", times))],
                            note=(
                                f"bytes received: {own_kib:.0f} KiB from the daemonless image,"
                                f" {kib:.0f} KiB from the engine image; the whole image is"
                                f" {size / 1024:.0f} KiB"
                            ),
                        )
                        for temperature, title, own_times, own_kib, times, kib in (
                            (
                                "cold",
                                "pull code from an image, cold",
                                own[0],
                                own[2],
                                built[0],
                                built[2],
                            ),
                            (
                                "warm",
                                "pull code from the next image, one file changed",
                                own[1],
                                own[3],
                                built[1],
                                built[3],
                            ),
                        )
                    ),
                ]
                write_family(
                    "docker",
                    "Docker images",
                    cases,
                    rounds=rounds,
                    prefect_python=prefect,
                    server="Debian docker-registry on 127.0.0.1; Podman as the engine",
                    notes=[
                        "Debian's docker-registry on 127.0.0.1, Podman's Docker-compatible"
                        " service as the engine (the way Prefect's docker steps work), a project"
                        " of 300 files on a 20 MB base image. Raw for publishing is the engine's"
                        " build and push; for pulling, a `skopeo copy` of the whole image. Prefect"
                        " is `prefect_docker.deployments.steps.build_docker_image` +"
                        " `push_docker_image` through the same engine, timed inside its"
                        " process."
                    ],
                )
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(workspace)], check=False)
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    with recorded("docker", "Docker images"):
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
