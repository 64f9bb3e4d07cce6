/**
 * The pieces the configuration table is built from. A binding ties one part of the Config object to its
 * environment variables: the part's schema, how it is read from the environment, how it is written back, and
 * the variables it documents. A group of bindings is a binding of the object holding them, so the whole table is
 * one binding of the whole Config, and the schema, the loader, the writer and the documented variables all come
 * from it.
 */
import { z } from 'zod';
import { optionalUrl, type Codec } from './codecs';
import { ConfigError } from './config-error';

export const modeSchema = z.enum(['local', 'aws']);
export type Mode = z.infer<typeof modeSchema>;

/** What a binding reads while loading: the environment and the mode, which is resolved from it first. */
export interface LoadContext {
  readonly env: NodeJS.ProcessEnv;
  readonly mode: Mode;
}

/** One documented environment variable (a row of the README's configuration table). */
export interface Variable {
  readonly name: string;
  readonly default: string;
  readonly doc: string;
}

export interface Binding<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  readonly variables: readonly Variable[];
  /** The value before `schema` checks it; a variable whose text cannot be decoded fails here, by name. */
  load(context: LoadContext): unknown;
  /** The variables that make `load` return `value` again (undefined: unset). */
  toEnv(value: z.output<S>): Record<string, string | undefined>;
}

type Members = Record<string, Binding>;
type Shape<M extends Members> = { [K in keyof M]: M[K]['schema'] };

function mapValues<T extends object, R>(object: T, map: (value: T[keyof T]) => R) {
  return Object.fromEntries(
    Object.entries(object).map(([key, value]) => [key, map(value as T[keyof T])]),
  ) as { [K in keyof T]: R };
}

/** A variable whose text, when set and not empty, decodes to the value; otherwise its default text does. */
export function setting<S extends z.ZodType>(
  name: string,
  codec: Codec<S>,
  defaultText: string,
  doc: string,
): Binding<S> {
  return fromText({ name, default: defaultText, doc }, codec, ({ env }) => env[name] || defaultText);
}

function fromText<S extends z.ZodType>(
  variable: Variable,
  codec: Codec<S>,
  read: (context: LoadContext) => string | undefined,
): Binding<S> {
  return {
    schema: codec.schema,
    variables: [variable],
    load(context) {
      const text = read(context);
      if (text === undefined) return undefined;
      const result = codec.decode.safeParse(text);
      if (!result.success) {
        const issues = result.error.issues.map((issue) => issue.message).join('; ');
        throw new ConfigError(`${variable.name}: ${issues} (got "${text}")`);
      }
      return result.data;
    },
    toEnv: (value) => ({ [variable.name]: codec.encode(value) }),
  };
}

/** An object of bindings; `refine` adds a rule across its members. */
export function group<M extends Members>(
  members: M,
  refine: (schema: z.ZodObject<Shape<M>>) => z.ZodObject<Shape<M>> = (schema) => schema,
): Binding<z.ZodObject<Shape<M>>> {
  return {
    schema: refine(z.object(mapValues(members, (member) => member.schema) as Shape<M>)),
    variables: Object.values(members).flatMap((member) => member.variables),
    load: (context) => mapValues(members, (member) => member.load(context)),
    toEnv: (value) =>
      Object.assign(
        {},
        ...Object.entries(members).map(([key, member]) =>
          member.toEnv((value as Record<string, unknown>)[key]),
        ),
      ),
  };
}

/** A group that exists only when the variable of its member `presentWhen` is set (no SASL mechanism, no SASL). */
export function optionalGroup<M extends Members>(
  presentWhen: keyof M,
  members: M,
  refine?: (schema: z.ZodObject<Shape<M>>) => z.ZodObject<Shape<M>>,
): Binding<z.ZodOptional<z.ZodObject<Shape<M>>>> {
  const inner = group(members, refine);
  return {
    schema: inner.schema.optional(),
    variables: inner.variables,
    load(context) {
      const value = inner.load(context) as Record<keyof M, unknown>;
      return value[presentWhen] ? value : undefined;
    },
    toEnv: (value) => (value === undefined ? {} : inner.toEnv(value)),
  };
}

/**
 * Per-service endpoint URLs. A service's own variable wins, then the shared one; without either, local mode
 * uses the service's local stack default and AWS mode none (the SDK's endpoint for the region). The written
 * environment sets every service explicitly, so a shared variable inherited from a parent adds nothing.
 */
export function endpointOverrides<K extends string>(
  shared: Omit<Variable, 'default'>,
  services: Record<K, Variable>,
) {
  const inner = group(
    mapValues(services, (service) =>
      fromText(
        service,
        optionalUrl,
        ({ env, mode }) =>
          env[service.name] || env[shared.name] || (mode === 'local' ? service.default : undefined),
      ),
    ),
  );
  return {
    ...inner,
    variables: [{ name: shared.name, default: '', doc: shared.doc }, ...inner.variables],
    toEnv: (value) => ({ [shared.name]: undefined, ...inner.toEnv(value) }),
  } satisfies Binding<typeof inner.schema>;
}
