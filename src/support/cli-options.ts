/**
 * Number parsers for commander options, shared by every command line (`npm start`, `npm run pipeline`, the
 * streaming processes, the lake endpoint): a bad value is a usage error (commander prints it with the option's
 * name and exits 2).
 */
import { InvalidArgumentError } from 'commander';

function numberOption(accepts: (value: number) => boolean, expected: string | ((raw: string) => string)) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!accepts(value))
      throw new InvalidArgumentError(typeof expected === 'string' ? expected : expected(raw));
    return value;
  };
}

export const integer = numberOption(Number.isInteger, 'expected an integer');

export const decimal = numberOption(Number.isFinite, 'expected a number');

export const numberBetween = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  numberOption(
    (value) => Number.isFinite(value) && value >= min && value <= max,
    `expected a number in [${min}, ${max}]`,
  );

export const integerBetween = (min: number, max: number) =>
  numberOption(
    (value) => Number.isInteger(value) && value >= min && value <= max,
    (raw) => `expected an integer from ${min} to ${max}, got "${raw}"`,
  );
