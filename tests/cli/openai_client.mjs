// Talks to `herd serve` through the official OpenAI client (npm `openai`,
// loaded from --peer DIR, default $HERD_OPENAI_PEER or
// ~/.cache/herd-peers/openai-client; scripts/setup-openai-client.sh puts it
// there). Runs a chat and a completion, each without and with streaming
// (the stream's deltas joined), then a request with a wrong key, and prints
// one JSON line:
//   {"version", "chat": {text, stream, usage, finish, object},
//    "completion": {...}, "auth": {name, status, isAuthError}}
//   node openai_client.mjs --base URL --key KEY --prompt TEXT --user TEXT
//        [--system TEXT] [--max-tokens N]
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const peer = opt('--peer', process.env.HERD_OPENAI_PEER ||
  path.join(os.homedir(), '.cache/herd-peers/openai-client'));
const require = createRequire(path.join(peer, 'node_modules/'));
const mod = require('openai');
const OpenAI = mod.OpenAI || mod.default || mod;
const version = JSON.parse(fs.readFileSync(
  path.join(peer, 'node_modules/openai/package.json'), 'utf8')).version;

const baseURL = opt('--base');
const maxTokens = Number(opt('--max-tokens', '16'));
const client = new OpenAI({ baseURL, apiKey: opt('--key'), maxRetries: 0, timeout: 60000 });
const common = { model: 'herd', temperature: 0, max_tokens: maxTokens };

const messages = [];
if (opt('--system')) messages.push({ role: 'system', content: opt('--system') });
messages.push({ role: 'user', content: opt('--user') });
const prompt = opt('--prompt');

const chat = await client.chat.completions.create({ ...common, messages });
let chatStream = '', chatChunks = 0, chatFinish = null;
for await (const c of await client.chat.completions.create({ ...common, messages, stream: true })) {
  chatChunks++;
  chatStream += c.choices[0]?.delta?.content ?? '';
  chatFinish = c.choices[0]?.finish_reason || chatFinish;
}

const cmpl = await client.completions.create({ ...common, prompt });
let cmplStream = '', cmplChunks = 0, cmplFinish = null;
for await (const c of await client.completions.create({ ...common, prompt, stream: true })) {
  cmplChunks++;
  cmplStream += c.choices[0]?.text ?? '';
  cmplFinish = c.choices[0]?.finish_reason || cmplFinish;
}

let auth = null;
try {
  const bad = new OpenAI({ baseURL, apiKey: 'wrong-' + opt('--key'), maxRetries: 0 });
  await bad.completions.create({ ...common, prompt });
  auth = { name: 'no error', status: null, isAuthError: false };
} catch (e) {
  auth = { name: e.constructor.name, status: e.status ?? null,
           isAuthError: e instanceof OpenAI.AuthenticationError };
}

console.log(JSON.stringify({
  version,
  chat: { text: chat.choices[0].message.content, stream: chatStream, chunks: chatChunks,
          usage: chat.usage, finish: chat.choices[0].finish_reason,
          stream_finish: chatFinish, object: chat.object },
  completion: { text: cmpl.choices[0].text, stream: cmplStream, chunks: cmplChunks,
                usage: cmpl.usage, finish: cmpl.choices[0].finish_reason,
                stream_finish: cmplFinish, object: cmpl.object },
  auth,
}));
