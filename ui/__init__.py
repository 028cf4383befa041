"""The Gradio front end. ``build_ui(engine, config)`` returns the page; it never creates an engine itself."""

import os

# Gradio switches matplotlib to "agg" around every event when matplotlib is installed (bench/report.py needs it);
# with the backend already named, that is cheap instead of a backend resolution per event.
os.environ.setdefault("MPLBACKEND", "agg")

from ui.chat import ChatHandlers, UIConfig, build_ui, launch, launch_options

__all__ = ["ChatHandlers", "UIConfig", "build_ui", "launch", "launch_options"]
