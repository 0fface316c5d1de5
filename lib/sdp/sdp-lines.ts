/**
 * The SDP body as lines, for edits that must leave every other byte alone. sdp-transform's writer
 * re-orders attributes and normalises spacing, so natter reads SDP with sdp-transform and edits it
 * here, line by line, touching only the lines a rewrite is about.
 *
 * Bodies are decoded as latin1, which maps bytes to characters one to one, so a UTF-8 `s=` or `i=`
 * line survives a round trip unchanged.
 */

/** One line of an SDP body: its text without the line end, and the line end it had (`\r\n`, `\n` or ``). */
export interface SdpLine {
  text: string;
  eol: string;
}

/** An SDP body cut into its session section and one section per m= line (RFC 4566 §5). */
export interface SdpSections {
  /** The lines before the first m= line. */
  session: SdpLine[];
  /** One array per m= line, each starting with its m= line. */
  media: SdpLine[][];
}

/** Cuts a body into lines, keeping each line's own line end (RFC 4566 §5 says CRLF; LF is tolerated). */
export function splitSdpLines(body: Buffer): SdpLine[] {
  const text = body.toString('latin1');
  const lines: SdpLine[] = [];
  const pattern = /([^\r\n]*)(\r\n|\n|\r|$)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    const [whole, line, eol] = match;
    if (whole === '') break;
    lines.push({ text: line!, eol: eol! });
  }
  return lines;
}

/** Cuts a body into sections. */
export function splitSdpSections(body: Buffer): SdpSections {
  const sections: SdpSections = { session: [], media: [] };
  for (const line of splitSdpLines(body)) {
    if (line.text.startsWith('m=')) sections.media.push([line]);
    else (sections.media.at(-1) ?? sections.session).push(line);
  }
  return sections;
}

/** The body again, from possibly edited sections. */
export function joinSdpSections(sections: SdpSections): Buffer {
  let text = '';
  for (const line of [...sections.session, ...sections.media.flat()]) text += line.text + line.eol;
  return Buffer.from(text, 'latin1');
}

/** The line end a body uses, for lines that a rewrite inserts. */
export function lineEndOf(sections: SdpSections): string {
  return sections.session.find((line) => line.eol !== '')?.eol ?? '\r\n';
}

/** The attribute name of an `a=` line (`a=rtcp:5001` → `rtcp`, `a=sendonly` → `sendonly`), else undefined. */
export function attributeName(line: SdpLine): string | undefined {
  if (!line.text.startsWith('a=')) return undefined;
  const colon = line.text.indexOf(':');
  return (colon === -1 ? line.text.slice(2) : line.text.slice(2, colon)).trim().toLowerCase();
}

/** The value of an `a=name:value` line, the text after the first colon. */
export function attributeValue(line: SdpLine): string {
  const colon = line.text.indexOf(':');
  return colon === -1 ? '' : line.text.slice(colon + 1);
}

/**
 * Inserts a line into a media section at the place RFC 4566 §5 orders it: `c=` after m=, i=;
 * anything else at the end of the section. The new line takes the line end `eol`; if the line
 * before it had no line end (end of body), it gets one.
 */
export function insertMediaLine(section: SdpLine[], text: string, eol: string): void {
  let at = section.length;
  if (text.startsWith('c=')) {
    at = 1;
    while (at < section.length && section[at]!.text.startsWith('i=')) at++;
  }
  const before = section[at - 1];
  const trailing = at === section.length && before !== undefined && before.eol === '';
  if (trailing) before.eol = eol;
  section.splice(at, 0, { text, eol: trailing ? '' : eol });
}
