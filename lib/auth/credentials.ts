import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { DIGEST_HEX_LENGTH, type DigestAlgorithm } from './digest.js';

/**
 * What the server knows about one user: the password, or precomputed H(username:realm:password)
 * per algorithm (RFC 7616 §3.4.2; a precomputed HA1 is bound to the realm it was made for), or both.
 */
export interface Credentials {
  password?: string;
  ha1?: Partial<Record<DigestAlgorithm, string>>;
}

/**
 * Where the authenticator finds a user's credentials: a file, a database, an HTTP service. Return
 * undefined for an unknown user. May be async; it is called once per request that carries
 * credentials (never for requests without any).
 */
export interface CredentialSource {
  lookup(username: string, realm: string): Credentials | undefined | Promise<Credentials | undefined>;
}

/** The keys a users file may hold for precomputed HA1 values, per algorithm. */
const HA1_KEYS: Record<string, DigestAlgorithm> = {
  ha1: 'MD5',
  'ha1-md5': 'MD5',
  'ha1-sha256': 'SHA-256',
  'ha1-sha-256': 'SHA-256',
  'ha1-sha512-256': 'SHA-512-256',
  'ha1-sha-512-256': 'SHA-512-256',
};

/**
 * Reads the users JSON of `natter proxy --users FILE`:
 * `{ "alice": "password", "bob": { "ha1": "<md5 hex>", "ha1-sha256": "<hex>", "ha1-sha512-256": "<hex>" } }`
 * (an object may also carry "password"). Throws InvalidArgumentError naming what is wrong.
 */
export function parseUsers(json: unknown, what = 'users'): Map<string, Credentials> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidArgumentError(`${what}: expected a JSON object of users`);
  const users = new Map<string, Credentials>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name.length === 0) throw new InvalidArgumentError(`${what}: empty user name`);
    if (typeof value === 'string') {
      users.set(name, { password: value });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(`${what}: user ${name} needs a password string or an object with password / ha1 keys`);
    }
    const c: Credentials = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new InvalidArgumentError(`${what}: ${name}.${k} must be a string`);
      if (k === 'password') {
        c.password = v;
        continue;
      }
      const alg = HA1_KEYS[k.toLowerCase()];
      if (alg === undefined) throw new InvalidArgumentError(`${what}: ${name}.${k} is not one of password, ${Object.keys(HA1_KEYS).join(', ')}`);
      if (!new RegExp(`^[0-9a-fA-F]{${DIGEST_HEX_LENGTH[alg]}}$`).test(v)) {
        throw new InvalidArgumentError(`${what}: ${name}.${k} must be ${DIGEST_HEX_LENGTH[alg]} hex digits`);
      }
      (c.ha1 ??= {})[alg] = v.toLowerCase();
    }
    if (c.password === undefined && c.ha1 === undefined) throw new InvalidArgumentError(`${what}: user ${name} has neither password nor ha1`);
    users.set(name, c);
  }
  return users;
}

/** A fixed set of users held in memory. */
export class StaticCredentialSource implements CredentialSource {
  readonly #users: Map<string, Credentials>;

  constructor(users: Map<string, Credentials> | Record<string, string | Credentials>) {
    if (users instanceof Map) this.#users = new Map(users);
    else {
      this.#users = new Map();
      for (const [name, v] of Object.entries(users)) this.#users.set(name, typeof v === 'string' ? { password: v } : { ...v });
    }
  }

  get size(): number {
    return this.#users.size;
  }

  lookup(username: string): Credentials | undefined {
    return this.#users.get(username);
  }
}

/**
 * The users JSON file of `--users FILE` (format: parseUsers). Read once when created; `reload()`
 * reads it again (e.g. on SIGHUP), keeping the old users if the new file is invalid.
 */
export class JsonFileCredentialSource implements CredentialSource {
  readonly path: string;
  #users: Map<string, Credentials>;

  constructor(path: string) {
    this.path = path;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError(`cannot read users file ${path}: ${(e as Error).message}`);
    }
    this.#users = JsonFileCredentialSource.#read(path, text);
  }

  static #read(path: string, text: string): Map<string, Credentials> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new InvalidArgumentError(`cannot read users file ${path}: ${(e as Error).message}`);
    }
    return parseUsers(json, path);
  }

  get size(): number {
    return this.#users.size;
  }

  async reload(): Promise<number> {
    this.#users = JsonFileCredentialSource.#read(this.path, await readFile(this.path, 'utf8'));
    return this.#users.size;
  }

  lookup(username: string): Credentials | undefined {
    return this.#users.get(username);
  }
}
