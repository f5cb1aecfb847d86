"""Check that README.rst is what the addon's readme/ fragments build."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_built_from_fragments():
    """Test that README.rst matches tools/build_readme.py's output."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "build_readme.py"), "--check"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
    )
    assert result.returncode == 0, result.stdout


def test_readme_names_both_commands():
    """Test that the README gives the two set-up commands."""
    with open(os.path.join(ROOT, "README.rst")) as readme:
        text = readme.read()
    assert "make test" in text
    assert "make run" in text
