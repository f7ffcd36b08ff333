//! The DeepSeek byte-level BPE tokenizer (`tokenizer.json`, janus-spec.md §4) with Janus' special
//! tokens resolved **by string**: ids differ between checkpoints (e.g. `<image_placeholder>` is
//! 100581 in Janus-Pro-1B and 100594 in Pro-7B) and are never hard-coded.

use std::sync::{Arc, OnceLock};

use tokenizers::{AddedToken, Tokenizer};

use crate::error::TokenizerError;
use crate::generate::json::TokenTable;

pub const BOS: &str = "<｜begin▁of▁sentence｜>";
pub const EOS: &str = "<｜end▁of▁sentence｜>";
pub const PAD: &str = "<｜▁pad▁｜>";
pub const IMAGE: &str = "<image_placeholder>";
pub const BEGIN_OF_IMAGE: &str = "<begin_of_image>";
pub const END_OF_IMAGE: &str = "<end_of_image>";
pub const USER_TAG: &str = "<|User|>";
pub const ASSISTANT_TAG: &str = "<|Assistant|>";

/// Ids of the tokens Janus' prompts and generation depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: u32,
    pub eos: u32,
    /// Replaces the prompt in classifier-free guidance's unconditional rows.
    pub pad: u32,
    pub image: u32,
    pub begin_of_image: u32,
    pub end_of_image: u32,
    /// `<|User|>` / `<|Assistant|>` when the tokenizer has them (Janus-Pro style prompts).
    pub user: Option<u32>,
    pub assistant: Option<u32>,
}

/// Role names used in the SFT template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleNames {
    pub user: String,
    pub assistant: String,
}

impl RoleNames {
    /// `User` / `Assistant`, as the official Janus-1.3B examples.
    pub fn plain() -> Self {
        Self {
            user: "User".into(),
            assistant: "Assistant".into(),
        }
    }

    /// `<|User|>` / `<|Assistant|>`, as Janus-Pro and transformers' chat template.
    pub fn tagged() -> Self {
        Self {
            user: USER_TAG.into(),
            assistant: ASSISTANT_TAG.into(),
        }
    }
}

pub struct JanusTokenizer {
    inner: Tokenizer,
    special: SpecialTokens,
    /// Ids at or above this have no text (embedding rows past the tokenizer's vocabulary).
    text_vocab: u32,
    /// `<image_placeholder>` was missing from the file and added at load (as DeepSeek's processor does).
    placeholder_added: bool,
    /// The model's vocabulary size (the logits' width).
    embedding_rows: usize,
    /// The plain tokens sorted for JSON replies, built the first time one is asked for.
    json: OnceLock<Arc<TokenTable>>,
}

