"""A tokenizer.json of the real Janus tokenizer's size (100,000 byte-level BPE tokens, ~99,700
merges, 6.7 MB; the real one is 4.7 MB with ~100k of each), grown from a small one such as
tiny-a's, whose special tokens and pre-tokenizer it keeps: every new token is two earlier ones
joined, recorded as a merge, so the file is a valid BPE model. For measuring what parsing the real
tokenizer costs a load (BENCHMARKS.md, "Loading a full-size model in the browser"), where the real
file cannot be downloaded.
    python3 scripts/synthetic-tokenizer.py SMALL.json OUT.json [TOKENS]"""
import json
import random
import sys

src, out = sys.argv[1], sys.argv[2]
target = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
t = json.load(open(src, encoding="utf-8"))
vocab = t["model"]["vocab"]
merges = t["model"]["merges"]
special = {a["content"] for a in t["added_tokens"]}
pieces = [tok for tok in vocab if tok not in special]
rng = random.Random(1)
next_id = max(vocab.values()) + 1
while len(vocab) < target:
    a = rng.choice(pieces[-4000:] if len(pieces) > 8000 and rng.random() < 0.5 else pieces)
    b = rng.choice(pieces[:600])
    new = a + b
    if len(new) > 24 or new in vocab:
        continue
    vocab[new] = next_id
    next_id += 1
    merges.append([a, b])
    pieces.append(new)
json.dump(t, open(out, "w", encoding="utf-8"), ensure_ascii=False)
print(len(vocab), len(merges), next_id)
