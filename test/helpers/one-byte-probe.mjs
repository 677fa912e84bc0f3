// Preloaded (`node --import`) into a gateway started by test/federation/one-byte.test.ts: for each
// string a response is ended with, one line on stderr saying whether V8 holds it one-byte or
// two-byte (its serializer's tag) and where it went. The response itself goes on unchanged.
import { ServerResponse } from 'node:http';
import { serialize } from 'node:v8';

const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (...args) {
  if (typeof args[0] === 'string' && args[0].includes('"data"')) {
    const b = serialize(args[0]);
    const two = b[2] === 0x63 || (b[2] === 0x00 && b[3] === 0x63);
    process.stderr.write(`one-byte-probe ${two ? 'two-byte' : 'one-byte'} ${args[0].length} ${args[0].slice(0, 40)}\n`);
  }
  return end.apply(this, args);
};
