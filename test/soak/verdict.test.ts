import {
  judgeSeries,
  leastSquaresSlope,
  secondHalf,
  soakVerdict,
  type Point,
  type SeriesBound,
} from '../../src/cli/soak/verdict';

const line = (minutes: number, start: number, perMinute: number): Point[] =>
  Array.from({ length: minutes + 1 }, (_, minute) => ({ minute, value: start + perMinute * minute }));

const series = (points: Point[], maxSlopePerMinute = 2): SeriesBound => ({
  name: 'RSS moto',
  unit: 'MB',
  maxSlopePerMinute,
  points,
});

describe('leastSquaresSlope', () => {
  it('is the slope of points on a line', () => {
    expect(leastSquaresSlope(line(10, 100, 31))).toBeCloseTo(31);
  });

  it('fits noisy points', () => {
    const points = [0, 1, 2, 3].map((minute) => ({ minute, value: 10 + 2 * minute + (minute % 2 ? 1 : -1) }));
    expect(leastSquaresSlope(points)).toBeCloseTo(2.4);
  });

  it('is undefined without two distinct minutes', () => {
    expect(leastSquaresSlope([{ minute: 3, value: 1 }])).toBeUndefined();
    expect(
      leastSquaresSlope([
        { minute: 3, value: 1 },
        { minute: 3, value: 2 },
      ]),
    ).toBeUndefined();
  });
});

describe('secondHalf', () => {
  it('keeps the points from the middle of the time span on', () => {
    expect(secondHalf(line(10, 0, 1)).map((p) => p.minute)).toEqual([5, 6, 7, 8, 9, 10]);
  });
});

describe('judgeSeries', () => {
  it('a warm-up then a plateau is flat', () => {
    const points = [...line(5, 100, 50), ...line(5, 350, 0).map((p) => ({ ...p, minute: p.minute + 6 }))];
    const verdict = judgeSeries(series(points));
    expect(verdict).toMatchObject({ first: 100, last: 350, growing: false });
    expect(verdict.slopePerMinute).toBeCloseTo(0);
  });

  it('steady growth above the bound keeps growing', () => {
    expect(judgeSeries(series(line(20, 2000, 31)))).toMatchObject({ growing: true, maxSlopePerMinute: 2 });
  });

  it('growth at the bound is accepted', () => {
    expect(judgeSeries(series(line(20, 100, 2))).growing).toBe(false);
  });
});

describe('soakVerdict', () => {
  const flat = series(line(10, 300, 0));

  it('passes with flat series and equal counts', () => {
    const verdict = soakVerdict([flat], [{ stage: 'S3 records = CDC records', expected: 5, actual: 5 }]);
    expect(verdict).toMatchObject({ ok: true, growing: [], diverging: [], tooShort: false });
  });

  it('fails on a growing series', () => {
    const verdict = soakVerdict([flat, series(line(10, 300, 31))], []);
    expect(verdict.ok).toBe(false);
    expect(verdict.growing.map((s) => s.name)).toEqual(['RSS moto']);
  });

  it('fails on diverging counts', () => {
    const check = { stage: 'Athena count(*) = S3 records', expected: 10, actual: 9 };
    expect(soakVerdict([flat], [check])).toMatchObject({ ok: false, diverging: [check] });
  });

  it('fails when the run is too short to judge a slope', () => {
    expect(soakVerdict([series([{ minute: 0, value: 1 }])], [])).toMatchObject({ ok: false, tooShort: true });
  });
});
