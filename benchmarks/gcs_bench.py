"""Google Cloud Storage pulls: codeferry vs a raw download vs prefect-gcp, on gcp-storage-emulator.

For each shape (2,000 files of 1-20 KB in nested folders; 20 files of 5 MB), in the same run and
with rounds alternated:

- codeferry's cold pull into a new checkout, and a raw baseline (google-cloud-storage: list, then
  ``download_to_filename`` on a pool of 32 threads);
- codeferry's warm re-pull with nothing changed, beside one plain listing of the folder (its
  raw baseline: the least a re-pull that finds nothing changed must do);
- codeferry's warm re-pull after 1% of the files changed (the raw baseline has no incremental
  mode: its number is the cold download);
- ``prefect_gcp.deployments.steps.pull_from_gcs``, run from the Prefect venv ``prefect_env.py``
  makes (a full download every time). It reaches the emulator through ``STORAGE_EMULATOR_HOST``;
  it always asks ``google.auth.default()`` for credentials, which has no anonymous kind, so the
  child hands it anonymous ones (the emulator checks none). Its listing and downloads are
  Prefect's code, unchanged.

Each pull runs in its own process; the table gives the pull's own time (median, min-max, ratio to
the raw download), the process's wall time and its peak RSS. The emulator is single-threaded, so
absolute numbers say more about it than about GCS; the ratios are the point.

Run: ``python benchmarks/gcs_bench.py [rounds]``.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import blob_shapes  # noqa: E402
from prefect_env import prefect_python  # noqa: E402

FOLDER = "code"
CONCURRENCY = 32
PROJECT = "codeferry-bench"
PREFECT = "prefect-gcp pull_from_gcs"


def client() -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": os.environ["BENCH_ENDPOINT"]},
    )


NOTE = (
    "gcp-storage-emulator (single-threaded) on 127.0.0.1: absolute numbers say more about the "
    "emulator than about GCS; the ratios are the point. Raw is google-cloud-storage's "
    "`download_to_filename` on 32 threads. Prefect is `prefect_gcp.deployments.steps.pull_from_gcs`"
    " pointed at the emulator by `STORAGE_EMULATOR_HOST`, with anonymous credentials substituted"
    " for `google.auth.default()` (which it always calls and which has no anonymous kind)."
)


def upload(bucket_name: str, files: dict[str, bytes]) -> None:
    bucket = client().bucket(bucket_name)
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda item: bucket.blob(f"{FOLDER}/{item[0]}").upload_from_string(item[1]),
                files.items(),
            )
        )


# -- children --------------------------------------------------------------------------------


def child_codeferry(destination: Path) -> float:
    return blob_shapes.url_pull(destination, "gcsfs")


def _raw_download(destination: Path) -> None:
    blobs = list(client().list_blobs(os.environ["BENCH_BUCKET"], prefix=f"{FOLDER}/"))

    def fetch(blob: Any) -> None:
        target = destination / blob.name.removeprefix(f"{FOLDER}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(fetch, blobs))


def child_raw(destination: Path) -> float:
    from google.cloud import storage  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(lambda: _raw_download(destination))


def child_raw_list(_destination: Path) -> float:
    """One listing of the folder: the least a re-pull that finds nothing changed must do."""
    from google.cloud import storage  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(
        lambda: list(client().list_blobs(os.environ["BENCH_BUCKET"], prefix=f"{FOLDER}/"))
    )


def child_prefect(destination: Path) -> float:
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    # pull_from_gcs calls google.auth.default() whatever it is given short of a service account;
    # the emulator checks no credentials, and ADC has no anonymous kind: hand it anonymous ones.
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    google.auth.default = lambda *_args, **_kwargs: (anonymous, PROJECT)
    os.environ["STORAGE_EMULATOR_HOST"] = os.environ["BENCH_ENDPOINT"]
    from prefect_gcp.deployments.steps import pull_from_gcs

    return blob_shapes.in_folder(
        destination, lambda: pull_from_gcs(os.environ["BENCH_BUCKET"], FOLDER, PROJECT)
    )


# -- parent ----------------------------------------------------------------------------------


def main(rounds: int) -> None:
    from tests.servers.gcs import running_gcs_emulator

    measured: dict[str, dict[str, blob_shapes.Samples]] = {}
    prefect = prefect_python()
    work = Path(tempfile.mkdtemp(prefix="gcs-bench-"))
    with running_gcs_emulator() as server:
        os.environ["BENCH_ENDPOINT"] = server.endpoint
        print(f"gcp-storage-emulator at {server.endpoint}; {rounds} rounds")
        for number, shape in enumerate(blob_shapes.SHAPES):
            bucket = f"bench-{number}"
            server.create_bucket(bucket)
            files = blob_shapes.make_tree(shape)
            upload(bucket, files)
            measured[shape] = results = blob_shapes.pull_rounds(
                str(Path(__file__).resolve()),
                work / str(number),
                rounds,
                {
                    "BENCH_ENDPOINT": server.endpoint,
                    "BENCH_BUCKET": bucket,
                    "BENCH_URL": f"gs://{bucket}/{FOLDER}",
                    "STORAGE_EMULATOR_HOST": server.endpoint,  # codeferry's, as a worker's
                },
                files,
                functools.partial(upload, bucket),
                (PREFECT, prefect),
            )
            blob_shapes.print_shape(shape, files, results)
    shutil.rmtree(work, ignore_errors=True)
    blob_shapes.record_shapes(
        "gcs",
        "Google Cloud Storage",
        measured,
        rounds,
        NOTE,
        server="gcp-storage-emulator (single-threaded) on 127.0.0.1",
        prefect=PREFECT,
        prefect_python=prefect,
    )


if __name__ == "__main__":
    blob_shapes.run_script(
        "gcs",
        "Google Cloud Storage",
        main,
        codeferry=child_codeferry,
        raw=child_raw,
        raw_list=child_raw_list,
        prefect=child_prefect,
    )
