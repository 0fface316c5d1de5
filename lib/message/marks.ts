/**
 * Where the parts of a URI lie in a header value, as offsets in that value (check-header's
 * markedUri takes them from the last scan): the URI itself, its scheme's ":", host, port (-1:
 * none), the ";" before its parameters (-1: none), a password's ":" (-1: none), and whether it
 * holds an escape. uri-checked.uriFromLayout builds the Uri from them.
 */
export interface UriLayout {
  readonly uriStart: number;
  readonly uriEnd: number;
  readonly colon: number;
  readonly hostStart: number;
  readonly hostEnd: number;
  readonly port: number;
  readonly paramsAt: number;
  readonly passwordColon: number;
  readonly escaped: boolean;
}

/**
 * Where the parser found what a message's views are read for first, as offsets in the header
 * value (validate.quickValidate fills them in while it checks the bytes): the branch of the top
 * Via, the From and To tags, the CSeq, and where the fields are in the header list. A parameter's
 * start is -1 when it is absent or has no value. The views use them instead of scanning again.
 */
export class Marks {
  /** index in the header list of the first Via, From, To, Call-ID, CSeq and Contact field (-1: none) */
  viaAt = -1;
  fromAt = -1;
  toAt = -1;
  callIdAt = -1;
  cseqAt = -1;
  contactAt = -1;
  /** index of the last Via and Contact field, and how many elements the Via and Contact lists hold */
  viaLast = -1;
  contactLast = -1;
  vias = 0;
  contacts = 0;
  /** in the first element of the first Via */
  branchStart = -1;
  branchEnd = -1;
  fromTagStart = -1;
  fromTagEnd = -1;
  toTagStart = -1;
  toTagEnd = -1;
  seq = 0;
  /** the URI of the first Contact element (undefined: `*`, or no Contact) */
  contactUri: UriLayout | undefined = undefined;
  /** where the CSeq method starts */
  methodStart = 0;
  /** a request's method, which the parser found to be the CSeq method too (undefined for a response) */
  method: string | undefined = undefined;
}
