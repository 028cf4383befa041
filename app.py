"""Math Tutor: a Gradio chat page streaming from an in-process engine, with symbolic answer checking.

    python app.py [serve] [--host 127.0.0.1] [--port 7860] [--backend auto] [--model default] ...
    python app.py quantize MODEL --work-dir DIR [--calib-samples 128 ...]

This is the only module that creates the real engine and calls ``launch()``. Flags default from environment
variables (TUTOR_HOST, TUTOR_PORT, TUTOR_BACKEND, TUTOR_MODEL, ...), so a deployment can be configured either way.
lmdeploy starts worker processes, so everything runs under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from functools import partial
from pathlib import Path

from engine.errors import AppError
from engine.settings import (
    BACKENDS,
    CACHE_MAX_ENTRY_COUNT,
    DEVICES,
    MAX_BATCH_SIZE,
    MODEL_FORMATS,
    SESSION_LEN,
    TP,
    EngineSettings,
)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TUTOR_{name}", default)


def serve_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"),
                        help="address to bind (env TUTOR_HOST; default 127.0.0.1, this machine only; "
                             "0.0.0.0 serves the network)")
    parser.add_argument("--port", type=int, default=int(_env("PORT", "7860")), help="port (env TUTOR_PORT)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    parser.add_argument("--backend", choices=BACKENDS, default=_env("BACKEND", "auto"),
                        help="engine backend (env TUTOR_BACKEND): auto = lmdeploy with CUDA, else a CPU backend")
    parser.add_argument("--model", default=_env("MODEL", "default"),
                        help="'default' (offline Qwen2.5-Coder-0.5B-Instruct), a model folder, or a hub id "
                             "(env TUTOR_MODEL)")
    parser.add_argument("--model-format", choices=MODEL_FORMATS, default=_env("MODEL_FORMAT", "auto"),
                        help="hf (fp16/bf16) or awq (4-bit W4A16); auto reads the checkpoint (env TUTOR_MODEL_FORMAT)")
    parser.add_argument("--device", choices=DEVICES, default=_env("DEVICE", "auto"), help="env TUTOR_DEVICE")
    parser.add_argument("--cache-max-entry-count", type=float,
                        default=float(_env("CACHE_MAX_ENTRY_COUNT", str(CACHE_MAX_ENTRY_COUNT.default))),
                        help=f"lmdeploy KV-cache ratio, {CACHE_MAX_ENTRY_COUNT.lo:g}-{CACHE_MAX_ENTRY_COUNT.hi:g}: "
                             "the fraction of GPU memory left free after the weights that the KV cache takes")
    parser.add_argument("--session-len", type=int, default=int(_env("SESSION_LEN", str(int(SESSION_LEN.default)))),
                        help="context length per conversation, in tokens")
    parser.add_argument("--max-batch-size", type=int,
                        default=int(_env("MAX_BATCH_SIZE", str(int(MAX_BATCH_SIZE.default)))),
                        help="concurrent generations in the engine (GPU)")
    parser.add_argument("--teacher-password-file", default=None,
                        help="file holding the teacher password that unlocks engine settings in the page "
                             "(or env TUTOR_TEACHER_PASSWORD); without one they are locked")
    parser.add_argument("--tutor-mode", choices=("socratic", "steps", "check"), default=_env("TUTOR_MODE", "steps"),
                        help="the tutor mode students start in (env TUTOR_TUTOR_MODE)")
    parser.add_argument("--lock-tutor-mode", action="store_true",
                        default=_env("LOCK_TUTOR_MODE", "") not in ("", "0", "false"),
                        help="students cannot switch the tutor mode (env TUTOR_LOCK_TUTOR_MODE=1)")
    parser.add_argument("--log-dir", default=_env("LOG_DIR", "") or None,
                        help="keep a log of each finished turn for teachers in DIR/conversations-YYYY-MM-DD.jsonl "
                             "(off by default; env TUTOR_LOG_DIR). Tell students when it is on")
    parser.add_argument("--grounding", choices=("auto", "on", "off"), default=_env("GROUNDING", "auto"),
                        help="give sympy's result to the model before it answers, where sympy can work the question "
                             "out; auto = on for models of 8B parameters or fewer (env TUTOR_GROUNDING). Students "
                             "can still switch it in the page")
    parser.add_argument("--tp", type=int, default=int(_env("TP", str(int(TP.default)))),
                        help="tensor parallelism: split the model over this many GPUs (lmdeploy backend; 1, 2, 4 or 8, "
                             "at most the visible GPUs, dividing the model's attention heads; env TUTOR_TP)")
    return parser


def settings_from_args(args: argparse.Namespace) -> EngineSettings:
    return EngineSettings(
        backend=args.backend, model=args.model, model_format=args.model_format, device=args.device,
        cache_max_entry_count=args.cache_max_entry_count, session_len=args.session_len,
        max_batch_size=args.max_batch_size, tp=args.tp,
    )


def _progress(fraction: float, text: str) -> None:
    print(f"[{fraction:6.1%}] {text}", file=sys.stderr, flush=True)


def _teacher_password(args: argparse.Namespace) -> str | None:
    if args.teacher_password_file:
        return Path(args.teacher_password_file).read_text(encoding="utf-8").strip() or None
    return os.environ.get("TUTOR_TEACHER_PASSWORD") or None


def serve(args: argparse.Namespace) -> int:
    from engine.factory import create_engine
    from engine.models import allowed_model_dirs
    from engine.switcher import EngineSwitcher
    from ui import UIConfig, build_ui, launch
    from ui.teacher import TeacherGate

    import checker

    # The checker's worker processes take 1-2 s to start: warm them while the model loads.
    threading.Thread(target=lambda: checker.default_pool().warm_up(), daemon=True).start()
    from checker.cas_pool import default_cas_pool

    threading.Thread(target=lambda: default_cas_pool().warm_up(), daemon=True).start()
    settings = settings_from_args(args)
    # The page's teacher panel may load models only from the cache, TUTOR_MODEL_DIRS and the start-up model's
    # folder; the command line may name any folder (SECURITY.md).
    panel_factory = partial(create_engine, allowed_dirs=allowed_model_dirs(startup_model=settings.model))
    engine = EngineSwitcher(create_engine(settings, progress=_progress), settings, panel_factory)
    print(f"Engine ready: {engine.info.status_line()}", file=sys.stderr, flush=True)
    from tutor import TutorSettings

    tutor_settings = TutorSettings(default_mode=args.tutor_mode, locked=args.lock_tutor_mode)
    from ui.server_log import ServerLog

    grounded = {"auto": None, "on": True, "off": False}[args.grounding]
    password = _teacher_password(args)
    log = ServerLog(Path(args.log_dir) if args.log_dir else None, redact=[password] if password else [])
    if args.log_dir:
        print(f"Logging conversations to {args.log_dir} (--log-dir)", file=sys.stderr, flush=True)
    config = UIConfig(tutor=tutor_settings, grounded=grounded)
    demo = build_ui(engine, config, gate=TeacherGate(password), log=log)
    launch(demo, engine, config, server_name=args.host, server_port=args.port, share=args.share)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "quantize":
        from engine.quantize import quantize_main

        return quantize_main(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    parser = serve_parser(argparse.ArgumentParser(
        prog="app.py",
        description="Math Tutor chat app. Subcommands: serve (default), quantize (run `app.py quantize --help`).",
    ))
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except AppError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