impl JanusTokenizer {
    /// Load `tokenizer.json`; `embedding_rows` is the model's vocabulary size, which every special
    /// id must fall inside.
    pub fn from_bytes(bytes: &[u8], embedding_rows: usize) -> Result<Self, TokenizerError> {
        let mut inner =
            Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError::Load(e.to_string()))?;
        let mut placeholder_added = false;
        if inner.token_to_id(IMAGE).is_none() {
            // Janus-1.3B's tokenizer lacks the placeholder; DeepSeek's processor adds it at run
            // time as a special token (next free id). Its embedding row is always overwritten.
            inner
                .add_special_tokens(vec![AddedToken::from(IMAGE, true)])
                .map_err(|e| TokenizerError::Load(e.to_string()))?;
            placeholder_added = true;
        }
        let find = |name: &str| {
            let id = inner
                .token_to_id(name)
                .ok_or_else(|| TokenizerError::MissingSpecial(name.to_string()))?;
            if id as usize >= embedding_rows {
                return Err(TokenizerError::IdOutOfRange {
                    token: name.to_string(),
                    id,
                    vocab: embedding_rows,
                });
            }
            Ok(id)
        };
        let optional = |name: &str| {
            inner
                .token_to_id(name)
                .filter(|&id| (id as usize) < embedding_rows)
        };
        let special = SpecialTokens {
            bos: find(BOS)?,
            eos: find(EOS)?,
            pad: find(PAD)?,
            image: find(IMAGE)?,
            begin_of_image: find(BEGIN_OF_IMAGE)?,
            end_of_image: find(END_OF_IMAGE)?,
            user: optional(USER_TAG),
            assistant: optional(ASSISTANT_TAG),
        };
        let text_vocab = inner.get_vocab_size(true) as u32;
        Ok(Self {
            inner,
            special,
            text_vocab,
            placeholder_added,
            embedding_rows,
            json: OnceLock::new(),
        })
    }

    pub fn special(&self) -> &SpecialTokens {
        &self.special
    }

    pub fn placeholder_added(&self) -> bool {
        self.placeholder_added
    }

    /// Role names for prompts: tagged when the tokenizer has `<|User|>`/`<|Assistant|>` tokens.
    pub fn default_roles(&self) -> RoleNames {
        if self.special.user.is_some() && self.special.assistant.is_some() {
            RoleNames::tagged()
        } else {
            RoleNames::plain()
        }
    }

    /// Tokenise with BOS first (the tokenizer's post-processor adds it; added here if it does not).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        if ids.first() != Some(&self.special.bos) {
            ids.insert(0, self.special.bos);
        }
        Ok(ids)
    }

    /// Replace every `<image_placeholder>` id by `<begin_of_image>`, `tokens_per_image`
    /// placeholders and `<end_of_image>` (janus-spec.md §4.2). Returns the ids and the number of
    /// images the prompt expects.
    pub fn expand_images(&self, ids: &[u32], tokens_per_image: usize) -> (Vec<u32>, usize) {
        let s = &self.special;
        let mut out = Vec::with_capacity(ids.len());
        let mut images = 0;
        for &id in ids {
            if id == s.image {
                images += 1;
                out.push(s.begin_of_image);
                out.extend(std::iter::repeat_n(s.image, tokens_per_image));
                out.push(s.end_of_image);
            } else {
                out.push(id);
            }
        }
        (out, images)
    }

    /// Text of `ids`, special tokens and text-less ids skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let ids: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| id < self.text_vocab)
            .collect();
        self.inner
            .decode(&ids, true)
            .map_err(|e| TokenizerError::Decode(e.to_string()))
    }

    /// The bytes token `id` stands for: a byte-level BPE token's (it may carry part of a UTF-8
    /// character, so its text alone can be no string), an added token's text, nothing for an id
    /// past the text vocabulary (image-only rows of the embedding). Log-probabilities name their
    /// tokens by these (OpenAI's `bytes`).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        if id >= self.text_vocab {
            return Vec::new();
        }
        if let Some(text) = self.inner.get_added_vocabulary().simple_id_to_token(id) {
            return text.into_bytes();
        }
        let Some(token) = self.inner.id_to_token(id) else {
            return Vec::new();
        };
        let mut bytes = Vec::with_capacity(token.len());
        for c in token.chars() {
            match byte_of_char(c) {
                Some(b) => bytes.push(b),
                // Not of the byte-level alphabet: the character itself.
                None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        bytes
    }

    /// Every plain token with its bytes ([`Self::token_bytes`]): the text vocabulary less the
    /// added tokens (the template's markers, the image tokens, the end of a sentence), which a
    /// reply's own text never contains. What a JSON reply chooses from
    /// (`generate::json::TokenTable`).
    pub fn plain_tokens(&self) -> Vec<(u32, Vec<u8>)> {
        let added = self.inner.get_added_vocabulary();
        (0..self.text_vocab)
            .filter(|&id| added.simple_id_to_token(id).is_none())
            .map(|id| (id, self.token_bytes(id)))
            .filter(|(_, bytes)| !bytes.is_empty())
            .collect()
    }

    /// [`Self::plain_tokens`] sorted for JSON replies over the model's logits
    /// (`generate::json`), built once (a sort of the vocabulary) and shared by every reply.
    pub fn json_table(&self) -> Arc<TokenTable> {
        self.json
            .get_or_init(|| Arc::new(TokenTable::new(self.plain_tokens(), self.embedding_rows)))
            .clone()
    }

    /// Incremental decoder for streaming: feed ids one by one, get text pieces as they complete.
    pub fn stream(&self) -> TextStream<'_> {
        TextStream {
            inner: self.inner.decode_stream(true),
            text_vocab: self.text_vocab,
        }
    }
}

type InnerStream<'a> = tokenizers::DecodeStream<
    'a,
    tokenizers::ModelWrapper,
    tokenizers::NormalizerWrapper,
    tokenizers::PreTokenizerWrapper,
    tokenizers::PostProcessorWrapper,
    tokenizers::DecoderWrapper,
>;

/// Streams text for a growing id sequence (tokenizers' `DecodeStream`: it holds back incomplete
/// UTF-8, since a byte-level BPE token can carry part of a character, and decodes only a window).
pub struct TextStream<'a> {
    inner: InnerStream<'a>,
    text_vocab: u32,
}

impl TextStream<'_> {
    /// Add one id; returns newly completed text, if any.
    pub fn push(&mut self, id: u32) -> Result<Option<String>, TokenizerError> {
        if id >= self.text_vocab {
            return Ok(None);
        }
        self.inner
            .step(id)
            .map_err(|e| TokenizerError::Decode(e.to_string()))
    }
}

/// The byte a byte-level BPE character stands for (GPT-2's alphabet: printable Latin-1 bytes are
/// their own character; the other 68 bytes, in order, are U+0100 onwards).
fn byte_of_char(c: char) -> Option<u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let code = c as u32;
    if code < 256 {
        return printable(code as u8).then_some(code as u8);
    }
    let n = code.checked_sub(256)? as usize;
    (0..=255u8).filter(|&b| !printable(b)).nth(n)
}
