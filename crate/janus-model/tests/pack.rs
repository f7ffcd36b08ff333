//! `janus pack`: a pack loads into exactly the weights that loading the source with the same
//! format gives (so the same logits), in one shard or in many with row parts, from either
//! checkpoint format; and a damaged or inconsistent pack is refused with a typed error before
//! any tensor is used.

mod common;

use common::{device, first_logits, model_dir, pack_fixture};
use janus_model::error::WeightsError;
use janus_model::quant::QuantFormat;
use janus_model::weights::manifest::{MANIFEST_FILE, PackManifest};
use janus_model::weights::pack_writer::DEFAULT_SHARD_BYTES;
use janus_model::weights::{INDEX_FILE, plan, read_checkpoint};
use janus_model::{
    ByteSource, DirSource, JanusError, Loaded, MemorySource, TensorStore, WorkingDtype, load_into,
    read_config,
};

fn load(source: &dyn ByteSource, quant: Option<QuantFormat>) -> Result<Loaded, JanusError> {
    load_into(
        source,
        TensorStore::new(&device(), WorkingDtype::F32).with_quant(quant),
    )
}

fn weights_error(result: Result<Loaded, JanusError>) -> WeightsError {
    match result {
        Err(JanusError::Weights(e)) => e,
        Err(other) => panic!("expected a weights error, got {other}"),
        Ok(_) => panic!("a damaged pack loaded"),
    }
}

#[test]
fn a_pack_gives_the_weights_of_loading_its_source_in_that_format() {
    for source in ["tiny-a-hf", "tiny-a-deepseek"] {
        for format in [QuantFormat::Q8, QuantFormat::Q4] {
            let from_source = load(&DirSource::new(model_dir(source)), Some(format)).unwrap();
            let expected = first_logits(&from_source, "tiny-a");
            for shard_bytes in [DEFAULT_SHARD_BYTES, 64 << 10] {
                let pack = pack_fixture(source, format, shard_bytes);
                // Whatever format is asked for, the pack's is the one there is.
                let loaded = load(&pack, None).unwrap();
                assert_eq!(loaded.plan.pack, Some(format));
                assert!(!loaded.quantized_tensors.is_empty());
                // The model's parameters, not only those the pack holds.
                assert_eq!(loaded.plan.total_params(), from_source.plan.total_params());
                assert_eq!(
                    first_logits(&loaded, "tiny-a"),
                    expected,
                    "{source} {} in {shard_bytes}-byte shards",
                    format.name()
                );
            }
        }
    }
}

#[test]
fn shards_stay_under_the_limit_and_the_manifest_lists_every_file() {
    let limit = 64 << 10;
    let pack = pack_fixture("tiny-a-hf", QuantFormat::Q4, limit);
    let manifest = PackManifest::parse(&pack.read_all(MANIFEST_FILE).unwrap()).unwrap();
    let shards: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.path.ends_with(".safetensors"))
        .collect();
    assert!(shards.len() > 4, "{} shards", shards.len());
    for f in &manifest.files {
        assert_eq!(pack.size(&f.path).unwrap(), f.size, "{}", f.path);
        assert_eq!(f.sha256.len(), 64);
    }
    assert!(shards.iter().all(|f| f.size <= limit));
    // The same manifest with a field given twice is refused (readers keeping either would
    // disagree about the pack).
    let text = String::from_utf8(pack.read_all(MANIFEST_FILE).unwrap()).unwrap();
    let twice = text.replacen("\"quant\":", "\"quant\": \"q8\", \"quant\":", 1);
    assert_ne!(twice, text, "the manifest names its quant");
    let err = PackManifest::parse(twice.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"quant\" appears twice"), "{err}");
    let checkpoint = read_checkpoint(&pack).unwrap();
    let parts = checkpoint
        .shards
        .iter()
        .flat_map(|s| &s.tensors)
        .filter(|t| t.name.contains('@'))
        .count();
    assert!(
        parts >= 2,
        "tensors larger than a shard are cut into row parts"
    );
    // q4 keeps the quantised matrices at 4.5 bits a weight: the pack is smaller than its bf16 source.
    let source_bytes: u64 = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    .iter()
    .map(|f| DirSource::new(model_dir("tiny-a-hf")).size(f).unwrap())
    .sum();
    assert!(shards.iter().map(|f| f.size).sum::<u64>() < source_bytes);
}

/// The pack of tiny-a in small shards, its config, and its headers.
fn small_pack() -> (
    MemorySource,
    janus_model::JanusConfig,
    janus_model::weights::Checkpoint,
) {
    let pack = pack_fixture("tiny-a-hf", QuantFormat::Q4, 64 << 10);
    let config = read_config(&pack).unwrap();
    let checkpoint = read_checkpoint(&pack).unwrap();
    (pack, config, checkpoint)
}

