/**
 * For the `unit` project: pure logic gets 10 s per test (jest's testTimeout is global, so it is set here per file).
 *
 * A pure-logic test that opens a socket is misfiled (it needs the stack, so it belongs in
 * `services`, with that project's timeout and stack checks). Core modules are shared by every test file a jest
 * worker runs, so the guard is installed for this file only and removed after it.
 */
import { Socket } from 'node:net';

const connect = Socket.prototype.connect;

jest.setTimeout(10_000);

beforeAll(() => {
  Socket.prototype.connect = function refuse(...args: unknown[]): never {
    throw new Error(
      `a unit test opened a network connection (${JSON.stringify(args[0])}): move the file from UNIT_TESTS ` +
        'in jest.config.js to the services project',
    );
  } as typeof connect;
});

afterAll(() => {
  Socket.prototype.connect = connect;
});
