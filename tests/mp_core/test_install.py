"""The library as training code installs it: a wheel of ``mp_core`` alone, and ``pip install .`` without
extras into a fresh venv that holds only torch (``tests/bare_install_check.py`` runs there)."""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
#: What a clean clone does not have (and what building in place would leave behind).
NOT_SOURCES = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts", "out"
)
#: Front-end files of the viewer (mp_core/viz/viewer/) that the wheel must carry beside the Python code.
FRONT_END = {
    "_probe.js": "export default function () {}\n",
    "_probe.css": "div {}\n",
    "_probe.html": "<div></div>\n",
}


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout with the viewer's front-end files in it (building in place leaves build/)."""
    project = tmp_path_factory.mktemp("source") / "project"
    shutil.copytree(ROOT, project, ignore=NOT_SOURCES)
    viewer = project / "mp_core" / "viz" / "viewer"
    viewer.mkdir(exist_ok=True)
    for name, text in FRONT_END.items():
        (viewer / name).write_text(text)
    return project


def test_the_wheel_holds_the_library_and_its_front_end_files_only(source: Path, tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", tmp_path, source)
    (wheel,) = tmp_path.glob("motion_prompt_explorer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    library = source / "mp_core"
    shipped = {".py", ".typed", ".js", ".css", ".html"}
    expected = {
        f"mp_core/{path.relative_to(library).as_posix()}"
        for path in library.rglob("*")
        if path.is_file() and path.suffix in shipped and "__pycache__" not in path.parts
    }
    assert {"mp_core/py.typed", "mp_core/viz/render.py"} | {
        f"mp_core/viz/viewer/{n}" for n in FRONT_END
    } <= expected
    assert expected - names == set()
    assert {name.split("/")[0] for name in names} == {"mp_core", wheel.name.rsplit("-", 3)[0] + ".dist-info"}
    metadata = email.parser.HeaderParser().parsestr(
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    )
    requires = metadata.get_all("Requires-Dist")
    assert sorted(r for r in requires if "extra ==" not in r) == ["numpy>=1.26", "torch>=2.4"]
    extras = {"video", "safetensors", "viz", "report", "maps", "train", "app"}
    assert set(metadata.get_all("Provides-Extra")) == extras
    assert any(r.startswith("torchvision==0.28.0") and 'extra == "train"' in r for r in requires)
    assert any(r.startswith("streamlit") and 'extra == "app"' in r for r in requires)


@pytest.mark.timeout(900)
def test_bare_install_trains_the_layer_and_loads_a_checkpoint(source: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # torch first, pinned as the app pins it: the package's range then adds nothing (an open range would
    # pull a multi-GB CUDA build here)
    run(python, "-m", "pip", "install", "--quiet", "torch==2.13.0", timeout=600)
    run(python, "-m", "pip", "install", "--quiet", source, timeout=600)
    installed = run(python, "-m", "pip", "list", "--format=freeze").lower()
    assert "torch==2.13.0" in installed and "motion-prompt-explorer==0.1.0" in installed
    out = run(python, ROOT / "tests" / "bare_install_check.py", cwd=tmp_path)  # not from the checkout
    assert "bare install ok" in out
    print(f"bare install: venv, torch, pip install ., check in {time.perf_counter() - started:.1f} s")
