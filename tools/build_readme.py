"""Build README.rst from the addon's readme/ fragments, the way OCA repositories do.

Run it after editing a fragment: ``.venv/bin/python tools/build_readme.py``.
``--check`` exits with 1 when README.rst differs from what the fragments give.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAGMENTS = os.path.join(ROOT, "mpesa_paybill", "readme")
README = os.path.join(ROOT, "README.rst")

HEADER = """\
==============
M-Pesa PayBill
==============

*Odoo 11.0 addon · Python 3.7 · LGPL-3*

.. This file is generated from mpesa_paybill/readme/*.rst by
   tools/build_readme.py; edit the fragments, not this file.

"""

SECTIONS = [
    ("DESCRIPTION.rst", None),
    ("FIRST_STEPS.rst", "First steps"),
    ("INSTALL.rst", "Installation"),
    ("CONFIGURE.rst", "Configuration"),
    ("USAGE.rst", "Usage"),
    ("SANDBOX.rst", "Offline Daraja sandbox"),
    ("DEVELOP.rst", "Development"),
    ("ROADMAP.rst", "Known issues / Roadmap"),
    ("CONTRIBUTORS.rst", "Contributors"),
]


def build():
    """Return the text of README.rst."""
    parts = [HEADER]
    for name, title in SECTIONS:
        with open(os.path.join(FRAGMENTS, name)) as fragment:
            text = fragment.read().strip() + "\n"
        if title:
            parts.append("%s\n%s\n\n" % (title, "=" * len(title)))
        parts.append(text + "\n")
    return "".join(parts).rstrip("\n") + "\n"


def main(argv):
    text = build()
    if "--check" in argv:
        with open(README) as current:
            if current.read() != text:
                print("README.rst is out of date; run: .venv/bin/python tools/build_readme.py")
                return 1
        return 0
    with open(README, "w") as readme:
        readme.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
