"""The Gradio front end. ``build_ui(engine, config)`` returns the page; it never creates an engine itself."""

from ui.chat import ChatHandlers, UIConfig, build_ui

__all__ = ["ChatHandlers", "UIConfig", "build_ui"]
