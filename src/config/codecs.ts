/**
 * How a setting's value travels between its environment variable's text and the Config object, with the one
 * statement of its bounds.
 */
import { z } from 'zod';

export interface Codec<S extends z.ZodType> {
  /** The value's schema in the Config object: checks loaded values and overrides alike. */
  readonly schema: S;
  /** From the variable's text to the value `schema` checks; a failure here is reported under the variable's name. */
  readonly decode: z.ZodType;
  /** From a valid value back to text that decodes to it (undefined: leave the variable unset). */
  encode(value: z.output<S>): string | undefined;
}

const asText = z.string();
const same = (value: string) => value;

export const text = (minLength = 1): Codec<z.ZodString> => ({
  schema: z.string().min(minLength),
  decode: asText,
  encode: same,
});

/** An S3 key prefix: slashes at either end are dropped, so `lake/` and `/lake` name the folder `lake`. */
export const folder: Codec<z.ZodString> = {
  schema: z.string().min(1),
  decode: z.string().transform((value) => value.replace(/^\/+|\/+$/g, '')),
  encode: same,
};

export function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  const schema = z.coerce.number().int().min(min).max(max);
  return { schema, decode: schema, encode: String } satisfies Codec<typeof schema>;
}

/** A share in [0, 1], written as a decimal (`0.5`). */
export const fraction = (() => {
  const schema = z.coerce.number().min(0).max(1);
  return { schema, decode: schema, encode: String } satisfies Codec<typeof schema>;
})();

export const bool: Codec<z.ZodBoolean> = {
  schema: z.boolean(),
  decode: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  encode: String,
};

/** Comma-separated `host:port` addresses, at least one. */
export const hostPorts: Codec<z.ZodArray<z.ZodString>> = {
  schema: z.array(z.string().regex(/^[^:]+:\d+$/, 'expected host:port')).min(1),
  decode: z.string().transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  ),
  encode: (addresses) => addresses.join(','),
};

/** undefined = no override (the SDK's default endpoint for the region). */
export const optionalUrl: Codec<z.ZodOptional<z.ZodURL>> = {
  schema: z.url().optional(),
  decode: asText,
  encode: (value) => value,
};

export function oneOf<const V extends readonly [string, ...string[]]>(values: V) {
  const schema = z.enum(values);
  return { schema, decode: asText, encode: same } satisfies Codec<typeof schema>;
}
