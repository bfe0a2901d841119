"""The Python API: from_source, to_deployment_file, re-pulling workers, concurrent pulls."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from codeferry.checkouts import Checkout
from codeferry.errors import CodeferryError, EntrypointError, PullError, SourceNotSupportedError
from codeferry.plugins import Plugins
from codeferry.runs import run_deployment
from codeferry.sources import Puller, from_source, keep_pulling
from codeferry.storage import CodeStorage, FetchResult, PullContext, PullResult

pytestmark = pytest.mark.usefixtures("plugins")


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "hello.py").write_text(
        "def hello(name='world'):\n    return f'hello {name}'\n"
        "async def later(x):\n    return x * 2\n"
    )
    return folder


def test_from_a_path_pulls_loads_and_calls(code: Path) -> None:
    hello = from_source(str(code), "flows/hello.py:hello")
    pulled = hello.pull()
    assert (pulled.directory / "flows" / "hello.py").is_file()
    assert hello.load()("ada") == "hello ada"
    assert hello(name="bob") == "hello bob"


def test_coroutine_entrypoint_is_awaited(code: Path) -> None:
    assert from_source(str(code), "flows/hello.py:later")(21) == 42


def test_from_a_storage_object_and_a_saved_storage_block(code: Path) -> None:
    from codeferry_local.storage import LocalDirectory

    storage = LocalDirectory(path=str(code))
    assert from_source(storage, "flows/hello.py:hello")() == "hello world"
    storage.save("flows")
    saved = LocalDirectory.load("flows")
    assert from_source(saved, "flows/hello.py:hello")("x") == "hello x"
    assert from_source("block:local-directory/flows", "flows/hello.py:hello")("y") == "hello y"


def test_pull_into_an_explicit_destination(code: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    from_source(str(code), "flows/hello.py:hello").pull(dest)
    assert (dest / "flows" / "hello.py").is_file()


def test_unknown_source_and_bad_entrypoint_are_clear_errors(code: Path) -> None:
    with pytest.raises(SourceNotSupportedError, match="pip install codeferry-s3"):
        from_source("s3://bucket/flows", "flows/hello.py:hello")
    with pytest.raises(EntrypointError):
        from_source(str(code), "flows/hello.py")


def test_exceptions_of_the_entrypoint_propagate_unchanged(code: Path) -> None:
    (code / "flows" / "bad.py").write_text("def go():\n    raise KeyError('k')\n")
    with pytest.raises(KeyError):
        from_source(str(code), "flows/bad.py:go")()


def test_to_deployment_file_writes_a_file_that_runs_the_same_code(
    code: Path, tmp_path: Path
) -> None:
    path = from_source(str(code), "flows/hello.py:hello").to_deployment_file(
        tmp_path / "codeferry.yaml", name="greet"
    )
    assert run_deployment(path, "greet", ["file"]) == "hello file"
    with pytest.raises(CodeferryError, match="already exists"):
        from_source(str(code), "flows/hello.py:hello").to_deployment_file(path)


class CountingStorage(CodeStorage):
    """Each pull gives a new version; fails on the pulls listed in ``fail_on``."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.count = 0
        self.fail_on = fail_on or set()

    def __str__(self) -> str:
        return "counting://test"

    def to_pull_step(self) -> dict[str, dict[str, object]]:
        return {"counting": {}}

    def fetch(self, context: PullContext) -> FetchResult:
        self.count += 1
        if self.count in self.fail_on:
            raise PullError("storage is down")
        context.path_for("version.txt").write_text(str(self.count))
        return FetchResult(str(self.count), 1)


def test_keep_pulling_pulls_until_stopped_and_survives_failures() -> None:
    storage = CountingStorage(fail_on={2})
    stop = threading.Event()
    pulled: list[PullResult] = []
    errors: list[CodeferryError] = []

    def on_pull(result: PullResult) -> None:
        pulled.append(result)
        if len(pulled) == 3:
            stop.set()

    assert keep_pulling(storage, 0.01, stop, on_pull=on_pull, on_error=errors.append) == 3
    assert [(r.directory / "version.txt").read_text() for r in pulled] == ["1", "3", "4"]
    assert [str(e) for e in errors] == ["storage is down"]
    checkout = Checkout.for_storage(storage)
    assert checkout.current is not None
    assert checkout.current.version == "4"


def test_keep_pulling_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        keep_pulling(CountingStorage(), 0, threading.Event())


def test_puller_re_pulls_in_the_background_until_stopped() -> None:
    storage = CountingStorage()
    with Puller(storage, pull_interval=0.01) as puller:
        assert puller.wait_for_pulls(3, timeout=30)
    count = puller.pulls
    assert count >= 3
    assert puller.last is not None
    assert (puller.last.directory / "version.txt").read_text() == str(storage.count)
    assert storage.count == count  # stopped: no pull after stop() returned


def test_run_in_progress_keeps_its_version_while_a_puller_switches(code: Path) -> None:
    hello = from_source(str(code), "flows/hello.py:hello", keep=1)
    first = hello.pull()
    checkout = Checkout.for_storage(hello.storage)
    with checkout.use(first.directory):
        for n in range(3):
            (code / "flows" / "hello.py").write_text(f"def hello():\n    return {n}\n")
            os.utime(code / "flows" / "hello.py", ns=(10**9 * (n + 5),) * 2)
            hello.pull()
        assert checkout.current is not None
        assert checkout.current.directory != first.directory
        assert "hello {name}" in (first.directory / "flows" / "hello.py").read_text()
    assert hello() == 2


# -- concurrent pulls of one checkout --------------------------------------------------------------


class SlowStorage(CodeStorage):
    """Writes many files slowly, tagged with who pulled, to expose interleaved pulls."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __str__(self) -> str:
        return "slow://shared"

    def to_pull_step(self) -> dict[str, dict[str, object]]:
        return {"slow": {}}

    def fetch(self, context: PullContext) -> FetchResult:
        marker = context.target.parent / "fetching"
        if marker.exists():
            raise AssertionError("two pulls of one checkout ran at once")
        marker.write_text(self.tag)
        try:
            for index in range(50):
                context.path_for(f"f{index:02}.txt").write_text(self.tag)
        finally:
            marker.unlink()
        return FetchResult(self.tag, 50)


def test_concurrent_pulls_from_threads_serialise_and_leave_one_tree() -> None:
    errors: list[BaseException] = []

    def pull(tag: str) -> None:
        try:
            SlowStorage(tag).pull_code()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=pull, args=(f"t{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    current = Checkout.for_storage(SlowStorage("x")).current
    assert current is not None
    contents = {p.read_text() for p in current.directory.iterdir()}
    assert contents == {current.version}
    assert len(list(current.directory.iterdir())) == 50


PULL_SCRIPT = textwrap.dedent(
    """
    import sys
    from tests.deployments.test_sources import SlowStorage
    SlowStorage(sys.argv[1]).pull_code()
    """
)


def test_concurrent_pulls_from_processes_serialise_and_leave_one_tree(tmp_path: Path) -> None:
    script = tmp_path / "pull.py"
    script.write_text(PULL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    processes = [
        subprocess.Popen([sys.executable, str(script), f"p{n}"], env=env, stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    current = Checkout.for_storage(SlowStorage("x")).current
    assert current is not None
    contents = {p.read_text() for p in current.directory.iterdir()}
    assert contents == {current.version}
    assert current.version in {f"p{n}" for n in range(4)}


def test_plugins_fixture_is_what_from_source_uses(plugins: Plugins, code: Path) -> None:
    assert from_source(str(code), "flows/hello.py:hello", plugins=plugins)() == "hello world"
