//! The `janus` binary end to end on the committed fixtures: JSON outputs equal the reference
//! goldens, and every bad input ends in one `error:` line with a non-zero status.

use std::path::PathBuf;
use std::process::{Command, Output};

use janus_model::metrics::psnr;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn model(name: &str) -> String {
    fixtures().join("models").join(name).display().to_string()
}

fn golden(config: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join(format!("goldens/{config}.json"))).unwrap(),
    )
    .unwrap()
}

fn janus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_janus"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let out = janus(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A failure: status 1, exactly one stderr line starting with `error:`, no panic text.
fn fails(args: &[&str]) -> String {
    let out = janus(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    stderr
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("janus-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn inspect_reports_format_counts_and_skips() {
    let v = ok_json(&["inspect", "--model", &model("tiny-b-deepseek"), "--json"]);
    assert_eq!(v["format"], "deepseek");
    assert_eq!(v["shards"].as_array().unwrap().len(), 2);
    let skipped: Vec<&str> = v["skipped_tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(skipped.iter().any(|s| s.contains("attn_pool")));
    assert!(skipped.iter().any(|s| s.contains(".encoder.")));
    assert_eq!(
        v["parameters"].as_u64().unwrap(),
        v["loaded_parameters"].as_u64().unwrap() + v["skipped_parameters"].as_u64().unwrap()
    );
    let hf = ok_json(&["inspect", "--model", &model("tiny-b-hf"), "--json"]);
    assert_eq!(hf["format"], "huggingface");
    assert_eq!(hf["loaded_parameters"], v["loaded_parameters"]);
    let text = janus(&["inspect", "--model", &model("tiny-a-hf")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("hugging-face"));
}

/// `janus chat` of tiny-a's raw golden prompt for 16 new tokens, `--json`, then `extra`.
fn raw_chat(extra: &[&str]) -> Vec<String> {
    let g = golden("tiny-a");
    let prompt = g["cases"]["raw"]["prompt"].as_str().unwrap().to_string();
    let m = model("tiny-a-deepseek");
    let base = [
        "chat",
        "--model",
        &m,
        "--raw-prompt",
        &prompt,
        "--max-new-tokens",
        "16",
        "--json",
    ];
    base.iter().chain(extra).map(|a| a.to_string()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn chat_raw_prompt_json_matches_reference() {
    let g = golden("tiny-a");
    let case = &g["cases"]["raw"];
    let v = ok_json(&strs(&raw_chat(&[])));
    assert_eq!(v["prompt_ids"], case["prompt_ids"]);
    assert_eq!(v["output_ids"], case["output_ids"]);
    assert_eq!(v["text"], case["text"]);
}

/// `--logprobs 3` with `--json`: one entry per output id, greedy's own token first among its
/// alternatives, the bytes spelling the text (special tokens aside); the ids the same as
/// without. Without `--json` it
/// is refused by the parser.
#[test]
fn chat_logprobs_in_json() {
    let g = golden("tiny-a");
    let case = &g["cases"]["raw"];
    let owned = raw_chat(&["--logprobs", "3"]);
    let args = strs(&owned);
    let v = ok_json(&args);
    assert_eq!(v["output_ids"], case["output_ids"]);
    let entries = v["logprobs"].as_array().unwrap();
    let ids = v["output_ids"].as_array().unwrap();
    assert_eq!(entries.len(), ids.len());
    let mut bytes = Vec::new();
    for (entry, id) in entries.iter().zip(ids) {
        assert_eq!(&entry["id"], id);
        let top = entry["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        assert_eq!(top[0]["id"], entry["id"]);
        assert_eq!(top[0]["logprob"], entry["logprob"]);
        assert!(entry["logprob"].as_f64().unwrap() <= 0.0);
        // A special token keeps its name here; the text leaves it out.
        let token = entry["token"].as_str().unwrap();
        if !(token.len() > 2 && token.starts_with('<') && token.ends_with('>')) {
            let own = entry["bytes"].as_array().unwrap();
            bytes.extend(own.iter().map(|b| b.as_u64().unwrap() as u8));
        }
    }
    // The reply holds part of a character, which the text shows as U+FFFD, as the bytes do.
    assert_eq!(String::from_utf8_lossy(&bytes), v["text"].as_str().unwrap());
    let without_json: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let refused = janus(&without_json);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--json"));
}

/// `--json-object`: the reply begins a JSON object where the model left to itself writes none,
/// and is one where it ended by itself.
#[test]
fn chat_json_object() {
    for seed in ["1", "2", "3"] {
        let owned = raw_chat(&["--json-object", "--temperature", "0.8", "--seed", seed]);
        let v = ok_json(&strs(&owned));
        let text = v["text"].as_str().unwrap();
        let mut state = Some(janus_model::generate::json::JsonState::new());
        for b in text.bytes() {
            state = state.and_then(|s| s.feed(b));
        }
        assert!(state.is_some(), "seed {seed}: {text:?}");
        match v["stop"].as_str().unwrap() {
            "eos" => assert!(
                serde_json::from_str::<serde_json::Value>(text)
                    .unwrap()
                    .is_object()
            ),
            "max_tokens" => assert!(!state.unwrap().is_complete(), "{text:?}"),
            other => panic!("seed {seed}: stop {other}"),
        }
    }
}

/// A prompt read in passes (`JANUS_SCORE_BYTES` small: one row a pass) says how far it has
/// read on stderr, pass by pass, and replies what one pass does.
#[test]
fn chat_says_how_far_a_prompt_read_in_passes_has_read() {
    let g = golden("tiny-a");
    let case = &g["cases"]["raw"];
    let positions = case["prompt_ids"].as_array().unwrap().len();
    let out = Command::new(env!("CARGO_BIN_EXE_janus"))
        .env("JANUS_SCORE_BYTES", "1")
        .args(raw_chat(&[]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output_ids"], case["output_ids"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each pass rewrites the line; the last pass is the reply's first token, so not said.
    let said: Vec<&str> = stderr
        .split(['\r', '\n'])
        .filter(|l| l.starts_with("reading the prompt: "))
        .collect();
    let expected: Vec<String> = (1..positions)
        .map(|n| format!("reading the prompt: {n} of {positions} positions"))
        .collect();
    assert_eq!(said, expected, "{stderr}");
}

/// `janus chat --interactive`: every stdin line is the next message. Each turn after the first
/// starts from the cache the last one kept (the picture of the first message is not encoded
/// again) and replies what the whole prompt run afresh (`--no-reuse`) does.
#[test]
fn interactive_chat_starts_each_turn_from_the_last_and_replies_as_afresh() {
    use std::io::Write;
    use std::process::Stdio;
    let image = fixtures().join("images/photo.png").display().to_string();
    let run = |extra: &[&str]| -> Vec<Value> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_janus"))
            .args(["chat", "--model", &model("tiny-a-hf"), "--image", &image])
            .args(["--prompt", "What is this?", "--interactive", "--json"])
            .args(["--max-new-tokens", "6"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A blank line is skipped; the end of input ends the conversation.
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"And the colours?\n\nWhat next?\n")
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{extra:?}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let turns: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(turns.len(), 3, "{stdout}");
        turns
    };
    let kept = run(&[]);
    let fresh = run(&["--no-reuse"]);
    let ids = |v: &Value| v.as_array().unwrap().len() as u64;
    for (i, (k, f)) in kept.iter().zip(&fresh).enumerate() {
        assert_eq!(k["prompt_ids"], f["prompt_ids"], "turn {i}: prompts");
        assert_eq!(k["output_ids"], f["output_ids"], "turn {i}: replies");
        assert_eq!(f["reused"], 0, "turn {i}: --no-reuse reused");
        if i == 0 {
            assert_eq!(k["reused"], 0);
            continue;
        }
        // The last prompt at least (it holds the picture), and its reply where the reply
        // tokenizes back to the ids generated.
        let last = ids(&kept[i - 1]["prompt_ids"]);
        let reused = k["reused"].as_u64().unwrap();
        assert!(
            reused >= last,
            "turn {i}: {reused} reused, the last prompt is {last}"
        );
    }
}

#[test]
fn a_stop_sequence_ends_the_reply_before_it_streamed_and_in_json() {
    let m = model("tiny-a-hf");
    let args = [
        "chat",
        "--model",
        &m,
        "--prompt",
        "Hello",
        "--max-new-tokens",
        "24",
        "--ignore-eos",
    ];
    fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [args, extra].concat()
    }
    let whole = ok_json(&with(&args, &["--json"]));
    let text = whole["text"].as_str().unwrap();
    // Two characters from the middle of the reply: it ends before their first occurrence.
    let chars: Vec<char> = text.chars().collect();
    assert!(
        chars.len() >= 8,
        "a 24-token reply of {} characters",
        chars.len()
    );
    let stop: String = chars[chars.len() / 2..chars.len() / 2 + 2].iter().collect();
    let expected = &text[..text.find(&stop).unwrap()];
    let cut = ok_json(&with(
        &args,
        &["--json", "--stop", "never in it \u{1}", "--stop", &stop],
    ));
    assert_eq!(cut["stop"], "stop");
    assert_eq!(cut["text"], expected);
    let (all, some) = (
        whole["output_ids"].as_array().unwrap(),
        cut["output_ids"].as_array().unwrap(),
    );
    assert!(
        some.len() < all.len() && all.starts_with(some),
        "{some:?} of {all:?}"
    );
    // Streamed: nothing of the sequence is printed, not even its first character.
    let out = janus(&with(&args, &["--stop", &stop]));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{expected}\n")
    );
    // A sequence that never comes changes nothing; the text held back is printed at the end.
    let last: String = chars[chars.len() - 1..].iter().collect();
    let held = janus(&with(&args, &["--stop", &format!("{last}\u{1}")]));
    assert_eq!(String::from_utf8_lossy(&held.stdout), format!("{text}\n"));
    assert!(fails(&with(&args, &["--stop", ""])).contains("stop[0] is empty"));
}

/// `janus chat` about the test photo with tiny-b's understanding question.
fn understanding_args(backend: &str, json: bool) -> Vec<String> {
    let g = golden("tiny-b");
    let question = g["cases"]["understand"]["question"]
        .as_str()
        .unwrap()
        .to_string();
    let image = fixtures().join("images/photo.png").display().to_string();
    let mut args: Vec<String> = [
        "--backend",
        backend,
        "chat",
        "--model",
        &model("tiny-b-deepseek"),
        "--prompt",
        &question,
        "--system",
        "",
        "--image",
        &image,
        "--max-new-tokens",
        "20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if json {
        args.push("--json".into());
    }
    args
}

/// Image understanding through the CLI on `backend`: ids equal the reference.
fn understanding_matches(backend: &str) -> Value {
    let g = golden("tiny-b");
    let case = &g["cases"]["understand"];
    let args = understanding_args(backend, true);
    let v = ok_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["prompt_ids"], case["prompt_ids"], "{backend}: prompt ids");
    assert_eq!(
        v["output_ids"], case["output_ids"],
        "{backend}: understanding ids"
    );
    v
}

/// Greedy text-to-image through the CLI on `backend`: codes equal, written PNG within 40 dB.
/// Returns the JSON output and the written image.
fn imagine_matches(backend: &str) -> (Value, image::RgbImage) {
    let g = golden("tiny-a");
    let case = &g["cases"]["imagine"];
    let out = tmp(&format!("imagine-{backend}.png"));
    let v = ok_json(&[
        "--backend",
        backend,
        "imagine",
        "--model",
        &model("tiny-a-hf"),
        "--prompt",
        case["prompt"].as_str().unwrap(),
        "--temperature",
        "0",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["prompt_ids"], case["prompt_ids"], "{backend}: prompt ids");
    assert_eq!(v["codes"][0], case["codes"], "{backend}: image codes");
    let written = image::open(&out).unwrap().to_rgb8();
    let reference = image::open(
        fixtures()
            .join("goldens")
            .join(case["png"].as_str().unwrap()),
    )
    .unwrap()
    .to_rgb8();
    assert_eq!(written.dimensions(), reference.dimensions());
    let psnr = psnr(written.as_raw(), reference.as_raw());
    assert!(psnr >= 40.0, "{backend}: decoded PSNR {psnr:.1}");
    eprintln!("{backend}: 576 codes equal, decoded PSNR {psnr:.1} dB");
    (v, written)
}

#[test]
fn chat_with_image_matches_reference() {
    let v = understanding_matches("cpu");
    // Streaming mode prints the same text.
    let case = &golden("tiny-b")["cases"]["understand"];
    let args = understanding_args("cpu", false);
    let out = janus(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
        v["text"].as_str().unwrap()
    );
    assert_eq!(v["text"], case["text"]);
}

#[test]
fn imagine_and_decode_match_reference() {
    let (v, written) = imagine_matches("cpu");
    // decode reads the JSON imagine wrote.
    let codes = tmp("codes.json");
    std::fs::write(&codes, serde_json::to_string(&v).unwrap()).unwrap();
    let decoded = tmp("decoded.png");
    let o = janus(&[
        "decode",
        "--model",
        &model("tiny-a-deepseek"),
        "--codes",
        codes.to_str().unwrap(),
        "--out",
        decoded.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        image::open(&decoded).unwrap().to_rgb8(),
        written,
        "decode == imagine's image"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let m = model("tiny-a-hf");
    fails(&["inspect", "--model", "/nonexistent/model"]);
    fails(&["chat", "--model", "/nonexistent/model", "--prompt", "hi"]);

    // Corrupt safetensors.
    let dir = tmp("corrupt-model");
    std::fs::create_dir_all(&dir).unwrap();
    let src = fixtures().join("models/tiny-a-deepseek");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let e = fails(&["chat", "--model", dir.to_str().unwrap(), "--prompt", "hi"]);
    assert!(e.contains("model.safetensors"), "{e}");
    fails(&["inspect", "--model", dir.to_str().unwrap()]);

    // The wrong model's config.
    std::fs::write(dir.join("model.safetensors"), &bytes).unwrap();
    std::fs::copy(
        fixtures().join("models/tiny-b-deepseek/config.json"),
        dir.join("config.json"),
    )
    .unwrap();
    fails(&["inspect", "--model", dir.to_str().unwrap()]);

    // An unreadable image, a missing image, a placeholder mismatch.
    let not_image = tmp("notes.txt");
    std::fs::write(&not_image, "not an image").unwrap();
    let e = fails(&[
        "chat",
        "--model",
        &m,
        "--prompt",
        "what?",
        "--image",
        not_image.to_str().unwrap(),
    ]);
    assert!(e.contains("notes.txt"), "{e}");
    fails(&[
        "chat",
        "--model",
        &m,
        "--prompt",
        "what?",
        "--image",
        "/nonexistent.png",
    ]);
    fails(&[
        "chat",
        "--model",
        &m,
        "--raw-prompt",
        "no placeholder",
        "--image",
        fixtures().join("images/photo.png").to_str().unwrap(),
    ]);

    // A prompt longer than the context.
    let long = "the red cat ".repeat(2000);
    let e = fails(&["chat", "--model", &m, "--raw-prompt", &long]);
    assert!(e.contains("context"), "{e}");

    // Bad settings and code files.
    fails(&["chat", "--model", &m, "--prompt", "hi", "--top-p", "0"]);
    fails(&["imagine", "--model", &m, "--prompt", "x", "--count", "0"]);
    let codes = tmp("bad-codes.json");
    std::fs::write(&codes, "[1, 2, 3]").unwrap();
    fails(&[
        "decode",
        "--model",
        &m,
        "--codes",
        codes.to_str().unwrap(),
        "--out",
        tmp("x.png").to_str().unwrap(),
    ]);
}

/// The same engine on wgpu (lavapipe in CI: `.ci/run` installs Mesa's Vulkan CPU driver and sets
/// `JANUS_WGPU_TESTS=1`). Image understanding and all 576 greedy-CFG codes equal the reference.
#[test]
fn wgpu_backend_matches_reference() {
    if std::env::var("JANUS_WGPU_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "wgpu test skipped: set JANUS_WGPU_TESTS=1 on a machine with a Vulkan/Metal/DX12 adapter"
        );
        return;
    }
    understanding_matches("wgpu");
    imagine_matches("wgpu");
}

/// `random-model` writes a folder the strict loader accepts: same tensors and parameter count
/// as the real checkpoint of that config, sharded with an index, and it runs.
#[test]
fn random_model_writes_a_loadable_checkpoint() {
    let out = tmp("random-tiny-b");
    let _ = std::fs::remove_dir_all(&out);
    let config = format!("{}/config.json", model("tiny-b-deepseek"));
    let tokenizer = format!("{}/tokenizer.json", model("tiny-b-deepseek"));
    let dir = out.display().to_string();
    let made = janus(&[
        "random-model",
        "--config",
        &config,
        "--tokenizer",
        &tokenizer,
        "--out",
        &dir,
        "--shard-mib",
        "1",
        "--seed",
        "3",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let real = ok_json(&["inspect", "--model", &model("tiny-b-deepseek"), "--json"]);
    let random = ok_json(&["inspect", "--model", &dir, "--json"]);
    assert_eq!(random["parameters"], real["parameters"]);
    assert_eq!(random["loaded_tensors"], real["loaded_tensors"]);
    assert!(random["shards"].as_array().unwrap().len() > 1, "{random}");
    let reply = ok_json(&[
        "chat",
        "--model",
        &dir,
        "--prompt",
        "hi",
        "--max-new-tokens",
        "2",
        "--ignore-eos",
        "--json",
    ]);
    assert_eq!(reply["output_ids"].as_array().unwrap().len(), 2);
    // An unknown preset or config file is one error line.
    fails(&[
        "random-model",
        "--config",
        "janus-9b",
        "--tokenizer",
        &tokenizer,
        "--out",
        &dir,
    ]);
}

/// `janus bench` of tiny-a's config with 4 prompt and 3 decode tokens and `extra`: its
/// BENCHMARKS.md row and its JSON report.
fn bench(extra: &[&str]) -> (String, Value) {
    let config = format!("{}/config.json", model("tiny-a-hf"));
    let base = [
        "bench",
        "--preset",
        &config,
        "--prompt-tokens",
        "4",
        "--decode-tokens",
        "3",
    ];
    let out = janus(&[&base[..], extra, &["--json"]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("| adapter |"), "{stdout}");
    assert!(lines[2].starts_with("| CPU (burn flex) |"), "{stdout}");
    (
        lines[2].to_string(),
        serde_json::from_str(lines[3]).unwrap(),
    )
}

/// `bench` builds a model of a config with random weights and reports every figure: the
/// BENCHMARKS.md row and, with --json, the report (here a tiny config on the CPU, q4 round trip).
#[test]
fn bench_reports_every_figure() {
    let (_, report) = bench(&["--quant", "q4", "--image-steps", "32"]);
    assert_eq!(report["weights"], "f32 + q4");
    for key in [
        "load_s",
        "prefill_s",
        "decode_s",
        "follow_up_s",
        "image_step_s",
        "image_s",
        "vq_decode_s",
        "vq_first_s",
    ] {
        let v = report[key].as_f64().unwrap_or(-1.0);
        assert!(v > 0.0, "{key}: {v} in {report}");
    }
    assert!(report["decode_bytes"].as_u64().unwrap() > 0);
    // The CPU device has no copy kernel or memory pools to report.
    assert!(report["copy_gbps"].is_null() && report["gpu_bytes_loaded"].is_null());
    assert!(report["logprobs"].is_null());
    // What log-probabilities cost: the measured decode asks for them, and the row says so.
    let (row, report) = bench(&["--image-steps", "0", "--no-vq", "--logprobs", "5"]);
    assert!(row.contains(" (logprobs, top 5) |"), "{row}");
    assert_eq!(report["logprobs"], 5);
    assert!(report["decode_s"].as_f64().unwrap() > 0.0);
    assert_eq!(report["json"], false);
    // What a JSON reply costs: its grammar over a tokenizer's vocabulary (the decode may end
    // early, where the object closes).
    let tokenizer = format!("{}/tokenizer.json", model("tiny-a-hf"));
    let (row, report) = bench(&[
        "--image-steps",
        "0",
        "--no-vq",
        "--json-tokenizer",
        &tokenizer,
    ]);
    assert!(row.contains(" (JSON reply) |"), "{row}");
    assert_eq!(report["json"], true);
    assert!(report["decode_tokens"].as_u64().unwrap() <= 3);
}

#[test]
fn pack_writes_a_folder_that_chats_as_its_source_at_that_quant() {
    let out = tmp("pack-q8");
    let _ = std::fs::remove_dir_all(&out);
    let dir = out.display().to_string();
    let src = model("tiny-a-hf");
    let done = janus(&["pack", "--model", &src, "--quant", "q8", "--out", &dir]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let summary = String::from_utf8_lossy(&done.stdout);
    assert!(summary.contains("q8 pack"), "{summary}");
    // No temporary file is left; the manifest is there.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
    assert!(names.contains(&"janus-pack.json".to_string()));
    let info = ok_json(&["inspect", "--model", &dir, "--json"]);
    assert_eq!(info["pack"], "q8");
    let chat = |model: &str, quant: &str| {
        ok_json(&[
            "chat",
            "--model",
            model,
            "--quant",
            quant,
            "--prompt",
            "hello",
            "--max-new-tokens",
            "6",
            "--ignore-eos",
            "--json",
        ])["output_ids"]
            .clone()
    };
    assert_eq!(chat(&dir, "none"), chat(&src, "q8"));

    // A shard lost from the folder: one error line naming it.
    let shard = names.iter().find(|n| n.ends_with(".safetensors")).unwrap();
    std::fs::remove_file(out.join(shard)).unwrap();
    let err = fails(&["inspect", "--model", &dir]);
    assert!(err.contains(shard.as_str()), "{err}");
    // A format that does not exist is refused.
    assert!(fails(&["pack", "--model", &src, "--quant", "q3", "--out", &dir]).contains("q4 or q8"));
}
