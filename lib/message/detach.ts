/**
 * A copy of a piece of message text that does not keep the message alive. Header values and the
 * parts views cut from them are V8 "sliced strings" of the whole header block, which stays in
 * memory as long as any slice does: a Call-ID kept for hours in a table would keep its INVITE's
 * ~1 KB head with it. Whatever is stored long-term goes through this.
 */
export function detached(text: string): string {
  // a latin1 round trip through a Buffer makes a new flat string (header text is latin1 as held)
  return text.length === 0 ? '' : Buffer.from(text, 'latin1').toString('latin1');
}
