use super::*;

#[test]
fn presets_parse_with_real_sizes() {
    let c = Preset::Janus1_3B.config(CheckpointFormat::DeepSeek);
    assert_eq!(c.language.hidden_size, 2048);
    assert_eq!(c.language.num_layers, 24);
    assert_eq!(c.language.intermediate_size, 5632);
    assert_eq!(c.vision.layers, 24);
    assert_eq!(c.vision.mlp_dim, 4096);
    assert_eq!(c.vision.num_patches(), 576);
    assert_eq!(c.gen_vision.image_size(), 384);
    assert_eq!(c.gen_vision.codebook_size, 16384);
    let p7 = Preset::JanusPro7B.config(CheckpointFormat::DeepSeek);
    // LLaMA defaults fill what the 7B config leaves out.
    assert_eq!(p7.language.hidden_size, 4096);
    assert_eq!(p7.language.intermediate_size, 11008);
    assert_eq!(p7.language.num_heads, 32);
    assert_eq!(p7.language.num_kv_heads, 32);
    assert_eq!(p7.language.num_layers, 30);
    assert_eq!(p7.language.head_dim, 128);
}

#[test]
fn a_cache_position_takes_what_the_caches_allocate() {
    let c = Preset::Janus1_3B.config(CheckpointFormat::DeepSeek);
    assert_eq!(c.language.kv_bytes_per_position(2), 192 << 10);
    let p7 = Preset::JanusPro7B.config(CheckpointFormat::DeepSeek);
    assert_eq!(p7.language.kv_bytes_per_position(2), 480 << 10);
    // One layer's cache of 3 positions, 2 sequences: what `KvCache` holds for them.
    let mut small = c.language.clone();
    (small.num_layers, small.num_kv_heads, small.head_dim) = (1, 2, 4);
    let mut cache = crate::model::kv_cache::KvCache::new(3);
    let device = burn::tensor::Device::flex();
    cache.reserve([2, 2, 3, 4], &device, burn::tensor::DType::F16);
    assert_eq!(cache.bytes(), 2 * 3 * small.kv_bytes_per_position(2));
}

#[test]
fn hf_spellings_of_transformers_4_and_5() {
    let base = |text: &str, extra: &str| {
        format!(
            r#"{{"model_type":"janus",{extra}"text_config":{{"model_type":"llama","hidden_size":64,"intermediate_size":100,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":50,{text}}},
            "vision_config":{{"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":2,"projection_dim":64}},
            "vq_config":{{"embed_dim":4,"num_embeddings":10,"latent_channels":8,"base_channels":32,"channel_multiplier":[1],"num_res_blocks":1,"projection_dim":64,"image_token_embed_dim":64}}}}"#
        )
    };
    let v4 = JanusConfig::from_json(&base(
        r#""rope_theta":500.0"#,
        r#""torch_dtype":"bfloat16","#,
    ))
    .unwrap();
    assert_eq!(v4.language.rope_theta, 500.0);
    assert_eq!(v4.stored_dtype.as_deref(), Some("bfloat16"));
    let v5 = JanusConfig::from_json(&base(
        r#""rope_parameters":{"rope_type":"default","rope_theta":700.0}"#,
        r#""dtype":"float16","#,
    ))
    .unwrap();
    assert_eq!(v5.language.rope_theta, 700.0);
    assert_eq!(v5.stored_dtype.as_deref(), Some("float16"));
    assert_eq!(v5.format, CheckpointFormat::HuggingFace);
    let scaled = base(
        r#""rope_parameters":{"rope_type":"yarn","rope_theta":1.0}"#,
        "",
    );
    assert!(matches!(
        JanusConfig::from_json(&scaled),
        Err(ConfigError::Unsupported { .. })
    ));
}

#[test]
fn bad_configs_are_typed_errors() {
    assert!(matches!(
        JanusConfig::from_json("{"),
        Err(ConfigError::Json(_))
    ));
    assert!(matches!(
        JanusConfig::from_json("[1]"),
        Err(ConfigError::Invalid { .. })
    ));
    assert!(matches!(
        JanusConfig::from_json(r#"{"model_type":"llama"}"#),
        Err(ConfigError::UnknownFormat(_))
    ));
    assert!(matches!(
        JanusConfig::from_json(r#"{"model_type":"multi_modality"}"#),
        Err(ConfigError::Missing(_))
    ));
    // A key given twice (readers keeping either value would build different models).
    let twice = Preset::Janus1_3B.config_json().replace(
        "\"num_hidden_layers\": 24",
        "\"num_hidden_layers\": 24, \"num_hidden_layers\": 2",
    );
    let err = JanusConfig::from_json(&twice).unwrap_err().to_string();
    assert!(err.contains("num_hidden_layers\" appears twice"), "{err}");
    // A wrong type names the field.
    let mut text = Preset::Janus1_3B
        .config_json()
        .replace("\"num_hidden_layers\": 24", "\"num_hidden_layers\": \"24\"");
    let err = JanusConfig::from_json(&text).unwrap_err().to_string();
    assert!(err.contains("language_config.num_hidden_layers"), "{err}");
    // Inconsistent sizes are caught by validation.
    text = Preset::Janus1_3B
        .config_json()
        .replace("\"num_attention_heads\": 16", "\"num_attention_heads\": 15");
    assert!(JanusConfig::from_json(&text).is_err());
    text = Preset::Janus1_3B
        .config_json()
        .replace("\"input_dim\": 8", "\"input_dim\": 9");
    assert!(JanusConfig::from_json(&text).is_err());
    text = Preset::Janus1_3B.config_json().replace(
        "\"select_feature\": \"same\"",
        "\"select_feature\": \"cls_patch\"",
    );
    assert!(matches!(
        JanusConfig::from_json(&text),
        Err(ConfigError::Unsupported { .. })
    ));
}

#[test]
fn deepseek_optional_small_sizes() {
    let text = Preset::Janus1_3B.config_json().replace(
        "\"select_layer\": -1",
        "\"select_layer\": -1, \"width\": 32, \"layers\": 3, \"heads\": 2, \"mlp_ratio\": 2.5, \"layer_norm_eps\": 1e-5",
    ).replace("\"input_dim\": 1024", "\"input_dim\": 32").replace(
        "\"n_embed\": 8}",
        "\"n_embed\": 8, \"codebook_size\": 77, \"z_channels\": 16, \"base_channels\": 32, \"ch_mult\": [1, 2], \"num_res_blocks\": 1}",
    ).replace("\"image_token_size\": 16384, \"n_embed\": 2048", "\"image_token_size\": 77, \"n_embed\": 2048");
    let c = JanusConfig::from_json(&text).unwrap();
    assert_eq!(
        (
            c.vision.width,
            c.vision.layers,
            c.vision.heads,
            c.vision.mlp_dim
        ),
        (32, 3, 2, 80)
    );
    assert_eq!(c.vision.layer_norm_eps, 1e-5);
    assert_eq!(c.gen_vision.codebook_size, 77);
    assert_eq!(c.gen_vision.image_size(), 48);
    // select_layer -2 drops the last block, as DeepSeek's tower does.
    let fewer = text.replace("\"select_layer\": -1", "\"select_layer\": -2");
    assert_eq!(JanusConfig::from_json(&fewer).unwrap().vision.layers, 2);
}
