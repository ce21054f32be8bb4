// The `console` that cells see: a Node Console whose stdout and stderr go to the running cell's output.
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import type { StreamName } from '../protocol.js';

export function cellConsole(write: (name: StreamName, text: string) => void): Console {
  const stream = (name: StreamName) => new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      write(name, typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      done();
    },
  });
  return new Console({ stdout: stream('stdout'), stderr: stream('stderr'), colorMode: false });
}
