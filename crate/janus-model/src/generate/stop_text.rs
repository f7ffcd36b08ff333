//! Stop sequences: a reply ends where its text first contains one of the strings the caller
//! gave (OpenAI's and WebLLM's `stop`). The model runs on ids, the caller streams text, so this
//! works on the text pieces the streaming decoder yields: each piece goes in, and what comes out
//! may be shown at once. Text that could still turn out to begin a stop sequence is held back
//! until the next piece says otherwise, so a streamed reply never shows any part of the sequence
//! that ends it; the reply ends before the sequence, which is not part of it.

use std::ops::ControlFlow;

use super::text::StopReason;
use crate::error::JanusError;

/// At most this many stop sequences in one request.
pub const MAX_STOP_SEQUENCES: usize = 16;
/// A stop sequence's longest length in bytes of UTF-8.
pub const MAX_STOP_BYTES: usize = 256;

/// One reply's text, matched against its stop sequences as it streams.
#[derive(Clone, Debug, Default)]
pub struct StopText {
    stops: Vec<String>,
    /// The reply so far; cut where a stop sequence begins once one is found.
    text: String,
    /// Bytes of `text` already handed out.
    shown: usize,
    hit: bool,
}

/// What one piece brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// Text that may be shown now (possibly empty: held back, or nothing new).
    pub shown: String,
    /// The reply has reached a stop sequence: generation should end here.
    pub stop: bool,
}

