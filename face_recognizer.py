"""Face Recognizer: `python3 face_recognizer.py` opens the desktop app (after `python3 scripts/setup.py app`)."""

import sys


def main() -> int:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        # A Python without Tk (a stock Debian's, say): the user reads what to install, not a traceback.
        from scripts.setup import TK, install_line

        print(install_line([TK]), file=sys.stderr)
        return 1
    from facerec.gui.app import main as open_app

    return open_app()


if __name__ == "__main__":
    raise SystemExit(main())
