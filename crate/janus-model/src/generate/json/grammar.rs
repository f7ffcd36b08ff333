//! One JSON object (RFC 8259), recognised a byte at a time: the state a reply's text has reached,
//! and whether a next byte keeps it the beginning of an object. A JSON reply (`super`) chooses
//! each token only among those whose bytes this accepts, so whatever stops it, its text is the
//! beginning of a JSON object, and the whole object once complete.
//!
//! The state is a small `Copy` value (the nesting as one bit per level, the lexer's place), so
//! walking the vocabulary (`super::tokens`) keeps one per byte of the token at hand and a
//! reply's masks can be kept by state.

/// Deepest nesting an object may reach (one bit of [`JsonState`]'s stack per level).
pub const MAX_DEPTH: u8 = 64;

/// Longest run of whitespace between two parts of the text. JSON allows any; a model that has
/// started repeating newlines would otherwise fill its whole budget with them, a known way for
/// grammar-constrained replies to run away. Pretty-printed JSON at depth 8 needs 1 + 16 or 32.
pub const MAX_SPACE: u8 = 40;

/// Longest run of whitespace before the object opens: a reply may begin with a space or a
/// newline (a tokenizer may join one to the brace), not with a page of them.
pub const MAX_LEADING_SPACE: u8 = 4;

/// Where the text is: the lexer's place, the open containers, the whitespace run at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JsonState {
    /// Bit `i` set: level `i` (0 the outermost) is an object; clear: an array.
    stack: u64,
    depth: u8,
    space: u8,
    lex: Lex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Lex {
    /// Before the outermost `{`.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:`, or `,` in an array: a value.
    Value,
    /// After `[`: a value or `]`.
    FirstValue,
    /// After a value: `,` or the container's close.
    Next,
    /// Inside a string (a key where `key`).
    Str { key: bool, part: StrPart },
    /// Inside a number.
    Num(Num),
    /// Inside `true`, `false` or `null` ([`WORDS`]`[word]`), `at` bytes read.
    Word { word: u8, at: u8 },
    /// The outermost object is closed: nothing may follow.
    Done,
}

/// Inside a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum StrPart {
    Plain,
    /// After `\`.
    Escape,
    /// After `\u`: hex digits still to come.
    Hex(u8),
    /// Inside a UTF-8 character: `left` continuation bytes to come, the next in `lo..=hi` (the
    /// narrower ranges after E0, ED, F0 and F4 rule out overlong forms, surrogates and code
    /// points past U+10FFFF, so the text stays valid UTF-8).
    Utf8 {
        left: u8,
        lo: u8,
        hi: u8,
    },
}

/// Inside a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

const WORDS: [&[u8]; 3] = [b"true", b"false", b"null"];

impl Default for JsonState {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonState {
    /// Nothing read yet.
    pub const fn new() -> Self {
        Self {
            stack: 0,
            depth: 0,
            space: 0,
            lex: Lex::Start,
        }
    }

    /// True when the outermost object is closed (and nothing may follow).
    pub fn is_complete(&self) -> bool {
        self.lex == Lex::Done
    }

    /// The state after `bytes`, or `None` where they leave the text no beginning of an object.
    pub fn feed_all(self, bytes: &[u8]) -> Option<Self> {
        bytes.iter().try_fold(self, |s, &b| s.feed(b))
    }

