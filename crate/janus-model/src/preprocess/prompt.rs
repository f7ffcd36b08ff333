//! DeepSeek's SFT conversation template, "deepseek" separator style (janus-spec.md §4.1).
//!
//! `SYSTEM\n\n` (if any), then per message `ROLE: content.strip()` followed by `\n\n` after a
//! user turn and `<｜end▁of▁sentence｜>` after an assistant turn; the final empty assistant
//! message renders as `ROLE:`; the whole string is stripped.

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
    fn image_prompt_ends_with_begin_of_image() {
        assert_eq!(
            render_image_prompt("a cat", &RoleNames::plain()),
            "User: a cat\n\nAssistant:<begin_of_image>"
        );
    }
}
