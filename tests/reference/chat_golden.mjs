#!/usr/bin/env node
// Golden data for herd's Llama 3 chat template: conversations rendered in
// the format of Meta's llama3 ChatFormat (tokenizer.py) and encoded with
// Hugging Face tokenizers (the Rust library, through the npm binding
// @anush008/tokenizers) and Llama 3's tokenizer.json.
//
//   node tests/reference/chat_golden.mjs [--tokenizer tokenizer.json]
//        [--out tests/fixtures/chat_llama3.txt] [--peers DIR]
//
// DIR holds node_modules/@anush008/tokenizers (default: $HERD_PEERS or
// /root/.cache/herd-peers/hf-tokenizers), installed there with
//   npm install @anush008/tokenizers
//
// The format: <|begin_of_text|>, then per message
//   <|start_header_id|>{role}<|end_header_id|>\n\n{content.strip()}<|eot_id|>
// then <|start_header_id|>assistant<|end_header_id|>\n\n for the reply.
// The string is encoded whole with the special tokens recognized and
// addSpecialTokens false. Checks before writing: the special tokens come out
// as 128000, 128006, 128007, 128009; and the ids equal a piece-by-piece
// encoding as Meta's ChatFormat does it (header parts, "\n\n" and each
// content encoded separately), so the two definitions agree on every
// conversation here (no content holds special-token text).
//
// Writes one JSON object per line (lines starting with # are comments):
//   {"name": ..., "messages": [{"role": ..., "content": ...}, ...], "ids": [...]}
import fs from 'fs';
import path from 'path';
import { here, opt, tokPath, Tokenizer, version } from './hf_peer.mjs';

const outPath = opt('--out', path.join(here, '../fixtures/chat_llama3.txt'));

// Python's str.strip(): the characters str.isspace() takes (JavaScript's \s
// differs: it has U+FEFF and lacks U+001C..U+001F and U+0085).
const WS = '[\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const strip = (s) => s.replace(new RegExp(`^${WS}+|${WS}+$`, 'gu'), '');

const msg = (role, content) => ({ role, content });
const conversations = [
  ['single turn', [msg('user', 'Hello!')]],
  ['system prompt', [msg('system', 'You are a helpful assistant.'),
                     msg('user', 'What is the capital of France?')]],
  ['two turns', [msg('user', 'Tell me a joke.'),
                 msg('assistant', 'Why did the llama cross the road? To get to the other side.'),
                 msg('user', 'Another one, please.')]],
  ['system and three turns', [
    msg('system', 'Answer in one word.'),
    msg('user', 'Colour of the sky?'), msg('assistant', 'Blue.'),
    msg('user', 'Colour of grass?'), msg('assistant', 'Green.'),
    msg('user', 'Colour of snow?')]],
  ['unicode', [msg('user', "Wie geht's? Ça va? 日本語で話せますか？ Привет 😀👍🏽"),
               msg('assistant', 'Très bien, merci ! はい、話せます。🦙'),
               msg('user', 'Ελληνικά; 한국어? עברית')]],
  ['whitespace to strip', [msg('system', '  Be brief.\n '), msg('user', '  \n  hi there \t\n'),
                           msg('assistant', '\n\n  hello!   \n'),
                           msg('user', '\t how are you?  ')]],
  ['unicode whitespace to strip', [msg('user', '\u00a0\u3000hi\u2003\v\f'),
                                   msg('assistant', '\u2028ok\u0085'), msg('user', '\u00a0?')]],
  ['multi-line content', [msg('system', 'Rules:\n1. be kind\n2. be brief'),
                          msg('user', 'Write code:\n\ndef f(x):\n    return x * 2\n')]],
  ['content starting with punctuation and digits', [msg('user', '!!! 123 ... "quoted"'),
                                                    msg('assistant', "'s it? 42"),
                                                    msg('user', '-- ok')]],
  ['empty messages', [msg('system', ''), msg('user', '   '), msg('assistant', ''),
                      msg('user', '?')]],
  ['other roles', [msg('system', 'Environment: ipython'), msg('user', 'Run 2+2.'),
                   msg('assistant', 'print(2+2)'), msg('ipython', '4'),
                   msg('user', 'Thanks.')]],
  ['long turn', [msg('user', 'Once upon a time, '.repeat(20)),
                 msg('assistant', 'there was a little llama. '.repeat(10)),
                 msg('user', 'The end.')]],
];

const tok = Tokenizer.fromFile(tokPath);
const encode = async (s) => (await tok.encode(s, null, { addSpecialTokens: false })).getIds();

const specials = { '<|begin_of_text|>': 128000, '<|start_header_id|>': 128006,
                   '<|end_header_id|>': 128007, '<|eot_id|>': 128009 };
for (const [text, id] of Object.entries(specials)) {
  const ids = await encode(text);
  if (ids.length !== 1 || ids[0] !== id)
    throw new Error(`${text} encodes as ${ids}, want ${id}`);
}

function render(messages) {
  let s = '<|begin_of_text|>';
  for (const m of messages)
    s += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${strip(m.content)}<|eot_id|>`;
  return s + '<|start_header_id|>assistant<|end_header_id|>\n\n';
}

// Meta's ChatFormat: encode_header and encode_message, piece by piece.
async function chatFormat(messages) {
  const S = specials;
  const header = async (role) => [S['<|start_header_id|>'], ...(await encode(role)),
                                  S['<|end_header_id|>'], ...(await encode('\n\n'))];
  let ids = [S['<|begin_of_text|>']];
  for (const m of messages)
    ids = ids.concat(await header(m.role), await encode(strip(m.content)), [S['<|eot_id|>']]);
  return ids.concat(await header('assistant'));
}

const lines = [
  '# herd golden data: the Llama 3 chat format (Meta\'s llama3 ChatFormat, the',
  `# assistant header left open) encoded with ${path.basename(tokPath)} through Hugging Face`,
  `# tokenizers (npm @anush008/tokenizers ${version}); written by tests/reference/chat_golden.mjs.`,
  '# One JSON object per line: name, messages, ids.',
];
for (const [name, messages] of conversations) {
  for (const m of messages)
    if (m.content.includes('<|')) throw new Error('special-token text in ' + name);
  const ids = await encode(render(messages));
  const meta = await chatFormat(messages);
  if (ids.join(' ') !== meta.join(' '))
    throw new Error(`${name}: the whole string and Meta's piecewise encoding differ`);
  lines.push(JSON.stringify({ name, messages, ids }));
}
fs.writeFileSync(outPath, lines.join('\n') + '\n');
console.log(`${conversations.length} conversations written to ${outPath}`);
