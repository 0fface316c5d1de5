import type { HeaderField } from './types.js';

/**
 * A header field with its lookup key (the lower-case long name) computed once. A field the
 * parser split keeps where its value lies in the message text and slices it out when first read:
 * most fields of a message are never read.
 */
export class HeaderEntry implements HeaderField {
  readonly name: string;
  readonly key: string;
  /** undefined until read, for a parsed field: then cut from #text */
  #value: string | undefined;
  #text = '';
  #start = 0;
  #end = 0;

  constructor(name: string, value: string, key: string) {
    this.name = name;
    this.key = key;
    this.#value = value;
  }

  /** @internal a field the parser split, whose value is text[start, end) */
  static _parsed(name: string, text: string, start: number, end: number, key: string): HeaderEntry {
    const h = new HeaderEntry(name, '', key);
    h.#value = undefined;
    h.#text = text;
    h.#start = start;
    h.#end = end;
    return h;
  }

  get value(): string {
    return (this.#value ??= this.#text.slice(this.#start, this.#end));
  }

  /** JSON shows a field as `{ name, value, key }`, its value included. */
  toJSON(): { name: string; value: string; key: string } {
    return { name: this.name, value: this.value, key: this.key };
  }
}