    /// The state after one more byte, or `None` where it leaves the text no beginning of an
    /// object.
    pub fn feed(mut self, b: u8) -> Option<Self> {
        match self.lex {
            Lex::Str { key, part } => return self.string(key, part, b),
            Lex::Word { word, at } => {
                let w = WORDS[word as usize];
                if w[at as usize] != b {
                    return None;
                }
                let at = at + 1;
                self.lex = if at as usize == w.len() {
                    Lex::Next
                } else {
                    Lex::Word { word, at }
                };
                return Some(self);
            }
            Lex::Num(n) => match number(n, b) {
                Some(n) => {
                    self.lex = Lex::Num(n);
                    return Some(self);
                }
                // A number ends at the first byte that cannot continue it: that byte is then
                // read as what comes after the value.
                None if matches!(n, Num::Zero | Num::Int | Num::Frac | Num::ExpDigits) => {
                    self.lex = Lex::Next;
                }
                None => return None,
            },
            _ => {}
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            let most = match self.lex {
                Lex::Start => MAX_LEADING_SPACE,
                Lex::Done => 0,
                _ => MAX_SPACE,
            };
            if self.space >= most {
                return None;
            }
            self.space += 1;
            return Some(self);
        }
        self.space = 0;
        match (self.lex, b) {
            (Lex::Start, b'{') => self.open(true),
            (Lex::FirstKey | Lex::Key, b'"') => {
                self.lex = Lex::Str {
                    key: true,
                    part: StrPart::Plain,
                };
                Some(self)
            }
            (Lex::FirstKey, b'}') => self.close(),
            (Lex::Colon, b':') => {
                self.lex = Lex::Value;
                Some(self)
            }
            (Lex::FirstValue, b']') => self.close(),
            (Lex::Value | Lex::FirstValue, _) => self.value(b),
            (Lex::Next, b',') => {
                self.lex = if self.in_object() {
                    Lex::Key
                } else {
                    Lex::Value
                };
                Some(self)
            }
            (Lex::Next, b'}') if self.in_object() => self.close(),
            (Lex::Next, b']') if !self.in_object() => self.close(),
            _ => None,
        }
    }

    /// The first byte of a value.
    fn value(mut self, b: u8) -> Option<Self> {
        self.lex = match b {
            b'{' => return self.open(true),
            b'[' => return self.open(false),
            b'"' => Lex::Str {
                key: false,
                part: StrPart::Plain,
            },
            b'-' => Lex::Num(Num::Minus),
            b'0' => Lex::Num(Num::Zero),
            b'1'..=b'9' => Lex::Num(Num::Int),
            b't' => Lex::Word { word: 0, at: 1 },
            b'f' => Lex::Word { word: 1, at: 1 },
            b'n' => Lex::Word { word: 2, at: 1 },
            _ => return None,
        };
        Some(self)
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && (self.stack >> (self.depth - 1)) & 1 == 1
    }

    fn open(mut self, object: bool) -> Option<Self> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        if object {
            self.stack |= 1 << self.depth;
        } else {
            self.stack &= !(1 << self.depth);
        }
        self.depth += 1;
        self.lex = if object {
            Lex::FirstKey
        } else {
            Lex::FirstValue
        };
        Some(self)
    }

    /// Close the innermost container (the caller has checked the bracket matches it).
    fn close(mut self) -> Option<Self> {
        self.depth -= 1;
        self.lex = if self.depth == 0 {
            Lex::Done
        } else {
            Lex::Next
        };
        Some(self)
    }

    fn string(mut self, key: bool, part: StrPart, b: u8) -> Option<Self> {
        let plain_utf8 = |left, lo, hi| StrPart::Utf8 { left, lo, hi };
        let part = match part {
            StrPart::Plain => match b {
                b'"' => {
                    self.lex = if key { Lex::Colon } else { Lex::Next };
                    return Some(self);
                }
                b'\\' => StrPart::Escape,
                // Control characters must be escaped.
                0x00..=0x1f => return None,
                0x20..=0x7f => StrPart::Plain,
                0xc2..=0xdf => plain_utf8(1, 0x80, 0xbf),
                0xe0 => plain_utf8(2, 0xa0, 0xbf),
                0xed => plain_utf8(2, 0x80, 0x9f),
                0xe1..=0xef => plain_utf8(2, 0x80, 0xbf),
                0xf0 => plain_utf8(3, 0x90, 0xbf),
                0xf1..=0xf3 => plain_utf8(3, 0x80, 0xbf),
                0xf4 => plain_utf8(3, 0x80, 0x8f),
                // A continuation byte with no lead, or no UTF-8 lead at all.
                _ => return None,
            },
            StrPart::Escape => match b {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => StrPart::Plain,
                b'u' => StrPart::Hex(4),
                _ => return None,
            },
            StrPart::Hex(left) if b.is_ascii_hexdigit() => match left {
                1 => StrPart::Plain,
                _ => StrPart::Hex(left - 1),
            },
            StrPart::Hex(_) => return None,
            StrPart::Utf8 { left, lo, hi } if (lo..=hi).contains(&b) => match left {
                1 => StrPart::Plain,
                _ => plain_utf8(left - 1, 0x80, 0xbf),
            },
            StrPart::Utf8 { .. } => return None,
        };
        self.lex = Lex::Str { key, part };
        Some(self)
    }
}

