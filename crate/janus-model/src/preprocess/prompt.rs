//! DeepSeek's SFT conversation template, "deepseek" separator style (janus-spec.md §4.1).
//!
//! `SYSTEM\n\n` (if any), then per message `ROLE: content.strip()` followed by `\n\n` after a
//! user turn and `<｜end▁of▁sentence｜>` after an assistant turn; the final empty assistant
//! message renders as `ROLE:`; the whole string is stripped. A reply to go on from is left open
//! (`render_chat_continued`).

use crate::tokenizer::{BEGIN_OF_IMAGE, EOS, IMAGE, RoleNames};

/// The understanding system prompt of DeepSeek's `VLChatProcessor`.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn. Images are referenced by `<image_placeholder>` markers in `content`.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }

    /// A user turn about `images` pictures: one `<image_placeholder>\n` per image, then the text
    /// (the official examples' `"<image_placeholder>\n{question}"`).
    pub fn user_with_images(images: usize, text: &str) -> Self {
        let mut content = String::new();
        for _ in 0..images {
            content.push_str(IMAGE);
            content.push('\n');
        }
        content.push_str(text);
        Self::user(content)
    }
}

/// Render a conversation that ends with the assistant's turn to generate.
///
/// Separators alternate by position, as in DeepSeek's `Conversation.get_prompt` (user turns at
/// even positions); a trailing empty assistant message is added when the last turn is the user's.
pub fn render_chat(system: &str, messages: &[Message], roles: &RoleNames) -> String {
    let mut out = String::new();
    if !system.is_empty() {
        out.push_str(system);
        out.push_str("\n\n");
    }
    let mut turns: Vec<&Message> = messages.iter().collect();
    let open = Message::assistant("");
    if turns.last().is_none_or(|m| m.role == Role::User) {
        turns.push(&open);
    }
    for (i, m) in turns.iter().enumerate() {
        let role = match m.role {
            Role::User => &roles.user,
            Role::Assistant => &roles.assistant,
        };
        let content = m.content.trim();
        if m.content.is_empty() {
            out.push_str(role);
            out.push(':');
        } else {
            out.push_str(role);
            out.push_str(": ");
            out.push_str(content);
            out.push_str(if i % 2 == 0 { "\n\n" } else { EOS });
        }
    }
    out.trim().to_string()
}

/// Render a conversation whose last message is the beginning of the assistant's reply, left open
/// so that generation goes on from it (a reply cut at its token limit, or words the caller puts
/// in the assistant's mouth): the turns before it as [`render_chat`] renders them, then the reply
/// so far, without the separator that would close it. Leading whitespace goes, as the closed
/// form strips it; the end stays as written (the next token depends on it). A conversation that
/// does not end with the assistant's message renders as [`render_chat`] does.
pub fn render_chat_continued(system: &str, messages: &[Message], roles: &RoleNames) -> String {
    let Some((last, before)) = messages.split_last() else {
        return render_chat(system, messages, roles);
    };
    if last.role != Role::Assistant {
        return render_chat(system, messages, roles);
    }
    let mut out = render_chat(system, before, roles);
    let reply = last.content.trim_start();
    if !reply.is_empty() {
        out.push(' ');
        out.push_str(reply);
    }
    out
}

/// The text-to-image prompt: an empty system prompt, the user's description, an empty assistant
/// turn, then `<begin_of_image>` (janus-spec.md §4.1, §7.1).
pub fn render_image_prompt(prompt: &str, roles: &RoleNames) -> String {
    let mut out = render_chat("", &[Message::user(prompt)], roles);
    out.push_str(BEGIN_OF_IMAGE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_turn_matches_the_reference_layout() {
        // transformers' test vector (janus-spec.md §4.1)
        let roles = RoleNames::tagged();
        let msgs = [
            Message::user("A"),
            Message::assistant("B"),
            Message::user("C"),
        ];
        assert_eq!(
            render_chat("", &msgs, &roles),
            "<|User|>: A\n\n<|Assistant|>: B<｜end▁of▁sentence｜><|User|>: C\n\n<|Assistant|>:"
        );
    }

    #[test]
    fn system_prompt_and_plain_roles() {
        let out = render_chat(
            "SYS",
            &[Message::user_with_images(1, "what?  ")],
            &RoleNames::plain(),
        );
        assert_eq!(out, "SYS\n\nUser: <image_placeholder>\nwhat?\n\nAssistant:");
    }

    #[test]
    fn a_continued_reply_is_the_closed_one_left_open() {
        let roles = RoleNames::tagged();
        let msgs = [
            Message::user("A"),
            Message::assistant("B"),
            Message::user("C"),
            Message::assistant("  D, then"),
        ];
        let closed = render_chat("SYS", &msgs, &roles);
        let open = render_chat_continued("SYS", &msgs, &roles);
        assert_eq!(closed.strip_suffix(EOS), Some(open.as_str()));
        assert!(open.ends_with("<|User|>: C\n\n<|Assistant|>: D, then"));
        // The end stays as written; an empty beginning is the usual open turn.
        let spaced = [Message::user("C"), Message::assistant("```json\n")];
        assert!(render_chat_continued("", &spaced, &roles).ends_with("<|Assistant|>: ```json\n"));
        let empty = [Message::user("C"), Message::assistant(" ")];
        let asked = [Message::user("C")];
        assert_eq!(
            render_chat_continued("", &empty, &roles),
            render_chat("", &asked, &roles)
        );
        assert_eq!(
            render_chat_continued("", &asked, &roles),
            render_chat("", &asked, &roles)
        );
    }

    #[test]
    fn image_prompt_ends_with_begin_of_image() {
        assert_eq!(
            render_image_prompt("a cat", &RoleNames::plain()),
            "User: a cat\n\nAssistant:<begin_of_image>"
        );
    }
}
