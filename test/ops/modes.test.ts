/**
 * Against AWS, `npm start` must not write synthetic orders into the real topic unless asked; locally and in a
 * bounded run (run-scoped topics) it always generates.
 */
import { generatorRate, parseMainOptions } from '../../src/cli/main-job/main-options';

const parse = (...args: string[]) => parseMainOptions(['node', 'main', ...args]);

describe('npm start: when the generator runs', () => {
  it('does not generate against AWS unless asked', () => {
    expect(generatorRate(parse(), 'aws')).toBeUndefined();
    expect(generatorRate(parse('--rate', '200'), 'aws')).toBeUndefined();
  });

  it('generates against AWS with --generate, at its rate or --rate', () => {
    expect(generatorRate(parse('--generate', '20'), 'aws')).toBe(20);
    expect(generatorRate(parse('--generate', '--rate', '7'), 'aws')).toBe(7);
    expect(generatorRate(parse('--generate'), 'aws')).toBe(50);
  });

  it('always generates on the local stack (the quick start is unchanged)', () => {
    expect(generatorRate(parse(), 'local')).toBe(50);
    expect(generatorRate(parse('--rate', '200'), 'local')).toBe(200);
  });

  it('generates in a bounded run, whose topics are its own', () => {
    expect(generatorRate(parse('--duration', '60'), 'aws')).toBe(50);
  });
});
