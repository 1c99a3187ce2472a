"""Face Recognizer: `python face_recognizer.py` opens the desktop app."""

from facerec.gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
