"""The dataset roots check on a real folder tree: ``..`` tricks, symlinks out and in, the cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mp_core.errors import InputError
from ui.roots import PathNotAllowedError, allowed_path, cache_dir, configured_roots, dataset_roots


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """data/ (the root) with a dataset and symlinks out of it; secret/ beside it, outside."""
    data, secret = tmp_path / "data", tmp_path / "secret"
    (data / "hmdb" / "jump").mkdir(parents=True)
    (data / "hmdb" / "jump" / "a.mp4").write_bytes(b"")
    (secret / "clips" / "x").mkdir(parents=True)
    (data / "escape").symlink_to(secret)  # a folder symlink pointing out of the root
    (data / "hmdb" / "jump" / "out.mp4").symlink_to(secret / "clips")
    (secret / "back").symlink_to(data / "hmdb")  # a symlink outside pointing in
    (tmp_path / "data-other").mkdir()  # shares the root's name as a prefix
    return {"base": tmp_path, "data": data, "secret": secret}


def test_paths_inside_the_root_resolve(tree: dict[str, Path]) -> None:
    roots = (tree["data"],)
    assert allowed_path(str(tree["data"]), roots) == tree["data"].resolve()
    assert (
        allowed_path(f"{tree['data']}/hmdb/jump/../jump/a.mp4", roots)
        == (tree["data"] / "hmdb" / "jump" / "a.mp4").resolve()
    )
    assert allowed_path(f"  {tree['data']}/hmdb  ", roots) == (tree["data"] / "hmdb").resolve()
    # A path that does not exist yet is judged by where it would be; opening it then fails on its own.
    assert allowed_path(f"{tree['data']}/missing", roots) == (tree["data"] / "missing").resolve()
    # A symlink from outside into the root ends inside: allowed, as the resolved target.
    assert allowed_path(str(tree["secret"] / "back"), roots) == (tree["data"] / "hmdb").resolve()


@pytest.mark.parametrize(
    "relative",
    [
        "data/..",
        "data/../secret",
        "data/hmdb/../../secret/clips",
        "data/escape",  # symlink out of the root
        "data/escape/clips/x",
        "data/hmdb/jump/out.mp4",  # a file-named symlink out of the root
        "data-other",  # a sibling whose name starts like the root's
        "secret",
    ],
)
def test_paths_resolving_outside_are_refused(tree: dict[str, Path], relative: str) -> None:
    path = f"{tree['base']}/{relative}"
    with pytest.raises(PathNotAllowedError) as info:
        allowed_path(path, (tree["data"],))
    assert str(info.value) == f"{path} is outside the dataset roots of this server ({tree['data']})"
    assert isinstance(info.value, InputError)  # the page catches InputError and shows the message


def test_relative_empty_and_no_roots(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree["data"])
    with pytest.raises(PathNotAllowedError, match="hmdb is a relative path: give the full path"):
        allowed_path("hmdb", (tree["data"],))
    with pytest.raises(PathNotAllowedError, match="no path given"):
        allowed_path("   ", (tree["data"],))
    with pytest.raises(PathNotAllowedError, match=r"outside the dataset roots of this server \(none"):
        allowed_path(str(tree["data"]), ())


def test_home_is_expanded_before_the_check(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tree["base"]))
    assert allowed_path("~/data/hmdb", (tree["data"],)) == (tree["data"] / "hmdb").resolve()
    with pytest.raises(PathNotAllowedError):
        allowed_path("~/secret", (tree["data"],))


def test_roots_from_the_environment(tree: dict[str, Path]) -> None:
    env = {
        "MP_DATASET_ROOTS": f"{tree['data']}{os.pathsep} {tree['secret']}/../data-other {os.pathsep}",
        "MP_CACHE_DIR": str(tree["base"] / "cache"),
    }
    assert configured_roots(env) == (tree["data"].resolve(), (tree["base"] / "data-other").resolve())
    assert cache_dir(env) == tree["base"] / "cache"
    # The cache folder (demo dataset, report files) is always a root, after the configured ones.
    assert dataset_roots(env) == (*configured_roots(env), (tree["base"] / "cache").resolve())
    assert dataset_roots({"MP_CACHE_DIR": str(tree["base"] / "cache")}) == ((tree["base"] / "cache"),)
    xdg = {"XDG_CACHE_HOME": str(tree["base"] / "xdg")}
    assert cache_dir(xdg) == tree["base"] / "xdg" / "motion-prompt-explorer"
