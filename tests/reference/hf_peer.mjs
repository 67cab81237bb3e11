// What the golden-data scripts share: their command-line options, the
// shared folder, and Hugging Face tokenizers (npm @anush008/tokenizers)
// loaded from --peers DIR (default: $HERD_PEERS or
// /root/.cache/herd-peers/hf-tokenizers, installed there with
// `npm install @anush008/tokenizers`).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

export const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
export const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
export const shared = process.env.HERD_SHARED || path.join(here, '../../../shared');
export const tokPath = opt('--tokenizer', path.join(shared, 'tokenizers/llama3/tokenizer.json'));
const peers = opt('--peers', process.env.HERD_PEERS || '/root/.cache/herd-peers/hf-tokenizers');
const require = createRequire(path.join(peers, 'node_modules/'));
export const { Tokenizer } = require('@anush008/tokenizers');
export const version = JSON.parse(fs.readFileSync(
  path.join(peers, 'node_modules/@anush008/tokenizers/package.json'), 'utf8')).version;
