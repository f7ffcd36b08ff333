"""Write the fuzz targets' seed inputs (fuzz/seeds/<target>/) from the test fixtures:
python3 fuzz/make_seeds.py. The seeds are committed; libFuzzer's own corpus grows in
fuzz/corpus/ (ignored). The safetensors seeds are each fixture shard's length (8 bytes, LE) and
its first 8 + header-length bytes, the input layout of fuzz_targets/safetensors_header.rs."""

import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
IMAGES = ROOT / "tests" / "fixtures" / "images"
SEEDS = ROOT / "fuzz" / "seeds"


def write(target: str, name: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


for model in sorted(p for p in MODELS.iterdir() if p.is_dir()):
    shards = sorted(model.glob("*.safetensors"))
    for shard in shards[:2]:
        raw = shard.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        write("safetensors_header", f"{model.name}-{shard.stem}",
              struct.pack("<Q", len(raw)) + raw[: 8 + n])
    write("config_json", model.name, (model / "config.json").read_bytes())
    index = model / "model.safetensors.index.json"
    if index.exists():
        write("shard_index", model.name, index.read_bytes())
    manifest = model / "janus-pack.json"
    if manifest.exists():
        write("pack_manifest", model.name, manifest.read_bytes())

# Small images of every format the decoder takes (the photo fixtures are 10s of KB; a fuzzer
# mutates small inputs faster).
for image in sorted(p for p in IMAGES.iterdir() if p.is_file()):
    data = image.read_bytes()
    if len(data) <= 64 * 1024:
        write("image_file", image.name, data)

# What the web worker hands the engine (janus_model::fuzzing::worker_request): a selector byte
# (0 chat, then the number of images sent; 1 image generation; 2 browser-decoded RGBA), then JSON
# as the TypeScript client writes it.
write("worker_request", "chat-text",
      b"\x00\x00" + json.dumps({"messages": [{"role": "user", "content": "Hello"}], "maxNewTokens": 4}).encode())
write("worker_request", "chat-image",
      b"\x00\x01" + json.dumps({"messages": [{"role": "user", "content": "What is this?", "images": 1}],
                                "system": "", "temperature": 0.7, "topP": 0.9, "topK": 40, "seed": 42}).encode())
write("worker_request", "chat-turns",
      b"\x00\x00" + json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                             {"role": "user", "content": "c"}]}).encode())
write("worker_request", "chat-stop",
      b"\x00\x00" + json.dumps({"messages": [{"role": "user", "content": "Count: 1, 2, 3\n\nUser: é"}],
                                "stop": ["\n\nUser:", "3", "é"], "reuse": False}).encode())
write("worker_request", "image-gen",
      b"\x01" + json.dumps({"prompt": "a red fox", "count": 2, "cfgWeight": 5, "temperature": 1, "seed": 1,
                            "previewEvery": 96}).encode())
write("worker_request", "rgba", b"\x02" + json.dumps({"width": 2, "height": 1}).encode() + b"\x00" + bytes(range(8)))
