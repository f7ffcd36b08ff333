// What a chat says while a long prompt is read (ChatOptions.onPrompt): a conversation the
// engine's cache no longer holds (after a reload) runs in passes before its first token, which on
// a modest GPU takes long enough to want a word. Used by the page's chat and <janus-chat>.

/**
 * "Reading the conversation: 512 of 2,048 tokens (6 s left)" after `read` of `total` tokens,
 * `seconds` after the question was asked: the pace so far carried to the last token (it also
 * paid for the pictures, which come first; never "0 s left" before the end).
 */
export function readingLine(read: number, total: number, seconds: number): string {
  const count = (n: number): string => n.toLocaleString('en-US');
  const left = read > 0 && read < total ? ` (${Math.max(1, Math.round((seconds / read) * (total - read)))} s left)` : '';
  return `Reading the conversation: ${count(read)} of ${count(total)} tokens${left}`;
}
