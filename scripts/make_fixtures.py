#!/usr/bin/env python3
"""Tiny random-weight Janus checkpoints and golden outputs from the reference implementation.

Regenerate (never in CI; torch is ~5 GB):

    pip install --target /tmp/pyref torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3 \
        safetensors==0.8.0 pillow==13.0.0 numpy
    PYTHONPATH=/tmp/pyref python3 scripts/make_fixtures.py

The reference is transformers' `JanusForConditionalGeneration` (HF-native Janus port). Its modules
(SigLIP tower, aligner, LLaMA, generation head/embeddings/aligner, VQ decoder) compute every golden;
the control flow around them follows DeepSeek's own scripts (janus-spec.md §6, §7.1): interleaved
cond/uncond rows, uncond rows = prompt with every token but BOS and <begin_of_image> replaced by pad,
greedy argmax of the CFG-mixed logits, DeepSeek's truncating image resize.

Written under tests/fixtures/:
  models/<config>-deepseek/   original `multi_modality` layout and names (janus-spec.md §2.6, §3.2)
  models/<config>-hf/         HF-native `janus` layout and names (§3.4)
  images/                     test images (non-square PNG, plus JPEG/WebP/GIF/CMYK-free variants)
  goldens/<config>.json       ids, logits, codes, margins; goldens/<config>-*.png decoded pixels

Weights are random, rounded to bf16 and stored as bf16 like the real checkpoints; the goldens are
computed in f32 from the bf16-rounded weights.
"""

import json
import math
import os
import random
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers, Regex
from transformers import DynamicCache, JanusConfig, JanusForConditionalGeneration

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
IMG = "<image_placeholder>"
BOI = "<begin_of_image>"
EOI = "<end_of_image>"
USER = "<|User|>"
ASSISTANT = "<|Assistant|>"

DEFAULT_SYSTEM = (
    "You are a helpful language and vision assistant. You are able to understand the visual content "
    "that the user provides, and assist the user with a variety of tasks using natural language."
)

# Two shapes that share nothing: widths, depths, heads, vocab, codebook, VQ channels all differ.
CONFIGS = {
    "tiny-a": dict(
        seed=1,
        vocab_rows=384,
        hidden=64,
        layers=2,
        heads=4,
        intermediate=160,
        rope_theta=10000.0,
        rms_eps=1e-6,
        v_width=32,
        v_layers=2,
        v_heads=2,
        v_mlp_ratio=4.0,
        v_eps=1e-6,
        codebook=96,
        code_dim=8,
        z_channels=32,
        base_channels=32,
        ch_mult=[1, 2],
        num_res_blocks=1,
        # tokenizer: specials trained in at low ids, no <image_placeholder> (spliced in at run time),
        # no role tokens (plain "User"/"Assistant" roles as in the Janus-1.3B examples).
        tok_vocab=300,
        specials_first=[PAD, EOI, EOS, BOI, BOS],
        specials_added=[],
        roles=("User", "Assistant"),
        # layouts written: (name, layout, shards, transformers spelling)
        outputs=[("deepseek", "deepseek", 1, None), ("hf", "hf", 2, 5)],
    ),
    "tiny-b": dict(
        seed=2,
        vocab_rows=448,
        hidden=96,
        layers=3,
        heads=3,
        intermediate=200,
        rope_theta=50000.0,
        rms_eps=1e-5,
        v_width=48,
        v_layers=3,
        v_heads=4,
        v_mlp_ratio=2.5,
        v_eps=1e-5,
        codebook=160,
        code_dim=4,
        z_channels=16,
        base_channels=32,
        ch_mult=[2, 1, 1],
        num_res_blocks=2,
        tok_vocab=360,
        specials_first=[],
        # added after training: ids at the end of the vocabulary, in a scrambled order
        specials_added=[USER, EOS, IMG, "<patch_placeholder>", BOI, PAD, ASSISTANT, EOI, BOS],
        roles=(USER, ASSISTANT),
        outputs=[("deepseek", "deepseek", 2, None), ("hf", "hf", 1, 4)],
    ),
}