impl Pushed {
    /// What a text loop's callback returns for this piece: end with [`StopReason::Stop`] at a
    /// stop sequence, else go on.
    pub fn flow(&self) -> ControlFlow<StopReason> {
        if self.stop {
            ControlFlow::Break(StopReason::Stop)
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl StopText {
    /// Checked: at most [`MAX_STOP_SEQUENCES`], none empty, none over [`MAX_STOP_BYTES`].
    /// No sequences at all is allowed: the text then passes through as it comes.
    pub fn new(stops: Vec<String>) -> Result<Self, JanusError> {
        if stops.len() > MAX_STOP_SEQUENCES {
            return Err(JanusError::Request(format!(
                "stop holds {} sequences; at most {MAX_STOP_SEQUENCES}",
                stops.len()
            )));
        }
        for (i, s) in stops.iter().enumerate() {
            if s.is_empty() {
                return Err(JanusError::Request(format!("stop[{i}] is empty")));
            }
            if s.len() > MAX_STOP_BYTES {
                return Err(JanusError::Request(format!(
                    "stop[{i}] is {} bytes long; at most {MAX_STOP_BYTES}",
                    s.len()
                )));
            }
        }
        Ok(Self {
            stops,
            ..Self::default()
        })
    }

    /// The next piece of the reply's text.
    pub fn push(&mut self, piece: &str) -> Pushed {
        if self.hit {
            return Pushed {
                shown: String::new(),
                stop: true,
            };
        }
        // A sequence found now ends in the new piece: it cannot begin earlier than its length
        // less one byte before the piece (an earlier start would have been found before).
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let from = floor_boundary(
            &self.text,
            self.text.len().saturating_sub(longest.saturating_sub(1)),
        );
        self.text.push_str(piece);
        let found = self
            .stops
            .iter()
            .filter_map(|s| self.text[from..].find(s.as_str()).map(|at| from + at))
            .min();
        let end = match found {
            Some(at) => {
                self.hit = true;
                self.text.truncate(at);
                at
            }
            None => self.text.len() - self.held_back(),
        };
        // `end` never falls before `shown`: text held back once stays held while it may still
        // begin a sequence, and a prefix of a sequence's prefix is one too.
        let end = end.max(self.shown);
        let shown = self.text[self.shown..end].to_string();
        self.shown = end;
        Pushed {
            shown,
            stop: self.hit,
        }
    }

    /// The reply ended without reaching a stop sequence: the text still held back.
    pub fn finish(&mut self) -> String {
        let rest = self.text[self.shown..].to_string();
        self.shown = self.text.len();
        rest
    }

    /// Whether the reply reached a stop sequence.
    pub fn hit(&self) -> bool {
        self.hit
    }

    /// The reply's text: all of it, or up to the stop sequence it reached.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The reply's text as the caller returns it: up to the stop sequence it reached, else
    /// `whole` (the ids decoded at once: the streaming decoder holds back an unfinished last
    /// character, which the whole decode shows as it renders).
    pub fn reply<E>(&self, whole: impl FnOnce() -> Result<String, E>) -> Result<String, E> {
        if self.hit {
            Ok(self.text.clone())
        } else {
            whole()
        }
    }

    /// The longest end of `text` that is the beginning of a stop sequence (and not the whole
    /// of one: that would have been found).
    fn held_back(&self) -> usize {
        self.stops
            .iter()
            .map(|s| {
                (1..s.len().min(self.text.len() + 1))
                    .rev()
                    .find(|&n| {
                        s.is_char_boundary(n)
                            && self.text.is_char_boundary(self.text.len() - n)
                            && self.text.ends_with(&s[..n])
                    })
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(list: &[&str]) -> StopText {
        StopText::new(list.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    /// Every piece in turn: what was shown, and whether it stopped (and at which piece).
    fn run(list: &[&str], pieces: &[&str]) -> (String, Option<usize>, String) {
        let mut st = stops(list);
        let mut shown = String::new();
        for (i, p) in pieces.iter().enumerate() {
            let got = st.push(p);
            shown.push_str(&got.shown);
            if got.stop {
                return (shown, Some(i), st.text().to_string());
            }
        }
        shown.push_str(&st.finish());
        (shown, None, st.text().to_string())
    }

    #[test]
    fn without_sequences_text_passes_through_as_it_comes() {
        let mut st = stops(&[]);
        assert_eq!(st.push("Hello").shown, "Hello");
        assert_eq!(st.push(", world").shown, ", world");
        assert_eq!(st.finish(), "");
        assert!(!st.hit());
    }

    #[test]
    fn a_sequence_inside_one_piece_ends_the_reply_before_it() {
        let (shown, at, text) = run(&["\nUser:"], &["One", " two\nUser: three", "never"]);
        assert_eq!(
            (shown.as_str(), at, text.as_str()),
            ("One two", Some(1), "One two")
        );
    }

    #[test]
    fn a_sequence_across_pieces_is_held_back_then_dropped() {
        let mut st = stops(&["END"]);
        assert_eq!(st.push("ab E").shown, "ab ");
        assert_eq!(st.push("N").shown, "");
        let last = st.push("Dx");
        assert_eq!((last.shown.as_str(), last.stop), ("", true));
        assert_eq!(st.text(), "ab ");
        // Later pieces change nothing.
        assert!(st.push("more").stop);
        assert_eq!(st.text(), "ab ");
    }

    #[test]
    fn the_loop_ends_with_stop_and_the_reply_is_the_text_before_the_sequence() {
        let whole = || Ok::<_, ()>("decoded".to_string());
        let mut st = stops(&["END"]);
        assert_eq!(st.push("ab").flow(), ControlFlow::Continue(()));
        assert_eq!(st.reply(whole), Ok("decoded".to_string()));
        assert_eq!(st.push("cEND").flow(), ControlFlow::Break(StopReason::Stop));
        assert_eq!(st.reply(whole), Ok("abc".to_string()));
        assert_eq!(st.finish(), "");
    }

    #[test]
    fn text_held_back_that_turns_out_not_to_be_a_sequence_is_shown() {
        let (shown, at, _) = run(&["END"], &["x E", "N", "d and more"]);
        assert_eq!((shown.as_str(), at), ("x ENd and more", None));
        // At the end of the reply the held part is handed out by finish.
        let mut st = stops(&["END"]);
        assert_eq!(st.push("tail EN").shown, "tail ");
        assert_eq!(st.finish(), "EN");
        assert_eq!(st.text(), "tail EN");
    }

    #[test]
    fn the_earliest_of_several_sequences_wins() {
        let (shown, at, _) = run(&["bc", "abcd", "c"], &["xab", "cd"]);
        assert_eq!((shown.as_str(), at), ("x", Some(1)));
    }

    #[test]
    fn overlapping_beginnings_hold_back_the_longest_possible_start() {
        // "aab": after "aa" both "a" and "aa" could begin it.
        let mut st = stops(&["aab"]);
        assert_eq!(st.push("a").shown, "");
        assert_eq!(st.push("a").shown, "");
        assert_eq!(st.push("a").shown, "a");
        let end = st.push("b");
        assert!(end.stop);
        assert_eq!(st.text(), "a");
    }

    #[test]
    fn multibyte_text_and_sequences_are_cut_on_character_boundaries() {
        let (shown, at, _) = run(&["é!"], &["caf", "é", " ok é", "!"]);
        assert_eq!((shown.as_str(), at), ("café ok ", Some(3)));
        let (shown, at, _) = run(&["日本"], &["今日", "は日", "本語"]);
        assert_eq!((shown.as_str(), at), ("今日は", Some(2)));
        // A sequence whose first byte is shared with another character is no match.
        let (shown, at, _) = run(&["é"], &["è", "è"]);
        assert_eq!((shown.as_str(), at), ("èè", None));
    }

    #[test]
    fn a_sequence_at_the_very_start_leaves_an_empty_reply() {
        let (shown, at, text) = run(&["###"], &["##", "# rest"]);
        assert_eq!((shown.as_str(), at, text.as_str()), ("", Some(1), ""));
    }

    #[test]
    fn bad_lists_are_refused_with_the_reason() {
        let msg = |list: Vec<String>| StopText::new(list).unwrap_err().to_string();
        assert!(msg(vec![String::new()]).contains("stop[0] is empty"));
        assert!(msg(vec!["x".repeat(MAX_STOP_BYTES + 1)]).contains("at most 256"));
        assert!(msg(vec!["x".into(); MAX_STOP_SEQUENCES + 1]).contains("at most 16"));
        assert!(StopText::new(vec!["x".repeat(MAX_STOP_BYTES); MAX_STOP_SEQUENCES]).is_ok());
    }

    /// Every split of a text into pieces shows the same reply: the text up to the first
    /// sequence, and nothing of the sequence along the way.
    #[test]
    fn any_split_into_pieces_shows_the_same_reply() {
        let text = "Sure. Answer: 42\n\nQ: next é ok\n\nQ";
        let list = ["\n\nQ:", "é o", "zz"];
        let whole = run(&list, &[text]);
        assert_eq!(whole.0, "Sure. Answer: 42");
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for a in 0..chars.len() {
            for b in a..chars.len() {
                let (i, j) = (chars[a].0, chars[b].0);
                let pieces = [&text[..i], &text[i..j], &text[j..]];
                let got = run(&list, &pieces);
                assert_eq!(got.0, whole.0, "split at {i}, {j}");
                assert_eq!(got.2, whole.2, "split at {i}, {j}");
            }
        }
    }
}