/// The number's next place after `b`, or `None` where `b` cannot continue it.
fn number(n: Num, b: u8) -> Option<Num> {
    let digit = b.is_ascii_digit();
    Some(match n {
        Num::Minus if b == b'0' => Num::Zero,
        Num::Minus if digit => Num::Int,
        Num::Int if digit => Num::Int,
        Num::Zero | Num::Int if b == b'.' => Num::Dot,
        Num::Dot | Num::Frac if digit => Num::Frac,
        Num::Zero | Num::Int | Num::Frac if b == b'e' || b == b'E' => Num::Exp,
        Num::Exp if b == b'+' || b == b'-' => Num::ExpSign,
        Num::Exp | Num::ExpSign | Num::ExpDigits if digit => Num::ExpDigits,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(text: &str) -> bool {
        JsonState::new()
            .feed_all(text.as_bytes())
            .is_some_and(|s| s.is_complete())
    }

    fn prefix(text: &str) -> bool {
        JsonState::new().feed_all(text.as_bytes()).is_some()
    }

    #[test]
    fn objects_are_recognised() {
        for good in [
            "{}",
            " {\"a\": 1}",
            "{\"a\":[1,-2.5e+3,0,0.25,true,false,null,\"x\\n\\u00e9\"],\"b\":{\"c\":[]}}",
            "{\n  \"name\": \"Janus\",\n  \"tags\": [ \"é\", \"日本\", \"✓\" ]\n}",
            "{\"\":0E5,\"k\":-0}",
        ] {
            assert!(complete(good), "{good}");
        }
        // Beginnings, not yet complete.
        for open in [
            "",
            "  ",
            "{",
            "{\"a",
            "{\"a\":",
            "{\"a\": 12",
            "{\"a\": [tr",
            "{\"a\":\"\\u0",
        ] {
            assert!(prefix(open) && !complete(open), "{open:?}");
        }
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for bad in [
            "[1]",
            "\"s\"",
            "1",
            "{a:1}",
            "{\"a\" 1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{\"a\":tru }",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\n\"}",
            "{\"a\":]",
            "{\"a\":[}",
            "{}x",
            "{} ",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":+1}",
        ] {
            assert!(!prefix(bad), "{bad:?}");
        }
        // Bytes that are no UTF-8: a lone continuation, an overlong form, a surrogate, past
        // U+10FFFF, a character cut by the closing quote.
        for bad in [
            &b"{\"\x80\""[..],
            b"{\"\xc0\xaf\"",
            b"{\"\xed\xa0\x80\"",
            b"{\"\xf4\x90\x80\x80\"",
            b"{\"\xe6\x97\"",
        ] {
            assert!(JsonState::new().feed_all(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn whitespace_runs_and_depth_are_bounded() {
        let leading = " ".repeat(MAX_LEADING_SPACE as usize);
        assert!(prefix(&leading) && prefix(&format!("{leading}{{")));
        assert!(!prefix(&format!("{leading} ")));
        let long = format!("{{{}", " ".repeat(MAX_SPACE as usize));
        assert!(prefix(&long));
        assert!(!prefix(&format!("{long} ")));
        let deep = format!("{{\"a\":{}", "[".repeat(MAX_DEPTH as usize - 1));
        assert!(prefix(&deep));
        assert!(!prefix(&format!("{deep}[")));
        let closed = format!("{deep}{}}}", "]".repeat(MAX_DEPTH as usize - 1));
        assert!(complete(&closed));
    }

    /// A random JSON object as text: every kind of value, escapes, characters beyond ASCII,
    /// numbers in every form, whitespace between parts.
    fn random_object(next: &mut impl FnMut() -> u64, depth: u32, out: &mut Vec<u8>) {
        let space = |next: &mut dyn FnMut() -> u64, out: &mut Vec<u8>| {
            for _ in 0..next() % 3 {
                out.push([b' ', b'\n', b'\t', b'\r'][(next() % 4) as usize]);
            }
        };
        fn pick<'a>(next: &mut dyn FnMut() -> u64, from: &[&'a str]) -> &'a str {
            from[(next() % from.len() as u64) as usize]
        }
        const STRINGS: [&str; 6] = [
            "\"\"",
            "\"k\"",
            "\"a\\\"b\"",
            "\"\\u00e9\\n\"",
            "\"日本 ✓\"",
            "\"x/y\\\\\"",
        ];
        const NUMBERS: [&str; 8] = ["0", "-0", "12", "-3.25", "1e5", "2E-3", "0.5e+10", "-7"];
        const WORDS: [&str; 3] = ["true", "false", "null"];
        let object = depth == 0 || next().is_multiple_of(2);
        out.push(if object { b'{' } else { b'[' });
        let n = next() % 4;
        for i in 0..n {
            space(next, out);
            if i > 0 {
                out.push(b',');
                space(next, out);
            }
            if object {
                out.extend_from_slice(pick(next, &STRINGS).as_bytes());
                space(next, out);
                out.push(b':');
                space(next, out);
            }
            match next() % 5 {
                0 if depth < 3 => random_object(next, depth + 1, out),
                0 | 1 => out.extend_from_slice(pick(next, &STRINGS).as_bytes()),
                2 => out.extend_from_slice(pick(next, &NUMBERS).as_bytes()),
                3 => out.extend_from_slice(pick(next, &WORDS).as_bytes()),
                _ => out.extend_from_slice(pick(next, &NUMBERS).as_bytes()),
            }
        }
        space(next, out);
        out.push(if object { b'}' } else { b']' });
    }

    /// Against serde_json: random objects are complete and each of their beginnings is a
    /// beginning; each with one byte changed, dropped or added, the recogniser calls complete
    /// exactly the texts serde_json reads as an object, and a text that opens an object and is
    /// refused is one the parser also refuses before its end (an error that is not "more input
    /// needed"), so no suffix could have completed it. (UTF-8 is left to the test above: the
    /// parser checks a string's bytes only at its closing quote.)
    #[test]
    fn agrees_with_serde_json() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"{}[]:,\"\\ \n0123456789-+.eEtrufalsnx";
        let shown = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
        let (mut completes, mut refusals) = (0, 0);
        for _ in 0..20_000 {
            let mut text = Vec::new();
            random_object(&mut next, 0, &mut text);
            assert!(
                serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|v| v.is_object()),
                "{}",
                shown(&text)
            );
            let mut state = JsonState::new();
            for (i, &b) in text.iter().enumerate() {
                state = state
                    .feed(b)
                    .unwrap_or_else(|| panic!("{} at {i}", shown(&text)));
                assert_eq!(state.is_complete(), i + 1 == text.len(), "{}", shown(&text));
            }
            // One change.
            let at = (next() % text.len() as u64) as usize;
            let byte = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 => text[at] = byte,
                1 => {
                    text.remove(at);
                }
                _ => text.insert(at, byte),
            }
            let ours = JsonState::new().feed_all(&text);
            let parsed = serde_json::from_slice::<serde_json::Value>(&text);
            // A number past f64 (`1e810`) is JSON, which serde_json does not read.
            if parsed
                .as_ref()
                .is_err_and(|e| e.to_string().contains("out of range"))
            {
                continue;
            }
            let object = parsed.as_ref().is_ok_and(|v| v.is_object());
            let ours_complete = ours.is_some_and(|s| s.is_complete());
            // serde_json allows whitespace after the value; this grammar does not (the reply
            // stops there).
            let trailing_space = text.last().is_some_and(u8::is_ascii_whitespace);
            if !trailing_space {
                assert_eq!(ours_complete, object, "{}", shown(&text));
            }
            completes += ours_complete as usize;
            let opens = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            if ours.is_none() {
                refusals += 1;
                if opens && !trailing_space {
                    assert!(
                        parsed.as_ref().is_err_and(|e| !e.is_eof()),
                        "{} {parsed:?}",
                        shown(&text)
                    );
                }
            } else if !ours_complete {
                assert!(parsed.is_err(), "{}", shown(&text));
            }
        }
        assert!(
            completes > 1000 && refusals > 5000,
            "{completes} {refusals}"
        );
    }
}