CORPUS_WORDS = (
    "the a an of to in is was it on for with as at by from this that image picture photo cat dog "
    "red green blue yellow black white small large bright dark tree house river mountain sky sun "
    "describe tell me about what do you see here history behind draw paint portrait landscape "
    "girl boy city night morning film grained best quality masterpiece colour color light shadow "
    "hello how are you fine thanks please write story poem code function return value number one "
    "two three four five 2024 384 16 576 formula latex convert into question answer assistant user"
).split()


def corpus(seed):
    rng = random.Random(seed)
    lines = []
    for _ in range(3000):
        n = rng.randint(3, 14)
        words = [rng.choice(CORPUS_WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        line = " ".join(words) + rng.choice([".", "?", "!", ",", ":", "\n", " 42.", " (x+1)^2"])
        lines.append(line)
    return lines


def make_tokenizer(cfg):
    """A small byte-level BPE shaped like DeepSeek's: split regexes, then byte-level, BOS by template."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[\r\n]"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"\s?\p{L}+"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"\s?\p{P}+"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg["tok_vocab"],
        special_tokens=cfg["specials_first"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(cfg["seed"]), trainer)
    if cfg["specials_added"]:
        tok.add_special_tokens(cfg["specials_added"])
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    assert tok.get_vocab_size() <= cfg["vocab_rows"], "tokenizer larger than the embedding"
    return tok


def special_ids(tok):
    out = {}
    for key, s in [("bos", BOS), ("eos", EOS), ("pad", PAD), ("image", IMG), ("boi", BOI), ("eoi", EOI)]:
        out[key] = tok.token_to_id(s)
    return out


def hf_config(cfg, ids):
    return JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=cfg["vocab_rows"],
            hidden_size=cfg["hidden"],
            intermediate_size=cfg["intermediate"],
            num_hidden_layers=cfg["layers"],
            num_attention_heads=cfg["heads"],
            num_key_value_heads=cfg["heads"],
            max_position_embeddings=2048,
            rms_norm_eps=cfg["rms_eps"],
            rope_parameters={"rope_type": "default", "rope_theta": cfg["rope_theta"]},
            tie_word_embeddings=False,
            bos_token_id=ids["bos"],
            eos_token_id=ids["eos"],
            pad_token_id=ids["pad"],
            attention_bias=False,
            mlp_bias=False,
        ),
        vision_config=dict(
            hidden_size=cfg["v_width"],
            num_hidden_layers=cfg["v_layers"],
            num_attention_heads=cfg["v_heads"],
            image_size=384,
            patch_size=16,
            mlp_ratio=cfg["v_mlp_ratio"],
            layer_norm_eps=cfg["v_eps"],
            projection_dim=cfg["hidden"],
            depth=2,
            num_image_tokens=576,
        ),
        vq_config=dict(
            embed_dim=cfg["code_dim"],
            num_embeddings=cfg["codebook"],
            latent_channels=cfg["z_channels"],
            base_channels=cfg["base_channels"],
            channel_multiplier=cfg["ch_mult"],
            num_res_blocks=cfg["num_res_blocks"],
            projection_dim=cfg["hidden"],
            image_token_embed_dim=cfg["hidden"],
            num_hidden_layers=2,
        ),
        image_token_id=ids["image"] if ids["image"] is not None else 0,
        tie_word_embeddings=False,
    )


def randomize(model, seed):
    """Random weights with enough spread that greedy decisions are not near-ties, rounded to bf16."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name and name.endswith("weight"):
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            elif p.dim() == 1:
                v = 0.05 * torch.randn(p.shape, generator=g)
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                v = torch.randn(p.shape, generator=g) / math.sqrt(fan_in)
                if p.dim() == 2 and ("embed" in name or "quantize" in name):
                    v = torch.randn(p.shape, generator=g)
            p.copy_(v.to(torch.bfloat16).to(torch.float32))


# ---------------------------------------------------------------------------------------------
# Preprocessing, DeepSeek's way (janus-spec.md §5)
# ---------------------------------------------------------------------------------------------


def deepseek_resize_pad(img):
    img = img.convert("RGB")
    w, h = img.size
    m = max(w, h)
    nw = max(int(w / m * 384), 14)
    nh = max(int(h / m * 384), 14)
    img = img.resize((nw, nh), Image.BICUBIC)
    canvas = Image.new("RGB", (384, 384), (127, 127, 127))
    if nw >= nh:
        canvas.paste(img, (0, (nw - nh) // 2))
    else:
        canvas.paste(img, ((nh - nw) // 2, 0))
    return canvas, (nw, nh)


def to_pixel_values(canvas):
    a = np.asarray(canvas).astype(np.float32) / 255.0
    a = (a - 0.5) / 0.5
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


def make_test_image(path_base):
    """A non-square (3:1.7) picture with gradients, edges and flat areas: exercises the bicubic filter."""
    w, h = 300, 170
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 / (w - 1)).astype(np.float32)
    g = (y * 255 / (h - 1)).astype(np.float32)
    b = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 7.0)
    img = np.stack([r, g, b], -1)
    img[40:90, 60:140] = [250, 20, 30]
    img[100:150, 180:280] = [10, 10, 10]
    img[(x - 230) ** 2 + (y - 45) ** 2 < 30 ** 2] = [255, 255, 255]
    img = np.clip(img, 0, 255).astype(np.uint8)
    pil = Image.fromarray(img, "RGB")
    pil.save(path_base + ".png")
    pil.save(path_base + ".jpg", quality=92)
    pil.save(path_base + ".webp", lossless=True)
    # portrait variant (taller than wide) for the other padding branch
    pil.transpose(Image.Transpose.ROTATE_90).save(path_base + "-portrait.png")
    return pil


# ---------------------------------------------------------------------------------------------
# Prompt rendering, DeepSeek's SFT template (janus-spec.md §4.1)
# ---------------------------------------------------------------------------------------------


def sft(messages, system=""):
    """messages: list of (role, content); the last one may have empty content (generation prompt)."""
    out = system + "\n\n" if system else ""
    for i, (role, content) in enumerate(messages):
        is_user = i % 2 == 0
        if content:
            out += role + ": " + content.strip() + ("\n\n" if is_user else EOS)
        else:
            out += role + ":"
    return out.strip()


def encode(tok, text, ids):
    """Tokenise with BOS; expand every <image_placeholder> into BOI + n x IMG + EOI (§4.2)."""
    enc = tok.encode(text).ids
    out = []
    for t in enc:
        if t == ids["image"]:
            out += [ids["boi"]] + [ids["image"]] * 576 + [ids["eoi"]]
        else:
            out.append(t)
    return out


# ---------------------------------------------------------------------------------------------
# Reference runs
# ---------------------------------------------------------------------------------------------


def image_features(model, pixel_values):
    vis = model.model.vision_model(pixel_values).last_hidden_state  # [1, 576, w]
    return vis, model.model.aligner(vis)  # [1, 576, H]


def embed_prompt(model, prompt_ids, image_id, feats):
    ids = torch.tensor([prompt_ids])
    emb = model.model.language_model.embed_tokens(ids)
    if feats is not None:
        mask = ids == image_id
        assert int(mask.sum()) == feats.shape[1]
        emb = emb.clone()
        emb[mask] = feats.reshape(-1, emb.shape[-1])
    return emb


def margin(v):
    top = torch.topk(v, 2).values
    return float(top[0] - top[1])


def greedy_text(model, prompt_ids, ids, feats, max_new):
    lm = model.model.language_model
    cache = DynamicCache(config=model.config.text_config)
    x = embed_prompt(model, prompt_ids, ids["image"], feats)
    out = lm(inputs_embeds=x, cache=cache, use_cache=True)
    logits = model.lm_head(out.last_hidden_state[:, -1, :])[0]
    first = logits.clone()
    gen, margins = [], []
    for _ in range(max_new):
        nxt = int(torch.argmax(logits))
        margins.append(margin(logits))
        if nxt == ids["eos"]:
            return first, gen, True, margins
        gen.append(nxt)
        x = lm.embed_tokens(torch.tensor([[nxt]]))
        out = lm(inputs_embeds=x, cache=out.cache, use_cache=True)
        logits = model.lm_head(out.last_hidden_state[:, -1, :])[0]
    return first, gen, False, margins


def greedy_cfg_image(model, prompt_ids, ids, cfg_weight, count, n_tokens):
    """DeepSeek's generation_inference.py with argmax instead of multinomial (§7.1)."""
    lm = model.model.language_model
    rows = []
    uncond = [prompt_ids[0]] + [ids["pad"]] * (len(prompt_ids) - 2) + [prompt_ids[-1]]
    for _ in range(count):
        rows += [prompt_ids, uncond]  # interleaved: even = cond, odd = uncond
    x = lm.embed_tokens(torch.tensor(rows))
    cache = DynamicCache(config=model.config.text_config)
    out = lm(inputs_embeds=x, cache=cache, use_cache=True)
    codes = [[] for _ in range(count)]
    margins = []
    first = None
    for step in range(n_tokens):
        logits = model.model.generation_head(out.last_hidden_state[:, -1, :])  # [2N, codebook]
        cond, unc = logits[0::2], logits[1::2]
        g = unc + cfg_weight * (cond - unc)
        if first is None:
            first = (cond[0].clone(), unc[0].clone(), g[0].clone())
        nxt = torch.argmax(g, dim=-1)
        for i in range(count):
            codes[i].append(int(nxt[i]))
            margins.append(margin(g[i]))
        pair = torch.stack([nxt, nxt], 1).reshape(-1, 1)  # [2N, 1]
        e = model.prepare_embeddings_for_image_generation(pair)  # [2N, 1, H]
        out = lm(inputs_embeds=e, cache=out.cache, use_cache=True)
    return first, codes, margins


def decode_codes(model, codes):
    x = model.model.vqmodel.decode(torch.tensor(codes))  # [N, 3, h, w], ~[-1, 1]
    x = x.float().permute(0, 2, 3, 1).numpy()
    px = np.clip((x + 1) / 2 * 255, 0, 255).astype(np.uint8)  # truncation, as DeepSeek's script
    return x, px


# ---------------------------------------------------------------------------------------------
# Writing the two layouts
# ---------------------------------------------------------------------------------------------


def hf_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def to_deepseek(state, cfg, g):
    """HF-native names -> DeepSeek names (inverse of janus-spec.md §3.4), plus the tensors DeepSeek
    checkpoints carry that HF drops (SigLIP attn_pool, codebook_used)."""
    out = {}
    pre = "model.vision_model."
    vt = "vision_model.vision_tower."
    layers = {}
    for k, v in state.items():
        if k.startswith(pre + "encoder.layers."):
            rest = k[len(pre + "encoder.layers."):]
            i, sub = rest.split(".", 1)
            if sub.startswith("self_attn.") and sub.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                layers.setdefault(i, {})[sub] = v
                continue
            sub = (
                sub.replace("self_attn.projection_layer", "attn.proj")
                .replace("layer_norm1", "norm1")
                .replace("layer_norm2", "norm2")
            )
            out[f"{vt}blocks.{i}.{sub}"] = v
        elif k == pre + "embeddings.position_embedding.weight":
            out[vt + "pos_embed"] = v.unsqueeze(0)
        elif k.startswith(pre + "embeddings.patch_embedding."):
            out[vt + "patch_embed.proj." + k.rsplit(".", 1)[1]] = v
        elif k.startswith(pre + "post_layernorm."):
            out[vt + "norm." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("model.aligner."):
            out[k.replace("model.aligner.fc1", "aligner.layers.0").replace(
                "model.aligner.hidden_layers.0", "aligner.layers.2")] = v
        elif k.startswith("model.generation_aligner."):
            out[k.replace("model.generation_aligner.fc1", "gen_aligner.layers.0").replace(
                "model.generation_aligner.hidden_layers.0", "gen_aligner.layers.2")] = v
        elif k.startswith("model.generation_head."):
            out[k.replace("model.generation_head.proj_out", "gen_head.output_mlp_projector").replace(
                "model.generation_head.vision_head", "gen_head.vision_head")] = v
        elif k.startswith("model.generation_embeddings."):
            out[k.replace("model.generation_embeddings", "gen_embed")] = v
        elif k.startswith("model.language_model."):
            out["language_model.model." + k[len("model.language_model."):]] = v
        elif k == "lm_head.weight":
            out["language_model.lm_head.weight"] = v
        elif k.startswith("model.vqmodel."):
            s = "gen_vision_model." + k[len("model.vqmodel."):]
            s = s.replace("decoder.up.", "decoder.conv_blocks.").replace("encoder.down.", "encoder.conv_blocks.")
            s = s.replace(".block.", ".res.")
            s = s.replace("mid.block_1", "mid.0").replace("mid.attn_1", "mid.1").replace("mid.block_2", "mid.2")
            out[s] = v
        else:
            raise KeyError(k)
    for i, parts in layers.items():
        for kind in ("weight", "bias"):
            out[f"{vt}blocks.{i}.attn.qkv.{kind}"] = torch.cat(
                [parts[f"self_attn.{p}.{kind}"] for p in ("q_proj", "k_proj", "v_proj")], 0
            )
    # Tensors present in DeepSeek checkpoints but never used at inference.
    w = cfg["v_width"]
    rnd = lambda *s: torch.randn(s, generator=g).to(torch.bfloat16).to(torch.float32)
    out[vt + "attn_pool.latent"] = rnd(1, 1, w)
    m = int(w * cfg["v_mlp_ratio"])  # timm builds the pool's MLP with the tower's mlp_ratio
    for n, (o, i) in {"q": (w, w), "kv": (2 * w, w), "proj": (w, w), "mlp.fc1": (m, w), "mlp.fc2": (w, m)}.items():
        out[f"{vt}attn_pool.{n}.weight"] = rnd(o, i)
        out[f"{vt}attn_pool.{n}.bias"] = rnd(o)
    out[vt + "attn_pool.norm.weight"] = rnd(w)
    out[vt + "attn_pool.norm.bias"] = rnd(w)
    out["gen_vision_model.quantize.codebook_used"] = torch.zeros(65536)  # LlamaGen: fixed size
    return out


def deepseek_config(cfg, ids):
    h = cfg["hidden"]
    return {
        "architectures": ["MultiModalityCausalLM"],
        "model_type": "multi_modality",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.38.2",
        "vision_config": {
            "cls": "CLIPVisionTower",
            "model_type": "vision",
            "params": {
                "image_size": 384,
                "model_name": "siglip_large_patch16_384",
                "select_feature": "same",
                "select_layer": -1,
                # optional test-size fields (janus-web extension; absent in real checkpoints)
                "width": cfg["v_width"],
                "layers": cfg["v_layers"],
                "heads": cfg["v_heads"],
                "mlp_ratio": cfg["v_mlp_ratio"],
                "patch_size": 16,
                "layer_norm_eps": cfg["v_eps"],
            },
        },
        "aligner_config": {
            "cls": "MlpProjector",
            "model_type": "aligner",
            "params": {"depth": 2, "input_dim": cfg["v_width"], "n_embed": h, "projector_type": "mlp_gelu"},
        },
        "gen_vision_config": {
            "cls": "VQ-16",
            "model_type": "gen_vision",
            "params": {
                "image_token_size": cfg["codebook"],
                "n_embed": cfg["code_dim"],
                "codebook_size": cfg["codebook"],
                "codebook_embed_dim": cfg["code_dim"],
                "z_channels": cfg["z_channels"],
                "base_channels": cfg["base_channels"],
                "ch_mult": cfg["ch_mult"],
                "num_res_blocks": cfg["num_res_blocks"],
            },
        },
        "gen_aligner_config": {
            "cls": "MlpProjector",
            "model_type": "gen_aligner",
            "params": {"depth": 2, "input_dim": cfg["code_dim"], "n_embed": h, "projector_type": "mlp_gelu"},
        },
        "gen_head_config": {
            "cls": "vision_head",
            "model_type": "gen_head",
            "params": {"image_token_embed": h, "image_token_size": cfg["codebook"], "n_embed": h},
        },
        "language_config": {
            "hidden_size": h,
            "intermediate_size": cfg["intermediate"],
            "max_position_embeddings": 2048,
            "model_type": "llama",
            "num_attention_heads": cfg["heads"],
            "num_hidden_layers": cfg["layers"],
            "num_key_value_heads": cfg["heads"],
            "rms_norm_eps": cfg["rms_eps"],
            "rope_theta": cfg["rope_theta"],
            "torch_dtype": "bfloat16",
            "vocab_size": cfg["vocab_rows"],
        },
    }


def hf_config_json(model, spelling):
    d = model.config.to_dict()
    d["architectures"] = ["JanusForConditionalGeneration"]
    if spelling == 4:
        # transformers 4 spellings: rope_theta at the top of text_config, torch_dtype instead of dtype
        tc = d["text_config"]
        rp = tc.pop("rope_parameters", None) or {}
        tc["rope_theta"] = rp.get("rope_theta", 10000.0)
        for sub in (d, tc, d["vision_config"], d["vq_config"]):
            if "dtype" in sub:
                sub["torch_dtype"] = sub.pop("dtype")
        d["torch_dtype"] = "bfloat16"
    else:
        d["dtype"] = "bfloat16"
    return d


def write_checkpoint(dirname, state, shards):
    state = {k: v.to(torch.bfloat16).contiguous() for k, v in state.items()}
    names = sorted(state)
    if shards == 1:
        save_file(state, os.path.join(dirname, "model.safetensors"), metadata={"format": "pt"})
        return
    per = math.ceil(len(names) / shards)
    weight_map = {}
    total = 0
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k] for k in part}, os.path.join(dirname, fname), metadata={"format": "pt"})
        for k in part:
            weight_map[k] = fname
            total += state[k].numel() * 2
    with open(os.path.join(dirname, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def f32list(t):
    return [float(x) for x in t.float().reshape(-1)]


def run_cases(model, tok, ids, cfg, cname, photo, gold_dir):

    user, assistant = cfg["roles"]
    gold = {"config": cname, "special_ids": ids, "roles": [user, assistant], "cases": {}}

    # --- text only: system prompt + two turns --------------------------------------------
    text_prompt = sft([(user, "Hello, how are you?"), (assistant, "fine thanks."),
                       (user, "Tell me a story about a red cat."), (assistant, "")], system=DEFAULT_SYSTEM)
    prompt_ids = encode(tok, text_prompt, ids)
    first, out, eos, margins = greedy_text(model, prompt_ids, ids, None, 24)
    gold["cases"]["text"] = {
        "system": DEFAULT_SYSTEM,
        "turns": ["Hello, how are you?", "fine thanks.", "Tell me a story about a red cat."],
        "prompt": text_prompt, "prompt_ids": prompt_ids, "first_logits": f32list(first),
        "output_ids": out, "stopped_on_eos": eos, "text": tok.decode(out, skip_special_tokens=True),
        "min_margin": min(margins), "max_new_tokens": 24,
    }

    # --- raw prompt, no template ----------------------------------------------------------
    raw = "A portrait of young girl. masterpiece, film grained, best quality."
    prompt_ids = encode(tok, raw, ids)
    first, out, eos, margins = greedy_text(model, prompt_ids, ids, None, 16)
    gold["cases"]["raw"] = {
        "prompt": raw, "prompt_ids": prompt_ids, "first_logits": f32list(first), "output_ids": out,
        "stopped_on_eos": eos, "text": tok.decode(out, skip_special_tokens=True),
        "min_margin": min(margins), "max_new_tokens": 16,
    }

    # --- image understanding (non-square image), no system prompt ------------------------
    canvas, _ = deepseek_resize_pad(photo)
    pv = to_pixel_values(canvas)
    vis, feats = image_features(model, pv)
    q = "Describe what do you see here and tell me about the history behind it?"
    und_prompt = sft([(user, f"{IMG}\n{q}"), (assistant, "")])
    prompt_ids = encode(tok, und_prompt, ids)
    first, out, eos, margins = greedy_text(model, prompt_ids, ids, feats, 20)
    gold["cases"]["understand"] = {
        "image": "photo.png", "question": q, "prompt": und_prompt, "prompt_ids": prompt_ids,
        "first_logits": f32list(first), "output_ids": out, "stopped_on_eos": eos,
        "text": tok.decode(out, skip_special_tokens=True), "min_margin": min(margins),
        "max_new_tokens": 20,
        "vision_first_row": f32list(vis[0, 0]), "aligned_first_row": f32list(feats[0, 0]),
        "aligned_last_row": f32list(feats[0, -1]),
    }

    # --- text to image: greedy CFG, 2 images in one batch -------------------------------
    gen_prompt = sft([(user, "A red cat on a blue house at night."), (assistant, "")]) + BOI
    prompt_ids = tok.encode(gen_prompt).ids
    (c0, u0, g0), codes, margins = greedy_cfg_image(model, prompt_ids, ids, 5.0, 2, 576)
    assert codes[0] == codes[1], "greedy rows of one batch must agree"
    floats, pixels = decode_codes(model, codes[:1])
    Image.fromarray(pixels[0]).save(os.path.join(gold_dir, f"{cname}-imagine.png"))
    gold["cases"]["imagine"] = {
        "prompt": "A red cat on a blue house at night.", "full_prompt": gen_prompt,
        "prompt_ids": prompt_ids, "cfg_weight": 5.0, "count": 2,
        "first_cond_logits": f32list(c0), "first_uncond_logits": f32list(u0),
        "first_cfg_logits": f32list(g0), "codes": codes[0], "min_margin": min(margins),
        "png": f"{cname}-imagine.png", "image_size": list(pixels.shape[1:3]),
        "decoded_first_values": [float(v) for v in floats[0].reshape(-1)[:16]],
    }

    # --- VQ decode of arbitrary codes (every codebook row is reachable) -------------------
    rng = random.Random(cfg["seed"])
    rand_codes = [rng.randrange(cfg["codebook"]) for _ in range(576)]
    _, px = decode_codes(model, [rand_codes])
    Image.fromarray(px[0]).save(os.path.join(gold_dir, f"{cname}-decode.png"))
    gold["cases"]["decode"] = {"codes": rand_codes, "png": f"{cname}-decode.png"}

    return gold


MIN_MARGIN = 2e-3


def main():
    torch.set_grad_enabled(False)
    torch.set_num_threads(2)
    img_dir = os.path.join(ROOT, "images")
    gold_dir = os.path.join(ROOT, "goldens")
    model_dir = os.path.join(ROOT, "models")
    for d in (img_dir, gold_dir, model_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    photo = make_test_image(os.path.join(img_dir, "photo"))
    portrait = Image.open(os.path.join(img_dir, "photo-portrait.png"))

    # Preprocessing goldens (model independent).
    pre = {}
    for name, img in (("photo.png", photo), ("photo-portrait.png", portrait)):
        canvas, size = deepseek_resize_pad(img)
        out = name.replace(".png", "-384.png")
        canvas.save(os.path.join(gold_dir, out))
        pre[name] = {"resized": list(size), "canvas": out}

    for cname, cfg in CONFIGS.items():
        print(f"== {cname}", file=sys.stderr)
        tok = make_tokenizer(cfg)
        ids = special_ids(tok)
        if ids["image"] is None:
            # DeepSeek's processor adds the placeholder at run time when the tokenizer lacks it.
            tok.add_special_tokens([IMG])
            ids["image"] = tok.token_to_id(IMG)
        # Greedy goldens must not hinge on near-ties that float summation order could flip: draw
        # weights until every greedy decision (text and all 576 image steps) wins by a clear margin.
        for attempt in range(50):
            seed = cfg["seed"] + 1000 * attempt
            torch.manual_seed(seed)
            model = JanusForConditionalGeneration(hf_config(cfg, ids)).eval().float()
            randomize(model, seed)
            gold = run_cases(model, tok, ids, cfg, cname, photo, gold_dir)
            worst = min(c["min_margin"] for c in gold["cases"].values() if "min_margin" in c)
            print(f"   seed {seed}: worst greedy margin {worst:.4g}", file=sys.stderr)
            if worst > MIN_MARGIN:
                break
        else:
            raise SystemExit("no seed gave clear greedy margins")
        gold["weights_seed"] = seed
        gold["preprocess"] = pre
        with open(os.path.join(gold_dir, f"{cname}.json"), "w") as f:
            json.dump(gold, f, indent=1)
        g = torch.Generator().manual_seed(cfg["seed"] + 100)

        # --- checkpoints ---------------------------------------------------------------------
        state = hf_state(model)
        for suffix, layout, shards, spelling in cfg["outputs"]:
            d = os.path.join(model_dir, f"{cname}-{suffix}")
            os.makedirs(d)
            tok_to_save = make_tokenizer(cfg)  # as shipped: without a run-time placeholder
            tok_to_save.save(os.path.join(d, "tokenizer.json"))
            if layout == "deepseek":
                sd = to_deepseek(state, cfg, g)
                conf = deepseek_config(cfg, ids)
            else:
                sd = dict(state)
                conf = hf_config_json(model, spelling)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(conf, f, indent=2, sort_keys=True)
            write_checkpoint(d, sd, shards)


if __name__ == "__main__":
    main()
