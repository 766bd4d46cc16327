"""Atomic output files (supportkit.files): whole or absent, with the umask's permissions."""

import os
import stat

import pytest

from supportkit.files import open_atomically, write_text_atomically


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_follow_the_umask(tmp_path, umask, expected):
    # mkstemp creates 0600 files whatever the umask; the .ipynb beside a report got 0644.
    old = os.umask(umask)
    try:
        write_text_atomically(tmp_path / "a.html", "x")
        with open_atomically(tmp_path / "b.bin", "wb") as out:
            out.write(b"x")
    finally:
        os.umask(old)
    for name in ("a.html", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected
    assert os.umask(old) == old  # reading the umask left it as it was
    os.umask(old)


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "index.html"
    target.write_text("previous")
    with pytest.raises(OSError):
        with open_atomically(target) as out:
            out.write("half")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
