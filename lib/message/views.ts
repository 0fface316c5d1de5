import type { CSeq } from './types.js';
import { parseCSeq } from './cseq.js';
import type { Marks, UriLayout } from './marks.js';
import type { HeaderEntry } from './header-entry.js';
import { NameAddr, parseNameAddr } from './name-addr.js';
import { splitList } from './params.js';
import { Via, parseVia } from './via.js';

/**
 * The parsed views of a message's headers, built when first read. With `marks` (the header text
 * is what the parser checked), they are lazy views that decode their text as it is read and take
 * what the parser marked; without, the text is parsed in full (and a syntax fault throws).
 */

/**
 * The Via views of the fields [from, last]. `count` is how many elements the list holds when
 * the parser counted them (-1 when not known): a single one is the whole field at `from`.
 */
export function viaViews(headers: readonly HeaderEntry[], marks: Marks | undefined, from: number, last: number, count: number): Via[] {
  if (count === 1) return [Via._checked(headers[from]!.value, marks!.branchStart, marks!.branchEnd)];
  const out: Via[] = [];
  for (let i = from; i <= last; i++) {
    const h = headers[i]!;
    if (h.key !== 'via') continue;
    const value = h.value;
    if (value.indexOf(',') === -1) out.push(viaView(value, marks, out.length));
    else for (const v of splitList(value)) out.push(viaView(v, marks, out.length));
  }
  return out;
}

/** The view of one Via element; the marks are the first element's. */
function viaView(text: string, marks: Marks | undefined, index: number): Via {
  if (marks === undefined) return parseVia(text);
  return index === 0 ? Via._checked(text, marks.branchStart, marks.branchEnd) : Via._checked(text);
}

/**
 * The Contact views, as viaViews; `checked` when the fields hold the text the parser checked,
 * `uri` where it marked the parts of the first element's URI.
 */
export function contactViews(headers: readonly HeaderEntry[], checked: boolean, from: number, last: number, count: number, uri?: UriLayout): NameAddr[] {
  if (count === 0) return [];
  if (count === 1) return [NameAddr._checkedContact(headers[from]!.value, uri)];
  const out: NameAddr[] = [];
  for (let i = from; i <= last; i++) {
    const h = headers[i]!;
    if (h.key !== 'contact') continue;
    const value = h.value;
    if (value.indexOf(',') === -1) out.push(contactView(value, checked));
    else for (const v of splitList(value)) out.push(contactView(v, checked));
  }
  return out;
}

function contactView(text: string, checked: boolean): NameAddr {
  return checked ? NameAddr._checkedContact(text) : parseNameAddr(text, true);
}

/** From or To: the bounds of the tag are the marks'. */
export function nameAddrView(value: string, marked: boolean, tagStart: number, tagEnd: number): NameAddr {
  return marked ? NameAddr._checked(value, tagStart, tagEnd) : parseNameAddr(value);
}

export function cseqView(value: string, marks: Marks | undefined): CSeq {
  return marks === undefined ? parseCSeq(value) : { seq: marks.seq, method: value.slice(marks.methodStart) };
}
