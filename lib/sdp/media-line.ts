/** The fields of an m= line (RFC 4566 §5.14): `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`. */
export interface MediaLine {
  media: string;
  port: number;
  /** The `/<number of ports>` suffix, when present. */
  portCount: number | undefined;
  protocol: string;
  formats: string[];
}

/** Reads an m= line; undefined if it does not have the RFC 4566 §5.14 shape. */
export function parseMediaLine(text: string): MediaLine | undefined {
  const match = /^m=(\S+) (\d+)(?:\/(\d+))? (\S+)(?: (.*))?$/.exec(text.trimEnd());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return {
    media: match[1]!,
    port,
    portCount: match[3] === undefined ? undefined : Number(match[3]),
    protocol: match[4]!,
    formats: match[5] === undefined ? [] : match[5].split(' ').filter((f) => f !== ''),
  };
}