fn plan_error(
    config: &janus_model::JanusConfig,
    checkpoint: &janus_model::weights::Checkpoint,
) -> String {
    match plan(config, &checkpoint.shards, checkpoint.index.as_ref()) {
        Ok(_) => panic!("an inconsistent pack was planned"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn inconsistent_packs_are_refused_before_reading_tensors() {
    let (_, config, good) = small_pack();
    plan(&config, &good.shards, good.index.as_ref()).unwrap();

    // A lost shard: its tensors' rows are missing.
    let mut lost = good.clone();
    lost.index = None;
    let gone = lost
        .shards
        .iter()
        .position(|s| s.tensors.iter().any(|t| t.name.ends_with("@0")))
        .unwrap();
    lost.shards.remove(gone);
    let e = plan_error(&config, &lost);
    assert!(e.contains("gap or overlap at row 0"), "{e}");

    // Shards out of order: a part stored after the rows below it.
    let mut swapped = good.clone();
    swapped.index = None;
    let first = swapped
        .shards
        .iter()
        .position(|s| s.tensors.iter().any(|t| t.name.ends_with("@0")))
        .unwrap();
    let moved = swapped.shards.remove(first);
    swapped.shards.push(moved);
    let e = plan_error(&config, &swapped);
    assert!(e.contains("stored before the rows above it"), "{e}");

    // A part renamed onto another row: a gap.
    let mut gap = good.clone();
    gap.index = None;
    let t = gap
        .shards
        .iter_mut()
        .flat_map(|s| s.tensors.iter_mut())
        .find(|t| t.name.ends_with("@0"))
        .unwrap();
    t.name = t.name.replace("@0", "@1");
    let e = plan_error(&config, &gap);
    assert!(e.contains("gap or overlap"), "{e}");

    // A quantised matrix stored as floats, a float tensor stored as bytes.
    let mut dtype = good.clone();
    dtype.index = None;
    for t in dtype.shards.iter_mut().flat_map(|s| s.tensors.iter_mut()) {
        if t.name.starts_with("language_model.lm_head.weight") {
            t.dtype = Ok(janus_model::weights::StoredDtype::F16);
        }
    }
    assert!(plan_error(&config, &dtype).contains("a pack stores it as U8"));

    // A pack shard beside plain shards, and shards of two formats.
    let mut mixed = good.clone();
    mixed.shards[1].metadata.remove("janus.pack");
    assert!(plan_error(&config, &mixed).contains("plain shard beside the pack"));
    let mut formats = good.clone();
    formats.shards[1]
        .metadata
        .insert("janus.quant".into(), "q8".into());
    assert!(plan_error(&config, &formats).contains("differs"));
    let mut version = good.clone();
    version.shards[0]
        .metadata
        .insert("janus.pack".into(), "2".into());
    assert!(plan_error(&config, &version).contains("version"));
}

#[test]
fn damaged_pack_files_are_refused_with_typed_errors() {
    let (pack, _, checkpoint) = small_pack();

    // A non-finite block scale (a flipped download the hash check did not see, a hostile file).
    let shard = checkpoint
        .shards
        .iter()
        .find(|s| {
            s.tensors
                .iter()
                .any(|t| t.name.starts_with("language_model.lm_head.weight"))
        })
        .unwrap();
    let t = shard
        .tensors
        .iter()
        .find(|t| t.name.starts_with("language_model.lm_head.weight"))
        .unwrap();
    // Row 0's first scale follows its codes: 64 columns at 4 bits are 32 bytes.
    let at = t.start as usize + 32;
    let mut nan = pack.clone();
    nan.get_mut(&shard.file).unwrap()[at..at + 2]
        .copy_from_slice(&half::f16::NAN.to_bits().to_le_bytes());
    match weights_error(load(&nan, None)) {
        WeightsError::Pack { reason, .. } => assert!(reason.contains("not finite"), "{reason}"),
        other => panic!("{other}"),
    }

    // A shard cut short: the manifest's size check names it.
    let mut short = pack.clone();
    short.get_mut(&shard.file).unwrap().truncate(1000);
    match weights_error(load(&short, None)) {
        WeightsError::Pack { file, reason } => {
            assert_eq!(file, shard.file);
            assert!(reason.contains("incomplete"), "{reason}");
        }
        other => panic!("{other}"),
    }

    // A manifest that is not one.
    let mut bad = pack.clone();
    bad.insert(MANIFEST_FILE, b"{\"format\":\"other\"}".to_vec());
    assert!(matches!(
        weights_error(load(&bad, None)),
        WeightsError::Pack { .. }
    ));

    // The index naming a shard that is not there.
    let mut no_shard = pack.clone();
    no_shard.remove(MANIFEST_FILE);
    no_shard.remove(&shard.file);
    let e = weights_error(load(&no_shard, None));
    assert!(e.to_string().contains(&shard.file), "{e}");
    assert!(no_shard.exists(INDEX_FILE));
}

#[test]
fn the_committed_pack_fixture_is_what_janus_pack_writes() {
    // The browser tests serve tests/fixtures/models/tiny-a-q4-pack; it must not drift from
    // the writer (regenerate: janus pack --model tests/fixtures/models/tiny-a-hf --quant q4
    // --shard-kib 64 --out tests/fixtures/models/tiny-a-q4-pack).
    let written = pack_fixture("tiny-a-hf", QuantFormat::Q4, 64 << 10);
    let committed = DirSource::new(model_dir("tiny-a-q4-pack"));
    let manifest = PackManifest::parse(&written.read_all(MANIFEST_FILE).unwrap()).unwrap();
    for f in manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain([MANIFEST_FILE])
    {
        assert!(
            committed.read_all(f).ok() == written.read_all(f).ok(),
            "{f} differs from `janus pack` output: regenerate the fixture"
        );
    }
}

#[test]
fn reads_in_small_row_parts_load_and_pack_the_same() {
    use janus_model::weights::pack_writer::{PackOptions, PackWriter};
    use janus_model::{Janus, JanusTokenizer, TOKENIZER_FILE};
    let source = DirSource::new(model_dir("tiny-a-hf"));
    let config = read_config(&source).unwrap();
    let checkpoint = read_checkpoint(&source).unwrap();
    let plan = plan(&config, &checkpoint.shards, checkpoint.index.as_ref()).unwrap();
    let parts: Vec<_> = plan.reads.iter().flat_map(|r| r.row_parts(1000)).collect();
    assert!(parts.len() > plan.reads.len() * 2, "{} parts", parts.len());

    // The store joins the parts: the same logits as a whole-tensor load.
    let mut store =
        TensorStore::new(&device(), WorkingDtype::F32).with_quant(Some(QuantFormat::Q4));
    store.prepare(&plan).unwrap();
    for read in &parts {
        let bytes = source.read(&read.file, read.offset, read.len).unwrap();
        store.accept(read, &bytes).unwrap();
    }
    let model = Janus::from_store(&config, &mut store).unwrap();
    let tokenizer = JanusTokenizer::from_bytes(
        &source.read_all(TOKENIZER_FILE).unwrap(),
        config.language.vocab_size,
    )
    .unwrap();
    let parted = Loaded {
        model,
        tokenizer,
        plan: plan.clone(),
        split_tensors: vec![],
        quantized_tensors: vec![],
    };
    let whole = load(&source, Some(QuantFormat::Q4)).unwrap();
    assert_eq!(
        first_logits(&parted, "tiny-a"),
        first_logits(&whole, "tiny-a")
    );

    // The pack writer too: the same files as from whole reads.
    let options = PackOptions {
        format: QuantFormat::Q4,
        shard_bytes: 64 << 10,
        source_name: "tiny-a-hf".into(),
    };
    let mut writer = PackWriter::new(&plan, options).unwrap();
    let mut files = writer.start(
        &source.read_all("config.json").unwrap(),
        &source.read_all(TOKENIZER_FILE).unwrap(),
    );
    for read in &parts {
        let bytes = source.read(&read.file, read.offset, read.len).unwrap();
        writer.accept(read, &bytes).unwrap();
        while let Some(file) = writer.next_shard().unwrap() {
            files.push(file);
        }
    }
    files.push(writer.finish().unwrap().0);
    let expected = pack_fixture("tiny-a-hf", QuantFormat::Q4, 64 << 10);
    assert_eq!(files.len(), 23);
    for f in &files {
        assert!(
            expected.read_all(&f.file).unwrap() == f.bytes,
            "{} differs",
            f.file
        );
    }
    // Out of order is refused, not mixed up.
    let mut writer = PackWriter::new(
        &plan,
        PackOptions {
            format: QuantFormat::Q4,
            shard_bytes: 64 << 10,
            source_name: String::new(),
        },
    )
    .unwrap();
    let second = &parts[1];
    let bytes = source
        .read(&second.file, second.offset, second.len)
        .unwrap();
    assert!(writer.accept(second, &bytes).is_err());
}
