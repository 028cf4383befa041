"""bench/report.py: one JSON of each benchmark kind in, one Markdown report with its numbers and valid PNGs out.

The inputs are real outputs, trimmed: the CPU ones from this machine (bench/checker.py, bench/stream.py and
bench/load.py with the fake engine), the GPU ones from the H100 session whose figures the README quotes.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from bench import report

CPU = {"python": "3.11.7", "cpus": 2, "platform": "Linux-6.18.44-x86_64-with-glibc2.36"}
STREAM = {"benchmark": "stream", "backend": "TurboMind", "model": "default-awq", "weight_format": "AWQ W4A16",
          "device": "CUDA: NVIDIA H100 80GB HBM3", "machine": "gpu-box (16 CPUs)", "max_new_tokens": 256,
          "results": [
              {"users": 1, "engine": {"tokens": 256, "seconds": 0.57, "tokens_per_s": 448.1, "ttft_p50_ms": 9.1},
               "app": {"tokens": 256, "seconds": 0.49, "tokens_per_s": 522.4, "ttft_p50_ms": 21.0,
                       "ttft_max_ms": 21.0, "errors": 0, "gradio_client": {"tokens_per_s": 301.5}},
               "app_vs_engine_throughput": 1.166, "app_added_ttft_ms": 11.9},
              {"users": 16, "engine": {"tokens": 4096, "seconds": 0.6, "tokens_per_s": 6788.3, "ttft_p50_ms": 30.2},
               "app": {"tokens": 4096, "seconds": 2.9, "tokens_per_s": 1425.5, "ttft_p50_ms": 222.4,
                       "ttft_max_ms": 901.0, "errors": 0}, "app_vs_engine_throughput": 0.21,
               "app_added_ttft_ms": 192.2}]}
LOAD = {"benchmark": "load", "date": "2026-11-30T08:27:26+00:00",
        "machine": {"name": "CPU: AMD EPYC (2 cores)", "cpu_cores": 2, "gpus": []}, "backend": "fake",
        "settings": {"client": "sse", "students": 64, "turns": 2, "client_processes": 2, "questions": "bank",
                     "max_new_tokens": 512, "gc_threshold": [50000, 10, 10], "switch_interval_ms": 10.0,
                     "sympy_workers": {"cas": 2, "checker": 2}},
        "students": 64, "turns_planned": 128,
        "turns_completed": 128, "errors": 0, "wrong_session": 0,
        "app": {"seconds": 4.521, "tokens": 1562, "tokens_per_s": 345.5, "ttft_p50_ms": 1508.3,
                "ttft_p95_ms": 2159.5, "ttft_max_ms": 2255.2, "turn_latency_p50_ms": 1842.7,
                "turn_latency_p95_ms": 3056.3, "gradio_queue_wait_p95_ms": 35.2, "first_update_p95_ms": 2137.2,
                "engine_queue_notices": 0, "server_loop_busy": 0.612, "server_loop_cpu_per_turn_ms": 12.3,
                "ttft_phases": {"in_gradio_queue_p50_ms": 301.2, "in_gradio_queue_p95_ms": 900.0,
                                "app_to_engine_p50_ms": 250.4, "app_to_engine_p95_ms": 700.0,
                                "engine_first_text_p50_ms": 45.5, "engine_first_text_p95_ms": 130.0,
                                "delivery_p50_ms": 6.2, "delivery_p95_ms": None,
                                "after_engine_p50_ms": 40.4, "after_engine_p95_ms": 210.0,
                                "to_gradio_queue_p50_ms": 12.3, "to_gradio_queue_p95_ms": 48.0},
                "server_gc": {"collections": {"0": 1, "1": 0, "2": 0}, "pause_total_ms": 21.7, "pause_max_ms": 21.7,
                              "frozen_objects": 546928}},
        "engine_alone": {"concurrency": 64, "requests": 128, "tokens": 1562, "tokens_per_s": 8906.3},
        "app_vs_engine_throughput": 0.039, "targets": {"cpu": {"students": 8, "errors": 0}},
        "targets_met": {"students": True, "errors": True, "wrong_session": True}}
CHECKER = {"machine": CPU, "workers": 2, "cold_start_s": 3.19, "table_cases": 351, "checks_timed": 351,
           "verdict_mismatches": 0, "latency_ms": {"median": 4.27, "p90": 25.46, "p99": 109.9, "max": 228.51},
           "threads": 2, "checks_per_s_threads": 143.0, "targets": {"median_ms": 20, "p99_ms": 250}}
QUALITY = {"benchmark": "quality_gate", "results": [
    {"model": "/tmp/tutor-cache/models/qwen2.5-coder-0.5b-instruct", "backend": "TurboMind", "weight_format": "bf16",
     "device": "CUDA: NVIDIA H100 80GB HBM3", "weight_bytes_on_disk": 1260000000, "problems": 50, "correct": 21,
     "accuracy": 0.42, "tokens_per_s": 5210.7, "label": "fp16", "tokens_per_s_1_stream": 348.2,
     "tokens_per_s_16_streams": 6197.4, "error": None},
    {"model": "/tmp/tutor-cache/quantized/qwen2.5-coder-0.5b-instruct-awq", "backend": "TurboMind",
     "weight_format": "AWQ W4A16", "device": "CUDA: NVIDIA H100 80GB HBM3", "weight_bytes_on_disk": 730000000,
     "problems": 50, "correct": 11, "accuracy": 0.22, "tokens_per_s": 5933.2}]}  # as before engine.quality
TUTOR = {"benchmark": "tutor_eval", "bank_problems": 156, "machine": "gpu-box (16 CPUs)",
         "verifier_on_bank": {"verified_precision": 1.0, "verified_recall": 0.795, "disputed_recall": 0.795},
         "backend": "TurboMind", "weight_format": "AWQ W4A16", "device": "CUDA: NVIDIA H100 80GB HBM3",
         "model_eval": {"problems": 80, "accuracy_plain": 0.312, "accuracy_grounded": 0.475,
                        "grounding_lift_points": 16.3,
                        "verifier_on_model_replies": {"verified_precision": 0.9, "verified_recall": 0.6}}}
GPU_LINES = [
    {"event": "load", "model": "default-fp16", "seconds": 9.8,
     "status": "TurboMind · default-fp16 · bf16 · CUDA: NVIDIA H100 80GB HBM3"},
    {"event": "stream", "model": "default-fp16", "users": 1, "tokens": 256, "tokens_per_s": 348.2,
     "first_token_ms": 11.0},
    {"event": "stream", "model": "default-fp16", "users": 16, "tokens": 4096, "tokens_per_s": 6197.4,
     "first_token_ms_max": 40.2},
    {"model": "qwen2.5-coder-0.5b-instruct", "weight_format": "bf16", "cache_max_entry_count": 0.2,
     "gpu_total_mib": 81559, "gpu_used_by_engine_mib": 17612, "lmdeploy": {}},
    {"event": "switch_memory", "gpu_used_mib_after_each": [14826, 15984, 13356, 16264, 13444], "reply_tokens": 400,
     "reply_finish": "length", "frozen": 541974}]
SMI = ("name, driver_version, memory.used [MiB], memory.total [MiB]\n"
       "NVIDIA H100 80GB HBM3, 550.54.15, 0 MiB, 81559 MiB\n")


TP_LINES = [  # scripts/gpu/tp_bench.py, trimmed (two H200, 2026-11-30)
    {"benchmark": "tp", "model": "random-qwen2-7b-fp16", "tp": tp, "gpus_visible": 2, "gpu": "NVIDIA H200",
     "max_new_tokens": 256, "cache_max_entry_count": 0.5, "load_seconds": load, "weight_format": "fp16",
     "results": [{"users": 1, "tokens_per_s": one}, {"users": 16, "tokens_per_s": sixteen}],
     "memory": {"gpu_memory_taken_at_load_mib": taken}}
    for tp, load, one, sixteen, taken in ((1, 8.6, 205.1, 2957.2, "79166"), (2, 7.8, 251.2, 3599.1, "75426 + 75426"))
]


def _write(folder: Path) -> None:
    gpu = folder / "gpu-session"
    gpu.mkdir(parents=True)
    files = {gpu / "bench_stream_awq.json": STREAM, gpu / "bench_quality.json": QUALITY,
             gpu / "bench_tutor_awq.json": TUTOR, folder / "load.json": LOAD, folder / "checker.json": CHECKER}
    for path, data in files.items():
        path.write_text(json.dumps(data), encoding="utf-8")
    (gpu / "gpu_report.jsonl").write_text("\n".join(json.dumps(x) for x in GPU_LINES) + "\n", encoding="utf-8")
    (gpu / "nvidia-smi.txt").write_text(SMI, encoding="utf-8")
    (gpu / "bench_tp.jsonl").write_text("\n".join(json.dumps(x) for x in TP_LINES) + "\n", encoding="utf-8")
    (gpu / "session.log").write_text("== done in 500 s\n", encoding="utf-8")
    ab = folder / "ab"  # an A/B whose code the bench did not record: the sidecar names it per file
    ab.mkdir()
    (ab / "load_threads.json").write_text(json.dumps({**LOAD, "date": "2026-11-30T16:10:00+00:00"}), encoding="utf-8")
    (ab / "variants.json").write_text(json.dumps({"load_threads.json": {"chat_conversion": "worker threads",
                                                                      "login_check": "worker thread"}}),
                                      encoding="utf-8")
    (folder / "other.json").write_text(json.dumps({"something": "else"}), encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_report_has_every_section_with_its_numbers_and_valid_plots(tmp_path: Path) -> None:
    _write(tmp_path / "in")
    out = tmp_path / "docs" / "REPORT.md"
    assert report.main(["--input", str(tmp_path / "in"), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")

    stream = _section(text, "## Streaming")
    assert "NVIDIA H100 80GB HBM3 (gpu-box (16 CPUs))" in stream and "AWQ W4A16" in stream
    assert "| 16 | 6,788.3 | 1,425.5 | 0.21 |" in stream and "222.4" in stream

    load = _section(text, "## Load")
    assert ("CPU: AMD EPYC (2 cores) | 2026-11-30 | fake | sse | 2 | bank | 512 | no (before the option) | 64 | 128/128 "
            "| 0 | 0 | 8,906.3 | 345.5 | 0.039") in load
    assert ("| 1,508.3 | 2,159.5 | 2,255.2 | 1,842.7 | 3,056.3 | 35.2 | 2,137.2 | 0 | 301 / 250 / 46 / 6; 900 / 700 / 130 / – "
            "| 12 / 48 | 40 / 210 | 2 | 0.612 | 12.3 | 10.0 | frozen, 50000; 22 / 22 | – | – | yes |") in load
    assert "| frozen, 50000; 22 / 22 | worker threads | worker thread | yes |" in load and "ab/load_threads.json" in load

    gpu = _section(text, "## GPU engine alone")
    assert "NVIDIA H100 80GB HBM3" in gpu  # from nvidia-smi.txt beside the JSON lines
    assert "| default-fp16 | 1 | 348.2 | 11.0 |" in gpu and "| default-fp16 | 16 | 6,197.4 | 40.2 |" in gpu
    assert "| 0.2 | 17612 | 81559 |" in gpu
    assert "| 14,826, 15,984, 13,356, 16,264, 13,444 | 400 (length) | 541974 |" in gpu

    quality = _section(text, "## Quality gate")
    fp16 = "| qwen2.5-coder-0.5b-instruct | TurboMind | bf16 | 42.0 | 21/50 | 5,210.7 | 348.2 | 6,197.4 | 1.26 | – |"
    assert fp16 in quality
    assert "| AWQ W4A16 | 22.0 | 11/50 |" in quality and "0.73" in quality

    tutor = _section(text, "## Tutor eval")
    assert "| 80 | 31.2 | 47.5 | 16.3 |" in tutor

    tp = _section(text, "## Tensor parallelism")
    assert "| 2 × NVIDIA H200 | 2026-11-30 (file time) | random-qwen2-7b-fp16 | fp16 | 2 | 7.8 | 251.2 | 3,599.1 | 75426 + 75426 |" in tp

    checker = _section(text, "## Checker")
    assert "| 2 | 351 | 4.27 | 25.5 | 109.9 | 228.5 | 143.0 | 0 |" in checker and "2 CPUs, Linux" in checker

    for section in (stream, load, gpu, quality, tutor, checker):  # each names its runs' dates
        assert "2026-11-30" in section or "(file time)" in section

    skipped = _section(text, "## Skipped files")
    assert "other.json`: unknown JSON shape" in skipped and "broken.json`: not JSON" in skipped
    assert "session.log`: not a JSON file" in skipped and "nvidia-smi" not in skipped and "variants" not in skipped

    images = sorted(p.name for p in out.parent.glob("*.png"))
    assert images == ["checker_latency.png", "gpu_engine_tokens.png", "load_tokens.png", "load_ttft.png",
                      "quality_gate.png", "stream_tokens.png", "stream_ttft.png", "tp_tokens.png", "tutor_eval.png"]
    for name in images:
        assert f"]({name})" in text  # linked from the report
        with Image.open(out.parent / name) as img:
            img.verify()
            assert img.format == "PNG" and img.size[0] > 300 and img.size[1] > 200


def test_an_empty_folder_gives_a_report_that_says_so(tmp_path: Path) -> None:
    out = tmp_path / "REPORT.md"
    report.main(["--input", str(tmp_path), "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "0 runs" in text and "No runs found for: stream, load" in text
